// nn.c: fast versions of the nn.h operators declared in nn.h itself (linear,
// activations, NCHW pooling, resizing, concat); convolutions, norms and
// attention have files of their own (conv.c, conv_nhwc.c, norm.c,
// attention.c), which follow the rules below too.
//
// One level of parallelism: every operator splits its output into pieces
// chosen from the shapes alone and runs them under `omp parallel for`; each
// output element is computed by one thread in a fixed order, so the result
// does not depend on the thread count. The GEMM loops hand out their pieces
// dynamically, so a core slowed by other work on a shared machine does not
// hold the others back; which thread computes a piece never changes its
// value. sgemm is only ever called from inside such a region, where the
// OpenMP build of OpenBLAS runs single-threaded;
// note that it also does so when the region has a single thread, because it
// then reads omp_get_max_threads() == 1.
#include <assert.h>
#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "nn/nn.h"
#include "nn/fast_exp.h"

static size_t ceil_div(size_t a, size_t b) { return (a + b - 1) / b; }

// Split `total` items into at least `count` near-equal blocks whose size is a
// multiple of `align` (when total allows); the block size is returned and the
// block count is ceil_div(total, size).
static size_t block_size(size_t total, size_t count, size_t align) {
    size_t size = ceil_div(ceil_div(total, count), align) * align;
    return size < total ? size : total;
}

// -----------------------------------------------------------------------------
// Linear

// The GEMM is split along its larger output dimension into blocks of at most
// LINEAR_BLOCK rows or columns: each sgemm call re-packs the whole of the
// other operand, which costs about 1/(2*block) of the flops, so blocks must
// not be thin (256 measured 3-5% slower than 512 at DiT shapes on 2 cores).
// The block count is rounded up to a multiple of 4 so that 2 or 4 threads get
// equal shares.
#define LINEAR_BLOCK 512

// Batch independence: a row of y must come out the same whatever the call's
// M (a DiT's adaLN linear has M = batch; its token linears M = batch x tokens).
// OpenBLAS's result for a row depends on the call in two ways (measured with
// 0.3.21): (1) rows in the last, partial tile of its micro-kernel go through
// tail kernels that round differently (Prescott: every odd M); (2) "small"
// GEMMs go to separate kernels (SkylakeX: M N K <= 1e6 and, in this layout,
// M N <= 1200). On the regular path, rows in full tiles come out identical
// whatever M, their offset and the column blocking. So every call has a
// multiple of LINEAR_ROW_TILE rows (16: a multiple of every x86 kernel's
// unroll) and stays regular (twice OpenBLAS's bounds, as margin): rows beyond
// the last multiple of 16, and problems too small as a whole, are computed on
// a copy padded with zero rows; a row thus keeps its place modulo 16. That
// place matters to some kernels (Haswell's rounds a row differently by its
// slot in the tile; SkylakeX's and Prescott's do not, measured): there a row
// that moves within the tile with the batch, such as a per-sample
// conditioning row, may differ in the last bit. tests/test_nn.c checks the rest.
#define LINEAR_ROW_TILE 16

static int gemm_is_regular(size_t m, size_t n, size_t k) { return (double)m * n * k > 2e6 || m * n > 2400; }

// y (rows m0..m1, cols n0..n1) = bias + x w^T, one sgemm.
static void linear_block(float *y, const float *x, const float *w, const float *b, int K, int N, size_t m0, size_t m1,
                         size_t n0, size_t n1) {
    // y starts as the bias and sgemm adds x.w^T with beta 1: one pass over y.
    for (size_t m = m0; m < m1; m++) {
        float *yr = y + m * N;
        if (b) memcpy(yr + n0, b + n0, (n1 - n0) * sizeof(float));
        else memset(yr + n0, 0, (n1 - n0) * sizeof(float));
    }
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)(m1 - m0), (int)(n1 - n0), K, 1.0f, x + m0 * K, K,
                w + n0 * K, K, 1.0f, y + m0 * N + n0, N);
}

