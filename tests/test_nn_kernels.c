// test_nn_kernels.c: the model-sized kernels of src/nn (the SD VAE's 3x3
// Winograd convolution, fused GroupNorm + SiLU and blocked attention;
// InceptionV3's NHWC convolution and pools; the one fast exp; nn_linear's
// workspace), each fast version against its plain reference and against
// PyTorch.
//
// Goldens: every case of tests/golden/nn_kernels.h5 (tools/golden/
// gen_kernels.py; the full-size file when MSF_GOLDEN_DIR is set) runs through
// the reference and the fast version, each within rel 1e-5 (max |got - want|
// over max |want|) of PyTorch's float64 result; max pooling must be exact.
// Random shapes beyond the goldens: fast against reference within rel 1e-5
// (the fused GroupNorm + SiLU against the unfused nn_group_norm + nn_silu
// within 1e-6). Every fast kernel gives the same bits for 1, 2 and 3 threads.
#include <check.h>
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/arena.h"
#include "core/rng.h"
#include "nn/fast_exp.h"
#include "nn/nn.h"
#include "testutil.h"

#define GOLDEN "nn_kernels.h5"
#define TOL 1e-5

static float *load(msf_h5_reader *g, const char *obj, const char *name, size_t *n) {
    char path[128];
    snprintf(path, sizeof path, "%s/%s", obj, name);
    return tu_golden_load(g, path, n, NULL, NULL);
}

static float *load_optional(msf_h5_reader *g, const char *obj, const char *name) {
    char path[128];
    snprintf(path, sizeof path, "%s/%s", obj, name);
    return msf_h5_find(g, path) ? tu_golden_load(g, path, NULL, NULL, NULL) : NULL;
}

static int attr(msf_h5_reader *g, const char *obj, const char *name) { return (int)tu_golden_int(g, obj, name); }

static float *nan_buffer(size_t n) {
    float *p = malloc((n ? n : 1) * sizeof *p);
    ck_assert_ptr_nonnull(p);
    for (size_t i = 0; i < n; i++) p[i] = NAN;
    return p;
}

static float *random_buffer(size_t n, uint64_t seed, float scale) {
    float *x = malloc((n ? n : 1) * sizeof *x);
    ck_assert_ptr_nonnull(x);
    ck_assert_int_eq(msf_rng_normal(x, n, (msf_rng_key){.seed = seed}, 0), MSF_OK);
    for (size_t i = 0; i < n; i++) x[i] *= scale;
    return x;
}

// Compares, prints nothing on success; counts failures and tracks the worst rel.
static int close_to(const char *op, int k, const char *variant, const float *got, const float *want, size_t n,
                    double tol, double *worst) {
    char what[128];
    snprintf(what, sizeof what, "%s case%d (%s)", op, k, variant);
    tu_cmp c = tu_compare(got, want, n);
    if (!(c.rel <= *worst)) *worst = c.rel;
    return tu_expect_close(what, got, want, n, tol);
}

// -----------------------------------------------------------------------------
// PyTorch goldens

START_TEST(test_golden_conv3x3) {
    msf_h5_reader *g = tu_golden_open(GOLDEN);
    int cases = tu_golden_cases(g, "conv3x3", "y"), failures = 0;
    double worst_ref = 0, worst_fast = 0;
    for (int k = 0; k < cases; k++) {
        char obj[64];
        snprintf(obj, sizeof obj, "conv3x3/case%d", k);
        int ci = attr(g, obj, "c_in"), co = attr(g, obj, "c_out"), h = attr(g, obj, "h"), w = attr(g, obj, "w");
        size_t n;
        float *x = load(g, obj, "x", NULL), *wt = load(g, obj, "w", NULL), *b = load_optional(g, obj, "b");
        float *want = load(g, obj, "y", &n), *got = nan_buffer(n);
        ck_assert_uint_eq(n, (size_t)co * h * w);
        nn_conv2d_shape s = {1, ci, h, w, co, 3, 3, 1, 1, 1, 1, 1, 1};
        nn_conv2d_ref(got, x, wt, b, &s);
        failures += !close_to("conv3x3", k, "ref", got, want, n, TOL, &worst_ref);
        msf_arena ws;
        ck_assert_int_eq(msf_arena_init(&ws, nn_conv3x3_workspace_bytes(ci, co, h, w)), MSF_OK);
        free(got);
        got = nan_buffer(n);
        ck_assert_int_eq(nn_conv3x3(got, x, wt, b, ci, co, h, w, &ws), MSF_OK);
        ck_assert_uint_eq(ws.used, 0);
        failures += !close_to("conv3x3", k, "fast", got, want, n, TOL, &worst_fast);
        msf_arena_free(&ws);
        free(x), free(wt), free(b), free(want), free(got);
    }
    msf_h5_close(g);
    printf("%-17s %2d cases, worst rel: ref %.2e, fast %.2e\n", "conv3x3", cases, worst_ref, worst_fast);
    ck_assert_msg(failures == 0, "conv3x3: %d comparisons above rel %.0e", failures, TOL);
}
END_TEST

