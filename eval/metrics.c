// metrics.c: FID/sFID statistics and distance, Inception Score,
// precision/recall, KID and class consistency on feature rows.
//
// Threads: BLAS (dsyrk, dgemm) runs threaded from serial code, except the
// FID's factorisations (single-threaded, see product_eigenvalues); the
// distance kernels parallelise over row blocks with OpenMP and call sgemm
// inside, where the OpenMP OpenBLAS runs single-threaded. Every block has the
// same shape whatever the thread count, so the bits do not change with it.
#include "eval/metrics.h"

#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/rng.h"

// LAPACK from OpenBLAS (Fortran interface, hidden string lengths last).
void dpotrf_(const char *uplo, const int *n, double *a, const int *lda, int *info, size_t uplo_len);
void dsyevd_(const char *jobz, const char *uplo, const int *n, double *a, const int *lda, double *w, double *work,
             const int *lwork, int *iwork, const int *liwork, int *info, size_t jobz_len, size_t uplo_len);

// -----------------------------------------------------------------------------
// Statistics

msf_status msf_fid_stats_init(msf_fid_stats *s, int dim) {
    s->dim = dim;
    s->mu = calloc((size_t)dim, sizeof(double));
    s->sigma = calloc((size_t)dim * dim, sizeof(double));
    if (dim <= 0 || !s->mu || !s->sigma) {
        msf_fid_stats_free(s);
        return dim <= 0 ? msf_fail(MSF_ERR_INVALID, "FID statistics need dim >= 1, got %d", dim)
                        : msf_fail(MSF_ERR_NOMEM, "no memory for %dx%d FID statistics", dim, dim);
    }
    return MSF_OK;
}

void msf_fid_stats_free(msf_fid_stats *s) {
    free(s->mu), free(s->sigma);
    s->mu = s->sigma = NULL;
    s->dim = 0;
}

// Index of the first NaN/Inf of x [n], or -1.
static int64_t first_nonfinite_f32(const float *x, int64_t n) {
    for (int64_t i = 0; i < n; i++)
        if (!isfinite(x[i])) return i;
    return -1;
}

static int64_t first_nonfinite_f64(const double *x, int64_t n) {
    for (int64_t i = 0; i < n; i++)
        if (!isfinite(x[i])) return i;
    return -1;
}

static msf_status check_features(const float *feats, int64_t n, int dim, const char *what) {
    int64_t bad = first_nonfinite_f32(feats, n * dim);
    if (bad >= 0)
        return msf_fail(MSF_ERR_NUMERIC, "%s features: row %lld, column %d is %g", what, (long long)(bad / dim),
                        (int)(bad % dim), feats[bad]);
    return MSF_OK;
}

#define STATS_BLOCK 256

msf_status msf_fid_stats_compute(msf_fid_stats *out, const float *feats, int64_t n, int dim, const char *what) {
    if (n < 2 || dim < 1)
        return msf_fail(MSF_ERR_INVALID, "%s: statistics need at least 2 feature rows (got %lld of dim %d)", what,
                        (long long)n, dim);
    msf_status s = check_features(feats, n, dim, what);
    if (s) return s;
    if (n < dim)
        msf_log(MSF_LOG_WARN,
                "%s: %lld samples < %d feature dimensions: the covariance is singular and FID from it "
                "is biased (the reference tools say the same only through imaginary parts)",
                what, (long long)n, dim);
    if ((s = msf_fid_stats_init(out, dim))) return s;
    double *block = malloc((size_t)STATS_BLOCK * dim * sizeof(double));
    if (!block) {
        msf_fid_stats_free(out);
        return msf_fail(MSF_ERR_NOMEM, "%s: no memory for the statistics", what);
    }
    // The mean, per column in row order.
#pragma omp parallel for schedule(static)
    for (int j = 0; j < dim; j++) {
        double acc = 0;
        for (int64_t i = 0; i < n; i++) acc += feats[i * dim + j];
        out->mu[j] = acc / (double)n;
    }
    // sigma (upper triangle) += Xc^T Xc over blocks of centred rows.
    for (int64_t r0 = 0; r0 < n; r0 += STATS_BLOCK) {
        int rows = (int)(n - r0 < STATS_BLOCK ? n - r0 : STATS_BLOCK);
        for (int i = 0; i < rows; i++)
            for (int j = 0; j < dim; j++) block[(size_t)i * dim + j] = feats[(r0 + i) * dim + j] - out->mu[j];
        cblas_dsyrk(CblasRowMajor, CblasUpper, CblasTrans, dim, rows, 1.0, block, dim, 1.0, out->sigma, dim);
    }
    free(block);
    double inv = 1.0 / (double)(n - 1);
    for (int i = 0; i < dim; i++)
        for (int j = i; j < dim; j++) {
            double v = out->sigma[(size_t)i * dim + j] * inv;
            out->sigma[(size_t)i * dim + j] = v;
            out->sigma[(size_t)j * dim + i] = v;
        }
    return MSF_OK;
}

