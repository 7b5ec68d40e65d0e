// test_nn.c: the nn operators against PyTorch goldens, and their properties.
//
// Every case of tests/golden/nn_ops.h5 (tools/golden/gen_nn.py; the full-size
// file when MSF_GOLDEN_DIR is set) runs through both the reference and the
// fast version of its operator, compared with tu_expect_close at rel <= 1e-5
// against float64 results rounded to float32. Each golden test prints the
// worst rel it saw. The other tests check that the fast operators give the
// same bits for 1, 2 and 3 threads, that conv2d and attention take exactly
// the workspace they announce and fail cleanly without it, and that
// impossible conv shapes are rejected.
#include <check.h>
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/arena.h"

char *openblas_get_corename(void);
#include "core/rng.h"
#include "nn/nn.h"
#include "testutil.h"

#define GOLDEN "nn_ops.h5"
#define TOL 1e-5

// -----------------------------------------------------------------------------
// Golden-case helpers

// Worst errors and failure count over the cases of one operator.
typedef struct {
    const char *op;
    int cases;
    int failures;
    double worst_ref, worst_fast;
} op_report;

// Cases are case0, case1, ... under the operator's group, as many as its
// attribute `cases` says (the small and the full-size file have their own);
// a missing one fails.
static int count_cases(msf_h5_reader *g, const char *op) { return tu_golden_cases(g, op, "y"); }

static float *load(msf_h5_reader *g, const char *obj, const char *name, size_t *n) {
    char path[128];
    snprintf(path, sizeof path, "%s/%s", obj, name);
    return tu_golden_load(g, path, n, NULL, NULL);
}

// NULL when the case has no such dataset (no bias, no affine parameters).
static float *load_optional(msf_h5_reader *g, const char *obj, const char *name) {
    char path[128];
    snprintf(path, sizeof path, "%s/%s", obj, name);
    return msf_h5_find(g, path) ? tu_golden_load(g, path, NULL, NULL, NULL) : NULL;
}

static int attr(msf_h5_reader *g, const char *obj, const char *name) { return (int)tu_golden_int(g, obj, name); }

static void fill_nan(float *p, size_t n) {
    for (size_t i = 0; i < n; i++) p[i] = NAN;
}

// Standard normal values from the Philox stream of `seed` (malloc'd).
static float *random_buffer(size_t n, uint64_t seed) {
    float *x = malloc(n * sizeof *x);
    ck_assert_ptr_nonnull(x);
    msf_rng_key key = {.seed = seed};
    ck_assert_int_eq(msf_rng_normal(x, n, key, 0), MSF_OK);
    return x;
}

// An output buffer of n floats, all NaN, so that an element a kernel forgets
// to write fails the comparison.
static float *nan_buffer(size_t n) {
    float *p = malloc((n ? n : 1) * sizeof *p);
    ck_assert_ptr_nonnull(p);
    fill_nan(p, n);
    return p;
}

static void check_output(op_report *r, int k, const char *variant, const float *got, const float *want, size_t n) {
    char what[128];
    snprintf(what, sizeof what, "%s case%d (%s)", r->op, k, variant);
    tu_cmp c = tu_compare(got, want, n);
    double *worst = strncmp(variant, "ref", 3) == 0 ? &r->worst_ref : &r->worst_fast;
    if (!(c.rel <= *worst)) *worst = c.rel;  // (NaN rel counts as worst)
    if (!tu_expect_close(what, got, want, n, TOL)) r->failures++;
}

static msf_h5_reader *open_cases(op_report *r, const char *op) {
    msf_h5_reader *g = tu_golden_open(GOLDEN);
    *r = (op_report){.op = op};
    r->cases = count_cases(g, op);
    return g;
}

static void finish_cases(msf_h5_reader *g, op_report *r) {
    msf_h5_close(g);
    printf("%-17s %2d cases, worst rel: ref %.2e, fast %.2e\n", r->op, r->cases, r->worst_ref, r->worst_fast);
    ck_assert_msg(r->failures == 0, "%s: %d comparisons above rel %.0e", r->op, r->failures, TOL);
}

static void case_name(char *obj, size_t size, const char *op, int k) { snprintf(obj, size, "%s/case%d", op, k); }

// -----------------------------------------------------------------------------
// Linear and convolution