START_TEST(test_golden_group_norm_silu) {
    msf_h5_reader *g = tu_golden_open(GOLDEN);
    int cases = tu_golden_cases(g, "group_norm_silu", "y"), failures = 0;
    double worst_ref = 0, worst_fast = 0;
    for (int k = 0; k < cases; k++) {
        char obj[64];
        snprintf(obj, sizeof obj, "group_norm_silu/case%d", k);
        int N = attr(g, obj, "n"), C = attr(g, obj, "c"), hw = attr(g, obj, "hw"), groups = attr(g, obj, "groups");
        float eps = (float)tu_golden_double(g, obj, "eps");
        size_t n;
        float *x = load(g, obj, "x", NULL), *gamma = load(g, obj, "gamma", NULL), *beta = load(g, obj, "beta", NULL);
        float *want = load(g, obj, "y", &n), *got = nan_buffer(n);
        ck_assert_uint_eq(n, (size_t)N * C * hw);
        nn_group_norm_silu_ref(got, x, gamma, beta, N, C, hw, groups, eps);
        failures += !close_to("group_norm_silu", k, "ref", got, want, n, TOL, &worst_ref);
        free(got);
        got = nan_buffer(n);
        nn_group_norm_silu(got, x, gamma, beta, N, C, hw, groups, eps);
        failures += !close_to("group_norm_silu", k, "fast", got, want, n, TOL, &worst_fast);
        free(x), free(gamma), free(beta), free(want), free(got);
    }
    msf_h5_close(g);
    printf("%-17s %2d cases, worst rel: ref %.2e, fast %.2e\n", "group_norm_silu", cases, worst_ref, worst_fast);
    ck_assert_msg(failures == 0, "group_norm_silu: %d comparisons above rel %.0e", failures, TOL);
}
END_TEST

START_TEST(test_golden_attention_rows) {
    msf_h5_reader *g = tu_golden_open(GOLDEN);
    int cases = tu_golden_cases(g, "attention_rows", "y"), failures = 0;
    double worst_ref = 0, worst_fast = 0;
    for (int k = 0; k < cases; k++) {
        char obj[64];
        snprintf(obj, sizeof obj, "attention_rows/case%d", k);
        int N = attr(g, obj, "n"), t = attr(g, obj, "t"), heads = attr(g, obj, "heads");
        int hd = attr(g, obj, "head_dim"), rows = attr(g, obj, "block_rows");
        size_t n;
        float *qkv = load(g, obj, "qkv", NULL), *want = load(g, obj, "y", &n), *got = nan_buffer(n);
        ck_assert_uint_eq(n, (size_t)N * t * heads * hd);
        nn_attention_ref(got, qkv, N, t, heads, hd);
        failures += !close_to("attention_rows", k, "ref", got, want, n, TOL, &worst_ref);
        msf_arena ws;
        ck_assert_int_eq(msf_arena_init(&ws, nn_attention_rows_workspace_bytes(t, rows)), MSF_OK);
        free(got);
        got = nan_buffer(n);
        ck_assert_int_eq(nn_attention_rows(got, qkv, N, t, heads, hd, rows, &ws), MSF_OK);
        failures += !close_to("attention_rows", k, "fast", got, want, n, TOL, &worst_fast);
        msf_arena_free(&ws);
        free(qkv), free(want), free(got);
    }
    msf_h5_close(g);
    printf("%-17s %2d cases, worst rel: ref %.2e, fast %.2e\n", "attention_rows", cases, worst_ref, worst_fast);
    ck_assert_msg(failures == 0, "attention_rows: %d comparisons above rel %.0e", failures, TOL);
}
END_TEST

