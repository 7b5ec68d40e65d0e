// attention.c: softmax and the self-attention core of attention.h (OpenBLAS
// sgemm + OpenMP; the threading rules of nn.c hold here too).
#include "nn/attention.h"

#include <cblas.h>
#include <math.h>
#include <omp.h>

#include "nn/fast_exp.h"

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