START_TEST(test_linear) {
    op_report r;
    msf_h5_reader *g = open_cases(&r, "linear");
    for (int k = 0; k < r.cases; k++) {
        char obj[64];
        case_name(obj, sizeof obj, r.op, k);
        int M = attr(g, obj, "M"), K = attr(g, obj, "K"), N = attr(g, obj, "N");
        size_t n;
        float *x = load(g, obj, "x", NULL), *w = load(g, obj, "w", NULL), *b = load_optional(g, obj, "b");
        float *want = load(g, obj, "y", &n);
        ck_assert_uint_eq(n, (size_t)M * N);
        float *got = nan_buffer(n);
        nn_linear_ref(got, x, w, b, M, K, N);
        check_output(&r, k, "ref", got, want, n);
        fill_nan(got, n);
        nn_linear(got, x, w, b, M, K, N, NULL);
        check_output(&r, k, "fast", got, want, n);
        free(x), free(w), free(b), free(want), free(got);
    }
    finish_cases(g, &r);
}
END_TEST

// A row of nn_linear's output must not depend on how many rows the call has
// (a DiT's adaLN linear has M = batch): same bits for every M, including the
// shapes where OpenBLAS would take its small-matrix kernels. Rows keep their
// position modulo 16 (offsets are multiples of 16), as tokens of a sample do
// when a sample has a multiple of 16 tokens: OpenBLAS's Haswell kernel rounds
// a row differently by its place in a 16-row tile, so that part is not
// promised (see nn_linear).
START_TEST(test_linear_batch_independent) {
    static const int shapes[][2] = {{64, 192}, {64, 384}, {256, 10}, {1152, 6912}, {37, 29}, {1152, 1152}};
    enum { MAXM = 40 };
    // Bit-identical rows are promised for the kernels measured (see nn_linear);
    // elsewhere within 1e-6.
    const char *core = openblas_get_corename();
    int exact = !strcmp(core, "SkylakeX") || !strcmp(core, "Prescott") || !strcmp(core, "Sandybridge");
    for (size_t sh = 0; sh < sizeof shapes / sizeof shapes[0]; sh++) {
        int K = shapes[sh][0], N = shapes[sh][1];
        float *x = random_buffer((size_t)MAXM * K, 11), *w = random_buffer((size_t)N * K, 12);
        float *b = random_buffer((size_t)N, 13);
        float *ref = malloc((size_t)MAXM * N * sizeof *ref), *y = malloc((size_t)MAXM * N * sizeof *y);
        nn_linear(ref, x, w, b, MAXM, K, N, NULL);
        for (int M = 1; M < MAXM; M++)
            for (int off = 0; off + M <= MAXM; off += 16) {
                nn_linear(y, x + (size_t)off * K, w, b, M, K, N, NULL);
                if (exact)
                    ck_assert_msg(memcmp(y, ref + (size_t)off * N, (size_t)M * N * sizeof *y) == 0,
                                  "linear K=%d N=%d: rows %d..%d differ when computed %d at a time (OpenBLAS %s)", K, N,
                                  off, off + M - 1, M, core);
                else
                    ck_assert(
                        tu_expect_close("linear rows, other kernel", y, ref + (size_t)off * N, (size_t)M * N, 1e-6));
            }
        free(x), free(w), free(b), free(ref), free(y);
    }
}
END_TEST

START_TEST(test_conv2d) {
    op_report r;
    msf_h5_reader *g = open_cases(&r, "conv2d");
    for (int k = 0; k < r.cases; k++) {
        char obj[64];
        case_name(obj, sizeof obj, r.op, k);
        nn_conv2d_shape s = {
            .n = attr(g, obj, "n"),
            .c_in = attr(g, obj, "c_in"),
            .h = attr(g, obj, "h"),
            .w = attr(g, obj, "w"),
            .c_out = attr(g, obj, "c_out"),
            .kh = attr(g, obj, "kh"),
            .kw = attr(g, obj, "kw"),
            .stride_h = attr(g, obj, "stride_h"),
            .stride_w = attr(g, obj, "stride_w"),
            .pad_top = attr(g, obj, "pad_top"),
            .pad_bottom = attr(g, obj, "pad_bottom"),
            .pad_left = attr(g, obj, "pad_left"),
            .pad_right = attr(g, obj, "pad_right"),
        };
        ck_assert_int_eq(nn_conv2d_check(&s), MSF_OK);
        size_t n;
        float *x = load(g, obj, "x", NULL), *w = load(g, obj, "w", NULL), *b = load_optional(g, obj, "b");
        float *want = load(g, obj, "y", &n);
        ck_assert_uint_eq(n, (size_t)s.n * s.c_out * nn_conv2d_out_h(&s) * nn_conv2d_out_w(&s));
        float *got = nan_buffer(n);
        nn_conv2d_ref(got, x, w, b, &s);
        check_output(&r, k, "ref", got, want, n);

        // The fast version must run in exactly the workspace it announces and leave it as found.
        size_t need = nn_conv2d_workspace_bytes(&s);
        msf_arena ws;
        ck_assert_int_eq(msf_arena_init(&ws, need), MSF_OK);
        fill_nan(got, n);
        ck_assert_int_eq(nn_conv2d(got, x, w, b, &s, &ws), MSF_OK);
        ck_assert_uint_eq(ws.used, 0);
        ck_assert_uint_eq(ws.peak, need);
        check_output(&r, k, "fast", got, want, n);
        msf_arena_free(&ws);
        free(x), free(w), free(b), free(want), free(got);
    }
    finish_cases(g, &r);
}
END_TEST

