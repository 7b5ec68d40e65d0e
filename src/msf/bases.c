// bases.c: bases for the residual stages from a file (an earlier `msf
// sample`, `msf encode` output) or from full-size tensors (bases.h).
#include "msf/bases.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/arena.h"
#include "io/h5read.h"
#include "nn/pyramid.h"

void msf_bases_free(msf_bases *b) {
    msf_aligned_free(b->base);
    free(b->labels);
    free(b->path);
    memset(b, 0, sizeof *b);
}

// The dataset of w holding the bases, and whether it is full size (to be factorised).
static msf_status find_dataset(const msf_h5_tensor **out, int *full, msf_h5_reader *w, const msf_model *m) {
    const char *path = msf_h5_path(w);
    const int C = m->channels, H = m->size, hb = msf_stage_side(m, 0);
    const msf_h5_tensor *t = msf_h5_find(w, "base");
    const char *name = "base";
    if (!t) t = msf_h5_find(w, "latents"), name = "latents";
    if (!t)
        return msf_fail(MSF_ERR_FORMAT,
                        "%s has neither a dataset 'base' [N, %d, %d, %d] (msf sample output of an "
                        "MSF model) nor 'latents' [N, %d, %d, %d] or [N, %d, %d, %d]",
                        path, C, hb, hb, C, hb, hb, C, H, H);
    *full = 0;
    if (t->ndim == 4 && t->shape[0] >= 1 && t->shape[1] == C && t->shape[2] == hb && t->shape[3] == hb) {
        *out = t;
        return MSF_OK;
    }
    if (!strcmp(name, "latents") && t->ndim == 4 && t->shape[0] >= 1 && t->shape[1] == C && t->shape[2] == H &&
        t->shape[3] == H) {
        *full = 1;
        *out = t;
        return MSF_OK;
    }
    char got[128] = "[";
    for (int d = 0; d < t->ndim; d++) {
        size_t len = strlen(got);
        snprintf(got + len, sizeof got - len, "%s%lld", d ? ", " : "", (long long)t->shape[d]);
    }
    strncat(got, "]", sizeof got - strlen(got) - 1);
    if (!strcmp(name, "base"))
        return msf_fail(MSF_ERR_SHAPE, "%s: dataset base is %s; the model's bases are [N, %d, %d, %d] (N >= 1)", path,
                        got, C, hb, hb);
    return msf_fail(MSF_ERR_SHAPE,
                    "%s: dataset latents is %s; expected the model's bases [N, %d, %d, %d] or full-size "
                    "latents [N, %d, %d, %d] (N >= 1)",
                    path, got, C, hb, hb, C, H, H);
}

// The layout part of probe and read, with w open.
static msf_status probe_open(msf_bases *b, msf_h5_reader *w, const msf_model *m, const msf_h5_tensor **t, int *full) {
    const char *path = msf_h5_path(w);
    msf_status s = find_dataset(t, full, w, m);
    if (s) return s;
    b->n = (*t)->shape[0];
    b->channels = m->channels, b->side = msf_stage_side(m, 0);
    snprintf(b->source, sizeof b->source, "%s%s", (*t)->name, *full ? " (factorised)" : "");
    if (msf_h5_get_attr_int(w, NULL, "first_index", &b->first_index) != MSF_OK) b->first_index = 0;
    if (b->first_index < 0)
        return msf_fail(MSF_ERR_FORMAT, "%s: attribute first_index %lld is negative", path, (long long)b->first_index);
    const msf_h5_tensor *y = msf_h5_find(w, "labels");
    if (y && (y->ndim != 1 || y->shape[0] != b->n))
        return msf_fail(MSF_ERR_SHAPE, "%s: labels must be [%lld], one per row of %s", path, (long long)b->n,
                        (*t)->name);
    if (!(b->path = strdup(path))) return msf_fail(MSF_ERR_NOMEM, "out of memory");
    return MSF_OK;
}

msf_status msf_bases_probe(msf_bases *b, const char *path, const msf_model *m) {
    memset(b, 0, sizeof *b);
    msf_h5_reader *w;
    msf_status s = msf_h5_open_as(&w, path, "bases file");
    if (s) return s;
    const msf_h5_tensor *t;
    int full;
    s = probe_open(b, w, m, &t, &full);
    msf_h5_close(w);
    if (s) msf_bases_free(b);
    return s;
}

