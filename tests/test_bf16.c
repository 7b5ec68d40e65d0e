// test_bf16.c: the bf16 linear layer (src/nn/linear_bf16.c) against PyTorch
// (tools/golden/gen_bf16.py -> tests/golden/linear_bf16.h5):
//   - nn_bf16_from_float equals torch's Tensor.bfloat16() bit for bit (ties
//     to even, subnormals, +-Inf, NaN, overflow to Inf);
//   - oneDNN's y = bf16(x) bf16(W)^T + b against the same product computed in
//     float64 from torch's bf16 inputs: the products of bf16 numbers are exact
//     in float32, so only float32 summation remains: rel <= 1e-5;
//   - against the float32 layer (the precision bf16 gives up): rel <= 2e-2,
//     and at least as close as PyTorch's autocast bf16 linear is (+ 1e-3);
//   - the same bits with 1 and 2 OpenMP threads, and on a second call;
//   - a DiT in bf16 (dit_set_precision) against PyTorch's forward in float64
//     with bf16 inputs and weights in every linear layer and bf16 operands
//     in the attention's two products (what bf16 mode specifies): rel <=
//     1e-5 (measured 1.1e-7: float32 accumulation and activations; an
//     activation that rounds the other way at a bf16 tie would show); its
//     error against the float32 forward is printed beside autocast's, and
//     must be no larger; 1 and 2 threads give the same bits; precision back
//     to fp32 gives the fp32 forward's bits;
//   - the feature networks in bf16 (their convolutions through the strided
//     bf16 product): the Fashion-MNIST classifier on 500 real test images and
//     the 16x-scaled InceptionV3 of tests/golden/inception_blocks.h5 against
//     their fp32 features (rel <= 2e-2: about three bf16 roundings deep; a
//     layout error gives O(1)), the same bits for 1 and 2 threads and for any
//     split of the batch;
//   - the tiny SD VAE of tests/golden/vae_tiny.h5 in bf16 (nn_conv2d_bf16):
//     decoder images and encoder moments against fp32 (rel <= 2e-2), the
//     same bits for 1 and 2 threads.
// Without oneDNN (make DNNL=0, or no libdnnl-dev) the layer tests say SKIP
// (a failure under CI, which installs it); the conversion is tested anyway.
#include <check.h>
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "eval/classifier.h"
#include "eval/inception.h"
#include "io/idx.h"
#include "models/dit.h"
#include "models/vae.h"
#include "nn/linear_bf16.h"
#include "core/rng.h"
#include "testutil.h"

#define GOLDEN "linear_bf16.h5"
#define TOL_BF16 1e-5        // against the exact sum of the exact bf16 products
#define TOL_FP32 2e-2        // against the float32 layer
#define AUTOCAST_SLACK 1e-3  // over PyTorch autocast's own error against float32
#define TOL_FEATURES 2e-2    // bf16 features against fp32 ones (measured 2.3e-3, 7.4e-3)
#define TOL_DIT 1e-5         // bf16 DiT against the float64 forward with bf16 linear layers (measured 1.1e-7)

START_TEST(test_conversion_equals_torch) {
    msf_h5_reader *g = tu_golden_open(GOLDEN);
    size_t n, m;
    float *x = tu_golden_load(g, "convert/x", &n, NULL, NULL),
          *want = tu_golden_load(g, "convert/bf16", &m, NULL, NULL);
    ck_assert_uint_eq(n, m);
    ck_assert_uint_ge(n, 4096);
    for (size_t i = 0; i < n; i++) {
        float got = nn_bf16_to_float(nn_bf16_from_float(x[i]));
        if (isnan(want[i])) ck_assert_msg(isnan(got), "bf16(%g): want NaN, got %g", x[i], got);
        else
            ck_assert_msg(memcmp(&got, &want[i], sizeof got) == 0, "bf16(%.9g) = %.9g, torch %.9g", x[i], got, want[i]);
    }
    free(x), free(want);
    msf_h5_close(g);
}
END_TEST

