// wavelet.c: 2-D multilevel DWT equal to pywt.wavedec2 (see wavelet.h).
#include "eval/wavelet.h"

#include <stdlib.h>
#include <string.h>

// -----------------------------------------------------------------------------
// Filters: pywt 1.1's Wavelet(name).dec_lo and dec_hi, printed with repr().

static const double haar_lo[] = {0.7071067811865476, 0.7071067811865476};
static const double haar_hi[] = {-0.7071067811865476, 0.7071067811865476};
static const double db2_lo[] = {-0.12940952255126037, 0.2241438680420134, 0.8365163037378079, 0.48296291314453416};
static const double db2_hi[] = {-0.48296291314453416, 0.8365163037378079, -0.2241438680420134, -0.12940952255126037};
static const double db4_lo[] = {-0.010597401785069032, 0.0328830116668852, 0.030841381835560764, -0.18703481171909309,
                                -0.027983769416859854, 0.6308807679298589, 0.7148465705529157,   0.2303778133088965};
static const double db4_hi[] = {-0.2303778133088965, 0.7148465705529157,   -0.6308807679298589, -0.027983769416859854,
                                0.18703481171909309, 0.030841381835560764, -0.0328830116668852, -0.010597401785069032};
static const double sym4_lo[] = {-0.07576571478927333, -0.02963552764599851, 0.49761866763201545,   0.8037387518059161,
                                 0.29785779560527736,  -0.09921954357684722, -0.012603967262037833, 0.0322231006040427};
static const double sym4_hi[] = {-0.0322231006040427, -0.012603967262037833, 0.09921954357684722, 0.29785779560527736,
                                 -0.8037387518059161, 0.49761866763201545,   0.02963552764599851, -0.07576571478927333};

static const msf_wavelet_filters filters[MSF_WAVELET_COUNT] = {
    {"haar", 2, haar_lo, haar_hi},
    {"db2", 4, db2_lo, db2_hi},
    {"db4", 8, db4_lo, db4_hi},
    {"sym4", 8, sym4_lo, sym4_hi},
};
static const char *mode_names[] = {"periodization", "symmetric"};
static const char *subband_names[] = {"LL", "LH", "HL", "HH"};

const msf_wavelet_filters *msf_wavelet_get(msf_wavelet wv) { return &filters[wv]; }
const char *msf_wavelet_name(msf_wavelet wv) { return filters[wv].name; }
const char *msf_wavelet_mode_name(msf_wavelet_mode m) { return mode_names[m]; }
const char *msf_subband_name(msf_subband b) { return subband_names[b]; }

msf_status msf_wavelet_parse(const char *name, msf_wavelet *wv) {
    for (int i = 0; i < MSF_WAVELET_COUNT; i++)
        if (!strcmp(name, filters[i].name)) {
            *wv = (msf_wavelet)i;
            return MSF_OK;
        }
    return msf_fail(MSF_ERR_INVALID, "unknown wavelet '%s' (expected haar, db2, db4 or sym4)", name);
}

msf_status msf_wavelet_mode_parse(const char *name, msf_wavelet_mode *m) {
    for (int i = 0; i < 2; i++)
        if (!strcmp(name, mode_names[i])) {
            *m = (msf_wavelet_mode)i;
            return MSF_OK;
        }
    return msf_fail(MSF_ERR_INVALID, "unknown wavelet mode '%s' (expected periodization or symmetric)", name);
}

int msf_dwt_coeff_len(int n, int taps, msf_wavelet_mode m) {
    return m == MSF_WMODE_PERIODIZATION ? (n + 1) / 2 : (n + taps - 1) / 2;
}

// -----------------------------------------------------------------------------
// Plan

