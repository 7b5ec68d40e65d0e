// test_metrics.c: eval/metrics.c against NumPy/SciPy (goldens by
// tools/golden/gen_metrics.py): mean and covariance as np.mean/np.cov, FID as
// ADM computes it with scipy.linalg.sqrtm (well-conditioned, singular n < d,
// identical statistics), Inception Score, precision/recall radii and shares,
// KID on numpy's subsets, class consistency; plus properties (tr sqrtm(S S) =
// tr S), the same bits for 1 and 2 threads, and bad-input errors.
#include <check.h>
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "eval/metrics.h"
#include "testutil.h"

#define GOLDEN "metrics.h5"

static double max_rel_f64(const double *got, const double *want, size_t n) {
    double err = 0, mx = 0;
    for (size_t i = 0; i < n; i++) {
        err = fmax(err, fabs(got[i] - want[i]));
        mx = fmax(mx, fabs(want[i]));
    }
    return mx > 0 ? err / mx : err;
}

static int64_t *load_i64(msf_weights *g, const char *name, size_t *n) {
    double *d = tu_golden_load_f64(g, name, n);
    int64_t *x = malloc(*n * sizeof(int64_t));
    for (size_t i = 0; i < *n; i++) x[i] = (int64_t)d[i];
    free(d);
    return x;
}

// Statistics from two golden fields.
static msf_fid_stats load_stats(msf_weights *g, const char *mu, const char *sigma) {
    size_t n, nn;
    msf_fid_stats s;
    s.mu = tu_golden_load_f64(g, mu, &n);
    s.sigma = tu_golden_load_f64(g, sigma, &nn);
    ck_assert_int_eq((int)(n * n), (int)nn);
    s.dim = (int)n;
    return s;
}

START_TEST(test_stats_equal_numpy) {
    msf_weights *g = tu_golden_open(GOLDEN);
    size_t n;
    int64_t shape[8];
    int nd;
    float *feats = tu_golden_load(g, "stats/feats", &n, &nd, shape);
    msf_fid_stats want = load_stats(g, "stats/mu", "stats/sigma");
    int d = (int)shape[1];
    msf_fid_stats got, got1;
    ck_assert_msg(msf_fid_stats_compute(&got, feats, shape[0], d, "golden") == MSF_OK, "%s", msf_error_message());
    double emu = max_rel_f64(got.mu, want.mu, (size_t)d), esig = max_rel_f64(got.sigma, want.sigma, (size_t)d * d);
    printf("stats vs numpy (%lld x %d): mu rel %.2e, sigma rel %.2e\n", (long long)shape[0], d, emu, esig);
    ck_assert_msg(emu <= 1e-12 && esig <= 1e-12, "mu rel %g, sigma rel %g (tolerance 1e-12)", emu, esig);
    int threads = omp_get_max_threads();
    omp_set_num_threads(1);
    ck_assert_int_eq(msf_fid_stats_compute(&got1, feats, shape[0], d, "golden"), MSF_OK);
    omp_set_num_threads(threads < 2 ? 2 : threads);
    ck_assert(!memcmp(got.mu, got1.mu, (size_t)d * sizeof(double)));
    ck_assert(!memcmp(got.sigma, got1.sigma, (size_t)d * d * sizeof(double)));
    msf_fid_stats_free(&got), msf_fid_stats_free(&got1), msf_fid_stats_free(&want);
    free(feats);
    msf_weights_close(g);
}
END_TEST

START_TEST(test_fid_equals_scipy_sqrtm) {
    msf_weights *g = tu_golden_open(GOLDEN);
    int64_t cases = tu_golden_int(g, NULL, "fid_cases");
    for (int64_t c = 0; c < cases; c++) {
        char obj[32], what[64];
        snprintf(obj, sizeof obj, "fid%lld", (long long)c);
        ck_assert_int_eq(msf_weights_attr_string(g, obj, "what", what, sizeof what), MSF_OK);
        char mu1[64], s1[64], mu2[64], s2[64];
        snprintf(mu1, sizeof mu1, "%s/mu1", obj), snprintf(s1, sizeof s1, "%s/sigma1", obj);
        snprintf(mu2, sizeof mu2, "%s/mu2", obj), snprintf(s2, sizeof s2, "%s/sigma2", obj);
        msf_fid_stats a = load_stats(g, mu1, s1), b = load_stats(g, mu2, s2);
        double want = tu_golden_double(g, obj, "fid"), tol = tu_golden_double(g, obj, "tolerance"), got = NAN;
        ck_assert_msg(msf_fid_from_stats(&got, &a, &b) == MSF_OK, "%s: %s", what, msf_error_message());
        // Relative to the FID, or to 1 when the FID is about 0.
        double err = fabs(got - want) / fmax(fabs(want), 1.0);
        printf("FID %s (d %d): ours %.12g, scipy sqrtm %.12g, rel %.2e (tolerance %.0e)\n", what, a.dim, got, want,
               err, tol);
        ck_assert_msg(err <= tol, "FID %s: %.12g vs %.12g", what, got, want);
        msf_fid_stats_free(&a), msf_fid_stats_free(&b);
    }
    msf_weights_close(g);
}
END_TEST