// y [M, N] of case `obj` by a layer made from its w and b.
static float *run_case(msf_h5_reader *g, const char *obj, int threads, int M, int K, int N) {
    char name[64];
    size_t n;
    snprintf(name, sizeof name, "%s/x", obj);
    float *x = tu_golden_load(g, name, &n, NULL, NULL);
    ck_assert_uint_eq(n, (size_t)M * K);
    snprintf(name, sizeof name, "%s/w", obj);
    float *w = tu_golden_load(g, name, &n, NULL, NULL);
    ck_assert_uint_eq(n, (size_t)N * K);
    snprintf(name, sizeof name, "%s/b", obj);
    float *b = msf_h5_find(g, name) ? tu_golden_load(g, name, &n, NULL, NULL) : NULL;
    nn_bf16_linear *l;
    ck_assert_msg(nn_bf16_linear_create(&l, w, b, K, N) == MSF_OK, "%s", msf_error_message());
    float *y = malloc((size_t)M * N * sizeof *y), *again = malloc((size_t)M * N * sizeof *y);
    ck_assert_ptr_nonnull(y);
    ck_assert_ptr_nonnull(again);
    int saved = omp_get_max_threads();
    omp_set_num_threads(threads);
    // The first call takes its scratch from the heap, the second from an
    // arena (sized by nn_bf16_linear_workspace_bytes): the same bits.
    msf_arena ws;
    ck_assert_int_eq(msf_arena_init(&ws, nn_bf16_linear_workspace_bytes(M, K)), MSF_OK);
    ck_assert_msg(nn_bf16_linear_run(l, y, x, M, NULL) == MSF_OK, "%s", msf_error_message());
    ck_assert_msg(nn_bf16_linear_run(l, again, x, M, &ws) == MSF_OK, "%s", msf_error_message());
    ck_assert_uint_eq(ws.used, 0);
    ck_assert_uint_ge(ws.peak, (size_t)M * K * 2);
    msf_arena_free(&ws);
    omp_set_num_threads(saved);
    ck_assert_msg(memcmp(y, again, (size_t)M * N * sizeof *y) == 0, "%s: a second call gave other bits", obj);
    nn_bf16_linear_free(l);
    free(x), free(w), free(b), free(again);
    return y;
}

START_TEST(test_linear_against_torch) {
    if (!nn_bf16_available()) {
        tu_skip("test_bf16: this build has no oneDNN (libdnnl-dev; make DNNL=1)");
        return;
    }
    printf("oneDNN ISA: %s\n", nn_bf16_isa());
    msf_h5_reader *g = tu_golden_open(GOLDEN);
    int cases = tu_golden_cases(g, "linear", "y_bf16");
    ck_assert_int_eq(cases, 4);
    for (int k = 0; k < cases; k++) {
        char obj[32], name[64];
        snprintf(obj, sizeof obj, "linear/case%d", k);
        int M = (int)tu_golden_int(g, obj, "M"), K = (int)tu_golden_int(g, obj, "K"),
            N = (int)tu_golden_int(g, obj, "N");
        float *y1 = run_case(g, obj, 1, M, K, N), *y2 = run_case(g, obj, 2, M, K, N);
        size_t n = (size_t)M * N, m;
        ck_assert_msg(memcmp(y1, y2, n * sizeof *y1) == 0, "%s: 1 and 2 threads gave other bits", obj);
        snprintf(name, sizeof name, "%s/y_bf16", obj);
        float *want = tu_golden_load(g, name, &m, NULL, NULL);
        ck_assert_uint_eq(m, n);
        char what[96];
        snprintf(what, sizeof what, "bf16 linear %dx%dx%d vs exact bf16 products", M, K, N);
        ck_assert(tu_expect_close(what, y1, want, n, TOL_BF16));
        free(want);
        snprintf(name, sizeof name, "%s/y_fp32", obj);
        float *fp32 = tu_golden_load(g, name, &m, NULL, NULL);
        snprintf(name, sizeof name, "%s/y_autocast", obj);
        float *autocast = tu_golden_load(g, name, &m, NULL, NULL);
        tu_cmp ours = tu_compare(y1, fp32, n), torch = tu_compare(autocast, fp32, n);
        printf("bf16 linear %dx%dx%d vs float32: ours rel %.2e, PyTorch autocast rel %.2e\n", M, K, N, ours.rel,
               torch.rel);
        ck_assert_msg(ours.rel <= TOL_FP32, "%s: rel %.3e vs float32 > %.0e", obj, ours.rel, TOL_FP32);
        ck_assert_msg(ours.rel <= torch.rel + AUTOCAST_SLACK, "%s: rel %.3e vs float32, autocast's %.3e", obj, ours.rel,
                      torch.rel);
        free(fp32), free(autocast), free(y1), free(y2);
    }
    msf_h5_close(g);
}
END_TEST