// -----------------------------------------------------------------------------
// Normalisation and softmax

START_TEST(test_group_norm) {
    op_report r;
    msf_h5_reader *g = open_cases(&r, "group_norm");
    for (int k = 0; k < r.cases; k++) {
        char obj[64];
        case_name(obj, sizeof obj, r.op, k);
        int N = attr(g, obj, "n"), C = attr(g, obj, "c"), hw = attr(g, obj, "hw"), groups = attr(g, obj, "groups");
        float eps = (float)tu_golden_double(g, obj, "eps");
        size_t n;
        float *x = load(g, obj, "x", NULL), *gamma = load_optional(g, obj, "gamma");
        float *beta = load_optional(g, obj, "beta"), *want = load(g, obj, "y", &n);
        ck_assert_uint_eq(n, (size_t)N * C * hw);
        float *got = nan_buffer(n);
        nn_group_norm_ref(got, x, gamma, beta, N, C, hw, groups, eps);
        check_output(&r, k, "ref", got, want, n);
        fill_nan(got, n);
        nn_group_norm(got, x, gamma, beta, N, C, hw, groups, eps);
        check_output(&r, k, "fast", got, want, n);
        free(x), free(gamma), free(beta), free(want), free(got);
    }
    finish_cases(g, &r);
}
END_TEST

START_TEST(test_layer_norm) {
    op_report r;
    msf_h5_reader *g = open_cases(&r, "layer_norm");
    for (int k = 0; k < r.cases; k++) {
        char obj[64];
        case_name(obj, sizeof obj, r.op, k);
        int rows = attr(g, obj, "rows"), dim = attr(g, obj, "dim");
        float eps = (float)tu_golden_double(g, obj, "eps");
        size_t n;
        float *x = load(g, obj, "x", NULL), *gamma = load_optional(g, obj, "gamma");
        float *beta = load_optional(g, obj, "beta"), *want = load(g, obj, "y", &n);
        ck_assert_uint_eq(n, (size_t)rows * dim);
        float *got = nan_buffer(n);
        nn_layer_norm_ref(got, x, gamma, beta, rows, dim, eps);
        check_output(&r, k, "ref", got, want, n);
        fill_nan(got, n);
        nn_layer_norm(got, x, gamma, beta, rows, dim, eps);
        check_output(&r, k, "fast", got, want, n);
        free(x), free(gamma), free(beta), free(want), free(got);
    }
    finish_cases(g, &r);
}
END_TEST

START_TEST(test_batch_norm) {
    op_report r;
    msf_h5_reader *g = open_cases(&r, "batch_norm");
    for (int k = 0; k < r.cases; k++) {
        char obj[64];
        case_name(obj, sizeof obj, r.op, k);
        int N = attr(g, obj, "n"), C = attr(g, obj, "c"), hw = attr(g, obj, "hw");
        float eps = (float)tu_golden_double(g, obj, "eps");
        size_t n;
        float *x = load(g, obj, "x", NULL), *mean = load(g, obj, "mean", NULL), *var = load(g, obj, "var", NULL);
        float *gamma = load_optional(g, obj, "gamma"), *beta = load_optional(g, obj, "beta");
        float *want = load(g, obj, "y", &n);
        ck_assert_uint_eq(n, (size_t)N * C * hw);
        float *got = nan_buffer(n);
        nn_batch_norm_ref(got, x, mean, var, gamma, beta, N, C, hw, eps);
        check_output(&r, k, "ref", got, want, n);
        fill_nan(got, n);
        nn_batch_norm(got, x, mean, var, gamma, beta, N, C, hw, eps);
        check_output(&r, k, "fast", got, want, n);
        free(x), free(mean), free(var), free(gamma), free(beta), free(want), free(got);
    }
    finish_cases(g, &r);
}
END_TEST

