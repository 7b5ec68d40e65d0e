// nn.c: fast versions of the nn.h operators (OpenBLAS sgemm + OpenMP).
//
// One level of parallelism: every operator splits its output into pieces
// chosen from the shapes alone and runs them under `omp parallel for`; each
// output element is computed by one thread in a fixed order, so the result
// does not depend on the thread count. The GEMM loops hand out their pieces
// dynamically, so a core slowed by other work on a shared machine does not
// hold the others back; which thread computes a piece never changes its value. sgemm is only ever called from inside
// such a region, where the OpenMP build of OpenBLAS runs single-threaded;
// note that it also does so when the region has a single thread, because it
// then reads omp_get_max_threads() == 1.
#include <cblas.h>
#include <math.h>
#include <omp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "nn/nn.h"

static size_t ceil_div(size_t a, size_t b) { return (a + b - 1) / b; }

// exp(x) in float32 in a form the compiler vectorises (libm's expf is a call
// per element, and was a tenth of a DiT forward through softmax and GELU):
// x = n ln2 + r with n = round(x log2 e) by adding and subtracting 1.5 * 2^23,
// ln2 split in two (Cody-Waite) so r is exact, exp(r) by its degree-6 Taylor
// polynomial (|r| <= ln2/2: truncation 0.7 ulp), 2^n built in the exponent
// bits. Inputs are clamped to [-87.3, 88.3] so that 2^n stays normal: below,
// the result is 1.2e-38 instead of a denormal or 0; above, 2.4e38 instead of
// inf. NaN stays NaN. Needs -ffp-contract=off and no -ffast-math (both hold).
static inline float fast_expf(float x) {
    const float log2e = 1.44269504088896341f, ln2_hi = 0.693359375f, ln2_lo = -2.12194440e-4f;
    const float shifter = 12582912.0f;
    float c = x < -87.3f ? -87.3f : (x > 88.3f ? 88.3f : x);
    float n = (c * log2e + shifter) - shifter;
    float r = (c - n * ln2_hi) - n * ln2_lo;
    float p = 1.0f + r * (1.0f + r * (0.5f + r * (1.66666672e-1f + r * (4.16666679e-2f +
                                                                        r * (8.33333377e-3f + r * 1.38888892e-3f)))));
    int32_t bits = ((int32_t)n + 127) * (1 << 23);
    float scale;
    memcpy(&scale, &bits, sizeof scale);
    float y = p * scale;
    return x != x ? x : y;
}

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
        if (b)
            memcpy(yr + n0, b + n0, (n1 - n0) * sizeof(float));
        else
            memset(yr + n0, 0, (n1 - n0) * sizeof(float));
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
// 16; more only for tiny layers) and compute the padded problem.
static void linear_padded(float *y, const float *x, const float *w, const float *b, int M, int K, int N) {
    size_t rows = ceil_div((size_t)M, LINEAR_ROW_TILE) * LINEAR_ROW_TILE;
    while (!gemm_is_regular(rows, (size_t)N, (size_t)K)) rows += LINEAR_ROW_TILE;
    float *xp = calloc(rows * (size_t)K + rows * (size_t)N, sizeof(float));
    if (!xp) {  // out of memory: still correct, only not bit-identical to other batch sizes
        nn_linear_ref(y, x, w, b, M, K, N);
        return;
    }
    float *yp = xp + rows * (size_t)K;
    memcpy(xp, x, (size_t)M * K * sizeof(float));
    linear_tiled(yp, xp, w, b, rows, K, N);
    memcpy(y, yp, (size_t)M * N * sizeof(float));
    free(xp);
}

void nn_linear(float *y, const float *x, const float *w, const float *b, int M, int K, int N) {
    if (M <= 0 || N <= 0) return;
    size_t main_rows = (size_t)M / LINEAR_ROW_TILE * LINEAR_ROW_TILE;
    if (main_rows && !linear_tiled(y, x, w, b, main_rows, K, N)) main_rows = 0;
    if (main_rows < (size_t)M)
        linear_padded(y + main_rows * N, x + main_rows * K, w, b, M - (int)main_rows, K, N);
}

// -----------------------------------------------------------------------------
// Convolution
//
// y[b] (c_out, oh*ow) = W (c_out, c_in*kh*kw) . col (c_in*kh*kw, oh*ow), where
// col is the im2col matrix of x[b]. Work is split into blocks of whole output
// rows of one image; a block's columns of col are built in the calling
// thread's buffer and multiplied into y. A 1x1 stride-1 unpadded conv needs
// no im2col: x[b] is already col.