// idx[o * taps + k] = the sample of x (length n) that tap k of output o reads,
// following pywt's downsampling_convolution for the mode.
static void extension_table(int *idx, int n, int out, int taps, msf_wavelet_mode m) {
    for (int o = 0; o < out; o++)
        for (int k = 0; k < taps; k++) {
            int j;
            if (m == MSF_WMODE_PERIODIZATION) {
                // Period n + 1 for odd n: the extra sample repeats x[n-1].
                int period = n + (n & 1), i = taps / 2 + 2 * o - k;
                j = ((i % period) + period) % period;
                if (j == n) j = n - 1;
            } else {
                // Half-sample symmetric: period 2n, x[-1-m] = x[m].
                int period = 2 * n, i = 1 + 2 * o - k;
                j = ((i % period) + period) % period;
                if (j >= n) j = period - 1 - j;
            }
            idx[o * taps + k] = j;
        }
}

msf_status msf_wavedec2_plan_init(msf_wavedec2_plan *p, int h, int w, msf_wavelet wv, msf_wavelet_mode m, int levels) {
    memset(p, 0, sizeof *p);
    if ((unsigned)wv >= MSF_WAVELET_COUNT || (unsigned)m > MSF_WMODE_SYMMETRIC)
        return msf_fail(MSF_ERR_INVALID, "invalid wavelet or mode");
    if (levels < 1 || levels > MSF_WAVEDEC2_MAX_LEVELS)
        return msf_fail(MSF_ERR_INVALID, "wavelet levels must be in 1..%d, got %d", MSF_WAVEDEC2_MAX_LEVELS, levels);
    if (h < 1 || w < 1) return msf_fail(MSF_ERR_INVALID, "wavedec2 of an empty %dx%d array", h, w);
    int taps = filters[wv].taps;
    *p = (msf_wavedec2_plan){.wavelet = wv, .mode = m, .h = h, .w = w, .levels = levels, .subbands = 1 + 3 * levels};
    p->lh[0] = h, p->lw[0] = w;
    size_t max_level = (size_t)h * w, max_rows = 0;
    for (int j = 1; j <= levels; j++) {
        p->lh[j] = msf_dwt_coeff_len(p->lh[j - 1], taps, m);
        p->lw[j] = msf_dwt_coeff_len(p->lw[j - 1], taps, m);
        size_t lvl = (size_t)p->lh[j] * p->lw[j], rows = (size_t)p->lh[j - 1] * p->lw[j];
        if (lvl > max_level) max_level = lvl;
        if (rows > max_rows) max_rows = rows;
    }
    // Two approximations (ping-pong) and the row-filtered low and high halves.
    p->approx_max = max_level, p->rows_max = max_rows;
    p->work_doubles = 2 * max_level + 2 * max_rows;
    p->offset = malloc((size_t)p->subbands * sizeof *p->offset);
    if (!p->offset) return msf_fail(MSF_ERR_NOMEM, "out of memory for a wavedec2 plan");
    size_t off = 0;
    for (int s = 0; s < p->subbands; s++) {
        p->offset[s] = off;
        off += (size_t)msf_wavedec2_subband_h(p, s) * msf_wavedec2_subband_w(p, s);
    }
    p->total = off;
    for (int j = 0; j < levels; j++) {
        p->row_idx[j] = malloc((size_t)p->lw[j + 1] * taps * sizeof(int));
        p->col_idx[j] = malloc((size_t)p->lh[j + 1] * taps * sizeof(int));
        if (!p->row_idx[j] || !p->col_idx[j]) {
            msf_wavedec2_plan_free(p);
            return msf_fail(MSF_ERR_NOMEM, "out of memory for a wavedec2 plan");
        }
        extension_table(p->row_idx[j], p->lw[j], p->lw[j + 1], taps, m);
        extension_table(p->col_idx[j], p->lh[j], p->lh[j + 1], taps, m);
    }
    return MSF_OK;
}

void msf_wavedec2_plan_free(msf_wavedec2_plan *p) {
    free(p->offset);
    for (int j = 0; j < MSF_WAVEDEC2_MAX_LEVELS; j++) free(p->row_idx[j]), free(p->col_idx[j]);
    memset(p, 0, sizeof *p);
}

int msf_wavedec2_subband_level(const msf_wavedec2_plan *p, int s) {
    return s == 0 ? p->levels : p->levels - (s - 1) / 3;
}

