// test_nn_nonfinite.c: every src/nn kernel, fast and reference, fed NaN,
// +/-Inf, +/-1e30 and FLT_MAX (issue 20). What is checked:
//   - no undefined behaviour: `make test SANITIZE=1` runs this suite under
//     ASan + UBSan with float-cast-overflow, so a float-to-int conversion out
//     of range (the fast exp's bug) or a signed overflow aborts it;
//   - NaN is not lost: an input slice holding a NaN gives a non-finite value
//     somewhere in the output slice that depends on it (a kernel that turns
//     NaN into a finite number would hide a model's failure from the
//     sampler's check);
//   - finite inputs far from the bad ones are untouched: the other batch
//     element of each kernel stays finite and equals the result without the
//     bad values.
#include <check.h>
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/arena.h"
#include "nn/fast_exp.h"
#include "nn/nn.h"
#include "testutil.h"

static const float bad_values[] = {NAN, INFINITY, -INFINITY, 1e30f, -1e30f, FLT_MAX, -FLT_MAX};
#define NBAD (int)(sizeof bad_values / sizeof bad_values[0])

// Two batch elements of `per` floats: the first holds the bad values spread
// over it, the second is clean.
static float *two_elements(size_t per, unsigned seed) {
    float *x = malloc(2 * per * sizeof *x);
    for (size_t i = 0; i < 2 * per; i++) x[i] = (float)((i * 2654435761u + seed) % 2001) / 1000.0f - 1.0f;
    for (int k = 0; k < NBAD && (size_t)k < per; k++) x[(size_t)k * per / NBAD] = bad_values[k];
    return x;
}

static int any_nonfinite(const float *y, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (!isfinite(y[i])) return 1;
    return 0;
}
static int all_finite(const float *y, size_t n) { return !any_nonfinite(y, n); }

// The same kernel on the clean element alone must give the clean half's bits.
#define CHECK_HALVES(name, y, yclean, out_per)                                                                    \
    do {                                                                                                          \
        ck_assert_msg(any_nonfinite(y, out_per), "%s: NaN/Inf input gave an all-finite output", name);            \
        ck_assert_msg(all_finite(y + (out_per), out_per), "%s: a clean batch element became non-finite", name);   \
        ck_assert_msg(!memcmp(y + (out_per), yclean, (out_per) * sizeof(float)), "%s: the clean element changed", \
                      name);                                                                                      \
    } while (0)

START_TEST(test_fast_exp_every_float) {
    // The one fast exp on special values and on a sweep of bit patterns.
    const float sp[] = {NAN, -NAN, INFINITY, -INFINITY, FLT_MAX, -FLT_MAX, 1e30f, -1e30f, 88.8f, -104.0f, 0.0f};
    for (size_t i = 0; i < sizeof sp / sizeof sp[0]; i++) {
        float e = nn_fast_expf(sp[i]);
        if (isnan(sp[i])) ck_assert_msg(isnan(e), "fast exp(nan) = %g", e);
        else ck_assert_msg(e >= 0.0f, "fast exp(%g) = %g", sp[i], e);
    }
    for (uint32_t bits = 0; bits < 0xFFFFF000u; bits += 0x10001u) {
        float v;
        memcpy(&v, &bits, sizeof v);
        float e = nn_fast_expf(v);
        ck_assert_msg(isnan(v) || e >= 0.0f, "fast exp of bits %08x = %g", bits, e);
    }
}
END_TEST

START_TEST(test_elementwise) {
    size_t per = 64;
    float *x = two_elements(per, 1), *y = malloc(2 * per * sizeof *y), *c = malloc(per * sizeof *c);
    struct {
        const char *name;
        void (*fn)(float *, const float *, size_t);
    } k[] = {{"silu", nn_silu},         {"silu_ref", nn_silu_ref},   {"gelu", nn_gelu},
             {"gelu_ref", nn_gelu_ref}, {"gelu_tanh", nn_gelu_tanh}, {"gelu_tanh_ref", nn_gelu_tanh_ref},
             {"relu", nn_relu},         {"relu_ref", nn_relu_ref}};
    for (size_t i = 0; i < sizeof k / sizeof k[0]; i++) {
        k[i].fn(y, x, 2 * per);
        k[i].fn(c, x + per, per);
        CHECK_HALVES(k[i].name, y, c, per);
        ck_assert_msg(isnan(y[0]), "%s(nan) = %g", k[i].name, y[0]);
    }
    free(x), free(y), free(c);
}
END_TEST