START_TEST(test_softmax) {
    op_report r;
    msf_h5_reader *g = open_cases(&r, "softmax");
    for (int k = 0; k < r.cases; k++) {
        char obj[64];
        case_name(obj, sizeof obj, r.op, k);
        int rows = attr(g, obj, "rows"), dim = attr(g, obj, "dim");
        size_t n;
        float *x = load(g, obj, "x", NULL), *want = load(g, obj, "y", &n);
        ck_assert_uint_eq(n, (size_t)rows * dim);
        float *got = nan_buffer(n);
        nn_softmax_ref(got, x, rows, dim);
        check_output(&r, k, "ref", got, want, n);
        fill_nan(got, n);
        nn_softmax(got, x, rows, dim);
        check_output(&r, k, "fast", got, want, n);
        // y == x is allowed.
        memcpy(got, x, n * sizeof *got);
        nn_softmax_ref(got, got, rows, dim);
        check_output(&r, k, "ref, in place", got, want, n);
        memcpy(got, x, n * sizeof *got);
        nn_softmax(got, got, rows, dim);
        check_output(&r, k, "fast, in place", got, want, n);
        free(x), free(want), free(got);
    }
    finish_cases(g, &r);
}
END_TEST

// -----------------------------------------------------------------------------
// Attention

START_TEST(test_attention) {
    op_report r;
    msf_h5_reader *g = open_cases(&r, "attention");
    for (int k = 0; k < r.cases; k++) {
        char obj[64];
        case_name(obj, sizeof obj, r.op, k);
        int N = attr(g, obj, "n"), t = attr(g, obj, "t"), heads = attr(g, obj, "heads");
        int head_dim = attr(g, obj, "head_dim");
        size_t n;
        float *qkv = load(g, obj, "qkv", NULL), *want = load(g, obj, "y", &n);
        ck_assert_uint_eq(n, (size_t)N * t * heads * head_dim);
        float *got = nan_buffer(n);
        nn_attention_ref(got, qkv, N, t, heads, head_dim);
        check_output(&r, k, "ref", got, want, n);
        size_t need = nn_attention_workspace_bytes(N, t, heads, head_dim);
        msf_arena ws;
        ck_assert_int_eq(msf_arena_init(&ws, need), MSF_OK);
        fill_nan(got, n);
        ck_assert_int_eq(nn_attention(got, qkv, N, t, heads, head_dim, &ws), MSF_OK);
        ck_assert_uint_eq(ws.used, 0);
        ck_assert_uint_eq(ws.peak, need);
        check_output(&r, k, "fast", got, want, n);
        msf_arena_free(&ws);
        free(qkv), free(want), free(got);
    }
    finish_cases(g, &r);
}
END_TEST

// -----------------------------------------------------------------------------
// Activations: one golden group each, run out of place and in place.

typedef void (*activation_fn)(float *y, const float *x, size_t count);

static const struct {
    const char *op;
    activation_fn ref, fast;
} activations[] = {
    {"gelu", nn_gelu_ref, nn_gelu},
    {"gelu_tanh", nn_gelu_tanh_ref, nn_gelu_tanh},
    {"silu", nn_silu_ref, nn_silu},
    {"relu", nn_relu_ref, nn_relu},
};

START_TEST(test_activation) {
    op_report r;
    msf_h5_reader *g = open_cases(&r, activations[_i].op);
    for (int k = 0; k < r.cases; k++) {
        char obj[64];
        case_name(obj, sizeof obj, r.op, k);
        size_t n;
        float *x = load(g, obj, "x", NULL), *want = load(g, obj, "y", &n);
        ck_assert_uint_eq(n, (size_t)tu_golden_int(g, obj, "count"));
        float *got = nan_buffer(n);
        activations[_i].ref(got, x, n);
        check_output(&r, k, "ref", got, want, n);
        fill_nan(got, n);
        activations[_i].fast(got, x, n);
        check_output(&r, k, "fast", got, want, n);
        memcpy(got, x, n * sizeof *got);
        activations[_i].ref(got, got, n);
        check_output(&r, k, "ref, in place", got, want, n);
        memcpy(got, x, n * sizeof *got);
        activations[_i].fast(got, got, n);
        check_output(&r, k, "fast, in place", got, want, n);
        free(x), free(want), free(got);
    }
    finish_cases(g, &r);
}
END_TEST

// -----------------------------------------------------------------------------
// Pooling

typedef void (*pool_fn)(float *y, const float *x, const nn_pool2d_shape *s);

static const struct {
    const char *op;
    pool_fn ref, fast;
} pools[] = {
    {"max_pool2d", nn_max_pool2d_ref, nn_max_pool2d},
    {"avg_pool2d", nn_avg_pool2d_ref, nn_avg_pool2d},
};