// -----------------------------------------------------------------------------
// Frechet distance

// Eigenvalues (ascending) of the symmetric a [n, n] (upper triangle used; a is
// overwritten by the eigenvectors as columns of the column-major result when
// vectors != 0). Returns LAPACK's info (0 = success) or -1000 on no memory.
static int sym_eig(double *a, double *w, int n, int vectors) {
    const char *jobz = vectors ? "V" : "N";
    // Row-major upper = column-major lower of the same memory.
    const char *uplo = "L";
    int lwork = -1, liwork = -1, info = 0, iq = 0;
    double wq = 0;
    dsyevd_(jobz, uplo, &n, a, &n, w, &wq, &lwork, &iq, &liwork, &info, 1, 1);
    if (info) return info;
    lwork = (int)wq + 1, liwork = iq > 1 ? iq : 1;
    double *work = malloc((size_t)lwork * sizeof(double));
    int *iwork = malloc((size_t)liwork * sizeof(int));
    if (!work || !iwork) info = -1000;
    else dsyevd_(jobz, uplo, &n, a, &n, w, work, &lwork, iwork, &liwork, &info, 1, 1);
    free(work), free(iwork);
    return info;
}

// Eigenvalues of a factor product: m = F^T s2 F for s1 = F F^T, into l.
// Cholesky first (F = L, n^3/3 flops); a singular s1 (n < dim) has none, and
// then F = V diag(sqrt(max(l, 0))) from the eigendecomposition of s1.
//
// BLAS and LAPACK run single-threaded here. With OpenBLAS's OpenMP threads,
// the tridiagonal reduction (a sequence of n matrix-vector products, each a
// fork/join) and the Cholesky factorisation spin on a loaded machine: at
// n = 2048 with more runnable threads than cores, dsyevd took 71 s and dpotrf
// 5.3 s on 2 threads against 0.76 s and 0.07 s on one. One thread also makes
// the bits independent of the thread count.
static msf_status product_eigenvalues(double *l, double *f, double *t, const double *s1, const double *s2, int dim) {
    size_t nn = (size_t)dim * dim;
    int info = 0;
    memcpy(f, s1, nn * sizeof(double));
    // Symmetric matrices read the same in row- and column-major order; the
    // LAPACK/BLAS calls below are column-major.
    dpotrf_("L", &dim, f, &dim, &info, 1);
    if (info == 0) {
        memcpy(t, s2, nn * sizeof(double));
        cblas_dtrmm(CblasColMajor, CblasRight, CblasLower, CblasNoTrans, CblasNonUnit, dim, dim, 1.0, f, dim, t, dim);
        cblas_dtrmm(CblasColMajor, CblasLeft, CblasLower, CblasTrans, CblasNonUnit, dim, dim, 1.0, f, dim, t, dim);
    } else {
        memcpy(f, s1, nn * sizeof(double));
        if ((info = sym_eig(f, l, dim, 1)))
            return msf_fail(MSF_ERR_NUMERIC, "eigendecomposition of a %dx%d covariance failed (dsyevd info %d)", dim,
                            dim, info);
        // Column k of f (contiguous) is eigenvector k; scale it by sqrt(l_k): f = F.
        for (int k = 0; k < dim; k++) {
            double r = l[k] > 0 ? sqrt(l[k]) : 0.0;
            for (int i = 0; i < dim; i++) f[(size_t)k * dim + i] *= r;
        }
        double *u = malloc(nn * sizeof(double));
        if (!u) return msf_fail(MSF_ERR_NOMEM, "no memory for a %dx%d matrix", dim, dim);
        cblas_dgemm(CblasColMajor, CblasNoTrans, CblasNoTrans, dim, dim, dim, 1.0, s2, dim, f, dim, 0.0, u, dim);
        cblas_dgemm(CblasColMajor, CblasTrans, CblasNoTrans, dim, dim, dim, 1.0, f, dim, u, dim, 0.0, t, dim);
        free(u);
    }
    if ((info = sym_eig(t, l, dim, 0)))
        return msf_fail(MSF_ERR_NUMERIC, "eigenvalues of a %dx%d covariance product failed (dsyevd info %d)", dim, dim,
                        info);
    return MSF_OK;
}