// M a multiple of LINEAR_ROW_TILE. Returns 0 (nothing computed) if even one
// call over the whole problem would not be regular.
static int linear_tiled(float *y, const float *x, const float *w, const float *b, size_t M, int K, int N) {
    int split_rows = M >= (size_t)N;
    size_t dim = split_rows ? M : (size_t)N;
    size_t count = ceil_div(ceil_div(dim, LINEAR_BLOCK), 4) * 4;
    size_t size = block_size(dim, count, LINEAR_ROW_TILE);
    long nblocks = (long)ceil_div(dim, size);
    size_t last = dim - (size_t)(nblocks - 1) * size;  // the smallest block
    if (!gemm_is_regular(split_rows ? last : M, split_rows ? (size_t)N : last, (size_t)K)) {
        if (!gemm_is_regular(M, (size_t)N, (size_t)K)) return 0;
        size = dim;
        nblocks = 1;
    }
#pragma omp parallel for schedule(dynamic, 1)
    for (long blk = 0; blk < nblocks; blk++) {
        size_t lo = (size_t)blk * size, hi = lo + size < dim ? lo + size : dim;
        linear_block(y, x, w, b, K, N, split_rows ? lo : 0, split_rows ? hi : M, split_rows ? 0 : lo,
                     split_rows ? (size_t)N : hi);
    }
    return 1;
}

// Rows that do not fill a tile, or a problem too small to be regular: copy x
// into zero-padded scratch rows (a few hundred KB for DiT's adaLN at batch <
// 16; more only for tiny layers) and compute the padded problem. The scratch
// comes from `ws` (nothing allocated on this path when the caller sized it
// by nn_linear_workspace_bytes), else from the heap.
static size_t padded_rows(size_t M, int K, int N) {
    size_t rows = ceil_div(M, LINEAR_ROW_TILE) * LINEAR_ROW_TILE;
    while (!gemm_is_regular(rows, (size_t)N, (size_t)K)) rows += LINEAR_ROW_TILE;
    return rows;
}

static void linear_padded(float *y, const float *x, const float *w, const float *b, int M, int K, int N,
                          msf_arena *ws) {
    size_t rows = padded_rows((size_t)M, K, N), floats = rows * (size_t)K + rows * (size_t)N;
    size_t mark = ws ? msf_arena_mark(ws) : 0, bytes = msf_align_up(floats * sizeof(float));
    float *xp = ws && ws->capacity - ws->used >= bytes ? msf_arena_alloc(ws, bytes) : NULL, *heap = NULL;
    if (xp) {
        memset(xp + (size_t)M * K, 0, (rows - (size_t)M) * K * sizeof(float));
    } else {
        xp = heap = calloc(floats, sizeof(float));
        if (!xp) {  // out of memory: still correct, only not bit-identical to other batch sizes
            nn_linear_ref(y, x, w, b, M, K, N);
            return;
        }
    }
    float *yp = xp + rows * (size_t)K;
    memcpy(xp, x, (size_t)M * K * sizeof(float));
    linear_tiled(yp, xp, w, b, rows, K, N);
    memcpy(y, yp, (size_t)M * N * sizeof(float));
    if (ws) msf_arena_release(ws, mark);
    free(heap);
}

// Covers every M' <= M: the padded rows grow with M, and M' rows go to
// linear_padded only as the rows beyond a multiple of 16 or as a whole
// problem that is not regular, neither more than padded_rows(M).
size_t nn_linear_workspace_bytes(int M, int K, int N) {
    if (M <= 0 || N <= 0 || K <= 0) return 0;
    size_t rows = padded_rows((size_t)M, K, N);
    return msf_align_up((rows * (size_t)K + rows * (size_t)N) * sizeof(float));
}

void nn_linear(float *y, const float *x, const float *w, const float *b, int M, int K, int N, msf_arena *ws) {
    if (M <= 0 || N <= 0) return;
    assert(K > 0 && y && x && w && "nn_linear: [M, K] x [K, N]^T with K > 0");
    size_t main_rows = (size_t)M / LINEAR_ROW_TILE * LINEAR_ROW_TILE;
    if (main_rows && !linear_tiled(y, x, w, b, main_rows, K, N)) main_rows = 0;
    if (main_rows < (size_t)M) linear_padded(y + main_rows * N, x + main_rows * K, w, b, M - (int)main_rows, K, N, ws);
}

// -----------------------------------------------------------------------------
// Activations: elementwise, so any split gives the same values.

NN_MULTIVERSION static void gelu_tanh_span(float *y, const float *x, size_t n) {
    // 0.5 (1 + tanh(u)) = 1 / (1 + exp(-2u)): one exp instead of tanhf, which
    // glibc computes through expm1f at several times the cost (GELU was a fifth
    // of a DiT forward). Differs from the reference by float rounding only.
    const float c2 = 2.0f * 0.7978845608028654f;  // 2 sqrt(2/pi)
    for (size_t i = 0; i < n; i++) {
        float v = x[i];
        y[i] = v / (1.0f + nn_fast_expf(-c2 * (v + 0.044715f * v * v * v)));
    }
}