// out (3, ...) of the golden DiT at `threads` threads in precision p.
static float *dit_run(msf_h5_reader *g, nn_precision p, int threads, size_t *n) {
    dit_model m;
    ck_assert_msg(dit_load(&m, g, "dit/model", 3) == MSF_OK, "%s", msf_error_message());
    ck_assert_msg(dit_set_precision(&m, p) == MSF_OK, "%s", msf_error_message());
    ck_assert_int_eq(m.precision, p);
    size_t nx, nt, ny;
    float *x = tu_golden_load(g, "dit/x", &nx, NULL, NULL), *t = tu_golden_load(g, "dit/t", &nt, NULL, NULL),
          *yf = tu_golden_load(g, "dit/y", &ny, NULL, NULL);
    int64_t y[3];
    for (int i = 0; i < 3; i++) y[i] = (int64_t)yf[i];
    *n = (size_t)3 * m.config.out_channels * m.config.input_size * m.config.input_size;
    float *out = malloc(*n * sizeof *out);
    ck_assert_ptr_nonnull(out);
    int saved = omp_get_max_threads();
    omp_set_num_threads(threads);
    ck_assert_msg(dit_forward(&m, out, x, t, y, 3) == MSF_OK, "%s", msf_error_message());
    omp_set_num_threads(saved);
    if (p == NN_BF16) {  // back to fp32 on the same model: the fp32 forward's bits
        float *again = malloc(*n * sizeof *again);
        ck_assert_ptr_nonnull(again);
        ck_assert_int_eq(dit_set_precision(&m, NN_FP32), MSF_OK);
        ck_assert_msg(dit_forward(&m, again, x, t, y, 3) == MSF_OK, "%s", msf_error_message());
        float *fp32 = dit_run(g, NN_FP32, threads, n);
        ck_assert_msg(memcmp(again, fp32, *n * sizeof *fp32) == 0, "DiT: fp32 after bf16 differs from fp32");
        free(again), free(fp32);
    }
    dit_free(&m);
    free(x), free(t), free(yf);
    return out;
}

START_TEST(test_dit_against_torch) {
    if (!nn_bf16_available()) {
        tu_skip("test_bf16: this build has no oneDNN (libdnnl-dev; make DNNL=1)");
        return;
    }
    msf_h5_reader *g = tu_golden_open(GOLDEN);
    size_t n, m;
    float *b1 = dit_run(g, NN_BF16, 1, &n), *b2 = dit_run(g, NN_BF16, 2, &m);
    ck_assert_uint_eq(n, m);
    ck_assert_msg(memcmp(b1, b2, n * sizeof *b1) == 0, "bf16 DiT: 1 and 2 threads gave other bits");
    float *want = tu_golden_load(g, "dit/out_bf16", &m, NULL, NULL);
    ck_assert_uint_eq(n, m);
    ck_assert(tu_expect_close("bf16 DiT vs float64 forward with bf16 products", b1, want, n, TOL_DIT));
    float *fp32 = tu_golden_load(g, "dit/out_fp32", &m, NULL, NULL),
          *autocast = tu_golden_load(g, "dit/out_autocast", &m, NULL, NULL);
    tu_cmp ours = tu_compare(b1, fp32, n), torch = tu_compare(autocast, fp32, n), spec = tu_compare(b1, want, n);
    printf(
        "bf16 DiT (tiny, depth 2): rel %.2e vs the float64 forward with bf16 products; vs float32: ours rel %.2e, "
        "PyTorch autocast rel %.2e\n",
        spec.rel, ours.rel, torch.rel);
    ck_assert_msg(ours.rel <= torch.rel + AUTOCAST_SLACK, "bf16 DiT: rel %.3e vs float32, autocast's %.3e", ours.rel,
                  torch.rel);
    free(b1), free(b2), free(want), free(fp32), free(autocast);
    msf_h5_close(g);
}
END_TEST

