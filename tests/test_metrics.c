// test_metrics.c: eval/metrics.c against NumPy/SciPy (goldens by
// tools/golden/gen_metrics.py): mean and covariance as np.mean/np.cov, FID as
// ADM computes it with scipy.linalg.sqrtm (well-conditioned, singular n < d,
// identical statistics), Inception Score, precision/recall radii and shares,
// KID on numpy's subsets, class consistency; plus properties (tr sqrtm(S S) =
// tr S), the same bits for 1 and 2 threads, and bad-input errors; statistics
// checks (symmetric, PSD within 1e-6 x trace), FID round-off below 0, KID of
// sets that share rows.
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

static int64_t *load_i64(msf_h5_reader *g, const char *name, size_t *n) {
    double *d = tu_golden_load_f64(g, name, n);
    int64_t *x = malloc(*n * sizeof(int64_t));
    for (size_t i = 0; i < *n; i++) x[i] = (int64_t)d[i];
    free(d);
    return x;
}

// Statistics from two golden fields.
static msf_fid_stats load_stats(msf_h5_reader *g, const char *mu, const char *sigma) {
    size_t n, nn;
    msf_fid_stats s;
    s.mu = tu_golden_load_f64(g, mu, &n);
    s.sigma = tu_golden_load_f64(g, sigma, &nn);
    ck_assert_int_eq((int)(n * n), (int)nn);
    s.dim = (int)n;
    return s;
}

START_TEST(test_stats_equal_numpy) {
    msf_h5_reader *g = tu_golden_open(GOLDEN);
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
    msf_h5_close(g);
}
END_TEST

START_TEST(test_fid_equals_scipy_sqrtm) {
    msf_h5_reader *g = tu_golden_open(GOLDEN);
    // The three cases of gen_metrics.py, each once.
    static const char *expected[] = {"well-conditioned", "singular n < d", "identical"};
    int seen[3] = {0};
    int64_t cases = tu_golden_int(g, NULL, "fid_cases");
    ck_assert_int_eq(cases, 3);
    for (int64_t c = 0; c < cases; c++) {
        char obj[32], what[64];
        snprintf(obj, sizeof obj, "fid%lld", (long long)c);
        ck_assert_int_eq(msf_h5_get_attr_string(g, obj, "what", what, sizeof what), MSF_OK);
        for (int k = 0; k < 3; k++) seen[k] += !strcmp(what, expected[k]);
        char mu1[64], s1[64], mu2[64], s2[64];
        snprintf(mu1, sizeof mu1, "%s/mu1", obj), snprintf(s1, sizeof s1, "%s/sigma1", obj);
        snprintf(mu2, sizeof mu2, "%s/mu2", obj), snprintf(s2, sizeof s2, "%s/sigma2", obj);
        msf_fid_stats a = load_stats(g, mu1, s1), b = load_stats(g, mu2, s2);
        double want = tu_golden_double(g, obj, "fid"), tol = tu_golden_double(g, obj, "tolerance"), got = NAN;
        ck_assert_msg(msf_fid_from_stats(&got, &a, &b) == MSF_OK, "%s: %s", what, msf_error_message());
        // Relative to the FID, or to 1 when the FID is about 0.
        double err = fabs(got - want) / fmax(fabs(want), 1.0);
        printf("FID %s (d %d): ours %.12g, scipy sqrtm %.12g, rel %.2e (tolerance %.0e)\n", what, a.dim, got, want, err,
               tol);
        ck_assert_msg(err <= tol, "FID %s: %.12g vs %.12g", what, got, want);
        msf_fid_stats_free(&a), msf_fid_stats_free(&b);
    }
    for (int k = 0; k < 3; k++) ck_assert_msg(seen[k] == 1, "FID case '%s' checked %d times", expected[k], seen[k]);
    msf_h5_close(g);
}
END_TEST

// tr sqrtm(S S) = tr S for a symmetric positive definite S (FID(x, x) = 0 is
// the golden case "identical" above and test_fid_round_off below).
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

