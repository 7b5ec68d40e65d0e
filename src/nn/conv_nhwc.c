// conv_nhwc.c: the NHWC convolution (ReLU fused) and 3x3 pools of conv.h, as
// InceptionV3 runs them (one image at a time; see nn_nhwc_exec for threads).
#include <cblas.h>
#include <omp.h>
#include <string.h>

#include "nn/conv.h"

// im2col bytes per pixel block: the block's columns stay in a core's L2 while
// sgemm packs them.
#define COL_BYTES (1u << 20)
#define BLOCK_MIN_PIXELS 64
#define BLOCK_MAX_PIXELS 1024
#define PIXEL_ALIGN 16  // block sizes are multiples of this (full sgemm tiles)

static size_t ceil_div(size_t a, size_t b) { return (a + b - 1) / b; }

int nn_conv_nhwc_out(int in, int k, int stride, int pad) {
    return in + 2 * pad < k ? 0 : (in + 2 * pad - k) / stride + 1;
}

// Output pixels per sgemm block of a conv with K = kh*kw*c_in over npix pixels.
int nn_conv_nhwc_block_pixels(const nn_conv_nhwc *cv, int npix) {
    if (npix < 1) return 1;  // (an input too small, refused by the caller)
    size_t K = (size_t)cv->kh * cv->kw * cv->c_in;
    size_t p = COL_BYTES / (K * sizeof(float));
    if (p < BLOCK_MIN_PIXELS) p = BLOCK_MIN_PIXELS;
    if (p > BLOCK_MAX_PIXELS) p = BLOCK_MAX_PIXELS;
    size_t nblk = ceil_div((size_t)npix, p);
    p = ceil_div(ceil_div((size_t)npix, nblk), PIXEL_ALIGN) * PIXEL_ALIGN;
    return p < (size_t)npix ? (int)p : npix;
}

size_t nn_conv_nhwc_col_floats(const nn_conv_nhwc *cv, int oh, int ow) {
    if (cv->kh == 1 && cv->kw == 1 && cv->stride == 1) return 0;
    return (size_t)nn_conv_nhwc_block_pixels(cv, oh * ow) * cv->kh * cv->kw * cv->c_in;
}

// col (p1 - p0, kh*kw*c_in) for output pixels p0..p1-1 of x (h, w, ld).
static void im2col(float *col, const float *x, int ldx, int h, int w, const nn_conv_nhwc *cv, int ow, int p0, int p1) {
    size_t K = (size_t)cv->kh * cv->kw * cv->c_in, row = (size_t)cv->c_in * sizeof(float);
    for (int p = p0; p < p1; p++) {
        int oy = p / ow, ox = p % ow;
        float *dst = col + (size_t)(p - p0) * K;
        for (int ki = 0; ki < cv->kh; ki++) {
            int iy = oy * cv->stride - cv->pad_h + ki;
            for (int kj = 0; kj < cv->kw; kj++, dst += cv->c_in) {
                int ix = ox * cv->stride - cv->pad_w + kj;
                if (iy < 0 || iy >= h || ix < 0 || ix >= w) memset(dst, 0, row);
                else memcpy(dst, x + ((size_t)iy * w + ix) * ldx, row);
            }
        }
    }
}

// y = max(y + b, 0) over rows (pixels) of a block.
static void bias_relu(float *y, int ldy, int rows, const float *b, int c) {
    for (int r = 0; r < rows; r++) {
        float *yr = y + (size_t)r * ldy;
        for (int k = 0; k < c; k++) {
            float v = yr[k] + b[k];
            yr[k] = v > 0.0f ? v : 0.0f;
        }
    }
}

// The bf16 path (cv->w16): the whole image as one product through oneDNN
// on all threads (large products are where bf16 pays), im2col and the bias
// split among the threads. The pieces do not depend on the thread count, nor
// do oneDNN's bits (tests/test_bf16.c).
static void conv_bf16(const nn_nhwc_exec *e, const nn_conv_nhwc *cv, float *y, int ldy, const float *x, int ldx, int h,
                      int w, int ow, int npix) {
    const int K = cv->kh * cv->kw * cv->c_in, pointwise = cv->kh == 1 && cv->kw == 1 && cv->stride == 1;
    const float *a = x;
    int lda = ldx;
    if (!pointwise) {
#pragma omp parallel for if (e->inner) num_threads(e->threads) schedule(static)
        for (int q = 0; q < npix; q += PIXEL_ALIGN)
            im2col(e->col16 + (size_t)q * K, x, ldx, h, w, cv, ow, q, q + PIXEL_ALIGN < npix ? q + PIXEL_ALIGN : npix);
        a = e->col16, lda = K;
    }
    msf_status s = nn_bf16_linear_run_strided(cv->w16, y, ldy, 1, a, lda, 1, npix, e->ws16);
    if (s) {
        if (e->err && !*e->err) *e->err = s;
        return;
    }
#pragma omp parallel for if (e->inner) num_threads(e->threads) schedule(static)
    for (int q = 0; q < npix; q += PIXEL_ALIGN)
        bias_relu(y + (size_t)q * ldy, ldy, q + PIXEL_ALIGN < npix ? PIXEL_ALIGN : npix - q, cv->b, cv->c_out);
}