// Features (n, dim) of a feature network through fn at `threads` threads, in
// calls of `split` images of x_stride floats each.
typedef msf_status (*features_fn)(void *model, float *f, const float *x, int k);

static float *features_run(features_fn fn, void *model, const float *x, size_t x_stride, int n, size_t dim, int threads,
                           int split) {
    float *f = malloc((size_t)n * dim * sizeof *f);
    ck_assert_ptr_nonnull(f);
    int saved = omp_get_max_threads();
    omp_set_num_threads(threads);
    for (int i = 0; i < n; i += split) {
        int k = n - i < split ? n - i : split;
        ck_assert_msg(fn(model, f + (size_t)i * dim, x + (size_t)i * x_stride, k) == MSF_OK, "%s", msf_error_message());
    }
    omp_set_num_threads(saved);
    return f;
}

static msf_status classifier_fn(void *m, float *f, const float *x, int k) {
    return msf_classifier_forward(m, f, NULL, x, k);
}

// Classifier features in precision p (see features_run).
static float *classifier_run(msf_classifier *m, nn_precision p, const float *x, int n, int threads, int split) {
    ck_assert_msg(msf_classifier_set_precision(m, p) == MSF_OK, "%s", msf_error_message());
    return features_run(classifier_fn, m, x, 28 * 28, n, (size_t)msf_classifier_get_config(m)->features, threads,
                        split);
}

START_TEST(test_classifier) {
    if (!nn_bf16_available()) {
        tu_skip("test_bf16: this build has no oneDNN (libdnnl-dev; make DNNL=1)");
        return;
    }
    msf_idx_opts o = msf_idx_defaults();
    o.pad_to = 0;
    o.range = MSF_BYTES_SIGNED;
    float *x = NULL;
    int64_t n = 0;
    int h = 0, w = 0;
    ck_assert_msg(msf_idx_read_images("/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz", &o, &x, &n, &h,
                                      &w) == MSF_OK,
                  "%s (install dataset-fashion-mnist)", msf_error_message());
    const int N = 500;
    msf_classifier *m = NULL;
    ck_assert_msg(msf_classifier_load("models/fmnist_classifier.h5", &m) == MSF_OK, "%s", msf_error_message());
    size_t len = (size_t)N * msf_classifier_get_config(m)->features;
    float *f32 = classifier_run(m, NN_FP32, x, N, 2, N), *b1 = classifier_run(m, NN_BF16, x, N, 1, N),
          *b2 = classifier_run(m, NN_BF16, x, N, 2, 37);
    ck_assert_msg(memcmp(b1, b2, len * sizeof *b1) == 0,
                  "bf16 classifier: 1 thread in one call and 2 in calls of 37 "
                  "gave other bits");
    tu_cmp c = tu_compare(b1, f32, len);
    printf("bf16 classifier features of %d Fashion-MNIST test images vs fp32: rel %.2e (NMSE %.2e)\n", N, c.rel,
           c.nmse);
    ck_assert(tu_expect_close("bf16 classifier features vs fp32", b1, f32, len, TOL_FEATURES));
    free(f32), free(b1), free(b2), free(x);
    msf_classifier_free(m);
}
END_TEST

