// spectrum.h: radially averaged power spectrum of 2-D arrays (FFTW, single
// precision) and the energy in radial frequency bands.
//
// Normalisation (Parseval). For an image x (h, w) with DFT
// X(k) = sum_n x(n) exp(-2 pi i (ky ny / h + kx nx / w)), the power of
// frequency k is P(k) = |X(k)|^2 / (h w), so that the sum of P(k) over all
// h * w frequencies equals sum_n x(n)^2, the energy of x. A radial bin's
// *energy* is the sum of P(k) over the frequencies in it (bin energies add up
// to the image's energy); its *power* is that energy divided by the number of
// frequencies in the bin (the radially averaged power spectrum; units: the
// input's units squared). Band energies are sums of P(k) too.
//
// Radius of frequency k: r = sqrt((ky/h)^2 + (kx/w)^2) in cycles per pixel,
// ky in [-h/2, h/2], kx in [-w/2, w/2]; the Nyquist radius is 0.5 and the
// corners reach r_max = sqrt(0.5^2 + 0.5^2) (even sides).
// Bins:
//   linear: bin b holds r with floor(r / d + 0.5) = b, radius b * d; d = 1/max(h, w)
//           by default (the classic integer-ring spectrum; bin 0 is the DC term
//           alone), or r_max / (bins - 1) when a bin count is given;
//   log:    bin 0 holds DC (r = 0); bins 1..bins-1 split [r_lo, r_max] evenly in
//           log r (r_lo = 1/max(h, w), the smallest nonzero radius), bin j
//           holding floor((bins - 1) log(r/r_lo) / log(r_max/r_lo)) = j - 1
//           (the top edge goes to the last bin); radius = geometric centre.
// Bands: cuts c_1 < c_2 < ... are fractions of the Nyquist radius; band 0 holds
// r <= c_1 / 2, band i holds c_i / 2 < r <= c_{i+1} / 2, the last band every r
// above the last cut (including the corners beyond Nyquist). Default cuts 1/3,
// 2/3: low, mid, high thirds of the Nyquist radius.
//
// Window: none, or the 2-D periodic Hann window w(ny) w(nx),
// w(n) = 0.5 - 0.5 cos(2 pi n / N), scaled to unit mean square; then P is the
// power of w x, Parseval holds for w x, and for a stationary signal the
// expected energies equal the unwindowed ones. An image's band energies then
// add up to E(w x), not E(x) (larger for an object centred in the frame):
// totals and fractions must use E(w x), as eval/freq_analysis.h does.
//
// Accuracy: the image mean m is removed in double before the float FFT and its
// exact contribution m * DFT(window) added back, so the FFT's rounding is
// relative to the fluctuation energy rather than the (often much larger)
// mean; spectra match a float64 NumPy computation to ~1e-6 relative.
//
// Threads: the FFTW plan is made once, from one thread, on scratch buffers;
// msf_spectrum_batch executes it with fftwf_execute_dft_r2c on per-thread
// 64-byte aligned buffers, one image per task. Each image's result is computed
// by one thread in a fixed order, so results are bit-identical for any thread
// count. FFTW_ESTIMATE planning: the same plan, hence the same rounding, on
// every run.
#ifndef MSF_EVAL_SPECTRUM_H
#define MSF_EVAL_SPECTRUM_H

#include <stddef.h>
#include <stdint.h>

#include "core/status.h"

typedef enum { MSF_RADIAL_LINEAR = 0, MSF_RADIAL_LOG = 1 } msf_radial_spacing;
typedef enum { MSF_WINDOW_NONE = 0, MSF_WINDOW_HANN = 1 } msf_window;

#define MSF_SPECTRUM_MAX_BANDS 8
#define MSF_SPECTRUM_LOG_BINS 16  // default bin count with log spacing (DC included)

typedef struct {
    msf_radial_spacing spacing;
    int bins;  // radial bins including the DC bin; 0 = the default above
    msf_window window;
    int ncuts;                                // bands = ncuts + 1
    double cuts[MSF_SPECTRUM_MAX_BANDS - 1];  // increasing fractions of the Nyquist radius, in (0, 2)
} msf_spectrum_opts;

// Linear spacing, default bins, no window, cuts 1/3 and 2/3.
msf_spectrum_opts msf_spectrum_defaults(void);
const char *msf_radial_spacing_name(msf_radial_spacing s);
const char *msf_window_name(msf_window w);
msf_status msf_radial_spacing_parse(const char *name, msf_radial_spacing *s);
msf_status msf_window_parse(const char *name, msf_window *w);
// "1/3,2/3" or "0.25,0.5" (fractions of the Nyquist radius) into o->cuts.
msf_status msf_spectrum_cuts_parse(msf_spectrum_opts *o, const char *text);
// "low", "mid", "high" for three bands, else "band0", "band1", ... into buf.
void msf_spectrum_band_name(char *buf, size_t size, int band, int bands);

typedef struct {
    int h, w;
    msf_spectrum_opts opts;
    int bins, bands;
    double delta;                                  // linear bin width (cycles/pixel); 0 for log spacing
    double r_lo, r_max;                            // smallest nonzero and largest radius on the grid
    double *radius;                                // [bins] radius of each bin (cycles/pixel), 0 for DC
    int64_t *count;                                // [bins] frequencies of the full h x w grid in each bin
    double band_edge[MSF_SPECTRUM_MAX_BANDS + 1];  // [bands + 1] cycles/pixel: 0, cuts / 2, r_max
    int64_t band_count[MSF_SPECTRUM_MAX_BANDS];
    // Private: per r2c output element (h * (w/2 + 1)), its bin, band and
    // multiplicity (2 when its mirror frequency is not stored, else 1).
    int *bin_of, *band_of;
    unsigned char *mult;
    double *window;      // [h * w] or NULL
    int mean_terms;      // nonzero entries of the window's DFT (of all ones without a window)
    int *mean_index;     // [mean_terms] their r2c element
    double *mean_dft;    // [2 * mean_terms] their values, re/im
    void *fft;           // fftwf_plan
    int threads;         // per-thread buffers made at creation
    size_t work_floats;  // per thread: the input image and the complex output
    float *work;         // [threads * work_floats]
} msf_spectrum_plan;

// Make a plan for (h, w) images (h, w >= 2); work buffers for up to
// omp_get_max_threads() threads (a later larger thread count uses that many).
// Not thread-safe (FFTW planning): call from one thread.
msf_status msf_spectrum_plan_create(msf_spectrum_plan *p, int h, int w, const msf_spectrum_opts *o);
void msf_spectrum_plan_free(msf_spectrum_plan *p);

// One image x (h, w): bin_energy[bins] and band_energy[bands] (either may be
// NULL). `work` holds p->work_floats floats, 64-byte aligned. Thread-safe for
// distinct work buffers.
void msf_spectrum_image(const msf_spectrum_plan *p, double *bin_energy, double *band_energy, const float *x,
                        float *work);

// `count` images x (count, h, w): bin_energy (count, bins) and band_energy
// (count, bands), either may be NULL; parallel over images with the plan's buffers.
void msf_spectrum_batch(msf_spectrum_plan *p, double *bin_energy, double *band_energy, const float *x, int64_t count);

// FFTW's version string ("fftw-3.3.10-...").
const char *msf_fftw_version(void);

#endif