START_TEST(test_pool) {
    op_report r;
    msf_h5_reader *g = open_cases(&r, pools[_i].op);
    for (int k = 0; k < r.cases; k++) {
        char obj[64];
        case_name(obj, sizeof obj, r.op, k);
        nn_pool2d_shape s = {
            .n = attr(g, obj, "n"),
            .c = attr(g, obj, "c"),
            .h = attr(g, obj, "h"),
            .w = attr(g, obj, "w"),
            .kh = attr(g, obj, "kh"),
            .kw = attr(g, obj, "kw"),
            .stride_h = attr(g, obj, "stride_h"),
            .stride_w = attr(g, obj, "stride_w"),
            .pad_h = attr(g, obj, "pad_h"),
            .pad_w = attr(g, obj, "pad_w"),
            .count_include_pad = attr(g, obj, "count_include_pad"),
        };
        size_t n;
        float *x = load(g, obj, "x", NULL), *want = load(g, obj, "y", &n);
        ck_assert_uint_eq(n, (size_t)s.n * s.c * nn_pool2d_out_h(&s) * nn_pool2d_out_w(&s));
        float *got = nan_buffer(n);
        pools[_i].ref(got, x, &s);
        check_output(&r, k, "ref", got, want, n);
        fill_nan(got, n);
        pools[_i].fast(got, x, &s);
        check_output(&r, k, "fast", got, want, n);
        free(x), free(want), free(got);
    }
    finish_cases(g, &r);
}
END_TEST

// -----------------------------------------------------------------------------
// Resizing. The golden attribute `mode` selects the bilinear variant and is 0
// for the other resizes.

static void bilinear_ref(float *y, const float *x, int n, int c, int h, int w, int oh, int ow, int mode) {
    nn_resize_bilinear_ref(y, x, n, c, h, w, oh, ow, (nn_bilinear_mode)mode);
}
static void bilinear_fast(float *y, const float *x, int n, int c, int h, int w, int oh, int ow, int mode) {
    nn_resize_bilinear(y, x, n, c, h, w, oh, ow, (nn_bilinear_mode)mode);
}
static void nearest_ref(float *y, const float *x, int n, int c, int h, int w, int oh, int ow, int mode) {
    nn_upsample_nearest_ref(y, x, n, c, h, w, oh, ow);
}
static void nearest_fast(float *y, const float *x, int n, int c, int h, int w, int oh, int ow, int mode) {
    nn_upsample_nearest(y, x, n, c, h, w, oh, ow);
}
static void area_ref(float *y, const float *x, int n, int c, int h, int w, int oh, int ow, int mode) {
    nn_resize_area_ref(y, x, n, c, h, w, oh, ow);
}
static void area_fast(float *y, const float *x, int n, int c, int h, int w, int oh, int ow, int mode) {
    nn_resize_area(y, x, n, c, h, w, oh, ow);
}

typedef void (*resize_mode_fn)(float *y, const float *x, int n, int c, int h, int w, int oh, int ow, int mode);

static const struct {
    const char *op;
    resize_mode_fn ref, fast;
} resizes[] = {
    {"upsample_nearest", nearest_ref, nearest_fast},
    {"resize_bilinear", bilinear_ref, bilinear_fast},
    {"resize_area", area_ref, area_fast},
};

START_TEST(test_resize) {
    op_report r;
    msf_h5_reader *g = open_cases(&r, resizes[_i].op);
    for (int k = 0; k < r.cases; k++) {
        char obj[64];
        case_name(obj, sizeof obj, r.op, k);
        int N = attr(g, obj, "n"), C = attr(g, obj, "c"), h = attr(g, obj, "h"), w = attr(g, obj, "w");
        int oh = attr(g, obj, "out_h"), ow = attr(g, obj, "out_w"), mode = attr(g, obj, "mode");
        size_t n;
        float *x = load(g, obj, "x", NULL), *want = load(g, obj, "y", &n);
        ck_assert_uint_eq(n, (size_t)N * C * oh * ow);
        float *got = nan_buffer(n);
        resizes[_i].ref(got, x, N, C, h, w, oh, ow, mode);
        check_output(&r, k, "ref", got, want, n);
        fill_nan(got, n);
        resizes[_i].fast(got, x, N, C, h, w, oh, ow, mode);
        check_output(&r, k, "fast", got, want, n);
        free(x), free(want), free(got);
    }
    finish_cases(g, &r);
}
END_TEST

// -----------------------------------------------------------------------------
// Concat

START_TEST(test_concat) {
    op_report r;
    msf_h5_reader *g = open_cases(&r, "concat");
    for (int k = 0; k < r.cases; k++) {
        char obj[64];
        case_name(obj, sizeof obj, r.op, k);
        int N = attr(g, obj, "n"), ca = attr(g, obj, "ca"), cb = attr(g, obj, "cb"), hw = attr(g, obj, "hw");
        size_t n;
        float *a = load(g, obj, "a", NULL), *b = load(g, obj, "b", NULL), *want = load(g, obj, "y", &n);
        ck_assert_uint_eq(n, (size_t)N * (ca + cb) * hw);
        float *got = nan_buffer(n);
        nn_concat_channels_ref(got, a, b, N, ca, cb, hw);
        check_output(&r, k, "ref", got, want, n);
        fill_nan(got, n);
        nn_concat_channels(got, a, b, N, ca, cb, hw);
        check_output(&r, k, "fast", got, want, n);
        free(a), free(b), free(want), free(got);
    }
    finish_cases(g, &r);
}
END_TEST