// D applied L-1 times to z (n, C, H, H) into base (n, C, hb, hb), one sample
// at a time (scratch: two levels of one sample).
static msf_status factorise(float *base, const float *z, int64_t n, const msf_model *m) {
    const int C = m->channels, H = m->size, hb = msf_stage_side(m, 0);
    const size_t full = (size_t)C * H * H, small = (size_t)C * hb * hb;
    float *a = malloc(full * sizeof *a), *b = malloc(full * sizeof *b);
    if (!a || !b) {
        free(a), free(b);
        return msf_fail(MSF_ERR_NOMEM, "out of memory for the factorisation");
    }
    for (int64_t i = 0; i < n; i++) {
        memcpy(a, z + (size_t)i * full, full * sizeof *a);
        int side = H;
        for (int k = 0; k < m->factor.levels - 1; k++) {
            nn_pyramid_down(b, a, 1, C, side, side, &m->factor);
            side /= m->factor.scale;
            float *t = a;
            a = b, b = t;
        }
        memcpy(base + (size_t)i * small, a, small * sizeof *base);
    }
    free(a), free(b);
    return MSF_OK;
}

msf_status msf_bases_factorise(msf_bases *b, const float *z, int64_t n, const msf_model *m, const char *what) {
    memset(b, 0, sizeof *b);
    b->n = n, b->channels = m->channels, b->side = msf_stage_side(m, 0);
    snprintf(b->source, sizeof b->source, "full size (factorised)");
    b->path = strdup(what);
    b->base = msf_aligned_alloc((size_t)n * b->channels * b->side * b->side * sizeof *b->base);
    msf_status s = b->path && b->base ? factorise(b->base, z, n, m)
                                      : msf_fail(MSF_ERR_NOMEM, "out of memory for %lld bases", (long long)n);
    if (s) msf_bases_free(b);
    return s;
}

msf_status msf_bases_read(msf_bases *b, const char *path, const msf_model *m) {
    memset(b, 0, sizeof *b);
    msf_h5_reader *w;
    msf_status s = msf_h5_open_as(&w, path, "bases file");
    if (s) return s;
    const msf_h5_tensor *t = NULL;
    int full = 0;
    float *z = NULL;
    if (!(s = probe_open(b, w, m, &t, &full))) s = msf_h5_load(w, t->name, 4, t->shape, &z);
    const size_t row = s ? 0 : (size_t)t->shape[1] * t->shape[2] * t->shape[3];
    for (size_t i = 0; !s && i < (size_t)b->n * row; i++)
        if (!isfinite(z[i]))
            s = msf_fail(MSF_ERR_NUMERIC, "%s: %s row %lld has a non-finite value (%g)", path, t->name,
                         (long long)(i / row), (double)z[i]);
    if (!s && msf_h5_find(w, "labels")) {
        int64_t shape[1] = {b->n};
        b->labels = malloc((size_t)b->n * sizeof *b->labels);
        s = b->labels ? msf_h5_read_i64(w, "labels", b->labels, 1, shape) : msf_fail(MSF_ERR_NOMEM, "out of memory");
    }
    if (!s && full) {
        b->base = msf_aligned_alloc((size_t)b->n * b->channels * b->side * b->side * sizeof *b->base);
        s = b->base ? factorise(b->base, z, b->n, m)
                    : msf_fail(MSF_ERR_NOMEM, "out of memory for %lld bases", (long long)b->n);
        msf_aligned_free(z);
    } else {
        b->base = z;
    }
    msf_h5_close(w);
    if (s) msf_bases_free(b);
    return s;
}

msf_status msf_bases_row(const msf_bases *b, int64_t first, int64_t count, int64_t *row) {
    if (first < b->first_index || first - b->first_index > b->n - count)
        return msf_fail(MSF_ERR_SHAPE,
                        "%s holds the bases of samples %lld..%lld (%lld rows of %s); samples "
                        "%lld..%lld were asked for",
                        b->path, (long long)b->first_index, (long long)(b->first_index + b->n - 1), (long long)b->n,
                        b->source, (long long)first, (long long)(first + count - 1));
    *row = first - b->first_index;
    return MSF_OK;
}

msf_status msf_bases_check_labels(const msf_bases *b, int num_classes) {
    for (int64_t i = 0; b->labels && i < b->n; i++)
        if (b->labels[i] < 0 || b->labels[i] >= num_classes)
            return msf_fail(MSF_ERR_INVALID, "%s: label %lld of row %lld is outside the model's classes 0..%d", b->path,
                            (long long)b->labels[i], (long long)i, num_classes - 1);
    return MSF_OK;
}