START_TEST(test_softmax_and_norms) {
    int dim = 40;
    size_t per = (size_t)dim;
    float *x = two_elements(per, 2), *y = malloc(2 * per * sizeof *y), *c = malloc(per * sizeof *c);
    float *g = malloc(per * sizeof *g), *b = malloc(per * sizeof *b);
    for (int i = 0; i < dim; i++) g[i] = 1.0f + 0.01f * i, b[i] = 0.02f * i;
    nn_softmax(y, x, 2, dim), nn_softmax(c, x + per, 1, dim);
    CHECK_HALVES("softmax", y, c, per);
    nn_softmax_ref(y, x, 2, dim), nn_softmax_ref(c, x + per, 1, dim);
    CHECK_HALVES("softmax_ref", y, c, per);
    nn_layer_norm(y, x, g, b, 2, dim, 1e-6f), nn_layer_norm(c, x + per, g, b, 1, dim, 1e-6f);
    CHECK_HALVES("layer_norm", y, c, per);
    nn_layer_norm_ref(y, x, g, b, 2, dim, 1e-6f), nn_layer_norm_ref(c, x + per, g, b, 1, dim, 1e-6f);
    CHECK_HALVES("layer_norm_ref", y, c, per);
    // GroupNorm over (c = 8, hw = 5), 2 groups: the bad values land in both groups.
    nn_group_norm(y, x, g, b, 2, 8, 5, 2, 1e-6f), nn_group_norm(c, x + per, g, b, 1, 8, 5, 2, 1e-6f);
    CHECK_HALVES("group_norm", y, c, per);
    nn_group_norm_ref(y, x, g, b, 2, 8, 5, 2, 1e-6f), nn_group_norm_ref(c, x + per, g, b, 1, 8, 5, 2, 1e-6f);
    CHECK_HALVES("group_norm_ref", y, c, per);
    nn_group_norm_silu(y, x, g, b, 2, 8, 5, 2, 1e-6f), nn_group_norm_silu(c, x + per, g, b, 1, 8, 5, 2, 1e-6f);
    CHECK_HALVES("group_norm_silu", y, c, per);
    nn_group_norm_silu_ref(y, x, g, b, 2, 8, 5, 2, 1e-6f), nn_group_norm_silu_ref(c, x + per, g, b, 1, 8, 5, 2, 1e-6f);
    CHECK_HALVES("group_norm_silu_ref", y, c, per);
    free(x), free(y), free(c), free(g), free(b);
}
END_TEST

START_TEST(test_linear_attention) {
    int M = 2, K = 24, N = 10;
    float *x = two_elements((size_t)K, 3), *w = malloc((size_t)N * K * sizeof *w),
          *bias = malloc((size_t)N * sizeof *bias);
    for (int i = 0; i < N * K; i++) w[i] = (float)((i * 37) % 17) / 17.0f - 0.5f;
    for (int i = 0; i < N; i++) bias[i] = 0.1f * i;
    float *y = malloc((size_t)M * N * sizeof *y), *c = malloc((size_t)N * sizeof *c);
    nn_linear(y, x, w, bias, M, K, N, NULL), nn_linear(c, x + K, w, bias, 1, K, N, NULL);
    CHECK_HALVES("linear", y, c, (size_t)N);
    nn_linear_ref(y, x, w, bias, M, K, N), nn_linear_ref(c, x + K, w, bias, 1, K, N);
    CHECK_HALVES("linear_ref", y, c, (size_t)N);
    free(x), free(w), free(bias), free(y), free(c);
    // Attention: n = 2 sequences of t = 6 tokens, 2 heads of 4: qkv (n, t, 3 * 8).
    int t = 6, heads = 2, hd = 4;
    size_t per = (size_t)t * 3 * heads * hd, out_per = (size_t)t * heads * hd;
    float *qkv = two_elements(per, 4), *o = malloc(2 * out_per * sizeof *o), *oc = malloc(out_per * sizeof *oc);
    msf_arena ws;
    ck_assert_int_eq(msf_arena_init(&ws, nn_attention_workspace_bytes(2, t, heads, hd) + 4096), MSF_OK);
    ck_assert_int_eq(nn_attention(o, qkv, 2, t, heads, hd, &ws), MSF_OK);
    ck_assert_int_eq(nn_attention(oc, qkv + per, 1, t, heads, hd, &ws), MSF_OK);
    CHECK_HALVES("attention", o, oc, out_per);
    nn_attention_ref(o, qkv, 2, t, heads, hd), nn_attention_ref(oc, qkv + per, 1, t, heads, hd);
    CHECK_HALVES("attention_ref", o, oc, out_per);
    msf_arena_free(&ws);
    free(qkv), free(o), free(oc);
}
END_TEST

