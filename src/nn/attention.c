// attention.c: softmax and the self-attention core of attention.h (OpenBLAS
// sgemm + OpenMP; the threading rules of nn.c hold here too).
#include "nn/attention.h"

#include <assert.h>
#include <cblas.h>
#include <math.h>
#include <omp.h>
#include <stdint.h>
#include <stdlib.h>

#include "nn/fast_exp.h"
#include "nn/linear_bf16.h"

// -----------------------------------------------------------------------------
// Softmax

NN_MULTIVERSION static void exp_shifted(float *y, const float *x, float shift, int n) {
    for (int i = 0; i < n; i++) y[i] = nn_fast_expf(x[i] - shift);
}

static void softmax_row(float *y, const float *x, int dim) {
    float max = x[0];
    for (int i = 1; i < dim; i++) max = x[i] > max ? x[i] : max;
    exp_shifted(y, x, max, dim);
    double sum = 0.0;
    for (int i = 0; i < dim; i++) sum += y[i];
    float inv = (float)(1.0 / sum);
    for (int i = 0; i < dim; i++) y[i] *= inv;
}

void nn_softmax(float *y, const float *x, int rows, int dim) {
    assert(rows <= 0 || dim > 0);
#pragma omp parallel for schedule(static)
    for (int r = 0; r < rows; r++) softmax_row(y + (size_t)r * dim, x + (size_t)r * dim, dim);
}

// -----------------------------------------------------------------------------
// Attention
//
// One job per (batch item, head, block of query rows): S = q k^T / sqrt(head_dim)
// (rows x t) in the thread's buffer, softmax over each row of S, then
// out = S v. q, k and v are read in place from qkv with row stride 3D. Jobs
// and their sgemm shapes depend only on the shapes, so the bits do not depend
// on the thread count.

int nn_attention_block_rows(int t) { return t <= NN_ATTENTION_FULL_T ? t : NN_ATTENTION_BLOCK_ROWS; }

static int clamp_rows(int t, int block_rows) { return block_rows < t ? block_rows : t; }

static size_t attention_thread_bytes(int t, int block_rows) {
    return msf_align_up((size_t)clamp_rows(t, block_rows) * t * sizeof(float));
}

size_t nn_attention_rows_workspace_bytes(int t, int block_rows) {
    return attention_thread_bytes(t, block_rows) * (size_t)omp_get_max_threads();
}

size_t nn_attention_workspace_bytes(int n, int t, int heads, int head_dim) {
    return nn_attention_rows_workspace_bytes(t, nn_attention_block_rows(t));
}

msf_status nn_attention_rows(float *out, const float *qkv, int n, int t, int heads, int head_dim, int block_rows,
                             msf_arena *ws) {
    if (block_rows < 1) return msf_fail(MSF_ERR_INVALID, "attention: block of %d rows", block_rows);
    if (n < 1 || t < 1 || heads < 1) return MSF_OK;
    assert(head_dim > 0 && out != qkv);
    int rows = clamp_rows(t, block_rows);
    size_t per_thread = attention_thread_bytes(t, rows);
    size_t need = per_thread * (size_t)omp_get_max_threads();
    size_t mark = msf_arena_mark(ws);
    unsigned char *scores = msf_arena_alloc(ws, need);
    if (!scores)
        return msf_fail(MSF_ERR_NOMEM, "attention: workspace needs %zu bytes, %zu free", need, ws->capacity - ws->used);
    int D = heads * head_dim;
    int row = 3 * D;
    float scale = (float)(1.0 / sqrt((double)head_dim));
    long blocks = (t + rows - 1) / rows;
    long jobs = (long)n * heads * blocks;
#pragma omp parallel for schedule(dynamic, 1)
    for (long job = 0; job < jobs; job++) {
        long p = job / blocks;
        int b = (int)(p / heads), h = (int)(p % heads);
        int r0 = (int)(job % blocks) * rows, nr = t - r0 < rows ? t - r0 : rows;
        float *S = (float *)(scores + per_thread * (size_t)omp_get_thread_num());
        const float *q = qkv + (size_t)b * t * row + (size_t)h * head_dim;
        const float *k = q + D, *v = q + 2 * (size_t)D;
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, nr, t, head_dim, scale, q + (size_t)r0 * row, row, k, row,
                    0.0f, S, t);
        for (int i = 0; i < nr; i++) softmax_row(S + (size_t)i * t, S + (size_t)i * t, t);
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, nr, head_dim, t, 1.0f, S, t, v, row, 0.0f,
                    out + ((size_t)b * t + r0) * D + (size_t)h * head_dim, D);
    }
    msf_arena_release(ws, mark);
    return MSF_OK;
}

msf_status nn_attention(float *out, const float *qkv, int n, int t, int heads, int head_dim, msf_arena *ws) {
    return nn_attention_rows(out, qkv, n, t, heads, head_dim, nn_attention_block_rows(t), ws);
}

// -----------------------------------------------------------------------------
// bf16 attention

struct nn_bf16_attention {
    int t, heads, head_dim, rows;
    nn_bf16_matmul *qk[2], *pv[2];  // [0]: a block of `rows` query rows, [1]: the last, shorter one (or NULL)
    size_t scratch;                 // oneDNN's scratchpad, the larger of the four
};

void nn_bf16_attention_free(nn_bf16_attention *a) {
    if (!a) return;
    for (int i = 0; i < 2; i++) nn_bf16_matmul_free(a->qk[i]), nn_bf16_matmul_free(a->pv[i]);
    free(a);
}

