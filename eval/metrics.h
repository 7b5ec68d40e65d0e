// metrics.h: the sample-quality metrics on feature vectors, as ADM's
// evaluator (openai/guided-diffusion evaluations/evaluator.py) defines them,
// plus KID (clean-fid) and class consistency. REFERENCE.md section 4 has the
// recipes; what differs from the reference tools is said per function.
//
// Features come in as float32 rows [n, dim] (the feature network's output);
// everything that is summed is summed in float64. Results do not depend on
// the thread count.
#ifndef MSF_EVAL_METRICS_H
#define MSF_EVAL_METRICS_H

#include <stdint.h>

#include "core/status.h"

// -----------------------------------------------------------------------------
// FID / sFID

// Feature statistics: mu [dim], sigma [dim, dim] (row-major, symmetric).
typedef struct {
    int dim;
    double *mu, *sigma;
} msf_fid_stats;

// Allocate zeroed mu and sigma for `dim` features.
msf_status msf_fid_stats_init(msf_fid_stats *s, int dim);
void msf_fid_stats_free(msf_fid_stats *s);

// mu = mean, sigma = covariance with ddof = 1 (np.mean, np.cov(rowvar=False))
// of n >= 2 rows feats [n, dim], in float64 (two passes: the mean, then the
// centred rows in blocks through dsyrk). Logs a warning when n < dim (the
// covariance is singular; FID from it is biased). `what` names the features
// in messages ("sample pool_3"). MSF_ERR_NUMERIC on NaN/Inf features.
msf_status msf_fid_stats_compute(msf_fid_stats *out, const float *feats, int64_t n, int dim, const char *what);

// Whether s can be FID statistics, as they enter (files) and before every FID:
// dim >= 1; mu and sigma finite; sigma symmetric, |s_ij - s_ji| <=
// MSF_STATS_SYM_TOL * max|s|; and positive semi-definite within
// MSF_STATS_PSD_TOL: sigma + MSF_STATS_PSD_TOL tr(sigma) I has a Cholesky
// factorisation, i.e. (to round-off) its smallest eigenvalue is >=
// -MSF_STATS_PSD_TOL tr(sigma) (a zero sigma, constant features, passes).
// np.cov in float64 is off by ~1e-13 of the trace, float32-stored files by
// ~1e-7; a matrix of the wrong sign or a corrupted one by far more. `what`
// names the statistics in messages ("ref.npz, mu/sigma"); MSF_ERR_NUMERIC
// (with the smallest eigenvalue when not PSD) or MSF_ERR_SHAPE.
#define MSF_STATS_SYM_TOL 1e-6
#define MSF_STATS_PSD_TOL 1e-6
msf_status msf_fid_stats_check(const msf_fid_stats *s, const char *what);

// tr sqrtm(s1 s2) for symmetric positive semi-definite s1, s2 [dim, dim]:
// with s1 = L L^T (Cholesky) the eigenvalues of the symmetric L^T s2 L are
// those of s1 s2; when s1 is singular (Cholesky fails), instead
// s1 = V diag(l) V^T (dsyevd) and W = V diag(sqrt(max(l, 0))), and the
// eigenvalues of the symmetric W^T s2 W are those of s1 s2, so the trace is
// sum sqrt(max(lambda, 0)). Negative eigenvalues (rounding, or singular
// covariances) are clamped to 0 where scipy's sqrtm would return small
// imaginary parts that the reference tools discard. MSF_ERR_NUMERIC if
// LAPACK fails or the result is not finite.
msf_status msf_trace_sqrt_product(double *out, const double *s1, const double *s2, int dim);

// Frechet distance |mu1 - mu2|^2 + tr s1 + tr s2 - 2 tr sqrtm(s1 s2). Both
// statistics are checked first (msf_fid_stats_check). As the reference tools
// do, a non-finite result is retried once with 1e-6 added to both diagonals
// (with a warning). The distance is >= 0 in exact arithmetic; the terms that
// cancel are of size scale = |mu1 - mu2|^2 + tr s1 + tr s2, and float64
// eigenvalues (square roots of the near-zero ones of singular covariances)
// leave ~1e-8 scale of round-off (measured, dim 128 and 2048). A result in
// [-MSF_FID_NEG_TOL scale, 0) is round-off and returned as 0; below that,
// MSF_ERR_NUMERIC. MSF_ERR_SHAPE on different dims, MSF_ERR_NUMERIC on
// invalid statistics or a failed retry.
#define MSF_FID_NEG_TOL 1e-6
msf_status msf_fid_from_stats(double *out, const msf_fid_stats *a, const msf_fid_stats *b);