// Columns per block: as many as keep col (K x columns) within CONV_COL_BYTES,
// one core's L2 here, so that it is still in cache when sgemm packs it (1 MiB
// measured 5-10% slower on InceptionV3's 80->192 conv); at most
// CONV_BLOCK_COLS so that a batch splits into enough blocks to share out; at
// least CONV_MIN_COLS so that W, re-packed by each sgemm call, is amortised
// when K is large (SD VAE: K = 4608).
#define CONV_COL_BYTES (2u << 20)
#define CONV_BLOCK_COLS 1024
#define CONV_MIN_COLS 256

static int conv_is_pointwise(const nn_conv2d_shape *s) {
    return s->kh == 1 && s->kw == 1 && s->stride_h == 1 && s->stride_w == 1 && s->pad_top == 0 &&
           s->pad_bottom == 0 && s->pad_left == 0 && s->pad_right == 0;
}

// Output rows per block (blocks never straddle images).
static int conv_block_rows(const nn_conv2d_shape *s) {
    int oh = nn_conv2d_out_h(s), ow = nn_conv2d_out_w(s);
    size_t K = (size_t)s->c_in * s->kh * s->kw;
    size_t cols = CONV_COL_BYTES / (K * sizeof(float));
    if (cols > CONV_BLOCK_COLS) cols = CONV_BLOCK_COLS;
    if (cols < CONV_MIN_COLS) cols = CONV_MIN_COLS;
    size_t rows = cols / (size_t)ow;
    if (rows < 1) rows = 1;
    if (rows > (size_t)oh) rows = (size_t)oh;
    // Equal blocks rather than a short last one.
    return (int)ceil_div((size_t)oh, ceil_div((size_t)oh, rows));
}

static size_t conv_thread_bytes(const nn_conv2d_shape *s) {
    if (conv_is_pointwise(s)) return 0;
    size_t K = (size_t)s->c_in * s->kh * s->kw;
    return msf_align_up(K * (size_t)conv_block_rows(s) * nn_conv2d_out_w(s) * sizeof(float));
}

size_t nn_conv2d_workspace_bytes(const nn_conv2d_shape *s) {
    return conv_thread_bytes(s) * (size_t)omp_get_max_threads();
}

// col (c_in*kh*kw, (r1-r0)*ow) for output rows r0..r1-1 of image xb (c_in, h, w).
static void im2col_rows(float *col, const float *xb, const nn_conv2d_shape *s, int r0, int r1) {
    int ow = nn_conv2d_out_w(s);
    size_t ncols = (size_t)(r1 - r0) * ow;
    for (int ci = 0; ci < s->c_in; ci++) {
        const float *xc = xb + (size_t)ci * s->h * s->w;
        for (int ki = 0; ki < s->kh; ki++) {
            for (int kj = 0; kj < s->kw; kj++) {
                float *cr = col + ((size_t)(ci * s->kh + ki) * s->kw + kj) * ncols;
                // Output columns j0..j1-1 read inside the input row; the rest is padding.
                int off = kj - s->pad_left;
                int j0 = off >= 0 ? 0 : (-off + s->stride_w - 1) / s->stride_w;
                int j1 = s->w - 1 - off >= 0 ? (s->w - 1 - off) / s->stride_w + 1 : 0;
                if (j1 > ow) j1 = ow;
                if (j0 > j1) j0 = j1;
                for (int r = r0; r < r1; r++, cr += ow) {
                    int hi = r * s->stride_h + ki - s->pad_top;
                    if (hi < 0 || hi >= s->h) {
                        memset(cr, 0, (size_t)ow * sizeof(float));
                        continue;
                    }
                    const float *xr = xc + (size_t)hi * s->w;
                    for (int j = 0; j < j0; j++) cr[j] = 0.0f;
                    if (s->stride_w == 1)
                        memcpy(cr + j0, xr + j0 + off, (size_t)(j1 - j0) * sizeof(float));
                    else
                        for (int j = j0; j < j1; j++) cr[j] = xr[j * s->stride_w + off];
                    for (int j = j1; j < ow; j++) cr[j] = 0.0f;
                }
            }
        }
    }
}