// Statistics as they enter FID: covariances of real features pass (also
// singular ones, n < d, and the zero covariance of constant features);
// negative, asymmetric, non-finite ones and eigenvalues below -1e-6 x trace
// do not, with a message naming them.
START_TEST(test_stats_check) {
    int d = 12;
    float f[8 * 12];
    srand(5);
    for (int i = 0; i < 8 * d; i++) f[i] = rand() / (float)RAND_MAX;
    msf_fid_stats a;
    ck_assert_int_eq(msf_fid_stats_compute(&a, f, 8, d, "singular"), MSF_OK);  // rank 7 of 12
    ck_assert_msg(msf_fid_stats_check(&a, "singular") == MSF_OK, "%s", msf_error_message());
    size_t nn = (size_t)d * d;
    double *keep = malloc(nn * sizeof(double)), tr = 0;
    memcpy(keep, a.sigma, nn * sizeof(double));
    for (int i = 0; i < d; i++) tr += keep[i * d + i];
    // -I: not a covariance.
    memset(a.sigma, 0, nn * sizeof(double));
    for (int i = 0; i < d; i++) a.sigma[i * d + i] = -1;
    ck_assert_int_eq(msf_fid_stats_check(&a, "minus I"), MSF_ERR_NUMERIC);
    ck_assert_msg(strstr(msf_error_message(), "minus I: sigma is not a covariance") &&
                      strstr(msf_error_message(), "smallest eigenvalue -1,"),
                  "%s", msf_error_message());
    double fid;
    ck_assert_int_eq(msf_fid_from_stats(&fid, &a, &a), MSF_ERR_NUMERIC);
    // Zero: constant features.
    memset(a.sigma, 0, nn * sizeof(double));
    ck_assert_int_eq(msf_fid_stats_check(&a, "zero"), MSF_OK);
    // The tolerance: diag(1, ..., 1, l) passes with l = -0.5e-6 x trace, not
    // with l = -2e-6 x trace; a negative variance is far outside.
    for (int k = 0; k < 2; k++) {
        double l = (k ? -2e-6 : -0.5e-6) * (d - 1);
        memset(a.sigma, 0, nn * sizeof(double));
        for (int i = 0; i < d; i++) a.sigma[i * d + i] = i == d - 1 ? l : 1;
        ck_assert_int_eq(msf_fid_stats_check(&a, "diag"), k ? MSF_ERR_NUMERIC : MSF_OK);
    }
    memcpy(a.sigma, keep, nn * sizeof(double));
    a.sigma[0] = -1e-3 * tr;
    ck_assert_int_eq(msf_fid_stats_check(&a, "negative variance"), MSF_ERR_NUMERIC);
    // Asymmetric.
    memcpy(a.sigma, keep, nn * sizeof(double));
    a.sigma[1 * d + 2] += 1e-3 * tr;
    ck_assert_int_eq(msf_fid_stats_check(&a, "asym"), MSF_ERR_NUMERIC);
    ck_assert_msg(strstr(msf_error_message(), "asym: sigma is not symmetric: sigma[1, 2]"), "%s", msf_error_message());
    // Asymmetry within 1e-6 x max|sigma| (e.g. from float32 rounding) passes.
    memcpy(a.sigma, keep, nn * sizeof(double));
    a.sigma[1 * d + 2] *= 1 + 1e-9;
    ck_assert_int_eq(msf_fid_stats_check(&a, "asym"), MSF_OK);
    // Not finite.
    a.mu[3] = NAN;
    ck_assert_int_eq(msf_fid_stats_check(&a, "nan mu"), MSF_ERR_NUMERIC);
    ck_assert_msg(strstr(msf_error_message(), "nan mu: mu[3] is nan"), "%s", msf_error_message());
    free(keep);
    msf_fid_stats_free(&a);
}
END_TEST

// FID round-off: identical singular statistics give 0, not a small negative
// number; a negative distance beyond 1e-6 x (|dmu|^2 + tr s1 + tr s2), here
// from two eigenvalues each just inside the PSD tolerance, is an error.
START_TEST(test_fid_round_off) {
    int d = 24, n = 10;
    float *f = malloc((size_t)n * d * sizeof(float));
    srand(11);
    for (int i = 0; i < n * d; i++) f[i] = 3 * (rand() / (float)RAND_MAX);
    msf_fid_stats a;
    ck_assert_int_eq(msf_fid_stats_compute(&a, f, n, d, "singular"), MSF_OK);
    double fid = -1;
    ck_assert_msg(msf_fid_from_stats(&fid, &a, &a) == MSF_OK, "%s", msf_error_message());
    ck_assert_msg(fid == 0.0, "FID of identical singular statistics %.17g", fid);
    // diag(1 x (d-2), l, l), l = -0.9e-6 x trace: each statistic passes the
    // check; FID(a, a) = 2 (l + l) = -3.6e-6 tr, below -1e-6 x 2 tr.
    size_t nn = (size_t)d * d;
    memset(a.sigma, 0, nn * sizeof(double));
    double l = -0.9e-6 * (d - 2);
    for (int i = 0; i < d; i++) a.sigma[i * d + i] = i < d - 2 ? 1 : l;
    ck_assert_int_eq(msf_fid_stats_check(&a, "two small negatives"), MSF_OK);
    ck_assert_int_eq(msf_fid_from_stats(&fid, &a, &a), MSF_ERR_NUMERIC);
    ck_assert_msg(strstr(msf_error_message(), "below the round-off allowance"), "%s", msf_error_message());
    // One of them: -1.8e-6 tr, within the allowance: 0.
    a.sigma[(d - 2) * d + d - 2] = 1;
    ck_assert_msg(msf_fid_from_stats(&fid, &a, &a) == MSF_OK, "%s", msf_error_message());
    ck_assert(fid == 0.0);
    msf_fid_stats_free(&a);
    free(f);
}
END_TEST