// x (h, w, c) copied into rows of stride ld (the extra channels hold noise
// that must not leak into the result).
static float *strided(const float *x, size_t pixels, int c, int ld) {
    float *y = random_buffer(pixels * ld, 99, 100.0f);
    for (size_t p = 0; p < pixels; p++) memcpy(y + p * ld, x + p * c, (size_t)c * sizeof(float));
    return y;
}

// y's channels [0, c) of rows of stride ld, packed.
static float *packed(const float *y, size_t pixels, int c, int ld) {
    float *p = malloc(pixels * c * sizeof *p);
    for (size_t i = 0; i < pixels; i++) memcpy(p + i * c, y + i * ld, (size_t)c * sizeof(float));
    return p;
}

START_TEST(test_golden_conv_nhwc) {
    msf_h5_reader *g = tu_golden_open(GOLDEN);
    int cases = tu_golden_cases(g, "conv_nhwc_relu", "y"), failures = 0;
    double worst_ref = 0, worst_fast = 0;
    int threads = omp_get_max_threads();
    for (int k = 0; k < cases; k++) {
        char obj[64];
        snprintf(obj, sizeof obj, "conv_nhwc_relu/case%d", k);
        nn_conv_nhwc cv = {.c_in = attr(g, obj, "c_in"),
                           .c_out = attr(g, obj, "c_out"),
                           .kh = attr(g, obj, "kh"),
                           .kw = attr(g, obj, "kw"),
                           .stride = attr(g, obj, "stride"),
                           .pad_h = attr(g, obj, "pad_h"),
                           .pad_w = attr(g, obj, "pad_w")};
        int h = attr(g, obj, "h"), w = attr(g, obj, "w");
        size_t n;
        float *x = load(g, obj, "x", NULL), *want = load(g, obj, "y", &n);
        cv.w = load(g, obj, "w", NULL), cv.b = load(g, obj, "b", NULL);
        int oh = nn_conv_nhwc_out(h, cv.kh, cv.stride, cv.pad_h), ow = nn_conv_nhwc_out(w, cv.kw, cv.stride, cv.pad_w);
        ck_assert_uint_eq(n, (size_t)oh * ow * cv.c_out);
        int ldx = cv.c_in + 3, ldy = cv.c_out + 2;
        float *xs = strided(x, (size_t)h * w, cv.c_in, ldx), *y = nan_buffer((size_t)oh * ow * ldy);
        nn_conv2d_nhwc_relu_ref(y, ldy, xs, ldx, h, w, &cv);
        float *got = packed(y, (size_t)oh * ow, cv.c_out, ldy);
        failures += !close_to("conv_nhwc_relu", k, "ref", got, want, n, TOL, &worst_ref);
        free(got);
        // Both ways of running: loops shared among threads, and in the calling thread.
        size_t cf = nn_conv_nhwc_col_floats(&cv, oh, ow);
        float *cols[16];
        for (int t = 0; t < threads && t < 16; t++) cols[t] = malloc((cf ? cf : 1) * sizeof(float));
        for (int inner = 0; inner <= 1; inner++) {
            nn_nhwc_exec e = {.inner = inner, .threads = threads < 16 ? threads : 16, .col = cols};
            float *y2 = nan_buffer((size_t)oh * ow * ldy);
            int gh = 0, gw = 0;
            nn_conv2d_nhwc_relu(&e, &cv, y2, ldy, xs, ldx, h, w, &gh, &gw);
            ck_assert_int_eq(gh, oh);
            ck_assert_int_eq(gw, ow);
            got = packed(y2, (size_t)oh * ow, cv.c_out, ldy);
            failures += !close_to("conv_nhwc_relu", k, inner ? "fast, shared" : "fast, one thread", got, want, n, TOL,
                                  &worst_fast);
            free(got), free(y2);
        }
        for (int t = 0; t < threads && t < 16; t++) free(cols[t]);
        free(x), free(want), free(cv.w), free(cv.b), free(xs), free(y);
    }
    msf_h5_close(g);
    printf("%-17s %2d cases, worst rel: ref %.2e, fast %.2e\n", "conv_nhwc_relu", cases, worst_ref, worst_fast);
    ck_assert_msg(failures == 0, "conv_nhwc_relu: %d comparisons above rel %.0e", failures, TOL);
}
END_TEST

