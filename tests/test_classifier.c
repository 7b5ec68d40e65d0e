// test_classifier.c: the Fashion-MNIST classifier (eval/classifier.c) against
// the PyTorch reference (tools/reference/classifier.py; goldens by
// tools/golden/gen_classifier.py): features and logits of 32x32 and 28x28
// uint8 images, the featnet interface, the same bits for any thread count,
// batch split and resize mode, the input rules and the loader's errors; and
// the committed trained model (models/fmnist_classifier.h5) on the first
// 1000 Fashion-MNIST test images against what its exporter recorded.
#include <check.h>
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/arena.h"
#include "eval/classifier.h"
#include "eval/featnet.h"
#include "eval/metrics.h"
#include "io/h5write.h"
#include "io/idx.h"
#include "io/npz.h"
#include "testutil.h"

#define GOLDEN "classifier_tiny.h5"
// The loader error tests edit the tiny model: they always read the committed file.
#define TINY "tests/golden/classifier_tiny.h5"
#define MODEL "models/fmnist_classifier.h5"
#define T10K_STATS "models/fmnist_t10k_stats.npz"
#define T10K_IMAGES "/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz"
#define T10K_LABELS "/usr/share/datasets/fashion-mnist/t10k-labels-idx1-ubyte.gz"

typedef struct {
    uint8_t *images;
    int n, h, w;
    float *features, *logits;  // references
} golden_set;

static golden_set load_set(msf_h5_reader *g, const char *suffix) {
    golden_set s;
    char name[64];
    int64_t shape[8];
    int nd;
    size_t n;
    snprintf(name, sizeof name, "check/images%s", suffix);
    float *pix = tu_golden_load(g, name, &n, &nd, shape);
    ck_assert_int_eq(nd, 4);
    ck_assert_int_eq(shape[3], 1);
    s.n = (int)shape[0], s.h = (int)shape[1], s.w = (int)shape[2];
    s.images = malloc(n);
    for (size_t i = 0; i < n; i++) s.images[i] = (uint8_t)pix[i];
    free(pix);
    snprintf(name, sizeof name, "check/features%s", suffix);
    s.features = tu_golden_load(g, name, &n, NULL, NULL);
    snprintf(name, sizeof name, "check/logits%s", suffix);
    s.logits = tu_golden_load(g, name, &n, NULL, NULL);
    return s;
}

static void free_set(golden_set *s) {
    free(s->images);
    free(s->features);
    free(s->logits);
}

static msf_featnet *load_net(const char *path) {
    msf_featnet *net = NULL;
    msf_status st = msf_featnet_load(path, &net);
    ck_assert_msg(st == MSF_OK, "loading %s: %s", path, msf_error_message());
    return net;
}

// -----------------------------------------------------------------------------
// Against the float64 PyTorch reference

START_TEST(test_golden) {
    msf_h5_reader *g = tu_golden_open(GOLDEN);
    double tol = tu_golden_double(g, NULL, "tolerance");
    msf_featnet *net = load_net(tu_golden_path(GOLDEN));
    const msf_featnet_info *info = msf_featnet_get_info(net);
    ck_assert_str_eq(info->kind, "fmnist_classifier");
    ck_assert_int_eq(info->pool_dim, (int)tu_golden_int(g, NULL, "features"));
    ck_assert_int_eq(info->logits_dim, (int)tu_golden_int(g, NULL, "num_classes"));
    ck_assert_int_eq(info->num_classes, info->logits_dim);
    ck_assert_int_eq(info->spatial_dim, 0);
    ck_assert(info->in_c == 1 && info->in_h == 28 && info->in_w == 28);
    const char *suffixes[] = {"32", "28"};
    for (int k = 0; k < 2; k++) {
        golden_set s = load_set(g, suffixes[k]);
        float *pool = malloc((size_t)s.n * info->pool_dim * sizeof(float));
        float *logits = malloc((size_t)s.n * info->logits_dim * sizeof(float));
        ck_assert_msg(msf_featnet_run(net, s.images, s.n, s.h, s.w, 1, MSF_RESIZE_ADM, pool, NULL, logits) == MSF_OK,
                      "%s", msf_error_message());
        tu_cmp ef = tu_compare(pool, s.features, (size_t)s.n * info->pool_dim);
        tu_cmp el = tu_compare(logits, s.logits, (size_t)s.n * info->logits_dim);
        fprintf(stderr, "classifier golden %dx%d: features rel %.2e, logits rel %.2e (tolerance %.0e)\n", s.h, s.w,
                ef.rel, el.rel, tol);
        char what[64];
        snprintf(what, sizeof what, "features of %dx%d images", s.h, s.w);
        ck_assert(tu_expect_close(what, pool, s.features, (size_t)s.n * info->pool_dim, tol));
        snprintf(what, sizeof what, "logits of %dx%d images", s.h, s.w);
        ck_assert(tu_expect_close(what, logits, s.logits, (size_t)s.n * info->logits_dim, tol));
        free(pool), free(logits);
        free_set(&s);
    }
    msf_featnet_free(net);
    msf_h5_close(g);
}
END_TEST