static double kid_kernel(const float *x, const float *y, int dim) {
    double dot = 0;
    for (int j = 0; j < dim; j++) dot += (double)x[j] * y[j];
    double p = dot / dim + 1;
    return p * p * p;
}

// KID when the sets share rows: pairs of identical rows are left out of the
// cross term (brute force of the documented estimator on given subsets); a
// set against itself with m = n is 0 to round-off, where clean-fid's average
// over all pairs gives -2/(n-1) (mean k(x, x) - mean k(x, y)).
START_TEST(test_kid_shared_rows) {
    enum { N = 30, D = 8, M = 20, S = 3 };
    float ref[N * D], sample[N * D];
    srand(17);
    for (int i = 0; i < N * D; i++) ref[i] = 4 * (rand() / (float)RAND_MAX) - 1;
    for (int i = 0; i < N * D; i++) sample[i] = i < 15 * D ? ref[i] : 4 * (rand() / (float)RAND_MAX) - 1.5f;
    int64_t sub[S][2][M];
    for (int s = 0; s < S; s++)
        for (int w = 0; w < 2; w++) {  // the first M of a shuffled 0..N-1
            int64_t p[N];
            for (int i = 0; i < N; i++) p[i] = i;
            for (int i = N - 1; i > 0; i--) {
                int r = rand() % (i + 1);
                int64_t t = p[i];
                p[i] = p[r], p[r] = t;
            }
            memcpy(sub[s][w], p, sizeof sub[s][w]);
        }
    double want = 0;
    for (int s = 0; s < S; s++) {
        const int64_t *ix = sub[s][0], *iy = sub[s][1];
        double within = 0, cross = 0;
        int pairs = 0;
        for (int i = 0; i < M; i++)
            for (int j = 0; j < M; j++) {
                if (i != j)
                    within += kid_kernel(sample + ix[i] * D, sample + ix[j] * D, D) +
                              kid_kernel(ref + iy[i] * D, ref + iy[j] * D, D);
                if (ix[i] < 15 && ix[i] == iy[j]) continue;  // the same row in both sets
                cross += kid_kernel(sample + ix[i] * D, ref + iy[j] * D, D);
                pairs++;
            }
        want += within / (M * (M - 1.0)) - 2 * cross / pairs;
    }
    want /= S;
    msf_kid_opts o = {.num_subsets = S, .max_subset_size = M, .subsets = &sub[0][0][0]};
    double got;
    ck_assert_msg(msf_kid(&got, ref, N, sample, N, D, &o) == MSF_OK, "%s", msf_error_message());
    printf("KID with 15 shared rows: ours %.15g, brute force %.15g\n", got, want);
    ck_assert_msg(fabs(got - want) <= 1e-12 * fmax(fabs(want), 1), "KID %.17g vs %.17g", got, want);
    // A set against itself, m = n (every subset is the whole set).
    double mean_diag = 0, mean_all = 0;
    for (int i = 0; i < N; i++)
        for (int j = 0; j < N; j++) {
            double k = kid_kernel(ref + i * D, ref + j * D, D);
            mean_all += k / (N * N);
            if (i == j) mean_diag += k / N;
        }
    o = (msf_kid_opts){.num_subsets = 4, .max_subset_size = 1000, .seed = 3};
    ck_assert_int_eq(msf_kid(&got, ref, N, ref, N, D, &o), MSF_OK);
    printf("KID of a set against itself: %.3g (clean-fid's average over all pairs: %.6g)\n", got,
           -2.0 / (N - 1) * (mean_diag - mean_all));
    ck_assert_msg(fabs(got) <= 1e-12 * mean_all, "KID of a set against itself %.17g", got);
}
END_TEST

START_TEST(test_inception_score) {
    msf_h5_reader *g = tu_golden_open(GOLDEN);
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
    msf_h5_close(g);
}
END_TEST

START_TEST(test_precision_recall) {
    msf_h5_reader *g = tu_golden_open(GOLDEN);
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
    msf_h5_close(g);
}
END_TEST

START_TEST(test_kid) {
    msf_h5_reader *g = tu_golden_open(GOLDEN);
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
    msf_h5_close(g);
}
END_TEST

START_TEST(test_class_consistency) {
    msf_h5_reader *g = tu_golden_open(GOLDEN);
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
    msf_h5_close(g);
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
    tcase_add_test(tc, test_stats_check);
    tcase_add_test(tc, test_fid_round_off);
    tcase_add_test(tc, test_inception_score);
    tcase_add_test(tc, test_precision_recall);
    tcase_add_test(tc, test_kid);
    tcase_add_test(tc, test_kid_shared_rows);
    tcase_add_test(tc, test_class_consistency);
    tcase_add_test(tc, test_errors);
    suite_add_tcase(s, tc);
    SRunner *r = srunner_create(s);
    srunner_run_all(r, CK_NORMAL);
    int failed = srunner_ntests_failed(r);
    srunner_free(r);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