msf_status nn_bf16_attention_create(nn_bf16_attention **out, int t, int heads, int head_dim) {
    *out = NULL;
    if (t < 1 || heads < 1 || head_dim < 1)
        return msf_fail(MSF_ERR_INVALID, "bf16 attention: %d tokens, %d heads of %d", t, heads, head_dim);
    nn_bf16_attention *a = calloc(1, sizeof *a);
    if (!a) return msf_fail(MSF_ERR_NOMEM, "out of memory for bf16 attention");
    *a = (nn_bf16_attention){.t = t, .heads = heads, .head_dim = head_dim, .rows = nn_attention_block_rows(t)};
    const int64_t row = 3 * (int64_t)heads * head_dim, D = (int64_t)heads * head_dim;
    int sizes[2] = {a->rows, t % a->rows};
    msf_status s = MSF_OK;
    for (int i = 0; i < 2 && !s; i++) {
        int nr = sizes[i];
        if (!nr) continue;
        // S (nr, t) = q (nr, dh: rows of qkv) k^T (dh, t: k's rows read as columns)
        s = nn_bf16_matmul_create(&a->qk[i], nr, head_dim, t, (int64_t[]){row, 1}, (int64_t[]){1, row},
                                  (int64_t[]){t, 1});
        // out (nr, dh: columns of the output rows) = P (nr, t) v (t, dh: rows of qkv)
        if (!s)
            s = nn_bf16_matmul_create(&a->pv[i], nr, t, head_dim, (int64_t[]){t, 1}, (int64_t[]){row, 1},
                                      (int64_t[]){D, 1});
        for (int k = 0; k < 2 && !s; k++) {
            size_t b = nn_bf16_matmul_scratch_bytes(k ? a->pv[i] : a->qk[i]);
            a->scratch = b > a->scratch ? b : a->scratch;
        }
    }
    if (s) {
        nn_bf16_attention_free(a);
        return msf_fail_context(s, "bf16 attention");
    }
    *out = a;
    return MSF_OK;
}

// One thread's part: scores (rows, t) fp32, weights (rows, t) bf16, scratchpad.
static size_t bf16_attention_thread_bytes(const nn_bf16_attention *a) {
    size_t cells = (size_t)a->rows * a->t;
    return msf_align_up(cells * sizeof(float)) + msf_align_up(cells * sizeof(uint16_t)) + a->scratch;
}

size_t nn_bf16_attention_workspace_bytes(const nn_bf16_attention *a, int n) {
    size_t qkv = (size_t)n * a->t * 3 * a->heads * a->head_dim;
    return msf_align_up(qkv * sizeof(uint16_t)) + bf16_attention_thread_bytes(a) * (size_t)omp_get_max_threads();
}

msf_status nn_bf16_attention_run(const nn_bf16_attention *a, float *out, const float *qkv, int n, msf_arena *ws) {
    if (n < 1) return MSF_OK;
    const int t = a->t, heads = a->heads, dh = a->head_dim, rows = a->rows;
    const size_t D = (size_t)heads * dh, row = 3 * D, total = (size_t)n * t * row;
    size_t need = nn_bf16_attention_workspace_bytes(a, n), mark = msf_arena_mark(ws);
    unsigned char *base = msf_arena_alloc(ws, need);
    if (!base)
        return msf_fail(MSF_ERR_NOMEM, "bf16 attention: workspace needs %zu bytes, %zu free", need,
                        ws->capacity - ws->used);
    uint16_t *q16 = (uint16_t *)base;
    unsigned char *threads = base + msf_align_up(total * sizeof(uint16_t));
#pragma omp parallel for schedule(static)
    for (size_t i = 0; i < total; i++) q16[i] = nn_bf16_from_float(qkv[i]);
    const float scale = (float)(1.0 / sqrt((double)dh));
    const long blocks = (t + rows - 1) / rows, jobs = (long)n * heads * blocks;
    msf_status err = MSF_OK;
#pragma omp parallel for schedule(dynamic, 1)
    for (long job = 0; job < jobs; job++) {
        long p = job / blocks;
        int b = (int)(p / heads), h = (int)(p % heads);
        int r0 = (int)(job % blocks) * rows, nr = t - r0 < rows ? t - r0 : rows, which = nr == rows ? 0 : 1;
        unsigned char *mine = threads + bf16_attention_thread_bytes(a) * (size_t)omp_get_thread_num();
        float *S = (float *)mine;
        uint16_t *P = (uint16_t *)(mine + msf_align_up((size_t)rows * t * sizeof(float)));
        void *scratch =
            mine + msf_align_up((size_t)rows * t * sizeof(float)) + msf_align_up((size_t)rows * t * sizeof(uint16_t));
        const uint16_t *q = q16 + (size_t)b * t * row + (size_t)h * dh, *k = q + D, *v = q + 2 * D;
        msf_status s = nn_bf16_matmul_run(a->qk[which], S, q + (size_t)r0 * row, k, scratch);
        if (!s) {
            for (int i = 0; i < nr; i++) {
                float *Si = S + (size_t)i * t;
                for (int j = 0; j < t; j++) Si[j] *= scale;
                softmax_row(Si, Si, t);
                for (int j = 0; j < t; j++) P[(size_t)i * t + j] = nn_bf16_from_float(Si[j]);
            }
            s = nn_bf16_matmul_run(a->pv[which], out + ((size_t)b * t + r0) * D + (size_t)h * dh, P, v, scratch);
        }
        if (s) {
#pragma omp critical(bf16_attention_error)
            if (!err) err = s;
        }
    }
    msf_arena_release(ws, mark);
    return err ? msf_fail_context(err, "bf16 attention") : MSF_OK;
}