START_TEST(test_conv_pool_resize) {
    int C = 3, H = 7, W = 6;
    size_t per = (size_t)C * H * W;
    float *x = two_elements(per, 5);
    float *w = malloc((size_t)4 * C * 9 * sizeof *w), *b = malloc(4 * sizeof *b);
    for (int i = 0; i < 4 * C * 9; i++) w[i] = (float)((i * 13) % 11) / 11.0f - 0.5f;
    for (int i = 0; i < 4; i++) b[i] = 0.1f * i;
    float *y = malloc(2 * 4 * (size_t)H * W * sizeof *y), *c = malloc(4 * (size_t)H * W * sizeof *c);
    size_t out_per = 4 * (size_t)H * W;
    nn_conv2d_shape s = {.n = 2,
                         .c_in = C,
                         .h = H,
                         .w = W,
                         .c_out = 4,
                         .kh = 3,
                         .kw = 3,
                         .stride_h = 1,
                         .stride_w = 1,
                         .pad_top = 1,
                         .pad_bottom = 1,
                         .pad_left = 1,
                         .pad_right = 1};
    nn_conv2d_shape s1 = s;
    s1.n = 1;
    msf_arena ws;
    size_t need = nn_conv2d_workspace_bytes(&s) + nn_conv3x3_workspace_bytes(C, 4, H, W) + 8192;
    ck_assert_int_eq(msf_arena_init(&ws, need), MSF_OK);
    ck_assert_int_eq(nn_conv2d(y, x, w, b, &s, &ws), MSF_OK);
    ck_assert_int_eq(nn_conv2d(c, x + per, w, b, &s1, &ws), MSF_OK);
    CHECK_HALVES("conv2d", y, c, out_per);
    nn_conv2d_ref(y, x, w, b, &s), nn_conv2d_ref(c, x + per, w, b, &s1);
    CHECK_HALVES("conv2d_ref", y, c, out_per);
    for (int e = 0; e < 2; e++)
        ck_assert_int_eq(nn_conv3x3(y + e * out_per, x + e * per, w, b, C, 4, H, W, &ws), MSF_OK);
    ck_assert_int_eq(nn_conv3x3(c, x + per, w, b, C, 4, H, W, &ws), MSF_OK);
    CHECK_HALVES("conv3x3", y, c, out_per);
    msf_arena_free(&ws);
    // Pools: 3x3, stride 2, pad 1.
    nn_pool2d_shape p = {.n = 2,
                         .c = C,
                         .h = H,
                         .w = W,
                         .kh = 3,
                         .kw = 3,
                         .stride_h = 2,
                         .stride_w = 2,
                         .pad_h = 1,
                         .pad_w = 1,
                         .count_include_pad = 0};
    nn_pool2d_shape p1 = p;
    p1.n = 1;
    size_t pool_per = (size_t)C * nn_pool2d_out_h(&p) * nn_pool2d_out_w(&p);
    nn_max_pool2d(y, x, &p), nn_max_pool2d(c, x + per, &p1);
    CHECK_HALVES("max_pool2d", y, c, pool_per);
    nn_max_pool2d_ref(y, x, &p), nn_max_pool2d_ref(c, x + per, &p1);
    CHECK_HALVES("max_pool2d_ref", y, c, pool_per);
    nn_avg_pool2d(y, x, &p), nn_avg_pool2d(c, x + per, &p1);
    CHECK_HALVES("avg_pool2d", y, c, pool_per);
    nn_avg_pool2d_ref(y, x, &p), nn_avg_pool2d_ref(c, x + per, &p1);
    CHECK_HALVES("avg_pool2d_ref", y, c, pool_per);
    // Resizes to 5x4 and 14x12.
    int sizes[2][2] = {{5, 4}, {14, 12}};
    for (int k = 0; k < 2; k++) {
        int oh = sizes[k][0], ow = sizes[k][1];
        size_t rp = (size_t)C * oh * ow;
        float *ry = malloc(2 * rp * sizeof *ry), *rc = malloc(rp * sizeof *rc);
        nn_resize_bilinear(ry, x, 2, C, H, W, oh, ow, NN_BILINEAR_HALF_PIXEL);
        nn_resize_bilinear(rc, x + per, 1, C, H, W, oh, ow, NN_BILINEAR_HALF_PIXEL);
        CHECK_HALVES("resize_bilinear", ry, rc, rp);
        nn_resize_area(ry, x, 2, C, H, W, oh, ow), nn_resize_area(rc, x + per, 1, C, H, W, oh, ow);
        CHECK_HALVES("resize_area", ry, rc, rp);
        nn_upsample_nearest(ry, x, 2, C, H, W, oh, ow), nn_upsample_nearest(rc, x + per, 1, C, H, W, oh, ow);
        CHECK_HALVES("upsample_nearest", ry, rc, rp);
        free(ry), free(rc);
    }
    free(x), free(w), free(b), free(y), free(c);
}
END_TEST

int main(void) {
    Suite *s = suite_create("nn_nonfinite");
    TCase *tc = tcase_create("nonfinite");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_fast_exp_every_float);
    tcase_add_test(tc, test_elementwise);
    tcase_add_test(tc, test_softmax_and_norms);
    tcase_add_test(tc, test_linear_attention);
    tcase_add_test(tc, test_conv_pool_resize);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