START_TEST(test_golden_pools_nhwc) {
    msf_h5_reader *g = tu_golden_open(GOLDEN);
    int failures = 0;
    nn_nhwc_exec e = {.inner = 1, .threads = omp_get_max_threads()};
    for (int op = 0; op < 2; op++) {
        const char *name = op ? "avg_pool3_nhwc" : "max_pool3_nhwc";
        double tol = op ? 1e-6 : 0.0, worst = 0;
        int cases = tu_golden_cases(g, name, "y");
        for (int k = 0; k < cases; k++) {
            char obj[64];
            snprintf(obj, sizeof obj, "%s/case%d", name, k);
            int h = attr(g, obj, "h"), w = attr(g, obj, "w"), c = attr(g, obj, "c");
            int stride = op ? 1 : attr(g, obj, "stride"), pad = op ? 1 : attr(g, obj, "pad");
            int oh = (h + 2 * pad - 3) / stride + 1, ow = (w + 2 * pad - 3) / stride + 1, ldx = c + 2;
            int ldy = op ? c : c + 1;  // the average pool writes rows of stride c
            size_t n;
            float *x = load(g, obj, "x", NULL), *want = load(g, obj, "y", &n);
            ck_assert_uint_eq(n, (size_t)oh * ow * c);
            float *xs = strided(x, (size_t)h * w, c, ldx);
            for (int variant = 0; variant < 3; variant++) {
                float *y = nan_buffer((size_t)oh * ow * ldy);
                e.inner = variant == 2;
                if (variant == 0 && op) nn_avg_pool3_nhwc_ref(y, xs, ldx, h, w, c);
                if (variant == 0 && !op) nn_max_pool3_nhwc_ref(y, ldy, xs, ldx, h, w, c, stride, pad);
                if (variant > 0 && op) nn_avg_pool3_nhwc(&e, y, xs, ldx, h, w, c);
                if (variant > 0 && !op) nn_max_pool3_nhwc(&e, y, ldy, xs, ldx, h, w, c, stride, pad);
                float *got = packed(y, (size_t)oh * ow, c, ldy);
                failures += !close_to(name, k, variant ? "fast" : "ref", got, want, n, tol, &worst);
                free(got), free(y);
            }
            free(x), free(want), free(xs);
        }
        printf("%-17s %2d cases, worst rel %.2e (tolerance %.0e)\n", name, cases, worst, tol);
    }
    msf_h5_close(g);
    ck_assert_msg(failures == 0, "NHWC pools: %d comparisons out of tolerance", failures);
}
END_TEST

// -----------------------------------------------------------------------------
// Fast against reference at random shapes

START_TEST(test_conv3x3_random) {
    static const int shapes[][4] = {{1, 1, 1, 1},   {3, 2, 1, 5},    {2, 3, 6, 1},  {17, 9, 11, 12},
                                    {130, 3, 5, 7}, {4, 6, 2, 2100}, {6, 130, 9, 4}};
    msf_arena ws;
    ck_assert_int_eq(msf_arena_init(&ws, 64u << 20), MSF_OK);
    for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++) {
        int ci = shapes[i][0], co = shapes[i][1], h = shapes[i][2], w = shapes[i][3];
        size_t n = (size_t)co * h * w;
        float *x = random_buffer((size_t)ci * h * w, 1 + i, 1.0f);
        float *wt = random_buffer((size_t)co * ci * 9, 50 + i, 0.3f);
        float *b = random_buffer((size_t)co, 90 + i, 1.0f), *want = nan_buffer(n), *got = nan_buffer(n);
        nn_conv2d_shape s = {1, ci, h, w, co, 3, 3, 1, 1, 1, 1, 1, 1};
        nn_conv2d_ref(want, x, wt, i % 2 ? NULL : b, &s);
        ck_assert_int_eq(nn_conv3x3(got, x, wt, i % 2 ? NULL : b, ci, co, h, w, &ws), MSF_OK);
        char what[64];
        snprintf(what, sizeof what, "conv3x3 %d->%d %dx%d", ci, co, h, w);
        ck_assert(tu_expect_close(what, got, want, n, TOL));
        free(x), free(wt), free(b), free(want), free(got);
    }
    msf_arena_free(&ws);
}
END_TEST