// -----------------------------------------------------------------------------
// Thread determinism: every fast operator, at shapes that split into several
// pieces, gives the same bits with 1, 2 and 3 threads.

#define DET_IN 300000  // random inputs shared by all operators (weights start at DET_W)
#define DET_W 150000

static float *det_in;   // standard normal
static float *det_pos;  // in [0.5, 1.5): batch-norm variances

static const nn_conv2d_shape det_conv3 = {2, 8, 40, 45, 16, 3, 3, 1, 1, 1, 1, 1, 1};
static const nn_conv2d_shape det_conv1 = {1, 16, 50, 50, 7, 1, 1, 1, 1, 0, 0, 0, 0};
static const nn_conv2d_shape det_conv_s2 = {3, 4, 33, 31, 5, 3, 3, 2, 2, 0, 1, 0, 1};
static const nn_pool2d_shape det_maxpool = {2, 8, 21, 23, 3, 3, 2, 2, 0, 0, 1};
static const nn_pool2d_shape det_avgpool = {2, 8, 21, 23, 3, 3, 1, 1, 1, 1, 0};

static void det_linear_rows(float *y, msf_arena *ws) { nn_linear(y, det_in, det_in + DET_W, det_pos, 300, 70, 90, ws); }
static void det_linear_cols(float *y, msf_arena *ws) { nn_linear(y, det_in, det_in + DET_W, det_pos, 20, 64, 700, ws); }
static void det_conv(float *y, msf_arena *ws, const nn_conv2d_shape *s) {
    ck_assert_int_eq(nn_conv2d(y, det_in, det_in + DET_W, det_pos, s, ws), MSF_OK);
}
static void det_conv_3x3(float *y, msf_arena *ws) { det_conv(y, ws, &det_conv3); }
static void det_conv_1x1(float *y, msf_arena *ws) { det_conv(y, ws, &det_conv1); }
static void det_conv_stride2(float *y, msf_arena *ws) { det_conv(y, ws, &det_conv_s2); }
static void det_attention(float *y, msf_arena *ws) {
    ck_assert_int_eq(nn_attention(y, det_in, 2, 33, 4, 72, ws), MSF_OK);
}
static void det_group_norm(float *y, msf_arena *ws) {
    nn_group_norm(y, det_in, det_in + DET_W, det_pos, 2, 32, 64, 8, 1e-6f);
}
static void det_layer_norm(float *y, msf_arena *ws) { nn_layer_norm(y, det_in, NULL, NULL, 37, 53, 1e-6f); }
static void det_batch_norm(float *y, msf_arena *ws) {
    nn_batch_norm(y, det_in, det_in + DET_W, det_pos, det_in + DET_W + 100, NULL, 2, 16, 50, 1e-3f);
}
static void det_softmax(float *y, msf_arena *ws) { nn_softmax(y, det_in, 37, 101); }
static void det_gelu(float *y, msf_arena *ws) { nn_gelu(y, det_in, 10007); }
static void det_gelu_tanh(float *y, msf_arena *ws) { nn_gelu_tanh(y, det_in, 10007); }
static void det_silu(float *y, msf_arena *ws) { nn_silu(y, det_in, 10007); }
static void det_relu(float *y, msf_arena *ws) { nn_relu(y, det_in, 10007); }
static void det_max_pool(float *y, msf_arena *ws) { nn_max_pool2d(y, det_in, &det_maxpool); }
static void det_avg_pool(float *y, msf_arena *ws) { nn_avg_pool2d(y, det_in, &det_avgpool); }
static void det_nearest(float *y, msf_arena *ws) { nn_upsample_nearest(y, det_in, 2, 8, 9, 11, 20, 23); }
static void det_bilinear(float *y, msf_arena *ws) {
    nn_resize_bilinear(y, det_in, 2, 8, 9, 11, 23, 19, NN_BILINEAR_HALF_PIXEL);
}
static void det_bilinear_tf1(float *y, msf_arena *ws) {
    nn_resize_bilinear(y, det_in, 2, 8, 9, 11, 23, 19, NN_BILINEAR_TF1_LEGACY);
}
static void det_area(float *y, msf_arena *ws) { nn_resize_area(y, det_in, 2, 8, 17, 17, 5, 5); }
static void det_concat(float *y, msf_arena *ws) { nn_concat_channels(y, det_in, det_in + DET_W, 3, 5, 7, 61); }