msf_status msf_trace_sqrt_product(double *out, const double *s1, const double *s2, int dim) {
    size_t nn = (size_t)dim * dim;
    double *f = malloc(nn * sizeof(double)), *t = malloc(nn * sizeof(double));
    double *l = malloc((size_t)dim * sizeof(double));
    int threads = openblas_get_num_threads();
    openblas_set_num_threads(1);
    msf_status s = !f || !t || !l ? msf_fail(MSF_ERR_NOMEM, "no memory for a %dx%d matrix square root", dim, dim)
                                  : product_eigenvalues(l, f, t, s1, s2, dim);
    openblas_set_num_threads(threads);
    if (!s) {
        double tr = 0;
        for (int k = 0; k < dim; k++) tr += l[k] > 0 ? sqrt(l[k]) : 0.0;
        if (!isfinite(tr)) s = msf_fail(MSF_ERR_NUMERIC, "tr sqrtm(s1 s2) is not finite");
        *out = tr;
    }
    free(f), free(t), free(l);
    return s;
}

// Whether sigma [d, d] (symmetric, trace tr > 0) + MSF_STATS_PSD_TOL tr I
// has a Cholesky factorisation (single-threaded, see product_eigenvalues);
// if not, *lmin = its smallest eigenvalue. Returns LAPACK's info of the
// eigenvalues or -1000 (no memory); 0 also when the factorisation works.
static int psd_within_tol(const double *sigma, int d, double tr, int *psd, double *lmin) {
    size_t nn = (size_t)d * d;
    double *a = malloc(nn * sizeof(double)), *w = malloc((size_t)d * sizeof(double));
    int info = 0;
    if (!a || !w) {
        free(a), free(w);
        return -1000;
    }
    int threads = openblas_get_num_threads();
    openblas_set_num_threads(1);
    memcpy(a, sigma, nn * sizeof(double));
    for (int i = 0; i < d; i++) a[(size_t)i * d + i] += MSF_STATS_PSD_TOL * tr;
    dpotrf_("L", &d, a, &d, &info, 1);
    *psd = info == 0;
    info = 0;
    if (!*psd) {
        memcpy(a, sigma, nn * sizeof(double));
        info = sym_eig(a, w, d, 0);
        *lmin = w[0];
    }
    openblas_set_num_threads(threads);
    free(a), free(w);
    return info;
}

msf_status msf_fid_stats_check(const msf_fid_stats *st, const char *what) {
    int64_t d = st->dim;
    if (d < 1 || !st->mu || !st->sigma)
        return msf_fail(MSF_ERR_SHAPE, "%s: empty statistics (dim %lld)", what, (long long)d);
    int64_t bad = first_nonfinite_f64(st->mu, d);
    if (bad >= 0) return msf_fail(MSF_ERR_NUMERIC, "%s: mu[%lld] is %g", what, (long long)bad, st->mu[bad]);
    bad = first_nonfinite_f64(st->sigma, d * d);
    if (bad >= 0)
        return msf_fail(MSF_ERR_NUMERIC, "%s: sigma[%lld, %lld] is %g", what, (long long)(bad / d),
                        (long long)(bad % d), st->sigma[bad]);
    const double *sg = st->sigma;
    double mx = 0, tr = 0, worst = 0;
    int64_t wi = 0, wj = 0;
    for (int64_t i = 0; i < d * d; i++) mx = fmax(mx, fabs(sg[i]));
    for (int64_t i = 0; i < d; i++) {
        tr += sg[i * d + i];
        for (int64_t j = i + 1; j < d; j++) {
            double a = fabs(sg[i * d + j] - sg[j * d + i]);
            if (a > worst) worst = a, wi = i, wj = j;
        }
    }
    if (worst > MSF_STATS_SYM_TOL * mx)
        return msf_fail(MSF_ERR_NUMERIC,
                        "%s: sigma is not symmetric: sigma[%lld, %lld] = %.17g but sigma[%lld, %lld] "
                        "= %.17g (asymmetry above %g x max|sigma| = %g)",
                        what, (long long)wi, (long long)wj, sg[wi * d + wj], (long long)wj, (long long)wi,
                        sg[wj * d + wi], MSF_STATS_SYM_TOL, MSF_STATS_SYM_TOL * mx);
    if (mx == 0) return MSF_OK;  // constant features: sigma = 0 is a covariance
    int psd = 0, info = 0;
    double lmin = 0;
    if (tr > 0) info = psd_within_tol(sg, (int)d, tr, &psd, &lmin);
    else {  // a PSD matrix of trace <= 0 is zero; this one is not
        double *a = malloc((size_t)(d * d) * sizeof(double)), *w = malloc((size_t)d * sizeof(double));
        if (!a || !w) info = -1000;
        else memcpy(a, sg, (size_t)(d * d) * sizeof(double)), info = sym_eig(a, w, (int)d, 0), lmin = w[0];
        free(a), free(w);
    }
    if (info == -1000)
        return msf_fail(MSF_ERR_NOMEM, "%s: no memory to check sigma [%lld, %lld]", what, (long long)d, (long long)d);
    if (info) return msf_fail(MSF_ERR_NUMERIC, "%s: eigenvalues of sigma failed (dsyevd info %d)", what, info);
    if (!psd)
        return msf_fail(MSF_ERR_NUMERIC,
                        "%s: sigma is not a covariance (not positive semi-definite): smallest "
                        "eigenvalue %.6g, trace %.6g (allowed: >= -%g x trace)",
                        what, lmin, tr, MSF_STATS_PSD_TOL);
    return MSF_OK;
}