// The fused kernel against the reference and against the unfused fast pair,
// including values far into SiLU's tails (|v| > 87, where its exp clamps)
// and non-finite inputs (a NaN or inf poisons its group, as in PyTorch).
START_TEST(test_group_norm_silu_random) {
    int n = 2, c = 12, hw = 333, groups = 4;
    size_t count = (size_t)n * c * hw;
    float *x = random_buffer(count, 5, 1.0f), *gamma = random_buffer((size_t)c, 6, 60.0f);
    float *beta = random_buffer((size_t)c, 7, 1.0f);
    float *want = nan_buffer(count), *got = nan_buffer(count), *pair = nan_buffer(count);
    nn_group_norm_silu_ref(want, x, gamma, beta, n, c, hw, groups, 1e-6f);
    nn_group_norm_silu(got, x, gamma, beta, n, c, hw, groups, 1e-6f);
    ck_assert(tu_expect_close("group_norm_silu vs ref", got, want, count, TOL));
    nn_group_norm(pair, x, gamma, beta, n, c, hw, groups, 1e-6f);
    nn_silu(pair, pair, count);
    ck_assert(tu_expect_close("group_norm_silu vs group_norm + silu", got, pair, count, 1e-6));
    x[3] = NAN, x[(size_t)c * hw + 5] = INFINITY;  // group 0 of item 0, group 0 of item 1
    nn_group_norm_silu(got, x, gamma, beta, n, c, hw, groups, 1e-6f);
    size_t group = (size_t)(c / groups) * hw;
    for (size_t i = 0; i < count; i++) {
        int poisoned = i < group || (i >= (size_t)c * hw && i < (size_t)c * hw + group);
        ck_assert_msg(poisoned ? isnan(got[i]) : isfinite(got[i]), "element %zu: %g", i, got[i]);
    }
    free(x), free(gamma), free(beta), free(want), free(got), free(pair);
}
END_TEST

// Every block size gives results within float rounding of the reference,
// and t <= NN_ATTENTION_FULL_T keeps whole rows in nn_attention.
START_TEST(test_attention_rows_random) {
    int n = 2, t = 70, heads = 3, hd = 16;
    size_t count = (size_t)n * t * heads * hd;
    float *qkv = random_buffer(count * 3, 8, 1.5f), *want = nan_buffer(count), *got = nan_buffer(count);
    nn_attention_ref(want, qkv, n, t, heads, hd);
    msf_arena ws;
    ck_assert_int_eq(msf_arena_init(&ws, 16u << 20), MSF_OK);
    static const int rows[] = {1, 7, 16, 64, 69, 70, 500};
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        for (size_t j = 0; j < count; j++) got[j] = NAN;
        ck_assert_int_eq(nn_attention_rows(got, qkv, n, t, heads, hd, rows[i], &ws), MSF_OK);
        ck_assert_uint_eq(ws.used, 0);
        char what[64];
        snprintf(what, sizeof what, "attention, blocks of %d rows", rows[i]);
        ck_assert(tu_expect_close(what, got, want, count, TOL));
    }
    ck_assert_int_eq(nn_attention_block_rows(NN_ATTENTION_FULL_T), NN_ATTENTION_FULL_T);
    ck_assert_int_eq(nn_attention_block_rows(NN_ATTENTION_FULL_T + 1), NN_ATTENTION_BLOCK_ROWS);
    ck_assert_uint_eq(nn_attention_workspace_bytes(1, 4096, 1, 512),
                      nn_attention_rows_workspace_bytes(4096, NN_ATTENTION_BLOCK_ROWS));
    // Errors: a block of no rows; a workspace one aligned block short.
    ck_assert_int_eq(nn_attention_rows(got, qkv, n, t, heads, hd, 0, &ws), MSF_ERR_INVALID);
    msf_arena small;
    ck_assert_int_eq(msf_arena_init(&small, nn_attention_rows_workspace_bytes(t, 7) - MSF_ALIGN), MSF_OK);
    ck_assert_int_eq(nn_attention_rows(got, qkv, n, t, heads, hd, 7, &small), MSF_ERR_NOMEM);
    msf_arena_free(&small);
    msf_arena_free(&ws);
    free(qkv), free(want), free(got);
}
END_TEST