static msf_status inception_fn(void *m, float *f, const float *x, int k) {
    return inception_forward(m, f, NULL, NULL, x, k, 75, 75);
}

// Pool features of the scaled Inception on 75x75 images in precision p (see features_run).
static float *inception_run(inception_model *m, nn_precision p, const float *x, int n, int threads, int split,
                            size_t dim) {
    ck_assert_msg(inception_set_precision(m, p) == MSF_OK, "%s", msf_error_message());
    return features_run(inception_fn, m, x, 3 * 75 * 75, n, dim, threads, split);
}

START_TEST(test_inception) {
    if (!nn_bf16_available()) {
        tu_skip("test_bf16: this build has no oneDNN (libdnnl-dev; make DNNL=1)");
        return;
    }
    msf_h5_reader *g = NULL;
    ck_assert_msg(msf_h5_open(&g, "tests/golden/inception_blocks.h5") == MSF_OK, "%s", msf_error_message());
    inception_config cfg;
    ck_assert_int_eq(inception_config_scaled(&cfg, (int)tu_golden_int(g, "tiny", "width_divisor"),
                                             (int)tu_golden_int(g, "tiny", "num_classes")),
                     MSF_OK);
    inception_model *m = NULL;
    // (a threads-sized workspace: the model is loaded under 2 threads)
    int saved = omp_get_max_threads();
    omp_set_num_threads(2);
    ck_assert_msg(inception_load(&m, g, "tiny", &cfg, 75, 75) == MSF_OK, "%s", msf_error_message());
    omp_set_num_threads(saved);
    const int n = 4;
    size_t dim = (size_t)inception_block_out_channels(&cfg.blocks[cfg.num_blocks - 1]);
    float *x = malloc((size_t)n * 3 * 75 * 75 * sizeof *x);
    ck_assert_ptr_nonnull(x);
    msf_rng_key key = {.seed = 17};
    ck_assert_int_eq(msf_rng_uniform(x, (size_t)n * 3 * 75 * 75, key, 0), MSF_OK);
    for (size_t i = 0; i < (size_t)n * 3 * 75 * 75; i++) x[i] = 2 * x[i] - 1;
    float *f32 = inception_run(m, NN_FP32, x, n, 2, n, dim), *b1 = inception_run(m, NN_BF16, x, n, 1, n, dim),
          *b2 = inception_run(m, NN_BF16, x, n, 2, 3, dim);
    ck_assert_msg(memcmp(b1, b2, (size_t)n * dim * sizeof *b1) == 0,
                  "bf16 inception: 1 thread in one call and 2 in calls of 3 gave other bits");
    tu_cmp c = tu_compare(b1, f32, (size_t)n * dim);
    printf("bf16 inception (16x scaled, 75x75) pool features vs fp32: rel %.2e (NMSE %.2e)\n", c.rel, c.nmse);
    ck_assert(tu_expect_close("bf16 inception pool vs fp32", b1, f32, (size_t)n * dim, TOL_FEATURES));
    ck_assert_int_eq(inception_set_precision(m, NN_FP32), MSF_OK);
    free(f32), free(b1), free(b2), free(x);
    inception_free(m);
    msf_h5_close(g);
}
END_TEST

// The VAE's `part` on x (n images of the golden case) in precision p at `threads` threads.
static float *vae_run(msf_h5_reader *g, int part, nn_precision p, int threads, const float *x, int n, int h, int w,
                      int H, int W, size_t out_n) {
    vae_model m;
    ck_assert_msg(vae_load(&m, g, "vae", part, H, W) == MSF_OK, "%s", msf_error_message());
    ck_assert_msg(vae_set_precision(&m, p) == MSF_OK, "%s", msf_error_message());
    float *out = malloc(out_n * sizeof *out);
    ck_assert_ptr_nonnull(out);
    int saved = omp_get_max_threads();
    omp_set_num_threads(threads);
    msf_status s =
        part == VAE_DECODER ? vae_decoder_forward(&m, out, x, n, h, w) : vae_encoder_forward(&m, out, x, n, H, W);
    omp_set_num_threads(saved);
    ck_assert_msg(s == MSF_OK, "%s", msf_error_message());
    ck_assert_uint_le(m.ws.peak, m.ws.capacity);
    vae_free(&m);
    return out;
}