// -----------------------------------------------------------------------------
// Same bits: threads, batch splits, resize modes, grey stored as RGB / RGBA,
// the direct API

typedef struct {
    float *pool, *logits;
} outputs;

static outputs run_split(msf_featnet *net, const uint8_t *images, int n, int h, int w, int c, int piece,
                         msf_resize_mode mode) {
    const msf_featnet_info *info = msf_featnet_get_info(net);
    outputs o = {calloc((size_t)n * info->pool_dim, sizeof(float)),
                 calloc((size_t)n * info->logits_dim, sizeof(float))};
    size_t img = (size_t)h * w * c;
    for (int i = 0; i < n; i += piece) {
        int k = n - i < piece ? n - i : piece;
        msf_status st = msf_featnet_run(net, images + i * img, k, h, w, c, mode, o.pool + (size_t)i * info->pool_dim,
                                        NULL, o.logits + (size_t)i * info->logits_dim);
        ck_assert_msg(st == MSF_OK, "%s", msf_error_message());
    }
    return o;
}

static void expect_same(const char *what, outputs a, outputs b, const msf_featnet_info *info, int n) {
    ck_assert_msg(memcmp(a.pool, b.pool, (size_t)n * info->pool_dim * sizeof(float)) == 0, "%s: features differ", what);
    ck_assert_msg(memcmp(a.logits, b.logits, (size_t)n * info->logits_dim * sizeof(float)) == 0, "%s: logits differ",
                  what);
}

static void free_outputs(outputs o) {
    free(o.pool);
    free(o.logits);
}

