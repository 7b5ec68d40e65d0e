// conv.c: the NCHW convolutions of conv.h: nn_conv2d (im2col + sgemm) and the
// 3x3 Winograd convolution (OpenBLAS sgemm + OpenMP; the threading rules of
// nn.c hold here too).
#include "nn/conv.h"

#include <cblas.h>
#include <omp.h>
#include <string.h>

static size_t ceil_div(size_t a, size_t b) { return (a + b - 1) / b; }

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
    return s->kh == 1 && s->kw == 1 && s->stride_h == 1 && s->stride_w == 1 && s->pad_top == 0 && s->pad_bottom == 0 &&
           s->pad_left == 0 && s->pad_right == 0;
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
void nn_im2col_rows(float *col, const float *xb, const nn_conv2d_shape *s, int r0, int r1) {
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
                    if (s->stride_w == 1) memcpy(cr + j0, xr + j0 + off, (size_t)(j1 - j0) * sizeof(float));
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
            nn_im2col_rows(buf, xb, s, r0, r1);
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
// 3x3 convolution, stride 1, zero padding 1, by Winograd's minimal filtering
// F(2x2, 3x3) (Lavin & Gray, "Fast Algorithms for Convolutional Neural
// Networks", 2016): each 2x2 block of outputs ("tile") comes from the 4x4
// input patch around it as Y = A^T [(G g G^T) . (B^T d B)] A, so the channel
// sums become 16 matrix products (one per position e of the 4x4 transformed
// tile) of 2.25x fewer multiply-adds than the direct convolution. The 3x3
// convolutions are 90% of the SD VAE's time; nn_conv2d's im2col + sgemm was
// 1.4x slower than PyTorch's oneDNN there, this is faster. The transforms only
// add and halve, so the result stays within float32 rounding of the direct sum.
//
// The image is processed in chunks of whole rows of tiles (at most WINO_CHUNK
// tiles, or a single row when one row is longer): transform the inputs
// (threads over input channels), 16 sgemms (threads over e), transform the
// outputs (threads over output channels). Chunks and matrix shapes depend
// only on the layer's shape, so the bits do not depend on the thread count.
// Scratch: the transformed weights U (16 cout cin, made per call: 1-2% of the
// time) and, per chunk of n tiles, V (16 cin n) and M (16 cout n): 80 MB for
// 512 -> 512 channels.

#define WINO_CHUNK 1024

static int wino_chunk_rows(int w);
static size_t wino_rowbuf_floats(int w);

size_t nn_conv3x3_workspace_bytes(int cin, int cout, int h, int w) {
    int th = (h + 1) / 2, rows = wino_chunk_rows(w);
    size_t n = (size_t)(rows < th ? rows : th) * ((w + 1) / 2);
    return msf_align_up(16 * (size_t)cout * cin * sizeof(float)) + msf_align_up(16 * (size_t)cin * n * sizeof(float)) +
           msf_align_up(16 * (size_t)cout * n * sizeof(float)) +
           (size_t)omp_get_max_threads() * wino_rowbuf_floats(w) * sizeof(float) +
           msf_align_up((size_t)w * sizeof(float)) + 5 * MSF_ALIGN;
}

// U[e][co][ci] = (G g G^T)[e] for g = w[co][ci] (3x3), G = [1 0 0; .5 .5 .5; .5 -.5 .5; 0 0 1].
// Blocks of WINO_CI input channels are first transposed to g[k][ci] so the
// transform runs along ci (vectorised) and U is written contiguously.
#define WINO_CI 128

// Columns of one row (a, b, c) of G g -> four planes of U (times G^T).
static void wino_weights_row(float *restrict u0, float *restrict u1, float *restrict u2, float *restrict u3,
                             const float *restrict a, const float *restrict b, const float *restrict c, int n) {
    for (int i = 0; i < n; i++) {
        u0[i] = a[i];
        u1[i] = 0.5f * (a[i] + b[i] + c[i]);
        u2[i] = 0.5f * (a[i] - b[i] + c[i]);
        u3[i] = c[i];
    }
}

// g: 9 rows of n (kernel element k = 3 row + col), t: scratch 6 rows of n;
// U: 16 planes (stride `plane`), n values each.
static void wino_weights_block(float *U, const float *restrict g, float *restrict t, int n, size_t plane) {
    float *t1 = t, *t2 = t + 3 * (size_t)n;  // rows 1 and 2 of G g (rows 0 and 3 are g's rows 0 and 2)
    for (int col = 0; col < 3; col++) {
        const float *r0 = g + (size_t)col * n, *r1 = g + (size_t)(3 + col) * n, *r2 = g + (size_t)(6 + col) * n;
        float *a = t1 + (size_t)col * n, *b = t2 + (size_t)col * n;
        for (int i = 0; i < n; i++) {
            a[i] = 0.5f * (r0[i] + r1[i] + r2[i]);
            b[i] = 0.5f * (r0[i] - r1[i] + r2[i]);
        }
    }
    const float *rows[4] = {g, t1, t2, g + 6 * (size_t)n};
    for (int r = 0; r < 4; r++) {
        float *u = U + (size_t)(4 * r) * plane;
        wino_weights_row(u, u + plane, u + 2 * plane, u + 3 * plane, rows[r], rows[r] + n, rows[r] + 2 * (size_t)n, n);
    }
}

static void wino_weights(float *U, const float *w, int cin, int cout) {
    size_t plane = (size_t)cout * cin;
    int blocks = (cin + WINO_CI - 1) / WINO_CI;
#pragma omp parallel for schedule(static)
    for (long job = 0; job < (long)cout * blocks; job++) {
        int co = (int)(job / blocks), c0 = (int)(job % blocks) * WINO_CI;
        int n = cin - c0 < WINO_CI ? cin - c0 : WINO_CI;
        float g[9 * WINO_CI], t[6 * WINO_CI];
        const float *src = w + ((size_t)co * cin + c0) * 9;
        for (int i = 0; i < n; i++)
            for (int k = 0; k < 9; k++) g[k * n + i] = src[(size_t)i * 9 + k];
        wino_weights_block(U + (size_t)co * cin + c0, g, t, n, plane);
    }
}

// Input transform of the tile rows [ti0, ti1): V[e][ci][j] = (B^T d B)[e] for
// the 4x4 input patch d of tile j = (ti - ti0) tw + tj, with
// B^T = [1 0 -1 0; 0 1 1 0; 0 -1 1 0; 0 1 0 -1]. B^T is applied to whole
// image rows first (row r of B^T d for every column, into the thread's 4
// padded rows `rows`, pw = 2 tw + 2 floats each; `zero` is w zeros), then the
// columns of each tile are combined, storing V contiguously along the tiles.
// Row r of B^T d for every padded column of one tile row (see wino_inputs).
static void wino_rows(float *restrict s0, float *restrict s1, float *restrict s2, float *restrict s3,
                      const float *restrict d0, const float *restrict d1, const float *restrict d2,
                      const float *restrict d3, int w, int pw) {
    s0[0] = s1[0] = s2[0] = s3[0] = 0.0f;
    for (int col = 0; col < w; col++) {
        s0[col + 1] = d0[col] - d2[col];
        s1[col + 1] = d1[col] + d2[col];
        s2[col + 1] = d2[col] - d1[col];
        s3[col + 1] = d1[col] - d3[col];
    }
    for (int p = w + 1; p < pw; p++) s0[p] = s1[p] = s2[p] = s3[p] = 0.0f;
}

// (... B) for one row of B^T d: the four transformed values of each tile.
static void wino_cols(float *restrict v0, float *restrict v1, float *restrict v2, float *restrict v3,
                      const float *restrict sr, int tw) {
    for (int tj = 0; tj < tw; tj++) {
        float a = sr[2 * tj], b = sr[2 * tj + 1], c = sr[2 * tj + 2], e = sr[2 * tj + 3];
        v0[tj] = a - c;
        v1[tj] = b + c;
        v2[tj] = c - b;
        v3[tj] = b - e;
    }
}

static void wino_inputs(float *V, const float *x, int cin, int h, int w, int tw, int ti0, int ti1, float *rowbuf,
                        size_t rowbuf_floats, const float *zero) {
    int n = (ti1 - ti0) * tw, pw = 2 * tw + 2;
    size_t plane = (size_t)cin * n;
#pragma omp parallel for schedule(static)
    for (int ci = 0; ci < cin; ci++) {
        float *s = rowbuf + rowbuf_floats * (size_t)omp_get_thread_num();
        const float *xc = x + (size_t)ci * h * w;
        for (int ti = ti0; ti < ti1; ti++) {
            const float *d[4];
            for (int r = 0; r < 4; r++) {
                int yy = 2 * ti - 1 + r;
                d[r] = yy >= 0 && yy < h ? xc + (size_t)yy * w : zero;
            }
            wino_rows(s, s + pw, s + 2 * pw, s + 3 * pw, d[0], d[1], d[2], d[3], w, pw);
            float *v = V + (size_t)ci * n + (size_t)(ti - ti0) * tw;
            for (int r = 0; r < 4; r++) {
                float *v0 = v + (size_t)(4 * r) * plane;
                wino_cols(v0, v0 + plane, v0 + 2 * plane, v0 + 3 * plane, s + (size_t)r * pw, tw);
            }
        }
    }
}

// Output transform of `count` whole tiles of one tile row into image rows y0
// and y1: m points at the tiles' values in plane 0 of M (planes `plane` apart).
static void wino_out_tiles(float *restrict y0, float *restrict y1, const float *restrict m, size_t plane, float bias,
                           int count) {
    for (int tj = 0; tj < count; tj++) {
        float t0[4], t1[4];  // the two rows of A^T m
        for (int c = 0; c < 4; c++) {
            float m0 = m[(size_t)c * plane + tj], m1 = m[(size_t)(4 + c) * plane + tj];
            float m2 = m[(size_t)(8 + c) * plane + tj], m3 = m[(size_t)(12 + c) * plane + tj];
            t0[c] = m0 + m1 + m2;
            t1[c] = m1 - m2 - m3;
        }
        y0[2 * tj] = bias + (t0[0] + t0[1] + t0[2]);
        y0[2 * tj + 1] = bias + (t0[1] - t0[2] - t0[3]);
        y1[2 * tj] = bias + (t1[0] + t1[1] + t1[2]);
        y1[2 * tj + 1] = bias + (t1[1] - t1[2] - t1[3]);
    }
}

// Output transform of the tile rows [ti0, ti1): y[co] = bias + A^T m A for
// m = M[.][co][j], A^T = [1 1 1 0; 0 1 -1 -1]. With odd h, the second row of
// the last tile row goes to the thread's row buffer (`spare`, 2 tw + 2
// floats); with odd w, the last tile of each row is computed aside.
static void wino_outputs(float *y, const float *M, const float *b, int cout, int h, int w, int tw, int ti0, int ti1,
                         float *rowbuf, size_t rowbuf_floats) {
    int n = (ti1 - ti0) * tw;
    size_t plane = (size_t)cout * n;
#pragma omp parallel for schedule(static)
    for (int co = 0; co < cout; co++) {
        float *spare = rowbuf + rowbuf_floats * (size_t)omp_get_thread_num();
        float *yc = y + (size_t)co * h * w;
        float bias = b ? b[co] : 0.0f;
        for (int ti = ti0; ti < ti1; ti++) {
            const float *m = M + (size_t)co * n + (size_t)(ti - ti0) * tw;
            float *y0 = yc + (size_t)(2 * ti) * w, *y1 = 2 * ti + 1 < h ? y0 + w : spare;
            wino_out_tiles(y0, y1, m, plane, bias, w / 2);
            if (w % 2) {  // the last tile's right column lies outside the image
                float last0[2], last1[2];
                wino_out_tiles(last0, last1, m + w / 2, plane, bias, 1);
                y0[w - 1] = last0[0];
                if (y1 != spare) y1[w - 1] = last1[0];
            }
        }
    }
}

// Tile rows per chunk (at least one).
static int wino_chunk_rows(int w) {
    int tw = (w + 1) / 2, rows = WINO_CHUNK / tw;
    return rows > 0 ? rows : 1;
}

// Per-thread row buffers of the input transform: 4 padded rows.
static size_t wino_rowbuf_floats(int w) {
    return msf_align_up((size_t)4 * (2 * ((w + 1) / 2) + 2) * sizeof(float)) / sizeof(float);
}

msf_status nn_conv3x3(float *y, const float *x, const float *w, const float *b, int cin, int cout, int h, int wd,
                      msf_arena *ws) {
    if (cin < 1 || cout < 1 || h < 1 || wd < 1)
        return msf_fail(MSF_ERR_INVALID, "3x3 convolution: sizes must be positive (%d -> %d channels, %dx%d)", cin,
                        cout, h, wd);
    int tw = (wd + 1) / 2, th = (h + 1) / 2, crows = wino_chunk_rows(wd);
    if (crows > th) crows = th;
    size_t n = (size_t)crows * tw, rb = wino_rowbuf_floats(wd);
    size_t mark = msf_arena_mark(ws);
    float *U = msf_arena_alloc(ws, 16 * (size_t)cout * cin * sizeof(float));
    float *V = msf_arena_alloc(ws, 16 * (size_t)cin * n * sizeof(float));
    float *M = msf_arena_alloc(ws, 16 * (size_t)cout * n * sizeof(float));
    float *rows = msf_arena_alloc(ws, rb * sizeof(float) * (size_t)omp_get_max_threads());
    float *zero = msf_arena_alloc(ws, (size_t)wd * sizeof(float));
    if (!U || !V || !M || !rows || !zero) {
        msf_arena_release(ws, mark);
        return msf_fail(MSF_ERR_NOMEM, "3x3 convolution %d -> %d at %dx%d: workspace needs %zu bytes", cin, cout, h, wd,
                        nn_conv3x3_workspace_bytes(cin, cout, h, wd));
    }
    memset(zero, 0, (size_t)wd * sizeof(float));
    wino_weights(U, w, cin, cout);
    for (int ti0 = 0; ti0 < th; ti0 += crows) {
        int ti1 = ti0 + crows < th ? ti0 + crows : th, nn = (ti1 - ti0) * tw;
        wino_inputs(V, x, cin, h, wd, tw, ti0, ti1, rows, rb, zero);
#pragma omp parallel for schedule(dynamic, 1)
        for (int e = 0; e < 16; e++)
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, cout, nn, cin, 1.0f, U + (size_t)e * cout * cin, cin,
                        V + (size_t)e * cin * nn, nn, 0.0f, M + (size_t)e * cout * nn, nn);
        wino_outputs(y, M, b, cout, h, wd, tw, ti0, ti1, rows, rb);
    }
    msf_arena_release(ws, mark);
    return MSF_OK;
}