msf_status nn_conv2d(float *y, const float *x, const float *w, const float *b, const nn_conv2d_shape *s,
                     msf_arena *ws) {
    msf_status st = nn_conv2d_check(s);
    if (st != MSF_OK) return st;
    int oh = nn_conv2d_out_h(s), ow = nn_conv2d_out_w(s);
    size_t ohw = (size_t)oh * ow, K = (size_t)s->c_in * s->kh * s->kw;
    int pointwise = conv_is_pointwise(s);
    size_t per_thread = conv_thread_bytes(s);
    size_t mark = 0;
    float *cols = NULL;
    if (per_thread > 0) {  // (a pointwise conv takes nothing; ws may then be NULL)
        mark = msf_arena_mark(ws);
        size_t need = per_thread * (size_t)omp_get_max_threads();
        cols = msf_arena_alloc(ws, need);
        if (!cols)
            return msf_fail(MSF_ERR_NOMEM, "conv2d: workspace needs %zu bytes, %zu free", need,
                            ws->capacity - ws->used);
    }
    int rows = conv_block_rows(s);
    long per_image = (long)ceil_div((size_t)oh, (size_t)rows);
    long nblocks = (long)s->n * per_image;
#pragma omp parallel for schedule(dynamic, 1)
    for (long blk = 0; blk < nblocks; blk++) {
        int img = (int)(blk / per_image);
        int r0 = (int)(blk % per_image) * rows, r1 = r0 + rows < oh ? r0 + rows : oh;
        size_t ncols = (size_t)(r1 - r0) * ow;
        const float *xb = x + (size_t)img * s->c_in * s->h * s->w;
        float *yb = y + (size_t)img * s->c_out * ohw + (size_t)r0 * ow;
        for (int co = 0; co < s->c_out; co++) {
            float *yr = yb + (size_t)co * ohw;
            float bias = b ? b[co] : 0.0f;
            for (size_t j = 0; j < ncols; j++) yr[j] = bias;
        }
        const float *col = xb + (size_t)r0 * ow;
        int ldcol = (int)ohw;
        if (!pointwise) {
            float *buf = (float *)((unsigned char *)cols + per_thread * (size_t)omp_get_thread_num());
            im2col_rows(buf, xb, s, r0, r1);
            col = buf;
            ldcol = (int)ncols;
        }
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, s->c_out, (int)ncols, (int)K, 1.0f, w, (int)K, col,
                    ldcol, 1.0f, yb, (int)ohw);
    }
    if (cols) msf_arena_release(ws, mark);
    return MSF_OK;
}

// -----------------------------------------------------------------------------
// Attention
//
// One (batch item, head) pair per iteration: S = q k^T / sqrt(head_dim) (t x t)
// in the thread's buffer, softmax over each row of S, then out = S v. q, k
// and v are read in place from qkv with row stride 3D.

static size_t attention_thread_bytes(int t) { return msf_align_up((size_t)t * t * sizeof(float)); }

size_t nn_attention_workspace_bytes(int n, int t, int heads, int head_dim) {
    return attention_thread_bytes(t) * (size_t)omp_get_max_threads();
}

// The exp-heavy loops are compiled for AVX-512, AVX2 and baseline x86-64 and
// picked at load time (GCC function multiversioning). fast_expf uses only
// +, *, conversions and bit moves, with no FMA contraction: every version
// gives the same bits.
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && !defined(__SANITIZE_ADDRESS__)
#define NN_MULTIVERSION __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define NN_MULTIVERSION
#endif

NN_MULTIVERSION static void exp_shifted(float *y, const float *x, float shift, int n) {
    for (int i = 0; i < n; i++) y[i] = fast_expf(x[i] - shift);
}

NN_MULTIVERSION static void gelu_tanh_span(float *y, const float *x, size_t n) {
    // 0.5 (1 + tanh(u)) = 1 / (1 + exp(-2u)): one exp instead of tanhf, which
    // glibc computes through expm1f at several times the cost (GELU was a fifth
    // of a DiT forward). Differs from the reference by float rounding only.
    const float c2 = 2.0f * 0.7978845608028654f;  // 2 sqrt(2/pi)
    for (size_t i = 0; i < n; i++) {
        float v = x[i];
        y[i] = v / (1.0f + fast_expf(-c2 * (v + 0.044715f * v * v * v)));
    }
}

NN_MULTIVERSION static void silu_span(float *y, const float *x, size_t n) {
    for (size_t i = 0; i < n; i++) y[i] = x[i] / (1.0f + fast_expf(-x[i]));
}

// Elementwise spans run on fixed chunks (any split gives the same values).
#define SPAN_CHUNK 16384

static void softmax_row(float *y, const float *x, int dim) {
    float max = x[0];
    for (int i = 1; i < dim; i++) max = x[i] > max ? x[i] : max;
    exp_shifted(y, x, max, dim);
    double sum = 0.0;
    for (int i = 0; i < dim; i++) sum += y[i];
    float inv = (float)(1.0 / sum);
    for (int i = 0; i < dim; i++) y[i] *= inv;
}