START_TEST(test_same_bits) {
    msf_h5_reader *g = tu_golden_open(GOLDEN);
    golden_set s = load_set(g, "32");
    msf_featnet *net = load_net(tu_golden_path(GOLDEN));
    const msf_featnet_info *info = msf_featnet_get_info(net);
    int threads = omp_get_max_threads();
    omp_set_num_threads(1);
    outputs ref = run_split(net, s.images, s.n, s.h, s.w, 1, s.n, MSF_RESIZE_ADM);
    omp_set_num_threads(threads > 1 ? threads : 2);
    outputs t = run_split(net, s.images, s.n, s.h, s.w, 1, s.n, MSF_RESIZE_ADM);
    expect_same("1 thread vs several", ref, t, info, s.n);
    free_outputs(t);
    int pieces[] = {1, 5, 17, 32};
    for (int k = 0; k < 4; k++) {
        t = run_split(net, s.images, s.n, s.h, s.w, 1, pieces[k], MSF_RESIZE_ADM);
        char what[64];
        snprintf(what, sizeof what, "batches of %d", pieces[k]);
        expect_same(what, ref, t, info, s.n);
        free_outputs(t);
    }
    omp_set_num_threads(threads);
    // The resize mode is ignored.
    t = run_split(net, s.images, s.n, s.h, s.w, 1, s.n, MSF_RESIZE_CLEAN);
    expect_same("resize mode clean vs adm", ref, t, info, s.n);
    free_outputs(t);
    // Grey images stored as RGB (R = G = B) and RGBA (any alpha).
    for (int c = 3; c <= 4; c++) {
        size_t px = (size_t)s.n * s.h * s.w;
        uint8_t *rgb = malloc(px * c);
        for (size_t i = 0; i < px; i++)
            for (int ch = 0; ch < c; ch++) rgb[i * c + ch] = ch < 3 ? s.images[i] : (uint8_t)(i * 7);
        t = run_split(net, rgb, s.n, s.h, s.w, c, s.n, MSF_RESIZE_ADM);
        expect_same(c == 3 ? "grey as RGB" : "grey as RGBA", ref, t, info, s.n);
        free_outputs(t);
        free(rgb);
    }
    // The direct API gives the featnet's bits.
    msf_classifier *m = NULL;
    ck_assert_int_eq(msf_classifier_load(tu_golden_path(GOLDEN), &m), MSF_OK);
    const msf_classifier_config *cfg = msf_classifier_get_config(m);
    ck_assert_int_eq(cfg->features, info->pool_dim);
    float *x = malloc((size_t)s.n * 28 * 28 * sizeof(float));
    ck_assert_int_eq(msf_classifier_input(x, s.images, s.n, s.h, s.w, 1), MSF_OK);
    ck_assert_float_eq(x[0], (float)s.images[2 * 32 + 2] / 127.5f - 1.0f);  // the crop starts at (2, 2)
    t = (outputs){malloc((size_t)s.n * cfg->features * sizeof(float)),
                  malloc((size_t)s.n * cfg->num_classes * sizeof(float))};
    ck_assert_int_eq(msf_classifier_forward(m, t.pool, t.logits, x, s.n), MSF_OK);
    expect_same("msf_classifier_forward", ref, t, info, s.n);
    // Logits only.
    memset(t.logits, 0, (size_t)s.n * cfg->num_classes * sizeof(float));
    ck_assert_int_eq(msf_classifier_forward(m, NULL, t.logits, x, s.n), MSF_OK);
    ck_assert(memcmp(t.logits, ref.logits, (size_t)s.n * cfg->num_classes * sizeof(float)) == 0);
    free_outputs(t);
    free(x);
    msf_classifier_free(m);
    free_outputs(ref);
    msf_featnet_free(net);
    free_set(&s);
    msf_h5_close(g);
}
END_TEST

#define EXPECT_MSG(text) \
    ck_assert_msg(strstr(msf_error_message(), text), "message '%s' lacks '%s'", msf_error_message(), text)

START_TEST(test_input_errors) {
    msf_featnet *net = load_net(TINY);
    const msf_featnet_info *info = msf_featnet_get_info(net);
    uint8_t *img = calloc(2 * 33 * 33 * 4, 1);
    float pool[2 * 64], logits[2 * 64];
    ck_assert_int_le(info->pool_dim, 64);
    ck_assert_int_eq(msf_featnet_run(net, img, 2, 30, 30, 1, MSF_RESIZE_ADM, pool, NULL, logits), MSF_ERR_SHAPE);
    EXPECT_MSG("30x30");
    ck_assert_int_eq(msf_featnet_run(net, img, 2, 28, 32, 1, MSF_RESIZE_ADM, pool, NULL, logits), MSF_ERR_SHAPE);
    ck_assert_int_eq(msf_featnet_run(net, img, 2, 28, 28, 2, MSF_RESIZE_ADM, pool, NULL, logits), MSF_ERR_SHAPE);
    img[(1 * 28 * 28 + 5 * 28 + 6) * 3 + 1] = 9;  // one green pixel in image 1
    ck_assert_int_eq(msf_featnet_run(net, img, 2, 28, 28, 3, MSF_RESIZE_ADM, pool, NULL, logits), MSF_ERR_INVALID);
    EXPECT_MSG("image 1 is in colour");
    EXPECT_MSG("row 5, column 6");
    float spatial[4];
    ck_assert_int_eq(msf_featnet_run(net, img, 1, 28, 28, 1, MSF_RESIZE_ADM, NULL, spatial, NULL), MSF_ERR_INVALID);
    free(img);
    msf_featnet_free(net);
}
END_TEST

// -----------------------------------------------------------------------------
// Loader errors on edited copies of the tiny model

enum { AS_IS, DROP, RESHAPE, EXTRA, NAN_VALUE, OTHER_MODEL, BAD_WIDTH };