static const struct {
    const char *op;
    size_t out;  // output floats
    void (*run)(float *y, msf_arena *ws);
} det_ops[] = {
    {"linear (row blocks)", 300 * 90, det_linear_rows},
    {"linear (column blocks)", 20 * 700, det_linear_cols},
    {"conv2d 3x3", 2 * 16 * 40 * 45, det_conv_3x3},
    {"conv2d 1x1", 7 * 50 * 50, det_conv_1x1},
    {"conv2d 3x3 stride 2", 3 * 5 * 16 * 15, det_conv_stride2},
    {"attention", 2 * 33 * 4 * 72, det_attention},
    {"group_norm", 2 * 32 * 64, det_group_norm},
    {"layer_norm", 37 * 53, det_layer_norm},
    {"batch_norm", 2 * 16 * 50, det_batch_norm},
    {"softmax", 37 * 101, det_softmax},
    {"gelu", 10007, det_gelu},
    {"gelu_tanh", 10007, det_gelu_tanh},
    {"silu", 10007, det_silu},
    {"relu", 10007, det_relu},
    {"max_pool2d", 2 * 8 * 10 * 11, det_max_pool},
    {"avg_pool2d", 2 * 8 * 21 * 23, det_avg_pool},
    {"upsample_nearest", 2 * 8 * 20 * 23, det_nearest},
    {"resize_bilinear half-pixel", 2 * 8 * 23 * 19, det_bilinear},
    {"resize_bilinear tf1", 2 * 8 * 23 * 19, det_bilinear_tf1},
    {"resize_area", 2 * 8 * 5 * 5, det_area},
    {"concat", 3 * 12 * 61, det_concat},
};

START_TEST(test_thread_determinism) {
    det_in = malloc(DET_IN * sizeof *det_in);
    det_pos = malloc(DET_IN * sizeof *det_pos);
    ck_assert(det_in && det_pos);
    msf_rng_key key = {.seed = 7};
    ck_assert_int_eq(msf_rng_normal(det_in, DET_IN, key, 0), MSF_OK);
    ck_assert_int_eq(msf_rng_uniform(det_pos, DET_IN, key, 0), MSF_OK);
    for (int i = 0; i < DET_IN; i++) det_pos[i] += 0.5f;
    msf_arena ws;
    ck_assert_int_eq(msf_arena_init(&ws, 64u << 20), MSF_OK);

    int saved = omp_get_max_threads();
    int differ = 0, unwritten = 0;
    for (size_t op = 0; op < sizeof det_ops / sizeof det_ops[0]; op++) {
        size_t n = det_ops[op].out;
        float *first = nan_buffer(n), *y = nan_buffer(n);
        omp_set_num_threads(1);
        det_ops[op].run(first, &ws);
        for (size_t i = 0; i < n; i++)
            if (isnan(first[i])) {
                fprintf(stderr, "FAIL %s: output %zu not written\n", det_ops[op].op, i);
                unwritten++;
                break;
            }
        for (int threads = 2; threads <= 3; threads++) {
            omp_set_num_threads(threads);
            fill_nan(y, n);
            det_ops[op].run(y, &ws);
            if (memcmp(first, y, n * sizeof *y) != 0) {
                fprintf(stderr, "FAIL %s: %d threads give other bits than 1 thread\n", det_ops[op].op, threads);
                differ++;
            }
        }
        free(first), free(y);
    }
    omp_set_num_threads(saved);
    ck_assert_int_eq(omp_get_max_threads(), saved);
    msf_arena_free(&ws);
    free(det_in), free(det_pos);
    ck_assert_msg(differ == 0 && unwritten == 0, "%d operators depend on the thread count, %d leave outputs unset",
                  differ, unwritten);
}
END_TEST

// -----------------------------------------------------------------------------
// Workspace and shape errors