// nn_conv3x3 takes exactly what it announces and fails cleanly with less.
START_TEST(test_conv3x3_workspace) {
    int ci = 5, co = 6, h = 9, w = 13;
    float *x = random_buffer((size_t)ci * h * w, 3, 1.0f), *wt = random_buffer((size_t)co * ci * 9, 4, 0.3f);
    float *y = nan_buffer((size_t)co * h * w);
    size_t need = nn_conv3x3_workspace_bytes(ci, co, h, w);
    msf_arena ws;
    ck_assert_int_eq(msf_arena_init(&ws, need), MSF_OK);
    ck_assert_int_eq(nn_conv3x3(y, x, wt, NULL, ci, co, h, w, &ws), MSF_OK);
    ck_assert_uint_le(ws.peak, need);
    msf_arena_free(&ws);
    ck_assert_int_eq(msf_arena_init(&ws, 64), MSF_OK);
    ck_assert_int_eq(nn_conv3x3(y, x, wt, NULL, ci, co, h, w, &ws), MSF_ERR_NOMEM);
    ck_assert_uint_eq(ws.used, 0);
    ck_assert_int_eq(nn_conv3x3(y, x, wt, NULL, 0, co, h, w, &ws), MSF_ERR_INVALID);
    msf_arena_free(&ws);
    free(x), free(wt), free(y);
}
END_TEST

// -----------------------------------------------------------------------------
// The one fast exp

START_TEST(test_fast_exp) {
    double worst = 0;
    for (float v = -87.0f; v <= 88.0f; v += 0.00731f) {
        double want = exp((double)v), rel = fabs(nn_fast_expf(v) - want) / want;
        if (rel > worst) worst = rel;
    }
    printf("fast exp: worst rel %.2e over [-87, 88] (tolerance 3e-7)\n", worst);
    ck_assert_msg(worst <= 3e-7, "nn_fast_expf: rel error %.2e", worst);
    ck_assert_float_eq(nn_fast_expf(0.0f), 1.0f);
    ck_assert(isnan(nn_fast_expf(NAN)));
    ck_assert(nn_fast_expf(-1000.0f) > 0.0f && nn_fast_expf(-1000.0f) < 1.3e-38f);
    ck_assert(isfinite(nn_fast_expf(1000.0f)) && nn_fast_expf(1000.0f) > 1e38f);
    ck_assert(isfinite(nn_fast_expf(INFINITY)));
    // nn_exp_poly agrees with it inside the clamps, and gives 0 at the bottom of its range.
    for (float v = -87.0f; v <= 88.0f; v += 0.37f) ck_assert_float_eq(nn_exp_poly(v), nn_fast_expf(v));
    ck_assert_float_eq(nn_exp_poly(-88.0f), 0.0f);
}
END_TEST

// -----------------------------------------------------------------------------
// nn_linear takes its padded rows from the workspace and allocates nothing

START_TEST(test_linear_workspace) {
    static const int shapes[][2] = {{64, 192}, {37, 29}, {384, 1152}};
    enum { MAXM = 40 };
    for (size_t sh = 0; sh < sizeof shapes / sizeof shapes[0]; sh++) {
        int K = shapes[sh][0], N = shapes[sh][1];
        float *x = random_buffer((size_t)MAXM * K, 11, 1.0f), *w = random_buffer((size_t)N * K, 12, 0.1f);
        float *b = random_buffer((size_t)N, 13, 1.0f);
        float *heap = nan_buffer((size_t)MAXM * N), *arena = nan_buffer((size_t)MAXM * N);
        msf_arena ws;
        size_t need = nn_linear_workspace_bytes(MAXM, K, N);
        ck_assert_int_eq(msf_arena_init(&ws, need), MSF_OK);
        for (int M = 1; M <= MAXM; M++) {
            ws.peak = 0;
            nn_linear(heap, x, w, b, M, K, N, NULL);
            nn_linear(arena, x, w, b, M, K, N, &ws);
            ck_assert_msg(memcmp(heap, arena, (size_t)M * N * sizeof(float)) == 0, "K=%d N=%d M=%d: other bits", K, N,
                          M);
            ck_assert_uint_eq(ws.used, 0);
            // Rows beyond a multiple of 16 came from the arena, not the heap.
            if (M % 16)
                ck_assert_msg(ws.peak > 0 && ws.peak <= need, "K=%d N=%d M=%d: peak %zu of %zu", K, N, M, ws.peak,
                              need);
        }
        msf_arena_free(&ws);
        free(x), free(w), free(b), free(heap), free(arena);
    }
}
END_TEST

// -----------------------------------------------------------------------------
// Thread determinism

static float *det_x, *det_w;