msf_status msf_fid_from_stats(double *out, const msf_fid_stats *a, const msf_fid_stats *b) {
    if (a->dim != b->dim)
        return msf_fail(MSF_ERR_SHAPE, "FID: statistics of different dimensions (%d and %d)", a->dim, b->dim);
    msf_status s;
    if ((s = msf_fid_stats_check(a, "first statistics")) || (s = msf_fid_stats_check(b, "second statistics"))) return s;
    int d = a->dim;
    double dist = 0, tr1 = 0, tr2 = 0, trc = 0;
    for (int i = 0; i < d; i++) {
        double df = a->mu[i] - b->mu[i];
        dist += df * df;
        tr1 += a->sigma[(size_t)i * d + i];
        tr2 += b->sigma[(size_t)i * d + i];
    }
    s = msf_trace_sqrt_product(&trc, a->sigma, b->sigma, d);
    if (s == MSF_ERR_NUMERIC) {
        const double eps = 1e-6;
        msf_log(MSF_LOG_WARN, "fid calculation produces singular product; adding %g to diagonal of cov estimates (%s)",
                eps, msf_error_message());
        size_t nn = (size_t)d * d;
        double *s1 = malloc(nn * sizeof(double)), *s2 = malloc(nn * sizeof(double));
        if (!s1 || !s2) {
            free(s1), free(s2);
            return msf_fail(MSF_ERR_NOMEM, "no memory for the FID retry");
        }
        memcpy(s1, a->sigma, nn * sizeof(double));
        memcpy(s2, b->sigma, nn * sizeof(double));
        for (int i = 0; i < d; i++) s1[(size_t)i * d + i] += eps, s2[(size_t)i * d + i] += eps;
        s = msf_trace_sqrt_product(&trc, s1, s2, d);
        free(s1), free(s2);
    }
    if (s) return s;
    double fid = dist + tr1 + tr2 - 2 * trc, scale = dist + tr1 + tr2;
    if (fid < -MSF_FID_NEG_TOL * scale)
        return msf_fail(MSF_ERR_NUMERIC,
                        "the Frechet distance is %.6g, below the round-off allowance -%g x "
                        "(|mu1 - mu2|^2 + tr s1 + tr s2) = %.6g",
                        fid, MSF_FID_NEG_TOL, -MSF_FID_NEG_TOL * scale);
    *out = fid < 0 ? 0.0 : fid;
    return MSF_OK;
}

// -----------------------------------------------------------------------------
// Inception Score