msf_status nn_attention(float *out, const float *qkv, int n, int t, int heads, int head_dim, msf_arena *ws) {
    size_t per_thread = attention_thread_bytes(t);
    size_t need = per_thread * (size_t)omp_get_max_threads();
    size_t mark = msf_arena_mark(ws);
    unsigned char *scores = msf_arena_alloc(ws, need);
    if (!scores)
        return msf_fail(MSF_ERR_NOMEM, "attention: workspace needs %zu bytes, %zu free", need,
                        ws->capacity - ws->used);
    int D = heads * head_dim;
    int row = 3 * D;
    float scale = (float)(1.0 / sqrt((double)head_dim));
    long pairs = (long)n * heads;
#pragma omp parallel for schedule(dynamic, 1)
    for (long p = 0; p < pairs; p++) {
        int b = (int)(p / heads), h = (int)(p % heads);
        float *S = (float *)(scores + per_thread * (size_t)omp_get_thread_num());
        const float *q = qkv + (size_t)b * t * row + (size_t)h * head_dim;
        const float *k = q + D, *v = q + 2 * (size_t)D;
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, t, t, head_dim, scale, q, row, k, row, 0.0f, S, t);
        for (int i = 0; i < t; i++) softmax_row(S + (size_t)i * t, S + (size_t)i * t, t);
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, t, head_dim, t, 1.0f, S, t, v, row, 0.0f,
                    out + (size_t)b * t * D + (size_t)h * head_dim, D);
    }
    msf_arena_release(ws, mark);
    return MSF_OK;
}

// -----------------------------------------------------------------------------
// Normalisation
//
// Statistics in double (two passes), then y = (x - mean) * (rstd * gamma) + beta
// in float: x - mean first, so that a large mean does not cost precision.

static void moments(float *mean, float *rstd, const float *x, size_t count, float eps) {
    double sum = 0.0;
    for (size_t i = 0; i < count; i++) sum += x[i];
    double m = sum / (double)count;
    double sq = 0.0;
    for (size_t i = 0; i < count; i++) sq += ((double)x[i] - m) * ((double)x[i] - m);
    *mean = (float)m;
    *rstd = (float)(1.0 / sqrt(sq / (double)count + (double)eps));
}

void nn_group_norm(float *y, const float *x, const float *gamma, const float *beta, int n, int c, int hw,
                   int groups, float eps) {
    int cg = c / groups;
    long pairs = (long)n * groups;
#pragma omp parallel for schedule(static)
    for (long p = 0; p < pairs; p++) {
        int g = (int)(p % groups);
        size_t off = (size_t)p * cg * hw;  // (batch item, group) blocks are contiguous
        float mean, rstd;
        moments(&mean, &rstd, x + off, (size_t)cg * hw, eps);
        for (int i = 0; i < cg; i++) {
            int ch = g * cg + i;
            float sc = gamma ? rstd * gamma[ch] : rstd, sh = beta ? beta[ch] : 0.0f;
            const float *xp = x + off + (size_t)i * hw;
            float *yp = y + off + (size_t)i * hw;
            for (int j = 0; j < hw; j++) yp[j] = (xp[j] - mean) * sc + sh;
        }
    }
}

void nn_layer_norm(float *y, const float *x, const float *gamma, const float *beta, int rows, int dim, float eps) {
#pragma omp parallel for schedule(static)
    for (int r = 0; r < rows; r++) {
        const float *xp = x + (size_t)r * dim;
        float *yp = y + (size_t)r * dim;
        float mean, rstd;
        moments(&mean, &rstd, xp, (size_t)dim, eps);
        for (int i = 0; i < dim; i++) {
            float v = (xp[i] - mean) * rstd;
            yp[i] = (gamma ? v * gamma[i] : v) + (beta ? beta[i] : 0.0f);
        }
    }
}

void nn_batch_norm(float *y, const float *x, const float *mean, const float *var, const float *gamma,
                   const float *beta, int n, int c, int hw, float eps) {
    long planes = (long)n * c;
#pragma omp parallel for schedule(static)
    for (long p = 0; p < planes; p++) {
        int ch = (int)(p % c);
        double rstd = 1.0 / sqrt((double)var[ch] + (double)eps);
        float sc = (float)(gamma ? rstd * gamma[ch] : rstd), sh = beta ? beta[ch] : 0.0f, m = mean[ch];
        const float *xp = x + (size_t)p * hw;
        float *yp = y + (size_t)p * hw;
        for (int i = 0; i < hw; i++) yp[i] = (xp[i] - m) * sc + sh;
    }
}

// -----------------------------------------------------------------------------
// Softmax

void nn_softmax(float *y, const float *x, int rows, int dim) {
#pragma omp parallel for schedule(static)
    for (int r = 0; r < rows; r++) softmax_row(y + (size_t)r * dim, x + (size_t)r * dim, dim);
}

// -----------------------------------------------------------------------------
// Activations: elementwise, so any split gives the same values.

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