NN_MULTIVERSION static void silu_span(float *y, const float *x, size_t n) {
    for (size_t i = 0; i < n; i++) y[i] = x[i] / (1.0f + nn_fast_expf(-x[i]));
}

// Elementwise spans run on fixed chunks (any split gives the same values).
#define SPAN_CHUNK 16384

void nn_gelu(float *y, const float *x, size_t count) {
#pragma omp parallel for schedule(static)
    for (size_t i = 0; i < count; i++) y[i] = 0.5f * x[i] * (1.0f + erff(x[i] * (float)M_SQRT1_2));
}

static void run_spans(void (*span)(float *, const float *, size_t), float *y, const float *x, size_t count) {
    long chunks = (long)ceil_div(count, SPAN_CHUNK);
#pragma omp parallel for schedule(static)
    for (long c = 0; c < chunks; c++) {
        size_t lo = (size_t)c * SPAN_CHUNK, n = count - lo < SPAN_CHUNK ? count - lo : SPAN_CHUNK;
        span(y + lo, x + lo, n);
    }
}

void nn_gelu_tanh(float *y, const float *x, size_t count) { run_spans(gelu_tanh_span, y, x, count); }
void nn_silu(float *y, const float *x, size_t count) { run_spans(silu_span, y, x, count); }

void nn_relu(float *y, const float *x, size_t count) {
#pragma omp parallel for schedule(static)
    for (size_t i = 0; i < count; i++) y[i] = x[i] < 0.0f ? 0.0f : x[i];
}

// -----------------------------------------------------------------------------
// Pooling: one (n, c) plane per iteration.

void nn_max_pool2d(float *y, const float *x, const nn_pool2d_shape *s) {
    int oh = nn_pool2d_out_h(s), ow = nn_pool2d_out_w(s);
    long planes = (long)s->n * s->c;
#pragma omp parallel for schedule(static)
    for (long p = 0; p < planes; p++) {
        const float *xp = x + (size_t)p * s->h * s->w;
        float *yp = y + (size_t)p * oh * ow;
        for (int i = 0; i < oh; i++) {
            int h0 = i * s->stride_h - s->pad_h, h1 = h0 + s->kh;
            h0 = h0 > 0 ? h0 : 0;
            h1 = h1 < s->h ? h1 : s->h;
            for (int j = 0; j < ow; j++) {
                int w0 = j * s->stride_w - s->pad_w, w1 = w0 + s->kw;
                w0 = w0 > 0 ? w0 : 0;
                w1 = w1 < s->w ? w1 : s->w;
                float max = -INFINITY;
                for (int hi = h0; hi < h1; hi++)
                    for (int wi = w0; wi < w1; wi++) {
                        float v = xp[(size_t)hi * s->w + wi];
                        if (v > max || isnan(v)) max = v;
                    }
                yp[(size_t)i * ow + j] = max;
            }
        }
    }
}

void nn_avg_pool2d(float *y, const float *x, const nn_pool2d_shape *s) {
    int oh = nn_pool2d_out_h(s), ow = nn_pool2d_out_w(s);
    long planes = (long)s->n * s->c;
#pragma omp parallel for schedule(static)
    for (long p = 0; p < planes; p++) {
        const float *xp = x + (size_t)p * s->h * s->w;
        float *yp = y + (size_t)p * oh * ow;
        for (int i = 0; i < oh; i++) {
            int h0 = i * s->stride_h - s->pad_h, h1 = h0 + s->kh;
            h0 = h0 > 0 ? h0 : 0;
            h1 = h1 < s->h ? h1 : s->h;
            for (int j = 0; j < ow; j++) {
                int w0 = j * s->stride_w - s->pad_w, w1 = w0 + s->kw;
                w0 = w0 > 0 ? w0 : 0;
                w1 = w1 < s->w ? w1 : s->w;
                float sum = 0.0f;
                for (int hi = h0; hi < h1; hi++)
                    for (int wi = w0; wi < w1; wi++) sum += xp[(size_t)hi * s->w + wi];
                int div = s->count_include_pad ? s->kh * s->kw : (h1 - h0) * (w1 - w0);
                yp[(size_t)i * ow + j] = sum / (float)div;
            }
        }
    }
}