msf_status msf_inception_score(double *out, const float *logits, int64_t n, int dim, int split_size) {
    if (n < 1 || dim < 2 || split_size < 1)
        return msf_fail(MSF_ERR_INVALID, "Inception Score: needs n >= 1, dim >= 2, split >= 1 (got %lld, %d, %d)",
                        (long long)n, dim, split_size);
    msf_status s = check_features(logits, n, dim, "logits");
    if (s) return s;
    int64_t rows_max = n < split_size ? n : split_size;
    double *logp = malloc((size_t)rows_max * dim * sizeof(double)), *logm = malloc((size_t)dim * sizeof(double));
    double *kl = malloc((size_t)rows_max * sizeof(double));
    if (!logp || !logm || !kl) {
        free(logp), free(logm), free(kl);
        return msf_fail(MSF_ERR_NOMEM, "Inception Score: no memory for %lld x %d probabilities", (long long)rows_max,
                        dim);
    }
    double score_sum = 0;
    int64_t splits = 0;
    for (int64_t r0 = 0; r0 < n; r0 += split_size, splits++) {
        int64_t rows = n - r0 < split_size ? n - r0 : split_size;
        // log softmax of each row.
#pragma omp parallel for schedule(static)
        for (int64_t i = 0; i < rows; i++) {
            const float *x = logits + (r0 + i) * dim;
            double *lp = logp + i * dim;
            double mx = x[0];
            for (int j = 1; j < dim; j++) mx = x[j] > mx ? x[j] : mx;
            double z = 0;
            for (int j = 0; j < dim; j++) z += exp(x[j] - mx);
            double lz = mx + log(z);
            for (int j = 0; j < dim; j++) lp[j] = x[j] - lz;
        }
        // log of the split's mean probability, per class in row order.
#pragma omp parallel for schedule(static)
        for (int j = 0; j < dim; j++) {
            double acc = 0;
            for (int64_t i = 0; i < rows; i++) acc += exp(logp[i * dim + j]);
            logm[j] = log(acc / (double)rows);
        }
#pragma omp parallel for schedule(static)
        for (int64_t i = 0; i < rows; i++) {
            const double *lp = logp + i * dim;
            double acc = 0;
            for (int j = 0; j < dim; j++) {
                double p = exp(lp[j]);
                if (p > 0) acc += p * (lp[j] - logm[j]);
            }
            kl[i] = acc;
        }
        double mean_kl = 0;
        for (int64_t i = 0; i < rows; i++) mean_kl += kl[i];
        score_sum += exp(mean_kl / (double)rows);
    }
    free(logp), free(logm), free(kl);
    *out = score_sum / (double)splits;
    return MSF_OK;
}

// -----------------------------------------------------------------------------
// Squared distances in row blocks

#define ROW_BLOCK 256
#define COL_BLOCK 4096

// |x_i|^2 of n rows, summed in float64, rounded to float32.
static float *row_norms(const float *x, int64_t n, int dim) {
    float *nr = malloc((size_t)(n ? n : 1) * sizeof(float));
    if (!nr) return NULL;
#pragma omp parallel for schedule(static)
    for (int64_t i = 0; i < n; i++) {
        double acc = 0;
        for (int j = 0; j < dim; j++) acc += (double)x[i * dim + j] * x[i * dim + j];
        nr[i] = (float)acc;
    }
    return nr;
}

// d [rows, cols] = max(nu_i - 2 u_i.v_j + nv_j, 0) for rows of u and v.
static void sq_distances(float *d, const float *u, const float *nu, int rows, const float *v, const float *nv, int cols,
                         int dim) {
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, rows, cols, dim, -2.0f, u, dim, v, dim, 0.0f, d, cols);
    for (int i = 0; i < rows; i++)
        for (int j = 0; j < cols; j++) {
            float t = nu[i] + d[(size_t)i * cols + j] + nv[j];
            d[(size_t)i * cols + j] = t > 0.0f ? t : 0.0f;
        }
}

msf_status msf_manifold_radii(float *radii, const float *feats, int64_t n, int dim, int k) {
    if (k < 1 || n <= k || dim < 1)
        return msf_fail(MSF_ERR_INVALID, "manifold radii: need more than k = %d rows (got %lld of dim %d)", k,
                        (long long)n, dim);
    msf_status s = check_features(feats, n, dim, "manifold");
    if (s) return s;
    float *nr = row_norms(feats, n, dim);
    if (!nr) return msf_fail(MSF_ERR_NOMEM, "manifold radii: out of memory");
    int64_t blocks = (n + ROW_BLOCK - 1) / ROW_BLOCK;
    int failed = 0;
#pragma omp parallel
    {
        float *d = malloc((size_t)ROW_BLOCK * COL_BLOCK * sizeof(float));
        float *best = malloc((size_t)ROW_BLOCK * (k + 1) * sizeof(float));
        if (!d || !best) {
#pragma omp atomic write
            failed = 1;
        }
#pragma omp for schedule(dynamic)
        for (int64_t b = 0; b < blocks; b++) {
            if (!d || !best) continue;
            int64_t r0 = b * ROW_BLOCK;
            int rows = (int)(n - r0 < ROW_BLOCK ? n - r0 : ROW_BLOCK);
            for (int i = 0; i < rows * (k + 1); i++) best[i] = INFINITY;
            for (int64_t c0 = 0; c0 < n; c0 += COL_BLOCK) {
                int cols = (int)(n - c0 < COL_BLOCK ? n - c0 : COL_BLOCK);
                sq_distances(d, feats + r0 * dim, nr + r0, rows, feats + c0 * dim, nr + c0, cols, dim);
                // Keep the k+1 smallest of each row, sorted (insertion).
                for (int i = 0; i < rows; i++) {
                    float *bi = best + (size_t)i * (k + 1);
                    const float *di = d + (size_t)i * cols;
                    for (int j = 0; j < cols; j++) {
                        float v = di[j];
                        if (v >= bi[k]) continue;
                        int p = k;
                        while (p > 0 && bi[p - 1] > v) bi[p] = bi[p - 1], p--;
                        bi[p] = v;
                    }
                }
            }
            for (int i = 0; i < rows; i++) radii[r0 + i] = best[(size_t)i * (k + 1) + k];
        }
        free(d), free(best);
    }
    free(nr);
    return failed ? msf_fail(MSF_ERR_NOMEM, "manifold radii: out of memory") : MSF_OK;
}

