// norm.c: the normalisation operators of norm.h (OpenMP over independent
// (batch item, group) or row pieces; each output computed by one thread in a
// fixed order, so the bits do not depend on the thread count).
#include "nn/norm.h"

#include <math.h>

#include "nn/fast_exp.h"

// -----------------------------------------------------------------------------
// Normalisation
//
// Statistics in double (two passes), then y = (x - mean) * (rstd * gamma) + beta
// in float: x - mean first, so that a large mean does not cost precision.

static void moments(float *mean, float *rstd, const float *x, size_t count, float eps) {
    double sum = 0.0;
    for (size_t i = 0; i < count; i++) sum += x[i];
    double m = sum / (double)count;
    double sq = 0.0;
    for (size_t i = 0; i < count; i++) sq += ((double)x[i] - m) * ((double)x[i] - m);
    *mean = (float)m;
    *rstd = (float)(1.0 / sqrt(sq / (double)count + (double)eps));
}

void nn_group_norm(float *y, const float *x, const float *gamma, const float *beta, int n, int c, int hw, int groups,
                   float eps) {
    int cg = c / groups;
    long pairs = (long)n * groups;
#pragma omp parallel for schedule(static)
    for (long p = 0; p < pairs; p++) {
        int g = (int)(p % groups);
        size_t off = (size_t)p * cg * hw;  // (batch item, group) blocks are contiguous
        float mean, rstd;
        moments(&mean, &rstd, x + off, (size_t)cg * hw, eps);
        for (int i = 0; i < cg; i++) {
            int ch = g * cg + i;
            float sc = gamma ? rstd * gamma[ch] : rstd, sh = beta ? beta[ch] : 0.0f;
            const float *xp = x + off + (size_t)i * hw;
            float *yp = y + off + (size_t)i * hw;
            for (int j = 0; j < hw; j++) yp[j] = (xp[j] - mean) * sc + sh;
        }
    }
}

void nn_layer_norm(float *y, const float *x, const float *gamma, const float *beta, int rows, int dim, float eps) {
#pragma omp parallel for schedule(static)
    for (int r = 0; r < rows; r++) {
        const float *xp = x + (size_t)r * dim;
        float *yp = y + (size_t)r * dim;
        float mean, rstd;
        moments(&mean, &rstd, xp, (size_t)dim, eps);
        for (int i = 0; i < dim; i++) {
            float v = (xp[i] - mean) * rstd;
            yp[i] = (gamma ? v * gamma[i] : v) + (beta ? beta[i] : 0.0f);
        }
    }
}

void nn_batch_norm(float *y, const float *x, const float *mean, const float *var, const float *gamma, const float *beta,
                   int n, int c, int hw, float eps) {
    long planes = (long)n * c;
#pragma omp parallel for schedule(static)
    for (long p = 0; p < planes; p++) {
        int ch = (int)(p % c);
        double rstd = 1.0 / sqrt((double)var[ch] + (double)eps);
        float sc = (float)(gamma ? rstd * gamma[ch] : rstd), sh = beta ? beta[ch] : 0.0f, m = mean[ch];
        const float *xp = x + (size_t)p * hw;
        float *yp = y + (size_t)p * hw;
        for (int i = 0; i < hw; i++) yp[i] = (xp[i] - m) * sc + sh;
    }
}

// -----------------------------------------------------------------------------
// GroupNorm followed by SiLU, fused: nn_group_norm + nn_silu (two passes over
// the activations) took a fifth of the SD VAE decoder's time. Statistics in
// double (two passes, biased variance, four interleaved partial sums), then
// y = SiLU((x - mean) * (rstd * gamma) + beta) in one vectorised pass.

// y = SiLU((x - mean) * scale + shift) = v / (1 + exp(-v)). In blocks of 256:
// GCC vectorises neither a division nor a conversion after a clamp in the
// same loop (both may trap), so the clamp gets a loop of its own. A NaN
// passes the clamps and comes out NaN; v = +-inf gives +-inf.
#define SILU_BLOCK 256

static void affine_silu(float *restrict y, const float *restrict x, float mean, float scale, float shift, size_t n) {
    float v[SILU_BLOCK], a[SILU_BLOCK];
    for (size_t i0 = 0; i0 < n; i0 += SILU_BLOCK) {
        size_t m = n - i0 < SILU_BLOCK ? n - i0 : SILU_BLOCK;
        for (size_t i = 0; i < m; i++) {
            v[i] = (x[i0 + i] - mean) * scale + shift;
            float c = -v[i];
            c = c < -88.0f ? -88.0f : c;
            a[i] = c > 87.0f ? 87.0f : c;
        }
        for (size_t i = 0; i < m; i++) y[i0 + i] = v[i] / (1.0f + nn_exp_poly(a[i]));
    }
}

// Sum of x[0..n) in double, four interleaved partial sums (a fixed order).
static double sum4(const float *x, size_t n) {
    double s[4] = {0, 0, 0, 0};
    size_t i = 0;
    for (; i + 4 <= n; i += 4)
        for (int k = 0; k < 4; k++) s[k] += x[i + k];
    for (; i < n; i++) s[0] += x[i];
    return (s[0] + s[1]) + (s[2] + s[3]);
}

static double sum_sq4(const float *x, size_t n, double mean) {
    double s[4] = {0, 0, 0, 0};
    size_t i = 0;
    for (; i + 4 <= n; i += 4)
        for (int k = 0; k < 4; k++) {
            double d = (double)x[i + k] - mean;
            s[k] += d * d;
        }
    for (; i < n; i++) s[0] += ((double)x[i] - mean) * ((double)x[i] - mean);
    return (s[0] + s[1]) + (s[2] + s[3]);
}

void nn_group_norm_silu(float *y, const float *x, const float *gamma, const float *beta, int n, int c, int hw,
                        int groups, float eps) {
    int cg = c / groups;
    long pairs = (long)n * groups;
#pragma omp parallel for schedule(static)
    for (long p = 0; p < pairs; p++) {
        int g = (int)(p % groups);
        size_t off = (size_t)p * cg * hw;  // (batch item, group) blocks are contiguous
        const float *xg = x + off;
        size_t count = (size_t)cg * hw;
        double mean = sum4(xg, count) / (double)count;
        double var = sum_sq4(xg, count, mean) / (double)count;
        float m = (float)mean, rstd = (float)(1.0 / sqrt(var + (double)eps));
        for (int i = 0; i < cg; i++) {
            int ch = g * cg + i;
            affine_silu(y + off + (size_t)i * hw, x + off + (size_t)i * hw, m, rstd * gamma[ch], beta[ch], (size_t)hw);
        }
    }
}