// -----------------------------------------------------------------------------
// Resizing: one (n, c) plane per iteration.

void nn_upsample_nearest(float *y, const float *x, int n, int c, int h, int w, int out_h, int out_w) {
    float sh = (float)h / out_h, sw = (float)w / out_w;  // float, as PyTorch (see nn_ref.c)
    long planes = (long)n * c;
#pragma omp parallel for schedule(static)
    for (long p = 0; p < planes; p++) {
        const float *xp = x + (size_t)p * h * w;
        float *yp = y + (size_t)p * out_h * out_w;
        for (int i = 0; i < out_h; i++) {
            int hi = (int)floorf((float)i * sh);
            const float *xr = xp + (size_t)(hi < h - 1 ? hi : h - 1) * w;
            for (int j = 0; j < out_w; j++) {
                int wi = (int)floorf((float)j * sw);
                yp[(size_t)i * out_w + j] = xr[wi < w - 1 ? wi : w - 1];
            }
        }
    }
}

// Lower source index, upper source index and weight of the upper one for
// output index `dst` along an axis of `in` -> `out` (formulas in nn.h).
static void bilinear_taps(int *lo, int *hi, float *frac, int dst, int in, int out, nn_bilinear_mode mode) {
    double scale = (double)in / out;
    double src = mode == NN_BILINEAR_TF1_LEGACY ? dst * scale : (dst + 0.5) * scale - 0.5;
    if (src < 0.0) src = 0.0;
    int i0 = (int)src;
    *lo = i0;
    *hi = i0 + 1 < in ? i0 + 1 : in - 1;
    *frac = (float)(src - i0);
}

void nn_resize_bilinear(float *y, const float *x, int n, int c, int h, int w, int out_h, int out_w,
                        nn_bilinear_mode mode) {
    long planes = (long)n * c;
#pragma omp parallel for schedule(static)
    for (long p = 0; p < planes; p++) {
        const float *xp = x + (size_t)p * h * w;
        float *yp = y + (size_t)p * out_h * out_w;
        for (int i = 0; i < out_h; i++) {
            int y0, y1, x0, x1;
            float fy, fx;
            bilinear_taps(&y0, &y1, &fy, i, h, out_h, mode);
            const float *r0 = xp + (size_t)y0 * w, *r1 = xp + (size_t)y1 * w;
            for (int j = 0; j < out_w; j++) {
                bilinear_taps(&x0, &x1, &fx, j, w, out_w, mode);
                float top = (1.0f - fx) * r0[x0] + fx * r0[x1];
                float bot = (1.0f - fx) * r1[x0] + fx * r1[x1];
                yp[(size_t)i * out_w + j] = (1.0f - fy) * top + fy * bot;
            }
        }
    }
}

void nn_resize_area(float *y, const float *x, int n, int c, int h, int w, int out_h, int out_w) {
    long planes = (long)n * c;
#pragma omp parallel for schedule(static)
    for (long p = 0; p < planes; p++) {
        const float *xp = x + (size_t)p * h * w;
        float *yp = y + (size_t)p * out_h * out_w;
        for (int i = 0; i < out_h; i++) {
            int h0 = (int)((long)i * h / out_h), h1 = (int)(((long)(i + 1) * h + out_h - 1) / out_h);
            for (int j = 0; j < out_w; j++) {
                int w0 = (int)((long)j * w / out_w), w1 = (int)(((long)(j + 1) * w + out_w - 1) / out_w);
                float sum = 0.0f;
                for (int hi = h0; hi < h1; hi++)
                    for (int wi = w0; wi < w1; wi++) sum += xp[(size_t)hi * w + wi];
                yp[(size_t)i * out_w + j] = sum / (float)((h1 - h0) * (w1 - w0));
            }
        }
    }
}

// -----------------------------------------------------------------------------
// Concat

void nn_concat_channels(float *y, const float *a, const float *b, int n, int ca, int cb, int hw) {
#pragma omp parallel for schedule(static)
    for (int i = 0; i < n; i++) {
        float *yp = y + (size_t)i * (ca + cb) * hw;
        memcpy(yp, a + (size_t)i * ca * hw, (size_t)ca * hw * sizeof(float));
        memcpy(yp + (size_t)ca * hw, b + (size_t)i * cb * hw, (size_t)cb * hw * sizeof(float));
    }
}