static void det_conv3x3(float *y, msf_arena *ws) {
    ck_assert_int_eq(nn_conv3x3(y, det_x, det_w, det_w + 5000, 9, 7, 23, 2100, ws), MSF_OK);
}
static void det_gn_silu(float *y, msf_arena *ws) {
    nn_group_norm_silu(y, det_x, det_w, det_w + 100, 2, 32, 600, 8, 1e-6f);
}
static void det_attention_rows(float *y, msf_arena *ws) {
    ck_assert_int_eq(nn_attention_rows(y, det_x, 2, 90, 2, 24, 7, ws), MSF_OK);
}
static void det_conv_nhwc(float *y, msf_arena *ws) {
    static float *cols[8];
    static float colbuf[8][64 * 1024];
    for (int i = 0; i < 8; i++) cols[i] = colbuf[i];
    nn_conv_nhwc cv = {
        .c_in = 6, .c_out = 10, .kh = 3, .kw = 3, .stride = 1, .pad_h = 1, .pad_w = 1, .w = det_w, .b = det_w + 1000};
    ck_assert_uint_le(nn_conv_nhwc_col_floats(&cv, 40, 41), 64 * 1024);
    nn_nhwc_exec e = {.inner = 1, .threads = omp_get_max_threads(), .col = cols};
    int oh, ow;
    nn_conv2d_nhwc_relu(&e, &cv, y, 10, det_x, 6, 40, 41, &oh, &ow);
}

static const struct {
    const char *op;
    size_t out;
    void (*run)(float *y, msf_arena *ws);
} det_ops[] = {
    {"conv3x3", 7 * 23 * 2100, det_conv3x3},
    {"group_norm_silu", 2 * 32 * 600, det_gn_silu},
    {"attention_rows", 2 * 90 * 48, det_attention_rows},
    {"conv_nhwc_relu", 40 * 41 * 10, det_conv_nhwc},
};

START_TEST(test_thread_determinism) {
    det_x = random_buffer(500000, 21, 1.0f);
    det_w = random_buffer(10000, 22, 0.2f);
    msf_arena ws;
    ck_assert_int_eq(msf_arena_init(&ws, 64u << 20), MSF_OK);
    int saved = omp_get_max_threads(), differ = 0;
    for (size_t op = 0; op < sizeof det_ops / sizeof det_ops[0]; op++) {
        size_t n = det_ops[op].out;
        float *first = nan_buffer(n), *y = nan_buffer(n);
        omp_set_num_threads(1);
        det_ops[op].run(first, &ws);
        for (size_t i = 0; i < n; i++) ck_assert_msg(!isnan(first[i]), "%s: output %zu unset", det_ops[op].op, i);
        for (int threads = 2; threads <= 3; threads++) {
            omp_set_num_threads(threads);
            for (size_t i = 0; i < n; i++) y[i] = NAN;
            det_ops[op].run(y, &ws);
            if (memcmp(first, y, n * sizeof *y)) {
                fprintf(stderr, "FAIL %s: %d threads give other bits than 1 thread\n", det_ops[op].op, threads);
                differ++;
            }
        }
        free(first), free(y);
    }
    omp_set_num_threads(saved);
    msf_arena_free(&ws);
    free(det_x), free(det_w);
    ck_assert_int_eq(differ, 0);
}
END_TEST

// -----------------------------------------------------------------------------

static void add_case(Suite *s, const char *name, const TTest *test) {
    TCase *tc = tcase_create(name);
    tcase_set_timeout(tc, 600);  // the full-size goldens run the reference loops at model shapes
    tcase_add_test(tc, test);
    suite_add_tcase(s, tc);
}

int main(void) {
    Suite *s = suite_create("nn_kernels");
    add_case(s, "golden conv3x3", test_golden_conv3x3);
    add_case(s, "golden group_norm_silu", test_golden_group_norm_silu);
    add_case(s, "golden attention_rows", test_golden_attention_rows);
    add_case(s, "golden conv_nhwc", test_golden_conv_nhwc);
    add_case(s, "golden pools_nhwc", test_golden_pools_nhwc);
    add_case(s, "conv3x3 random", test_conv3x3_random);
    add_case(s, "group_norm_silu random", test_group_norm_silu_random);
    add_case(s, "attention_rows random", test_attention_rows_random);
    add_case(s, "conv3x3 workspace", test_conv3x3_workspace);
    add_case(s, "fast exp", test_fast_exp);
    add_case(s, "linear workspace", test_linear_workspace);
    add_case(s, "thread determinism", test_thread_determinism);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
