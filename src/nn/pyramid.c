// pyramid.c: base / residual pyramid of MSF (see pyramid.h).
#include "nn/pyramid.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nn/nn.h"

static const char *down_names[] = {"area", "bilinear"};
static const char *up_names[] = {"bilinear", "nearest"};
_Static_assert(MSF_COUNT(down_names) == NN_DOWN_BILINEAR + 1, "a name per nn_down_op");
_Static_assert(MSF_COUNT(up_names) == NN_UP_NEAREST + 1, "a name per nn_up_op");

nn_pyramid_opts nn_pyramid_defaults(void) {
    return (nn_pyramid_opts){.scale = 2, .levels = 2, .down = NN_DOWN_AREA, .up = NN_UP_BILINEAR};
}

const char *nn_down_name(nn_down_op d) { return down_names[d]; }
const char *nn_up_name(nn_up_op u) { return up_names[u]; }

msf_status nn_down_parse(const char *name, nn_down_op *d) {
    for (int i = 0; i < (int)MSF_COUNT(down_names); i++)
        if (!strcmp(name, down_names[i])) {
            *d = (nn_down_op)i;
            return MSF_OK;
        }
    return msf_fail(MSF_ERR_INVALID, "unknown down operator '%s' (expected area or bilinear)", name);
}

msf_status nn_up_parse(const char *name, nn_up_op *u) {
    for (int i = 0; i < (int)MSF_COUNT(up_names); i++)
        if (!strcmp(name, up_names[i])) {
            *u = (nn_up_op)i;
            return MSF_OK;
        }
    return msf_fail(MSF_ERR_INVALID, "unknown up operator '%s' (expected bilinear or nearest)", name);
}

msf_status nn_pyramid_opts_parse(nn_pyramid_opts *o, const char *text) {
    char buf[256];
    if (strlen(text) >= sizeof buf) return msf_fail(MSF_ERR_INVALID, "factorisation spec too long: '%s'", text);
    strcpy(buf, text);
    for (char *save = NULL, *item = strtok_r(buf, ",", &save); item; item = strtok_r(NULL, ",", &save)) {
        char *eq = strchr(item, '=');
        if (!eq) return msf_fail(MSF_ERR_INVALID, "factorisation '%s': expected key=value, got '%s'", text, item);
        *eq = '\0';
        const char *key = item, *val = eq + 1;
        char *end;
        if (!strcmp(key, "s") || !strcmp(key, "scale") || !strcmp(key, "levels")) {
            long v = strtol(val, &end, 10);
            if (end == val || *end || v < 2 || v > 64)
                return msf_fail(MSF_ERR_INVALID, "factorisation '%s': %s must be an integer in [2, 64]", text, key);
            if (!strcmp(key, "levels")) o->levels = (int)v;
            else o->scale = (int)v;
        } else if (!strcmp(key, "down")) {
            msf_status s = nn_down_parse(val, &o->down);
            if (s) return s;
        } else if (!strcmp(key, "up")) {
            msf_status s = nn_up_parse(val, &o->up);
            if (s) return s;
        } else {
            return msf_fail(MSF_ERR_INVALID, "factorisation '%s': unknown key '%s' (expected s, levels, down, up)",
                            text, key);
        }
    }
    return MSF_OK;
}

void nn_pyramid_opts_format(char *buf, int size, const nn_pyramid_opts *o) {
    snprintf(buf, (size_t)size, "s=%d,levels=%d,down=%s,up=%s", o->scale, o->levels, nn_down_name(o->down),
             nn_up_name(o->up));
}

msf_status nn_pyramid_check(const nn_pyramid_opts *o, int h, int w) {
    if (o->scale < 2 || o->levels < 2 || (unsigned)o->down > NN_DOWN_BILINEAR || (unsigned)o->up > NN_UP_NEAREST)
        return msf_fail(MSF_ERR_INVALID, "invalid factorisation (s=%d, levels=%d)", o->scale, o->levels);
    long f = 1;
    for (int l = 1; l < o->levels; l++) f *= o->scale;
    if (h % f || w % f || h < f || w < f)
        return msf_fail(MSF_ERR_INVALID,
                        "a %dx%d tensor cannot be factorised %d times by %d (sides must be multiples of %ld)", h, w,
                        o->levels - 1, o->scale, f);
    return MSF_OK;
}

// -----------------------------------------------------------------------------

void nn_pyramid_down(float *y, const float *x, int n, int c, int h, int w, const nn_pyramid_opts *o) {
    int oh = h / o->scale, ow = w / o->scale;
    if (o->down == NN_DOWN_AREA) nn_resize_area(y, x, n, c, h, w, oh, ow);
    else nn_resize_bilinear(y, x, n, c, h, w, oh, ow, NN_BILINEAR_HALF_PIXEL);
}

void nn_pyramid_up(float *y, const float *x, int n, int c, int h, int w, const nn_pyramid_opts *o) {
    int ih = h / o->scale, iw = w / o->scale;
    if (o->up == NN_UP_NEAREST) nn_upsample_nearest(y, x, n, c, ih, iw, h, w);
    else nn_resize_bilinear(y, x, n, c, ih, iw, h, w, NN_BILINEAR_HALF_PIXEL);
}

msf_status nn_pyramid_factorize(float *base, float **residuals, const float *z, int n, int c, int h, int w,
                                const nn_pyramid_opts *o, float *scratch) {
    msf_status s = nn_pyramid_check(o, h, w);
    if (s) return s;
    // g holds the current level g_k, d the next coarser g_{k+1}; both live in
    // scratch (the last one goes straight to `base`).
    size_t full = (size_t)n * c * h * w;
    float *g = scratch, *d = scratch + full;
    memcpy(g, z, full * sizeof *g);
    int lh = h, lw = w;
    for (int k = 0; k < o->levels - 1; k++) {
        float *coarse = k == o->levels - 2 ? base : d;
        nn_pyramid_down(coarse, g, n, c, lh, lw, o);
        float *r = residuals[k];
        nn_pyramid_up(r, coarse, n, c, lh, lw, o);
        size_t count = (size_t)n * c * lh * lw;
#pragma omp parallel for schedule(static)
        for (size_t i = 0; i < count; i++) r[i] = g[i] - r[i];
        lh /= o->scale, lw /= o->scale;
        if (coarse == d) memcpy(g, d, (size_t)n * c * lh * lw * sizeof *g);
    }
    return MSF_OK;
}

msf_status nn_pyramid_reconstruct(float *z, const float *base, float *const *residuals, int n, int c, int h, int w,
                                  const nn_pyramid_opts *o, float *scratch) {
    msf_status s = nn_pyramid_check(o, h, w);
    if (s) return s;
    size_t full = (size_t)n * c * h * w;
    float *cur = scratch, *up = scratch + full;
    int f = 1;
    for (int l = 1; l < o->levels; l++) f *= o->scale;
    int lh = h / f, lw = w / f;
    memcpy(cur, base, (size_t)n * c * lh * lw * sizeof *cur);
    for (int k = o->levels - 2; k >= 0; k--) {
        lh *= o->scale, lw *= o->scale;
        nn_pyramid_up(up, cur, n, c, lh, lw, o);
        const float *r = residuals[k];
        float *dst = k == 0 ? z : cur;
        size_t count = (size_t)n * c * lh * lw;
#pragma omp parallel for schedule(static)
        for (size_t i = 0; i < count; i++) dst[i] = up[i] + r[i];
    }
    return MSF_OK;
}