// tr sqrtm(S S) = tr S for a symmetric positive definite S; and FID(x, x) = 0.
START_TEST(test_trace_sqrt_property) {
    int d = 40;
    double *a = malloc((size_t)d * d * sizeof(double)), *s = calloc((size_t)d * d, sizeof(double));
    srand(3);
    for (int i = 0; i < d * d; i++) a[i] = rand() / (double)RAND_MAX - 0.5;
    double tr = 0;
    for (int i = 0; i < d; i++) {
        for (int j = 0; j < d; j++)
            for (int k = 0; k < d; k++) s[i * d + j] += a[i * d + k] * a[j * d + k];
        s[i * d + i] += 0.1;
        tr += s[i * d + i];
    }
    double got;
    ck_assert_int_eq(msf_trace_sqrt_product(&got, s, s, d), MSF_OK);
    ck_assert_msg(fabs(got - tr) <= 1e-10 * tr, "tr sqrtm(S S) %.15g vs tr S %.15g", got, tr);
    free(a), free(s);
}
END_TEST

START_TEST(test_inception_score) {
    msf_weights *g = tu_golden_open(GOLDEN);
    size_t n;
    int64_t shape[8];
    int nd;
    float *logits = tu_golden_load(g, "is/logits", &n, &nd, shape);
    double want = tu_golden_double(g, "is", "score"), got;
    int split = (int)tu_golden_int(g, "is", "split");
    ck_assert_int_eq(msf_inception_score(&got, logits, shape[0], (int)shape[1], split), MSF_OK);
    printf("Inception Score: ours %.15g, numpy %.15g\n", got, want);
    ck_assert_msg(fabs(got - want) <= 1e-10 * want, "IS %.15g vs %.15g", got, want);
    // Identical rows: every p equals the mean, IS = 1.
    for (int64_t i = 1; i < shape[0]; i++) memcpy(logits + i * shape[1], logits, (size_t)shape[1] * sizeof(float));
    ck_assert_int_eq(msf_inception_score(&got, logits, shape[0], (int)shape[1], split), MSF_OK);
    ck_assert_msg(fabs(got - 1.0) <= 1e-12, "IS of identical rows %.17g", got);
    free(logits);
    msf_weights_close(g);
}
END_TEST

START_TEST(test_precision_recall) {
    msf_weights *g = tu_golden_open(GOLDEN);
    size_t n;
    int64_t sr[8], ss[8];
    int nd;
    float *ref = tu_golden_load(g, "pr/ref", &n, &nd, sr), *sample = tu_golden_load(g, "pr/sample", &n, &nd, ss);
    double *rr = tu_golden_load_f64(g, "pr/radii_ref", &n), *rs = tu_golden_load_f64(g, "pr/radii_sample", &n);
    int k = (int)tu_golden_int(g, "pr", "k"), d = (int)sr[1];
    float *got = malloc((size_t)sr[0] * sizeof(float));
    ck_assert_int_eq(msf_manifold_radii(got, ref, sr[0], d, k), MSF_OK);
    double err = 0;
    for (int64_t i = 0; i < sr[0]; i++) err = fmax(err, fabs(got[i] - rr[i]) / rr[i]);
    printf("manifold radii (k %d) vs float64 numpy: worst rel %.2e\n", k, err);
    ck_assert_msg(err <= 1e-5, "radii rel %g", err);
    double p, r;
    ck_assert_int_eq(msf_precision_recall(&p, &r, ref, sr[0], sample, ss[0], d, k), MSF_OK);
    double wp = tu_golden_double(g, "pr", "precision"), wr = tu_golden_double(g, "pr", "recall");
    printf("precision %.6f (numpy %.6f), recall %.6f (numpy %.6f)\n", p, wp, r, wr);
    ck_assert(p == wp && r == wr);
    // One thread: the same.
    int threads = omp_get_max_threads();
    omp_set_num_threads(1);
    double p1, r1;
    ck_assert_int_eq(msf_precision_recall(&p1, &r1, ref, sr[0], sample, ss[0], d, k), MSF_OK);
    omp_set_num_threads(threads);
    ck_assert(p1 == p && r1 == r);
    free(ref), free(sample), free(rr), free(rs), free(got);
    msf_weights_close(g);
}
END_TEST