START_TEST(test_vae) {
    if (!nn_bf16_available()) {
        tu_skip("test_bf16: this build has no oneDNN (libdnnl-dev; make DNNL=1)");
        return;
    }
    msf_h5_reader *g = tu_golden_open("vae_tiny.h5");
    size_t nz, nx;
    int64_t zs[4], xs[4];
    int nd;
    float *z = tu_golden_load(g, "dec/z", &nz, &nd, zs), *x = tu_golden_load(g, "dec/x", &nx, &nd, xs);
    int n = (int)zs[0], h = (int)zs[2], w = (int)zs[3], H = (int)xs[2], W = (int)xs[3];
    for (size_t i = 0; i < nz; i++) z[i] /= 0.18215f;  // the raw decoder's input (any values do)
    float *f32 = vae_run(g, VAE_DECODER, NN_FP32, 2, z, n, h, w, H, W, nx),
          *b1 = vae_run(g, VAE_DECODER, NN_BF16, 1, z, n, h, w, H, W, nx),
          *b2 = vae_run(g, VAE_DECODER, NN_BF16, 2, z, n, h, w, H, W, nx);
    ck_assert_msg(memcmp(b1, b2, nx * sizeof *b1) == 0, "bf16 VAE decoder: 1 and 2 threads gave other bits");
    tu_cmp c = tu_compare(b1, f32, nx);
    printf("bf16 VAE decoder (tiny, %dx%d): rel %.2e vs fp32 (NMSE %.2e)\n", H, W, c.rel, c.nmse);
    ck_assert(tu_expect_close("bf16 VAE decoder vs fp32", b1, f32, nx, TOL_FEATURES));
    // The encoder on the fp32 decoder's images.
    size_t nm = (size_t)n * 2 * zs[1] * h * w;
    float *e32 = vae_run(g, VAE_ENCODER, NN_FP32, 2, f32, n, h, w, H, W, nm),
          *e1 = vae_run(g, VAE_ENCODER, NN_BF16, 1, f32, n, h, w, H, W, nm),
          *e2 = vae_run(g, VAE_ENCODER, NN_BF16, 2, f32, n, h, w, H, W, nm);
    ck_assert_msg(memcmp(e1, e2, nm * sizeof *e1) == 0, "bf16 VAE encoder: 1 and 2 threads gave other bits");
    c = tu_compare(e1, e32, nm);
    printf("bf16 VAE encoder (tiny, %dx%d): rel %.2e vs fp32 (NMSE %.2e)\n", H, W, c.rel, c.nmse);
    ck_assert(tu_expect_close("bf16 VAE encoder vs fp32", e1, e32, nm, TOL_FEATURES));
    free(z), free(x), free(f32), free(b1), free(b2), free(e32), free(e1), free(e2);
    msf_h5_close(g);
}
END_TEST

START_TEST(test_without_onednn_says_so) {
    if (nn_bf16_available()) return;
    nn_bf16_linear *l;
    float w = 1;
    ck_assert_int_ne(nn_bf16_linear_create(&l, &w, NULL, 1, 1), MSF_OK);
    ck_assert_ptr_nonnull(strstr(msf_error_message(), "without oneDNN"));
}
END_TEST

int main(void) {
    Suite *s = suite_create("bf16");
    TCase *tc = tcase_create("linear");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_conversion_equals_torch);
    tcase_add_test(tc, test_linear_against_torch);
    tcase_add_test(tc, test_dit_against_torch);
    tcase_add_test(tc, test_classifier);
    tcase_add_test(tc, test_inception);
    tcase_add_test(tc, test_vae);
    tcase_add_test(tc, test_without_onednn_says_so);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
