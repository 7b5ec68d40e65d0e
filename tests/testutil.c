// testutil.c: tensor comparison and golden-file access for the Check suites.
#include "testutil.h"

#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/arena.h"

tu_cmp tu_compare(const float *got, const float *want, size_t n) {
    tu_cmp c = {0};
    double ref_max = 0, err2 = 0, ref2 = 0;
    for (size_t i = 0; i < n; i++) {
        if (!isfinite(got[i])) c.nonfinite++;
        double d = fabs((double)got[i] - (double)want[i]);
        if (!(d <= c.max_abs)) {  // also catches NaN
            c.max_abs = isnan(d) ? INFINITY : d;
            c.worst = i;
        }
        double a = fabs((double)want[i]);
        if (a > ref_max) ref_max = a;
        err2 += d * d;
        ref2 += (double)want[i] * want[i];
    }
    c.rel = ref_max > 0 ? c.max_abs / ref_max : c.max_abs;
    c.nmse = ref2 > 0 ? err2 / ref2 : err2;
    return c;
}

int tu_expect_close(const char *what, const float *got, const float *want, size_t n, double tol) {
    tu_cmp c = tu_compare(got, want, n);
    int ok = c.nonfinite == 0 && c.rel <= tol;
    if (!ok) {
        fprintf(stderr,
                "FAIL %s: rel %.3e > tol %.1e (max abs %.3e, NMSE %.3e, %zu non-finite of %zu); "
                "worst element %zu: got %.9g want %.9g\n",
                what, c.rel, tol, c.max_abs, c.nmse, c.nonfinite, n, c.worst, n ? got[c.worst] : 0.0,
                n ? want[c.worst] : 0.0);
    }
    return ok;
}

const char *tu_golden_path(const char *file) {
    static char path[4096];
    const char *dir = getenv("MSF_GOLDEN_DIR");
    snprintf(path, sizeof path, "%s/%s", dir && *dir ? dir : "tests/golden", file);
    return path;
}

int tu_golden_full(void) {
    const char *dir = getenv("MSF_GOLDEN_DIR");
    return dir && *dir;
}

void tu_skip(const char *what) {
    const char *ci = getenv("CI");
    if (ci && !strcmp(ci, "true")) ck_abort_msg("SKIP in CI: %s", what);
    printf("SKIP: %s\n", what);
    fflush(stdout);
}

msf_h5_reader *tu_golden_open(const char *file) {
    msf_h5_reader *g = NULL;
    const char *path = tu_golden_path(file);
    if (msf_h5_open(&g, path) != MSF_OK)
        ck_abort_msg("cannot open golden file %s (%s); regenerate with `make golden`", path, msf_error_message());
    return g;
}

float *tu_golden_load(msf_h5_reader *g, const char *name, size_t *n, int *ndim, int64_t *shape) {
    const msf_h5_tensor *info = msf_h5_find(g, name);
    if (!info) ck_abort_msg("golden file %s has no dataset '%s'", msf_h5_path(g), name);
    size_t count = 1;
    for (int i = 0; i < info->ndim; i++) count *= (size_t)info->shape[i];
    float *buf = malloc((count ? count : 1) * sizeof *buf);
    ck_assert_ptr_nonnull(buf);
    if (msf_h5_read(g, name, buf, info->ndim, info->shape) != MSF_OK)
        ck_abort_msg("reading golden dataset: %s", msf_error_message());
    if (n) *n = count;
    if (ndim) *ndim = info->ndim;
    if (shape)
        for (int i = 0; i < info->ndim; i++) shape[i] = info->shape[i];
    return buf;
}

double *tu_golden_load_f64(msf_h5_reader *g, const char *name, size_t *n) {
    const msf_h5_tensor *info = msf_h5_find(g, name);
    if (!info) ck_abort_msg("golden file %s has no dataset '%s'", msf_h5_path(g), name);
    size_t count = 1;
    for (int i = 0; i < info->ndim; i++) count *= (size_t)info->shape[i];
    double *buf = malloc((count ? count : 1) * sizeof *buf);
    ck_assert_ptr_nonnull(buf);
    if (msf_h5_read_f64(g, name, buf, info->ndim, info->shape) != MSF_OK)
        ck_abort_msg("reading golden dataset: %s", msf_error_message());
    *n = count;
    return buf;
}