msf_subband msf_wavedec2_subband_kind(const msf_wavedec2_plan *p, int s) {
    return s == 0 ? MSF_SUBBAND_LL : (msf_subband)(1 + (s - 1) % 3);
}

int msf_wavedec2_subband_h(const msf_wavedec2_plan *p, int s) { return p->lh[msf_wavedec2_subband_level(p, s)]; }
int msf_wavedec2_subband_w(const msf_wavedec2_plan *p, int s) { return p->lw[msf_wavedec2_subband_level(p, s)]; }

// -----------------------------------------------------------------------------
// Transform

// Along the width: each of `rows` rows of a (rows, n) -> lo, hi (rows, out).
static void filter_rows(double *lo, double *hi, const double *a, int rows, int n, int out, const int *idx,
                        const msf_wavelet_filters *f) {
    int taps = f->taps;
    for (int r = 0; r < rows; r++) {
        const double *x = a + (size_t)r * n;
        for (int o = 0; o < out; o++) {
            const int *ix = idx + o * taps;
            double sl = 0, sh = 0;
            for (int k = 0; k < taps; k++) {
                double v = x[ix[k]];
                sl += f->dec_lo[k] * v;
                sh += f->dec_hi[k] * v;
            }
            lo[(size_t)r * out + o] = sl;
            hi[(size_t)r * out + o] = sh;
        }
    }
}

// Along the height: src (rows, cols) -> low and high outputs (out, cols), the
// low one in double (ll) or float (llf), the high one in float.
static void filter_cols(double *ll, float *llf, float *high, const double *src, int out, int cols, const int *idx,
                        const msf_wavelet_filters *f) {
    int taps = f->taps;
    for (int o = 0; o < out; o++) {
        const int *ix = idx + o * taps;
        for (int c = 0; c < cols; c++) {
            double sl = 0, sh = 0;
            for (int k = 0; k < taps; k++) {
                double v = src[(size_t)ix[k] * cols + c];
                sl += f->dec_lo[k] * v;
                sh += f->dec_hi[k] * v;
            }
            if (ll) ll[(size_t)o * cols + c] = sl;
            if (llf) llf[(size_t)o * cols + c] = (float)sl;
            high[(size_t)o * cols + c] = (float)sh;
        }
    }
}

void msf_wavedec2(float *coeffs, const float *x, const msf_wavedec2_plan *p, double *work) {
    const msf_wavelet_filters *f = &filters[p->wavelet];
    double *a = work, *b = work + p->approx_max, *lo = b + p->approx_max, *hi = lo + p->rows_max;
    for (size_t i = 0; i < (size_t)p->h * p->w; i++) a[i] = x[i];
    for (int j = 1; j <= p->levels; j++) {
        int ih = p->lh[j - 1], iw = p->lw[j - 1], oh = p->lh[j], ow = p->lw[j];
        filter_rows(lo, hi, a, ih, iw, ow, p->row_idx[j - 1], f);
        // Subbands of level j: index 1 + 3 (levels - j) + (LH, HL, HH) - 1.
        int s = 1 + 3 * (p->levels - j);
        float *lh_out = coeffs + p->offset[s], *hl_out = coeffs + p->offset[s + 1], *hh_out = coeffs + p->offset[s + 2];
        int last = j == p->levels;
        // LL and LH from the width-low half; HL (low y) and HH (high y) from the width-high half.
        filter_cols(last ? NULL : b, last ? coeffs + p->offset[0] : NULL, lh_out, lo, oh, ow, p->col_idx[j - 1], f);
        filter_cols(NULL, hl_out, hh_out, hi, oh, ow, p->col_idx[j - 1], f);
        double *t = a;
        a = b, b = t;
    }
}

void msf_wavedec2_energy(double *energy, const float *coeffs, const msf_wavedec2_plan *p) {
    for (int s = 0; s < p->subbands; s++) {
        size_t n = (size_t)msf_wavedec2_subband_h(p, s) * msf_wavedec2_subband_w(p, s);
        const float *c = coeffs + p->offset[s];
        double e = 0;
        for (size_t i = 0; i < n; i++) e += (double)c[i] * c[i];
        energy[s] = e;
    }
}