static const char *TENSORS[] = {"conv1.weight", "conv1.bias", "conv2.weight", "conv2.bias", "conv3.weight",
                                "conv3.bias",   "fc1.weight", "fc1.bias",     "fc2.weight", "fc2.bias"};
static const char *WIDTHS[] = {"conv1_channels", "conv2_channels", "conv3_channels", "features", "num_classes"};

static void write_variant(const char *path, int how, const char *target) {
    msf_h5_reader *g = NULL;
    ck_assert_int_eq(msf_h5_open(&g, TINY), MSF_OK);
    msf_h5_writer *w = NULL;
    ck_assert_int_eq(msf_h5_create(&w, path), MSF_OK);
    for (int i = 0; i < 10; i++) {
        const msf_h5_tensor *info = msf_h5_find(g, TENSORS[i]);
        ck_assert_ptr_nonnull(info);
        int is_target = target && strcmp(TENSORS[i], target) == 0;
        if (how == DROP && is_target) continue;
        size_t n;
        int nd;
        int64_t shape[8];
        float *data = tu_golden_load(g, TENSORS[i], &n, &nd, shape);
        if (how == RESHAPE && is_target) shape[0] += 1, data = realloc(data, n * 2 * sizeof(float));
        if (how == NAN_VALUE && is_target) data[n / 2] = NAN;
        ck_assert_int_eq(msf_h5_write_f32(w, TENSORS[i], nd, shape, data), MSF_OK);
        if (how == EXTRA && is_target) ck_assert_int_eq(msf_h5_write_f32(w, "fc3.weight", nd, shape, data), MSF_OK);
        free(data);
    }
    ck_assert_int_eq(msf_h5_attr_string(w, NULL, "model", how == OTHER_MODEL ? "dit" : "fmnist_classifier"), MSF_OK);
    ck_assert_int_eq(msf_h5_attr_int(w, NULL, "input_size", 28), MSF_OK);
    for (int i = 0; i < 5; i++) {
        int64_t v = tu_golden_int(g, NULL, WIDTHS[i]);
        if (how == BAD_WIDTH && strcmp(WIDTHS[i], target) == 0) v = 0;
        ck_assert_int_eq(msf_h5_attr_int(w, NULL, WIDTHS[i], v), MSF_OK);
    }
    ck_assert_int_eq(msf_h5_commit(w), MSF_OK);
    msf_h5_close(g);
}

static msf_status try_load(const char *path) {
    msf_classifier *m = NULL;
    msf_status s = msf_classifier_load(path, &m);
    ck_assert(s == MSF_OK ? m != NULL : m == NULL);
    msf_classifier_free(m);
    return s;
}

START_TEST(test_loader_errors) {
    char path[] = "/tmp/msf_classifier_XXXXXX";
    int fd = mkstemp(path);
    ck_assert_int_ge(fd, 0);
    close(fd);
    write_variant(path, AS_IS, NULL);
    ck_assert_msg(try_load(path) == MSF_OK, "%s", msf_error_message());

    write_variant(path, DROP, "conv2.bias");
    ck_assert_int_eq(try_load(path), MSF_ERR_NOT_FOUND);
    EXPECT_MSG("tensor 'conv2.bias' not found");

    write_variant(path, RESHAPE, "fc1.weight");
    ck_assert_int_eq(try_load(path), MSF_ERR_SHAPE);
    EXPECT_MSG("tensor 'fc1.weight'");
    EXPECT_MSG("has shape [13, 72], expected [12, 72]");

    write_variant(path, EXTRA, "fc2.bias");
    ck_assert_int_eq(try_load(path), MSF_ERR_FORMAT);
    EXPECT_MSG("tensor 'fc3.weight'");

    write_variant(path, NAN_VALUE, "conv3.weight");
    ck_assert_int_eq(try_load(path), MSF_ERR_NUMERIC);
    EXPECT_MSG("'conv3.weight'");

    write_variant(path, OTHER_MODEL, NULL);
    ck_assert_int_eq(try_load(path), MSF_ERR_FORMAT);
    EXPECT_MSG("'dit' model");

    write_variant(path, BAD_WIDTH, "features");
    ck_assert_int_eq(try_load(path), MSF_ERR_FORMAT);
    EXPECT_MSG("features = 0");

    ck_assert_int_eq(try_load("tests/golden/no_such_classifier.h5"), MSF_ERR_IO);
    EXPECT_MSG("no_such_classifier.h5");
    // A weight file of another model.
    ck_assert_int_eq(try_load("tests/golden/dit_tiny.h5"), MSF_ERR_FORMAT);
    EXPECT_MSG("not a classifier weight file");
    // A truncated file.
    FILE *src = fopen(TINY, "rb"), *dst = fopen(path, "wb");
    ck_assert(src && dst);
    char buf[4096];
    size_t got = fread(buf, 1, sizeof buf, src);
    ck_assert_uint_eq(got, sizeof buf);
    ck_assert_uint_eq(fwrite(buf, 1, got, dst), got);
    fclose(src);
    fclose(dst);
    ck_assert_int_ne(try_load(path), MSF_OK);
    unlink(path);
}
END_TEST