START_TEST(test_workspace_too_small) {
    nn_conv2d_shape s = {1, 4, 9, 9, 3, 3, 3, 1, 1, 1, 1, 1, 1};
    float x[4 * 9 * 9] = {0}, w[3 * 4 * 3 * 3] = {0}, y[3 * 9 * 9];
    size_t need = nn_conv2d_workspace_bytes(&s);
    ck_assert_uint_gt(need, 0);
    msf_arena ws;
    ck_assert_int_eq(msf_arena_init(&ws, need), MSF_OK);
    // A full-size arena that is partly taken is as short as a small one.
    ck_assert_ptr_nonnull(msf_arena_alloc(&ws, MSF_ALIGN));
    msf_clear_error();
    ck_assert_int_eq(nn_conv2d(y, x, w, NULL, &s, &ws), MSF_ERR_NOMEM);
    ck_assert_msg(strstr(msf_error_message(), "conv2d") && strstr(msf_error_message(), "bytes"), "message: '%s'",
                  msf_error_message());
    ck_assert_uint_eq(ws.used, MSF_ALIGN);
    // With the block given back the same call succeeds.
    msf_arena_release(&ws, 0);
    ck_assert_int_eq(nn_conv2d(y, x, w, NULL, &s, &ws), MSF_OK);
    ck_assert_uint_eq(ws.used, 0);
    msf_arena_free(&ws);

    size_t need_attn = nn_attention_workspace_bytes(1, 5, 2, 4);
    float qkv[5 * 3 * 8] = {0}, out[5 * 8];
    ck_assert_int_eq(msf_arena_init(&ws, need_attn - MSF_ALIGN), MSF_OK);
    msf_clear_error();
    ck_assert_int_eq(nn_attention(out, qkv, 1, 5, 2, 4, &ws), MSF_ERR_NOMEM);
    ck_assert_msg(strstr(msf_error_message(), "attention"), "message: '%s'", msf_error_message());
    ck_assert_uint_eq(ws.used, 0);
    msf_arena_free(&ws);
}
END_TEST

START_TEST(test_conv2d_check) {
    const nn_conv2d_shape ok = {1, 3, 8, 8, 4, 3, 3, 1, 1, 1, 1, 1, 1};
    ck_assert_int_eq(nn_conv2d_check(&ok), MSF_OK);
    nn_conv2d_shape s = ok;
    s.kh = 10;  // exactly the padded height: one output row
    ck_assert_int_eq(nn_conv2d_check(&s), MSF_OK);
    ck_assert_int_eq(nn_conv2d_out_h(&s), 1);

    nn_conv2d_shape bad[5] = {ok, ok, ok, ok, ok};
    bad[0].kh = 11;  // larger than the padded input
    bad[1].stride_w = 0;
    bad[2].pad_left = -1;
    bad[3].c_in = 0;
    bad[4].kw = 9, bad[4].pad_left = bad[4].pad_right = 0;
    for (int i = 0; i < 5; i++) {
        msf_clear_error();
        ck_assert_int_eq(nn_conv2d_check(&bad[i]), MSF_ERR_INVALID);
        ck_assert_msg(strlen(msf_error_message()) > 0, "case %d: no message", i);
    }
    // nn_conv2d refuses it too, before touching y or the arena.
    float x[3 * 8 * 8] = {0}, w[4 * 3 * 11 * 3] = {0}, y = 42.0f;
    msf_arena ws;
    ck_assert_int_eq(msf_arena_init(&ws, 1 << 20), MSF_OK);
    ck_assert_int_eq(nn_conv2d(&y, x, w, NULL, &bad[0], &ws), MSF_ERR_INVALID);
    ck_assert_float_eq(y, 42.0f);
    ck_assert_uint_eq(ws.used, 0);
    msf_arena_free(&ws);
}
END_TEST

// -----------------------------------------------------------------------------

static void add_case(Suite *s, const char *name, const TTest *test, int loop) {
    TCase *tc = tcase_create(name);
    tcase_set_timeout(tc, 600);  // the full-size goldens run the reference loops at model shapes
    if (loop >= 0) tcase_add_loop_test(tc, test, loop, loop + 1);
    else tcase_add_test(tc, test);
    suite_add_tcase(s, tc);
}

int main(void) {
    Suite *s = suite_create("nn");
    add_case(s, "linear", test_linear, -1);
    add_case(s, "linear_batch", test_linear_batch_independent, -1);
    add_case(s, "conv2d", test_conv2d, -1);
    add_case(s, "group_norm", test_group_norm, -1);
    add_case(s, "layer_norm", test_layer_norm, -1);
    add_case(s, "batch_norm", test_batch_norm, -1);
    add_case(s, "softmax", test_softmax, -1);
    add_case(s, "attention", test_attention, -1);
    for (int i = 0; i < (int)(sizeof activations / sizeof activations[0]); i++)
        add_case(s, activations[i].op, test_activation, i);
    for (int i = 0; i < (int)(sizeof pools / sizeof pools[0]); i++) add_case(s, pools[i].op, test_pool, i);
    for (int i = 0; i < (int)(sizeof resizes / sizeof resizes[0]); i++) add_case(s, resizes[i].op, test_resize, i);
    add_case(s, "concat", test_concat, -1);
    add_case(s, "thread determinism", test_thread_determinism, -1);
    add_case(s, "workspace", test_workspace_too_small, -1);
    add_case(s, "conv2d_check", test_conv2d_check, -1);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