// in[i] = 1 if row i of x lies within some ball (centre y_j, squared radius r_j).
static msf_status within_balls(uint8_t *in, const float *x, int64_t nx, const float *y, const float *ry, int64_t ny,
                               int dim) {
    float *nx2 = row_norms(x, nx, dim), *ny2 = row_norms(y, ny, dim);
    int failed = !nx2 || !ny2;
    int64_t blocks = (nx + ROW_BLOCK - 1) / ROW_BLOCK;
    if (!failed) {
#pragma omp parallel
        {
            float *d = malloc((size_t)ROW_BLOCK * COL_BLOCK * sizeof(float));
            if (!d) {
#pragma omp atomic write
                failed = 1;
            }
#pragma omp for schedule(dynamic)
            for (int64_t b = 0; b < blocks; b++) {
                if (!d) continue;
                int64_t r0 = b * ROW_BLOCK;
                int rows = (int)(nx - r0 < ROW_BLOCK ? nx - r0 : ROW_BLOCK);
                memset(in + r0, 0, (size_t)rows);
                for (int64_t c0 = 0; c0 < ny; c0 += COL_BLOCK) {
                    int cols = (int)(ny - c0 < COL_BLOCK ? ny - c0 : COL_BLOCK);
                    sq_distances(d, x + r0 * dim, nx2 + r0, rows, y + c0 * dim, ny2 + c0, cols, dim);
                    for (int i = 0; i < rows; i++) {
                        const float *di = d + (size_t)i * cols;
                        for (int j = 0; j < cols && !in[r0 + i]; j++)
                            if (di[j] <= ry[c0 + j]) in[r0 + i] = 1;
                    }
                }
            }
            free(d);
        }
    }
    free(nx2), free(ny2);
    return failed ? msf_fail(MSF_ERR_NOMEM, "precision/recall: out of memory") : MSF_OK;
}

msf_status msf_precision_recall(double *precision, double *recall, const float *ref, int64_t n_ref, const float *sample,
                                int64_t n_sample, int dim, int k) {
    if (n_ref <= k || n_sample <= k)
        return msf_fail(MSF_ERR_INVALID,
                        "precision/recall: need more than k = %d references and samples (got %lld "
                        "and %lld)",
                        k, (long long)n_ref, (long long)n_sample);
    msf_status s;
    if ((s = check_features(ref, n_ref, dim, "reference")) || (s = check_features(sample, n_sample, dim, "sample")))
        return s;
    float *r_ref = malloc((size_t)n_ref * sizeof(float)), *r_sample = malloc((size_t)n_sample * sizeof(float));
    uint8_t *in_s = malloc((size_t)n_sample), *in_r = malloc((size_t)n_ref);
    if (!r_ref || !r_sample || !in_s || !in_r) s = msf_fail(MSF_ERR_NOMEM, "precision/recall: out of memory");
    if (!s) s = msf_manifold_radii(r_ref, ref, n_ref, dim, k);
    if (!s) s = msf_manifold_radii(r_sample, sample, n_sample, dim, k);
    if (!s) s = within_balls(in_s, sample, n_sample, ref, r_ref, n_ref, dim);
    if (!s) s = within_balls(in_r, ref, n_ref, sample, r_sample, n_sample, dim);
    if (!s) {
        int64_t cs = 0, cr = 0;
        for (int64_t i = 0; i < n_sample; i++) cs += in_s[i];
        for (int64_t i = 0; i < n_ref; i++) cr += in_r[i];
        *precision = (double)cs / (double)n_sample;
        *recall = (double)cr / (double)n_ref;
    }
    free(r_ref), free(r_sample), free(in_s), free(in_r);
    return s;
}