// -----------------------------------------------------------------------------
// Inception Score

// logits [n, dim] (Inception: pool_3 . fc.weight^T over 1008 classes). Splits
// of `split_size` rows in order (ADM: 5000; the last may be shorter); per
// split exp(mean_i KL(p_i || mean_i p_i)) with p = softmax(logits) in float64;
// the mean over splits. Terms with p = 0 count as 0 (their limit; ADM's
// float32 softmax would give NaN there).
msf_status msf_inception_score(double *out, const float *logits, int64_t n, int dim, int split_size);

// -----------------------------------------------------------------------------
// Precision and recall (Kynkaanniemi et al. 2019, ADM's ManifoldEstimator)

// Squared Euclidean distances d(u, v) = max(|u|^2 - 2 u.v + |v|^2, 0) in
// float32 (sgemm; ADM tries float16 first, so expect differences in the last
// decimals). radii[i] = the value at sorted index k of row i's distances to
// all n rows including itself (index 0 is the point itself), i.e. its k-th
// nearest neighbour's squared distance. Needs n > k.
msf_status msf_manifold_radii(float *radii, const float *feats, int64_t n, int dim, int k);

// precision = share of samples within some reference ball (d <= radius),
// recall = share of references within some sample ball, with neighbourhood
// size k (ADM: 3). Memory: one 256-row distance block per thread.
msf_status msf_precision_recall(double *precision, double *recall, const float *ref, int64_t n_ref, const float *sample,
                                int64_t n_sample, int dim, int k);

// -----------------------------------------------------------------------------
// KID (clean-fid's kernel_distance)

typedef struct {
    int num_subsets;      // clean-fid: 100
    int max_subset_size;  // clean-fid: 1000; m = min(n_ref, n_sample, this)
    uint64_t seed;        // subset draws (Philox), when `subsets` is NULL
    // NULL, or [num_subsets][2][m] row indices: [s][0] into sample, [s][1]
    // into ref (clean-fid's x and y), to replay numpy's draws in tests.
    const int64_t *subsets;
} msf_kid_opts;

// Unbiased MMD^2 with the kernel k(x, y) = (x.y/dim + 1)^3 averaged over
// subsets of m rows drawn without replacement, in float64: per subset
// sum_{i != j} (k(x_i, x_j) + k(y_i, y_j)) / (m (m - 1)) - 2 mean k(x_i, y_j).
// Our own RNG draws different subsets from numpy's np.random.choice, so KID
// agrees with clean-fid only statistically unless `subsets` are given.
//
// Rows the two sets share: the estimator assumes the sets are independent
// samples, and clean-fid's kernel_distance averages the cross term over all
// m^2 pairs. When a sample row is (bitwise) the same as a reference row, the
// pair is one observation with itself, k(x, x) = (|x|^2/dim + 1)^3, the
// largest value of its row, that the within-set terms leave out (their
// diagonals). With clean-fid's average a set against itself (n rows) has the
// expectation -2/(n - 1) (mean_i k(x_i, x_i) - mean_ij k(x_i, x_j)),
// whatever m: e.g. -2.2 for 170 Fashion-MNIST classifier features. So pairs
// of identical rows are left out of the cross term too, and the mean is over
// the other pairs (all pairs if none is left): a set against itself has
// expectation 0 (exactly 0 when m = n), and sets without a common row (any
// real evaluation) get clean-fid's value bit for bit. Logs a warning naming
// the number of shared rows. Negative values remain possible and are not
// round-off: the estimator is unbiased, so on equal distributions half its
// values are below 0 (clean-fid and torch-fidelity report them as they are).
msf_status msf_kid(double *out, const float *ref, int64_t n_ref, const float *sample, int64_t n_sample, int dim,
                   const msf_kid_opts *o);

// -----------------------------------------------------------------------------
// Class consistency

// Share of rows whose argmax logit (the first on ties, as np.argmax) equals
// the label the sample was conditioned on. logits [n, dim], labels [n].
// MSF_ERR_INVALID on a label outside [0, dim).
msf_status msf_class_consistency(double *out, const float *logits, const int64_t *labels, int64_t n, int dim);

#endif