START_TEST(test_kid) {
    msf_weights *g = tu_golden_open(GOLDEN);
    size_t n;
    int64_t sr[8], ss[8], sub[8];
    int nd;
    float *ref = tu_golden_load(g, "kid/ref", &n, &nd, sr), *sample = tu_golden_load(g, "kid/sample", &n, &nd, ss);
    free(tu_golden_load(g, "kid/subsets", &n, &nd, sub));
    int64_t *subsets = load_i64(g, "kid/subsets", &n);
    msf_kid_opts o = {.num_subsets = (int)sub[0], .max_subset_size = (int)sub[2], .seed = 0, .subsets = subsets};
    double got, want = tu_golden_double(g, "kid", "kid");
    ck_assert_msg(msf_kid(&got, ref, sr[0], sample, ss[0], (int)sr[1], &o) == MSF_OK, "%s", msf_error_message());
    printf("KID on numpy's subsets: ours %.15g, numpy %.15g\n", got, want);
    ck_assert_msg(fabs(got - want) <= 1e-10 * fabs(want), "KID %.15g vs %.15g", got, want);
    // Our own draws: reproducible, and near the numpy subsets' value.
    o.subsets = NULL, o.seed = 7, o.num_subsets = 50;
    double a, b;
    ck_assert_int_eq(msf_kid(&a, ref, sr[0], sample, ss[0], (int)sr[1], &o), MSF_OK);
    ck_assert_int_eq(msf_kid(&b, ref, sr[0], sample, ss[0], (int)sr[1], &o), MSF_OK);
    ck_assert(a == b);
    printf("KID with our draws (50 subsets): %.6g\n", a);
    ck_assert_msg(fabs(a - want) <= 0.1 * fabs(want), "KID with our subsets %g far from %g", a, want);
    free(ref), free(sample), free(subsets);
    msf_weights_close(g);
}
END_TEST

START_TEST(test_class_consistency) {
    msf_weights *g = tu_golden_open(GOLDEN);
    size_t n;
    int64_t sh[8];
    int nd;
    float *logits = tu_golden_load(g, "cc/logits", &n, &nd, sh);
    int64_t *labels = load_i64(g, "cc/labels", &n);
    double got, want = tu_golden_double(g, "cc", "consistency");
    ck_assert_int_eq(msf_class_consistency(&got, logits, labels, sh[0], (int)sh[1]), MSF_OK);
    ck_assert_msg(got == want, "class consistency %g vs %g", got, want);
    labels[3] = sh[1];
    ck_assert_int_eq(msf_class_consistency(&got, logits, labels, sh[0], (int)sh[1]), MSF_ERR_INVALID);
    free(logits), free(labels);
    msf_weights_close(g);
}
END_TEST

START_TEST(test_errors) {
    float f[12] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12};
    msf_fid_stats a, b;
    ck_assert_int_eq(msf_fid_stats_compute(&a, f, 1, 12, "one row"), MSF_ERR_INVALID);
    f[5] = NAN;
    ck_assert_int_eq(msf_fid_stats_compute(&a, f, 4, 3, "nan"), MSF_ERR_NUMERIC);
    ck_assert_ptr_nonnull(strstr(msf_error_message(), "row 1, column 2"));
    f[5] = 6;
    ck_assert_int_eq(msf_fid_stats_compute(&a, f, 4, 3, "a"), MSF_OK);
    ck_assert_int_eq(msf_fid_stats_compute(&b, f, 3, 4, "b"), MSF_OK);  // also warns: n < d
    double fid;
    ck_assert_int_eq(msf_fid_from_stats(&fid, &a, &b), MSF_ERR_SHAPE);
    msf_fid_stats_free(&b);
    ck_assert_int_eq(msf_fid_stats_compute(&b, f, 4, 3, "b"), MSF_OK);
    b.sigma[4] = INFINITY;
    ck_assert_int_eq(msf_fid_from_stats(&fid, &a, &b), MSF_ERR_NUMERIC);
    msf_fid_stats_free(&a), msf_fid_stats_free(&b);
    float radii[4];
    ck_assert_int_eq(msf_manifold_radii(radii, f, 3, 4, 3), MSF_ERR_INVALID);
    ck_assert_int_eq(msf_inception_score(&fid, f, 4, 3, 0), MSF_ERR_INVALID);
}
END_TEST

int main(void) {
    Suite *s = suite_create("metrics");
    TCase *tc = tcase_create("metrics");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_stats_equal_numpy);
    tcase_add_test(tc, test_fid_equals_scipy_sqrtm);
    tcase_add_test(tc, test_trace_sqrt_property);
    tcase_add_test(tc, test_inception_score);
    tcase_add_test(tc, test_precision_recall);
    tcase_add_test(tc, test_kid);
    tcase_add_test(tc, test_class_consistency);
    tcase_add_test(tc, test_errors);
    suite_add_tcase(s, tc);
    SRunner *r = srunner_create(s);
    srunner_run_all(r, CK_NORMAL);
    int failed = srunner_ntests_failed(r);
    srunner_free(r);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