// -----------------------------------------------------------------------------
// The committed trained model on real data

START_TEST(test_trained_model) {
    msf_h5_reader *w = NULL;
    ck_assert_msg(msf_h5_open(&w, MODEL) == MSF_OK, "%s (train it with tools/train_classifier.py)",
                  msf_error_message());
    double py_acc = 0;
    ck_assert_int_eq(msf_h5_get_attr_double(w, NULL, "test_accuracy", &py_acc), MSF_OK);
    ck_assert_msg(py_acc >= 0.90, "recorded test accuracy %.4f < 0.90", py_acc);
    size_t n_pred, n_logits;
    int64_t shape[8];
    int nd;
    float *pred = tu_golden_load(w, "check/t10k_pred", &n_pred, NULL, NULL);
    float *want_logits = tu_golden_load(w, "check/t10k_logits", &n_logits, &nd, shape);
    msf_h5_close(w);
    int n = (int)n_pred;
    ck_assert_int_eq(n, 1000);

    msf_idx_opts o = msf_idx_defaults();
    o.pad_to = 0;
    o.max_images = n;
    float *x = NULL;
    int64_t count = 0;
    int h = 0, wd = 0;
    ck_assert_msg(msf_idx_read_images(T10K_IMAGES, &o, &x, &count, &h, &wd) == MSF_OK,
                  "%s (install dataset-fashion-mnist)", msf_error_message());
    ck_assert_int_eq(count, n);
    int64_t *labels = NULL, nl = 0;
    ck_assert_int_eq(msf_idx_read_labels(T10K_LABELS, n, &labels, &nl), MSF_OK);
    // Back to uint8, padded to 32x32 with 0 (black) as the demo models' images are.
    uint8_t *img = calloc((size_t)n * 32 * 32, 1);
    for (int i = 0; i < n; i++)
        for (int r = 0; r < 28; r++)
            for (int c = 0; c < 28; c++)
                img[((size_t)i * 32 + r + 2) * 32 + c + 2] = (uint8_t)lrintf(x[((size_t)i * 28 + r) * 28 + c] * 255.0f);
    msf_aligned_free(x);

    msf_featnet *net = load_net(MODEL);
    const msf_featnet_info *info = msf_featnet_get_info(net);
    ck_assert_int_eq(info->logits_dim, 10);
    ck_assert_int_eq((int)shape[1], 10);
    float *pool = malloc((size_t)n * info->pool_dim * sizeof(float)), *logits = malloc((size_t)n * 10 * sizeof(float));
    ck_assert_int_eq(msf_featnet_run(net, img, n, 32, 32, 1, MSF_RESIZE_ADM, pool, NULL, logits), MSF_OK);
    int agree = 0, correct_c = 0, correct_py = 0;
    for (int i = 0; i < n; i++) {
        int best = 0;
        for (int k = 1; k < 10; k++)
            if (logits[i * 10 + k] > logits[i * 10 + best]) best = k;
        agree += best == (int)pred[i];
        correct_c += best == labels[i];
        correct_py += (int)pred[i] == labels[i];
    }
    fprintf(stderr, "trained classifier, first %d t10k images: C accuracy %.3f, PyTorch %.3f, argmax agrees on %d\n", n,
            correct_c / (double)n, correct_py / (double)n, agree);
    // Near-ties between two logits may flip the argmax under float32
    // rounding differences, so one disagreement in 1000 is allowed.
    ck_assert_int_ge(agree, n - 1);
    // float32 vs float32 with different summation orders.
    ck_assert(tu_expect_close("trained logits vs PyTorch float32", logits, want_logits, (size_t)n * 10, 1e-4));
    msf_featnet_free(net);
    free(pool), free(logits), free(img), free(labels), free(pred), free(want_logits);
}
END_TEST