int tu_golden_cases(msf_h5_reader *g, const char *group, const char *dataset) {
    int64_t n = tu_golden_int(g, group, "cases");
    ck_assert_msg(n >= 1 && n <= 100000, "golden file %s: %s has cases = %lld", msf_h5_path(g),
                  group ? group : "the root", (long long)n);
    char name[256];
    for (int64_t k = 0; k <= n; k++) {
        snprintf(name, sizeof name, "%s%scase%lld/%s", group ? group : "", group ? "/" : "", (long long)k, dataset);
        int found = msf_h5_find(g, name) != NULL;
        if (k < n && !found)
            ck_abort_msg("golden file %s lacks %s (%s says cases = %lld); regenerate with `make golden`",
                         msf_h5_path(g), name, group ? group : "the root", (long long)n);
        if (k == n && found)
            ck_abort_msg("golden file %s holds %s beyond its cases = %lld", msf_h5_path(g), name, (long long)n);
    }
    return (int)n;
}

int64_t tu_golden_int(msf_h5_reader *g, const char *obj, const char *name) {
    int64_t v = 0;
    if (msf_h5_get_attr_int(g, obj, name, &v) != MSF_OK) ck_abort_msg("golden attribute: %s", msf_error_message());
    return v;
}

double tu_golden_double(msf_h5_reader *g, const char *obj, const char *name) {
    double v = 0;
    if (msf_h5_get_attr_double(g, obj, name, &v) != MSF_OK) ck_abort_msg("golden attribute: %s", msf_error_message());
    return v;
}

void tu_stage_opts(msf_h5_reader *g, const char *obj, const char *prefix, diff_stage_opts *o, char *steps) {
    char name[64], buf[32];
    snprintf(name, sizeof name, "%s_steps", prefix);
    ck_assert_int_eq(msf_h5_get_attr_string(g, obj, name, steps, 16), MSF_OK);
    o->steps = steps;
    snprintf(name, sizeof name, "%s_sampler", prefix);
    ck_assert_int_eq(msf_h5_get_attr_string(g, obj, name, buf, sizeof buf), MSF_OK);
    ck_assert_int_eq(diff_sampler_parse(buf, &o->sampler), MSF_OK);
    snprintf(name, sizeof name, "%s_cfg_mode", prefix);
    ck_assert_int_eq(msf_h5_get_attr_string(g, obj, name, buf, sizeof buf), MSF_OK);
    ck_assert_int_eq(diff_cfg_mode_parse(buf, &o->cfg_mode), MSF_OK);
    snprintf(name, sizeof name, "%s_variance", prefix);
    ck_assert_int_eq(msf_h5_get_attr_string(g, obj, name, buf, sizeof buf), MSF_OK);
    ck_assert_int_eq(diff_var_type_parse(buf, &o->var), MSF_OK);
    snprintf(name, sizeof name, "%s_eta", prefix);
    o->eta = (float)tu_golden_double(g, obj, name);
    snprintf(name, sizeof name, "%s_cfg_scale", prefix);
    o->cfg_scale = (float)tu_golden_double(g, obj, name);
    snprintf(name, sizeof name, "%s_clip_x0", prefix);
    int64_t clip;
    ck_assert_int_eq(msf_h5_get_attr_int(g, obj, name, &clip), MSF_OK);
    o->clip_x0 = (int)clip;
}

msf_status tu_msf_replay_noise(void *user, int stage, int step, int64_t first, int n, float *out) {
    const tu_msf_replay *r = user;
    const float *src;
    if (step == -2) {
        ck_assert_msg(stage == 1 && r->cond_eps, "condition noise asked for stage %d", stage);
        src = r->cond_eps + first * r->numel[1];
    } else {
        src = step < 0 ? r->x_T[stage] + first * r->numel[stage]
                       : r->z[stage] + ((size_t)step * r->rows[stage] + first) * r->numel[stage];
    }
    memcpy(out, src, (size_t)n * r->numel[stage] * sizeof *out);
    return MSF_OK;
}
