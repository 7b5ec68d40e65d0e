// wavelet.h: 2-D multilevel discrete wavelet transform, equal to PyWavelets'
// wavedec2 (pywt 1.1), and the energy of each level and subband.
//
// Wavelets haar, db2, db4, sym4 (filters carried here, digit for digit as
// pywt defines them); modes 'periodization' and 'symmetric' with pywt's
// coefficient lengths: n -> ceil(n/2) and n -> floor((n + F - 1)/2) for a
// filter of F taps. One level filters along the height (axis -2) and the width
// (axis -1) and keeps every second output, exactly as pywt's dwt2:
//   out[o] = sum_k f[k] * x_ext[i - k],  i = F/2 + 2o (periodization), 1 + 2o (symmetric)
// where x_ext extends x periodically (an odd length first repeats its last
// sample) or by half-sample symmetry (x[-1] = x[0], x[n] = x[n-1]).
//
// Coefficients are stored in wavedec2's order, cA_n, (cH_n, cV_n, cD_n), ...,
// (cH_1, cV_1, cD_1): level n is the coarsest, level 1 the finest. Subband
// names: the first letter is the filter along the width (x), the second the
// one along the height (y):
//   LL = cA (low x, low y), LH = cH (low x, high y: horizontal edges),
//   HL = cV (high x, low y: vertical edges), HH = cD (high x, high y).
// Arithmetic is in double (inputs and outputs float); the result matches pywt
// run in float64 to ~1e-7 relative.
#ifndef MSF_EVAL_WAVELET_H
#define MSF_EVAL_WAVELET_H

#include <stddef.h>

#include "core/status.h"

typedef enum {
    MSF_WAVELET_HAAR = 0,
    MSF_WAVELET_DB2,
    MSF_WAVELET_DB4,
    MSF_WAVELET_SYM4,
    MSF_WAVELET_COUNT
} msf_wavelet;
typedef enum { MSF_WMODE_PERIODIZATION = 0, MSF_WMODE_SYMMETRIC = 1 } msf_wavelet_mode;

// Subbands within a level, in pywt's order of the detail tuple (LL first).
typedef enum { MSF_SUBBAND_LL = 0, MSF_SUBBAND_LH = 1, MSF_SUBBAND_HL = 2, MSF_SUBBAND_HH = 3 } msf_subband;

#define MSF_WAVEDEC2_MAX_LEVELS 12

typedef struct {
    const char *name;               // "db2"
    int taps;                       // filter length F
    const double *dec_lo, *dec_hi;  // pywt's Wavelet(name).dec_lo / dec_hi
} msf_wavelet_filters;

const msf_wavelet_filters *msf_wavelet_get(msf_wavelet wv);
const char *msf_wavelet_name(msf_wavelet wv);
const char *msf_wavelet_mode_name(msf_wavelet_mode m);
const char *msf_subband_name(msf_subband b);
msf_status msf_wavelet_parse(const char *name, msf_wavelet *wv);
msf_status msf_wavelet_mode_parse(const char *name, msf_wavelet_mode *m);

// pywt.dwt_coeff_len(n, taps, mode).
int msf_dwt_coeff_len(int n, int taps, msf_wavelet_mode m);

// A wavedec2 of one (h, w) array at `levels` levels: sizes, offsets and the
// index tables of the boundary extension, made once and shared by threads.
typedef struct {
    msf_wavelet wavelet;
    msf_wavelet_mode mode;
    int h, w, levels;
    int lh[MSF_WAVEDEC2_MAX_LEVELS + 1], lw[MSF_WAVEDEC2_MAX_LEVELS + 1];  // [0] = (h, w), [j] = level j
    size_t total;                                                          // coefficients in all subbands
    int subbands;                                                          // 1 + 3 * levels
    size_t *offset;                         // [subbands]: start of subband s in the coefficient buffer (order above)
    size_t work_doubles;                    // scratch one msf_wavedec2 call needs
    size_t approx_max, rows_max;            // its parts: largest approximation, largest row-filtered half
    int *row_idx[MSF_WAVEDEC2_MAX_LEVELS];  // [lw[j+1] * taps] input column of output o, tap k
    int *col_idx[MSF_WAVEDEC2_MAX_LEVELS];  // [lh[j+1] * taps]
} msf_wavedec2_plan;

// levels in 1..MSF_WAVEDEC2_MAX_LEVELS, h, w >= 1. pywt warns when levels is
// above dwt_max_level (boundary effects dominate) but computes; so do we.
msf_status msf_wavedec2_plan_init(msf_wavedec2_plan *p, int h, int w, msf_wavelet wv, msf_wavelet_mode m, int levels);
void msf_wavedec2_plan_free(msf_wavedec2_plan *p);

// Level (1..levels) and subband of the s-th subband of the coefficient order.
int msf_wavedec2_subband_level(const msf_wavedec2_plan *p, int s);
msf_subband msf_wavedec2_subband_kind(const msf_wavedec2_plan *p, int s);
// Rows and columns of subband s.
int msf_wavedec2_subband_h(const msf_wavedec2_plan *p, int s);
int msf_wavedec2_subband_w(const msf_wavedec2_plan *p, int s);

// x (h, w) -> coeffs (p->total), in the order above. `work` holds
// p->work_doubles; thread-safe for distinct coeffs/work.
void msf_wavedec2(float *coeffs, const float *x, const msf_wavedec2_plan *p, double *work);

// energy[s] = sum of squares of subband s's coefficients (p->subbands values).
// For an orthogonal wavelet in periodization mode they sum to sum x^2.
void msf_wavedec2_energy(double *energy, const float *coeffs, const msf_wavedec2_plan *p);

#endif