// -----------------------------------------------------------------------------
// KID

// A uniform double in [0, 1) from 53 bits of Philox block (seed; s, which, j).
static double kid_uniform(uint64_t seed, int s, int which, int64_t j) {
    uint32_t ctr[4] = {(uint32_t)j, (uint32_t)(j >> 32), (uint32_t)s, (uint32_t)which},
             key[2] = {(uint32_t)seed, (uint32_t)(seed >> 32)};
    uint32_t w[4];
    msf_philox4x32_10(w, ctr, key);
    uint64_t bits = ((uint64_t)w[0] << 21) ^ (uint64_t)(w[1] >> 11);
    return (double)(bits & ((UINT64_C(1) << 53) - 1)) * 0x1.0p-53;
}

// The first m entries of a uniform random permutation of 0..n-1 (partial
// Fisher-Yates) into idx; perm [n] is scratch.
static void kid_draw(int64_t *idx, int64_t *perm, int64_t n, int64_t m, uint64_t seed, int s, int which) {
    for (int64_t i = 0; i < n; i++) perm[i] = i;
    for (int64_t j = 0; j < m; j++) {
        int64_t r = j + (int64_t)(kid_uniform(seed, s, which, j) * (double)(n - j));
        if (r >= n) r = n - 1;
        int64_t t = perm[j];
        perm[j] = perm[r], perm[r] = t;
        idx[j] = perm[j];
    }
}

// FNV-1a of the bytes of row i of x [*, dim].
static uint64_t row_hash(const float *x, int64_t i, int dim) {
    const unsigned char *p = (const unsigned char *)(x + i * dim);
    uint64_t h = UINT64_C(1469598103934665603);
    for (size_t k = 0; k < (size_t)dim * sizeof(float); k++) h = (h ^ p[k]) * UINT64_C(1099511628211);
    return h;
}

