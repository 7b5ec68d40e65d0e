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

// Frechet distance |mu1 - mu2|^2 + tr s1 + tr s2 - 2 tr sqrtm(s1 s2). As the
// reference tools do, a non-finite result is retried once with 1e-6 added to
// both diagonals (with a warning). MSF_ERR_SHAPE on different dims,
// MSF_ERR_NUMERIC on NaN/Inf statistics or a failed retry.
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
msf_status msf_precision_recall(double *precision, double *recall, const float *ref, int64_t n_ref,
                                const float *sample, int64_t n_sample, int dim, int k);

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
// subsets of m rows drawn without replacement, in float64. Our own RNG draws
// different subsets from numpy's np.random.choice, so KID agrees with
// clean-fid only statistically unless `subsets` are given.
msf_status msf_kid(double *out, const float *ref, int64_t n_ref, const float *sample, int64_t n_sample, int dim,
                   const msf_kid_opts *o);

// -----------------------------------------------------------------------------
// Class consistency

// Share of rows whose argmax logit (the first on ties, as np.argmax) equals
// the label the sample was conditioned on. logits [n, dim], labels [n].
// MSF_ERR_INVALID on a label outside [0, dim).
msf_status msf_class_consistency(double *out, const float *logits, const int64_t *labels, int64_t n, int dim);

#endif
