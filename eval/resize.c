// resize.c: the three preprocessing modes of resize.h.
//
// The bilinear modes use nn_resize_bilinear (src/nn), which computes the
// source coordinate in float64 and blends as (1-f) a + f b; TF1 computes the
// coordinate in float32 and blends as a + (b-a) f, which moves results by
// float32 rounding only (tests/test_resize.c states the measured error).
// The clean mode restates Pillow's Resample.c for mode 'F' images:
// per axis, output x covers centre = (x + 0.5) * scale, taps from
// (int)(centre - support + 0.5) to (int)(centre + support + 0.5) clipped to
// the image, support = 2 * max(scale, 1), weights bicubic(a = -0.5) at
// (tap - centre + 0.5) / max(scale, 1) normalised to sum 1; sums in float64,
// rounded to float32 after each pass; the horizontal pass first, and a pass
// is skipped when its size does not change.
#include "eval/resize.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "nn/nn.h"

static const char *const mode_names[] = {"adm", "pytorch", "clean"};

msf_status msf_resize_mode_parse(const char *name, msf_resize_mode *out) {
    for (int m = 0; m < 3; m++)
        if (!strcmp(name, mode_names[m])) {
            *out = (msf_resize_mode)m;
            return MSF_OK;
        }
    return msf_fail(MSF_ERR_INVALID, "unknown resize mode '%s' (expected adm, pytorch or clean)", name);
}

const char *msf_resize_mode_name(msf_resize_mode mode) { return (unsigned)mode < 3 ? mode_names[mode] : "unknown"; }

// -----------------------------------------------------------------------------
// Pillow's antialiased bicubic on float planes

static double bicubic(double x) {
    const double a = -0.5;
    if (x < 0.0) x = -x;
    if (x < 1.0) return ((a + 2.0) * x - (a + 3.0)) * x * x + 1;
    if (x < 2.0) return (((x - 5) * x + 8) * x - 4) * a;
    return 0.0;
}

typedef struct {
    int ksize;
    int *lo, *count;  // [out]
    double *k;        // [out, ksize]
} pil_taps;

static int pil_taps_init(pil_taps *t, int in, int out) {
    double scale = (double)in / out, filterscale = scale < 1.0 ? 1.0 : scale;
    double support = 2.0 * filterscale;
    t->ksize = (int)ceil(support) * 2 + 1;
    t->lo = malloc((size_t)out * sizeof(int));
    t->count = malloc((size_t)out * sizeof(int));
    t->k = calloc((size_t)out * t->ksize, sizeof(double));
    if (!t->lo || !t->count || !t->k) return -1;
    for (int x = 0; x < out; x++) {
        double center = (x + 0.5) * scale, ww = 0.0, ss = 1.0 / filterscale;
        int xmin = (int)(center - support + 0.5), xmax = (int)(center + support + 0.5);
        if (xmin < 0) xmin = 0;
        if (xmax > in) xmax = in;
        xmax -= xmin;
        double *k = t->k + (size_t)x * t->ksize;
        for (int i = 0; i < xmax; i++) {
            k[i] = bicubic((i + xmin - center + 0.5) * ss);
            ww += k[i];
        }
        for (int i = 0; i < xmax; i++)
            if (ww != 0.0) k[i] /= ww;
        t->lo[x] = xmin, t->count[x] = xmax;
    }
    return 0;
}

static void pil_taps_free(pil_taps *t) { free(t->lo), free(t->count), free(t->k); }

// One plane x (h, w) -> y (out_h, out_w); tmp holds h * out_w floats.
static void pil_resize_plane(float *y, const float *x, float *tmp, int h, int w, int out_h, int out_w,
                             const pil_taps *th, const pil_taps *tv) {
    const float *src = x;
    if (out_w != w) {
        float *dst = out_h != h ? tmp : y;
        for (int r = 0; r < h; r++)
            for (int c = 0; c < out_w; c++) {
                const double *k = th->k + (size_t)c * th->ksize;
                const float *row = x + (size_t)r * w + th->lo[c];
                double ss = 0.0;
                for (int i = 0; i < th->count[c]; i++) ss += row[i] * k[i];
                dst[(size_t)r * out_w + c] = (float)ss;
            }
        src = dst;
    }
    if (out_h != h) {
        for (int r = 0; r < out_h; r++) {
            const double *k = tv->k + (size_t)r * tv->ksize;
            for (int c = 0; c < out_w; c++) {
                double ss = 0.0;
                for (int i = 0; i < tv->count[r]; i++) ss += src[(size_t)(tv->lo[r] + i) * out_w + c] * k[i];
                y[(size_t)r * out_w + c] = (float)ss;
            }
        }
    } else if (out_w == w) {
        memcpy(y, x, (size_t)h * w * sizeof(float));
    }
}