// y (oh, ow, ldy) = ReLU(conv(x (h, w, ldx))). Returns the output size.
void nn_conv2d_nhwc_relu(const nn_nhwc_exec *e, const nn_conv_nhwc *cv, float *y, int ldy, const float *x, int ldx,
                         int h, int w, int *oh_out, int *ow_out) {
    int oh = nn_conv_nhwc_out(h, cv->kh, cv->stride, cv->pad_h),
        ow = nn_conv_nhwc_out(w, cv->kw, cv->stride, cv->pad_w);
    int npix = oh * ow, K = cv->kh * cv->kw * cv->c_in;
    *oh_out = oh, *ow_out = ow;
    if (cv->w16) {
        conv_bf16(e, cv, y, ldy, x, ldx, h, w, ow, npix);
        return;
    }
    int pointwise = cv->kh == 1 && cv->kw == 1 && cv->stride == 1;
    int bp = nn_conv_nhwc_block_pixels(cv, npix);
    int nblk = (int)ceil_div((size_t)npix, (size_t)bp);
#pragma omp parallel for if (e->inner) num_threads(e->threads) schedule(dynamic, 1)
    for (int blk = 0; blk < nblk; blk++) {
        int p0 = blk * bp, p1 = p0 + bp < npix ? p0 + bp : npix;
        const float *a = x + (size_t)p0 * ldx;
        int lda = ldx;
        if (!pointwise) {
            float *col = e->col[e->inner ? omp_get_thread_num() : 0];
            im2col(col, x, ldx, h, w, cv, ow, p0, p1);
            a = col, lda = K;
        }
        float *yb = y + (size_t)p0 * ldy;
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, p1 - p0, cv->c_out, K, 1.0f, a, lda, cv->w, K, 0.0f, yb,
                    ldy);
        bias_relu(yb, ldy, p1 - p0, cv->b, cv->c_out);
    }
    *oh_out = oh, *ow_out = ow;
}

// 3x3 max pool (padding ignored, as PyTorch pads with -inf).
void nn_max_pool3_nhwc(const nn_nhwc_exec *e, float *y, int ldy, const float *x, int ldx, int h, int w, int c,
                       int stride, int pad) {
    int oh = (h + 2 * pad - 3) / stride + 1, ow = (w + 2 * pad - 3) / stride + 1;
#pragma omp parallel for if (e->inner) num_threads(e->threads) schedule(static)
    for (int oy = 0; oy < oh; oy++)
        for (int ox = 0; ox < ow; ox++) {
            float *yp = y + ((size_t)oy * ow + ox) * ldy;
            int first = 1;
            for (int ki = 0; ki < 3; ki++) {
                int iy = oy * stride - pad + ki;
                if (iy < 0 || iy >= h) continue;
                for (int kj = 0; kj < 3; kj++) {
                    int ix = ox * stride - pad + kj;
                    if (ix < 0 || ix >= w) continue;
                    const float *xp = x + ((size_t)iy * w + ix) * ldx;
                    if (first) memcpy(yp, xp, (size_t)c * sizeof(float));
                    else
                        for (int k = 0; k < c; k++) yp[k] = xp[k] > yp[k] ? xp[k] : yp[k];
                    first = 0;
                }
            }
        }
}

// 3x3 stride-1 average pool with padding 1, dividing by the in-bounds count
// (count_include_pad=False).
void nn_avg_pool3_nhwc(const nn_nhwc_exec *e, float *y, const float *x, int ldx, int h, int w, int c) {
#pragma omp parallel for if (e->inner) num_threads(e->threads) schedule(static)
    for (int oy = 0; oy < h; oy++)
        for (int ox = 0; ox < w; ox++) {
            float *yp = y + ((size_t)oy * w + ox) * c;
            memset(yp, 0, (size_t)c * sizeof(float));
            int count = 0;
            for (int iy = oy - 1; iy <= oy + 1; iy++) {
                if (iy < 0 || iy >= h) continue;
                for (int ix = ox - 1; ix <= ox + 1; ix++) {
                    if (ix < 0 || ix >= w) continue;
                    const float *xp = x + ((size_t)iy * w + ix) * ldx;
                    for (int k = 0; k < c; k++) yp[k] += xp[k];
                    count++;
                }
            }
            float div = (float)count;
            for (int k = 0; k < c; k++) yp[k] /= div;
        }
}