// The committed t10k statistics (tools/fmnist_reference_stats.py, from
// PyTorch's features) are those of the C features.
START_TEST(test_trained_stats) {
    msf_idx_opts o = msf_idx_defaults();
    o.pad_to = 0;
    o.range = MSF_BYTES_SIGNED;  // p / 127.5f - 1: the classifier's own input
    float *x = NULL;
    int64_t n = 0;
    int h = 0, w = 0;
    ck_assert_msg(msf_idx_read_images(T10K_IMAGES, &o, &x, &n, &h, &w) == MSF_OK, "%s (install dataset-fashion-mnist)",
                  msf_error_message());
    ck_assert_int_eq(n, 10000);
    msf_classifier *m = NULL;
    ck_assert_msg(msf_classifier_load(MODEL, &m) == MSF_OK, "%s", msf_error_message());
    int dim = msf_classifier_get_config(m)->features;
    float *feats = malloc((size_t)n * dim * sizeof(float));
    ck_assert_int_eq(msf_classifier_forward(m, feats, NULL, x, (int)n), MSF_OK);
    msf_fid_stats c = {0}, py = {0};
    ck_assert_int_eq(msf_fid_stats_compute(&c, feats, n, dim, "t10k features"), MSF_OK);
    int nd;
    int64_t shape[MSF_NPY_MAX_DIMS];
    py.dim = dim;
    ck_assert_msg(msf_npz_load_f64(T10K_STATS, "mu", &py.mu, &nd, shape) == MSF_OK, "%s", msf_error_message());
    ck_assert(nd == 1 && shape[0] == dim);
    ck_assert_msg(msf_npz_load_f64(T10K_STATS, "sigma", &py.sigma, &nd, shape) == MSF_OK, "%s", msf_error_message());
    ck_assert(nd == 2 && shape[0] == dim && shape[1] == dim);
    double max_mu = 0, err_mu = 0, max_s = 0, err_s = 0;
    for (int i = 0; i < dim; i++) {
        max_mu = fmax(max_mu, fabs(py.mu[i]));
        err_mu = fmax(err_mu, fabs(c.mu[i] - py.mu[i]));
    }
    for (size_t i = 0; i < (size_t)dim * dim; i++) {
        max_s = fmax(max_s, fabs(py.sigma[i]));
        err_s = fmax(err_s, fabs(c.sigma[i] - py.sigma[i]));
    }
    double fd = -1;
    ck_assert_int_eq(msf_fid_from_stats(&fd, &c, &py), MSF_OK);
    fprintf(stderr, "t10k statistics, C vs committed: mu rel %.2e, sigma rel %.2e, FD %.3e\n", err_mu / max_mu,
            err_s / max_s, fd);
    // float32 features from two implementations: ~1e-6 apart.
    ck_assert_msg(err_mu <= 1e-4 * max_mu && err_s <= 1e-4 * max_s, "statistics differ: mu rel %g, sigma rel %g",
                  err_mu / max_mu, err_s / max_s);
    ck_assert_msg(fabs(fd) < 1e-4, "FD between C and committed t10k statistics %g", fd);
    msf_fid_stats_free(&c);
    msf_fid_stats_free(&py);
    free(feats);
    msf_aligned_free(x);
    msf_classifier_free(m);
}
END_TEST

int main(void) {
    Suite *s = suite_create("classifier");
    TCase *tc = tcase_create("classifier");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_golden);
    tcase_add_test(tc, test_same_bits);
    tcase_add_test(tc, test_input_errors);
    tcase_add_test(tc, test_loader_errors);
    tcase_add_test(tc, test_trained_model);
    tcase_add_test(tc, test_trained_stats);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