static int cmp_u64(const void *a, const void *b) {
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

// Row hashes hs [n_sample], hr [n_ref]; the number of sample rows equal to
// some reference row (0: the sets share no row).
static int64_t shared_rows(uint64_t *hs, uint64_t *hr, const float *ref, int64_t n_ref, const float *sample,
                           int64_t n_sample, int dim) {
    for (int64_t i = 0; i < n_sample; i++) hs[i] = row_hash(sample, i, dim);
    for (int64_t i = 0; i < n_ref; i++) hr[i] = row_hash(ref, i, dim);
    uint64_t *sorted = malloc((size_t)n_ref * sizeof(uint64_t));
    if (!sorted) return -1;
    memcpy(sorted, hr, (size_t)n_ref * sizeof(uint64_t));
    qsort(sorted, (size_t)n_ref, sizeof(uint64_t), cmp_u64);
    int64_t shared = 0;
    for (int64_t i = 0; i < n_sample; i++) {
        if (!bsearch(&hs[i], sorted, (size_t)n_ref, sizeof(uint64_t), cmp_u64)) continue;
        for (int64_t j = 0; j < n_ref; j++)
            if (hr[j] == hs[i] && !memcmp(sample + i * dim, ref + j * dim, (size_t)dim * sizeof(float))) {
                shared++;
                break;
            }
    }
    free(sorted);
    return shared;
}

msf_status msf_kid(double *out, const float *ref, int64_t n_ref, const float *sample, int64_t n_sample, int dim,
                   const msf_kid_opts *o) {
    int64_t m = n_ref < n_sample ? n_ref : n_sample;
    if (m > o->max_subset_size) m = o->max_subset_size;
    if (m < 2 || o->num_subsets < 1 || dim < 1)
        return msf_fail(MSF_ERR_INVALID, "KID: needs at least 2 rows per set and 1 subset (got %lld, %lld, %d)",
                        (long long)n_ref, (long long)n_sample, o->num_subsets);
    msf_status s;
    if ((s = check_features(ref, n_ref, dim, "reference")) || (s = check_features(sample, n_sample, dim, "sample")))
        return s;
    size_t md = (size_t)m * dim, mm = (size_t)m * m;
    double *x = malloc(md * sizeof(double)), *y = malloc(md * sizeof(double));
    double *kxx = malloc(mm * sizeof(double)), *kyy = malloc(mm * sizeof(double)), *kxy = malloc(mm * sizeof(double));
    int64_t *idx = malloc((size_t)m * 2 * sizeof(int64_t));
    int64_t nmax = n_ref > n_sample ? n_ref : n_sample;
    int64_t *perm = malloc((size_t)nmax * sizeof(int64_t));
    uint64_t *hs = malloc((size_t)n_sample * sizeof(uint64_t)), *hr = malloc((size_t)n_ref * sizeof(uint64_t));
    int64_t shared = 0;
    if (!x || !y || !kxx || !kyy || !kxy || !idx || !perm || !hs || !hr ||
        (shared = shared_rows(hs, hr, ref, n_ref, sample, n_sample, dim)) < 0)
        s = msf_fail(MSF_ERR_NOMEM, "KID: out of memory");
    if (!s && shared)
        msf_log(MSF_LOG_WARN,
                "KID: %lld of the %lld sample feature rows equal reference rows; pairs of equal rows are "
                "left out of the cross term (the sets are not independent samples)",
                (long long)shared, (long long)n_sample);
    double t = 0;
    for (int sub = 0; sub < o->num_subsets && !s; sub++) {
        const int64_t *ix, *iy;
        if (o->subsets) {
            ix = o->subsets + (size_t)sub * 2 * m, iy = ix + m;
        } else {
            kid_draw(idx, perm, n_sample, m, o->seed, sub, 0);
            kid_draw(idx + m, perm, n_ref, m, o->seed, sub, 1);
            ix = idx, iy = idx + m;
        }
        for (int64_t i = 0; i < m && !s; i++) {
            if (ix[i] < 0 || ix[i] >= n_sample || iy[i] < 0 || iy[i] >= n_ref) {
                s = msf_fail(MSF_ERR_INVALID, "KID: subset %d index out of range", sub);
                break;
            }
            for (int j = 0; j < dim; j++) {
                x[(size_t)i * dim + j] = sample[ix[i] * dim + j];
                y[(size_t)i * dim + j] = ref[iy[i] * dim + j];
            }
        }
        if (s) break;
        int mi = (int)m;
        cblas_dsyrk(CblasRowMajor, CblasUpper, CblasNoTrans, mi, dim, 1.0, x, dim, 0.0, kxx, mi);
        cblas_dsyrk(CblasRowMajor, CblasUpper, CblasNoTrans, mi, dim, 1.0, y, dim, 0.0, kyy, mi);
        cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, mi, mi, dim, 1.0, x, dim, y, dim, 0.0, kxy, mi);
        double a_off = 0, b_sum = 0, b_kept = 0;
        int64_t same = 0;  // cross pairs of equal rows
        for (int64_t i = 0; i < m; i++) {
            for (int64_t j = i + 1; j < m; j++) {
                double px = kxx[i * m + j] / dim + 1, py = kyy[i * m + j] / dim + 1;
                a_off += 2 * (px * px * px + py * py * py);
            }
            for (int64_t j = 0; j < m; j++) {
                double pb = kxy[i * m + j] / dim + 1, k3 = pb * pb * pb;
                b_sum += k3;
                if (shared && hs[ix[i]] == hr[iy[j]] &&
                    !memcmp(sample + ix[i] * dim, ref + iy[j] * dim, (size_t)dim * sizeof(float)))
                    same++;
                else b_kept += k3;
            }
        }
        // clean-fid: a_off / (m - 1) - 2 b_sum / m, divided by m at the end.
        if (same == 0 || same == m * m) t += a_off / (double)(m - 1) - b_sum * 2 / (double)m;
        else t += a_off / (double)(m - 1) - b_kept * 2 * (double)m / (double)(m * m - same);
    }
    free(x), free(y), free(kxx), free(kyy), free(kxy), free(idx), free(perm), free(hs), free(hr);
    if (!s) *out = t / o->num_subsets / (double)m;
    return s;
}

// -----------------------------------------------------------------------------
// Class consistency

msf_status msf_class_consistency(double *out, const float *logits, const int64_t *labels, int64_t n, int dim) {
    if (n < 1 || dim < 1)
        return msf_fail(MSF_ERR_INVALID, "class consistency: needs n >= 1 rows (got %lld of dim %d)", (long long)n,
                        dim);
    msf_status s = check_features(logits, n, dim, "logits");
    if (s) return s;
    int64_t hits = 0;
    for (int64_t i = 0; i < n; i++) {
        if (labels[i] < 0 || labels[i] >= dim)
            return msf_fail(MSF_ERR_INVALID, "class consistency: label %lld of sample %lld is outside [0, %d)",
                            (long long)labels[i], (long long)i, dim);
        const float *x = logits + i * dim;
        int best = 0;
        for (int j = 1; j < dim; j++)
            if (x[j] > x[best]) best = j;
        hits += best == labels[i];
    }
    *out = (double)hits / (double)n;
    return MSF_OK;
}
