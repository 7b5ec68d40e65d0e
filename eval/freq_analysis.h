// freq_analysis.h: where the energy of z goes under MSF's factorisation:
// radial power spectra, band energies and wavelet subband energies of
//   z                the images or latents,
//   base = U(base)   the base brought back to full size (U applied L-1 times),
//   residual         z - U(base) (for L = 2 exactly MSF's residual r_0).
// Since z = base + residual, each band's energy splits as
//   E(z) = E(base) + E(residual) + 2 <base, residual>,
// so the shares E(base)/E(z), E(residual)/E(z) and the cross term
// 1 - both describe which part carries the band.
//
// With a window (spectrum.window = hann) the spectrum is that of w x, so the
// band energies are energies of w x and add up to E(w x), not to E(x): both
// are kept (spectrum_energy and energy below); without a window they are the
// same number. Wavelet energies are always those of x (no window).
//
// Images stream in with msf_freq_add in batches of any size; all statistics
// are per image (and channel) then averaged over images, summed in image
// order in double: the result does not depend on the batch split or the
// thread count, bit for bit.
#ifndef MSF_EVAL_FREQ_ANALYSIS_H
#define MSF_EVAL_FREQ_ANALYSIS_H

#include <stdint.h>

#include "core/status.h"
#include "eval/spectrum.h"
#include "eval/wavelet.h"
#include "nn/pyramid.h"

typedef enum { MSF_SERIES_Z = 0, MSF_SERIES_BASE = 1, MSF_SERIES_RESIDUAL = 2, MSF_SERIES_COUNT = 3 } msf_freq_series;

const char *msf_freq_series_name(msf_freq_series s);  // "z", "base", "residual"

typedef struct {
    nn_pyramid_opts factor;
    msf_spectrum_opts spectrum;
    msf_wavelet wavelet;
    msf_wavelet_mode wavelet_mode;
    int wavelet_levels;
} msf_freq_opts;

// Default factorisation (s=2, area, bilinear), default spectrum, db2 in
// periodization mode at 3 levels (orthogonal: subband energies add up to E(z)).
msf_freq_opts msf_freq_defaults(void);

typedef struct {
    msf_freq_opts opts;
    int c, h, w, threads;
    msf_spectrum_plan spec;
    msf_wavedec2_plan wave;
    int64_t images;  // added so far
    // Per-image statistics summed over images: [series][channel][item_doubles],
    // each item = power per bin (bin energy / bin count), band energies,
    // subband energies, energy, spectrum energy.
    double *sums;
    int item_doubles;
    // Chunk buffers (private)
    float *base, *ub, *res, *scratch, *residuals[8];
    float *coeffs;      // [threads][wave.total]
    double *wave_work;  // [threads][wave.work_doubles]
    double *item;       // [chunk][series][c][item_doubles]
} msf_freq_analysis;

// For images (c, h, w); h and w must allow the factorisation.
msf_status msf_freq_init(msf_freq_analysis *a, int c, int h, int w, const msf_freq_opts *o);
void msf_freq_free(msf_freq_analysis *a);

// Add n images x (n, c, h, w). Fails with MSF_ERR_NUMERIC on NaN/Inf input.
msf_status msf_freq_add(msf_freq_analysis *a, const float *x, int64_t n);

// Means over the images added (each array [series][c][k], allocated; free with
// msf_freq_result_free). Bins without frequencies get NaN power.
typedef struct {
    int series, c, bins, bands, subbands;
    int64_t images;
    double *power;    // [bins] radially averaged power (input units^2)
    double *band;     // [bands] energy in each band, per image
    double *wavelet;  // [subbands] energy of each subband (wavedec2 order), per image
    double *energy;   // [1] energy (sum of squares), per image
    // [1] energy of the image the spectrum analyses, w x with a window, else x
    // (then equal to energy), per image: the band energies add up to it.
    double *spectrum_energy;
} msf_freq_result;

msf_status msf_freq_result_make(msf_freq_result *r, const msf_freq_analysis *a);
void msf_freq_result_free(msf_freq_result *r);

// out[s][k] = mean over channels of x[s][c][k] (an energy share is the same
// for channel means as for channel sums).
void msf_freq_channel_mean(double *out, const double *x, int series, int c, int k);

#endif