// -----------------------------------------------------------------------------
// Batch

msf_status msf_resize_images(const uint8_t *images, int n, int h, int w, int c, msf_resize_mode mode, float *out,
                             int out_c, int out_h, int out_w) {
    if (n < 0 || h <= 0 || w <= 0 || out_h <= 0 || out_w <= 0)
        return msf_fail(MSF_ERR_INVALID, "resize: bad sizes (n %d, %dx%d -> %dx%d)", n, h, w, out_h, out_w);
    if (c != 1 && c != 3 && c != 4)
        return msf_fail(MSF_ERR_SHAPE, "resize: images have %d channels (expected 1, 3 or 4)", c);
    if (out_c != 3 && !(out_c == 1 && c == 1))
        return msf_fail(MSF_ERR_SHAPE,
                        "resize: %d output channels from %d input channels (expected 3, or 1 from "
                        "grey images)",
                        out_c, c);
    if ((unsigned)mode > MSF_RESIZE_CLEAN) return msf_fail(MSF_ERR_INVALID, "resize: unknown mode %d", (int)mode);
    if (n == 0) return MSF_OK;
    int cc = c == 1 ? 1 : 3;  // distinct planes per image
    size_t in_plane = (size_t)h * w, out_plane = (size_t)out_h * out_w;
    float *planes = malloc((size_t)n * cc * in_plane * sizeof(float));
    // Resized planes go straight to `out` unless grey is replicated to 3.
    float *res = cc == out_c ? out : malloc((size_t)n * out_plane * sizeof(float));
    pil_taps th = {0}, tv = {0};
    int bad = !planes || !res;
    if (!bad && mode == MSF_RESIZE_CLEAN) bad = pil_taps_init(&th, w, out_w) || pil_taps_init(&tv, h, out_h);
    msf_status s = MSF_OK;
    if (bad) {
        s = msf_fail(MSF_ERR_NOMEM, "resize: no memory for %d images of %dx%d", n, h, w);
        goto done;
    }
    // NHWC uint8 -> NCHW float: [0, 255], or [0, 1] for pytorch-fid.
    float scale = mode == MSF_RESIZE_PYTORCH ? 255.0f : 1.0f;
#pragma omp parallel for schedule(static)
    for (int i = 0; i < n; i++)
        for (int ch = 0; ch < cc; ch++) {
            float *p = planes + ((size_t)i * cc + ch) * in_plane;
            const uint8_t *img = images + (size_t)i * in_plane * c;
            for (size_t q = 0; q < in_plane; q++) p[q] = (float)img[q * c + ch] / scale;
        }
    if (mode == MSF_RESIZE_CLEAN) {
        float *tmp_all = malloc((size_t)n * cc * h * out_w * sizeof(float));
        if (!tmp_all) {
            s = msf_fail(MSF_ERR_NOMEM, "resize: no memory for %d images of %dx%d", n, h, out_w);
            goto done;
        }
#pragma omp parallel for schedule(static)
        for (long p = 0; p < (long)n * cc; p++)
            pil_resize_plane(res + (size_t)p * out_plane, planes + (size_t)p * in_plane,
                             tmp_all + (size_t)p * h * out_w, h, w, out_h, out_w, &th, &tv);
        free(tmp_all);
    } else {
        nn_resize_bilinear(res, planes, n, cc, h, w, out_h, out_w,
                           mode == MSF_RESIZE_ADM ? NN_BILINEAR_TF1_LEGACY : NN_BILINEAR_HALF_PIXEL);
    }
    // Replicate grey, then normalise.
    if (res != out)
#pragma omp parallel for schedule(static)
        for (int i = 0; i < n; i++)
            for (int ch = 0; ch < out_c; ch++)
                memcpy(out + ((size_t)i * out_c + ch) * out_plane, res + (size_t)i * out_plane,
                       out_plane * sizeof(float));
    size_t total = (size_t)n * out_c * out_plane;
#pragma omp parallel for schedule(static)
    for (size_t q = 0; q < total; q++) {
        float v = out[q];
        if (mode == MSF_RESIZE_PYTORCH) {
            out[q] = 2.0f * v - 1.0f;
        } else {
            if (mode == MSF_RESIZE_CLEAN) v = v < 0.0f ? 0.0f : v > 255.0f ? 255.0f : v;
            out[q] = (v - 128.0f) / 128.0f;
        }
    }
done:
    free(planes);
    if (res != out) free(res);
    pil_taps_free(&th), pil_taps_free(&tv);
    return s;
}
