// spectrum.c: radially averaged power spectra and band energies with FFTW
// (see spectrum.h for the normalisation, the bins and the threading rule).
#include "eval/spectrum.h"

#include <fftw3.h>
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/arena.h"

static const char *spacing_names[] = {"linear", "log"};
static const char *window_names[] = {"none", "hann"};

msf_spectrum_opts msf_spectrum_defaults(void) {
    return (msf_spectrum_opts){
        .spacing = MSF_RADIAL_LINEAR, .bins = 0, .window = MSF_WINDOW_NONE, .ncuts = 2, .cuts = {1.0 / 3.0, 2.0 / 3.0}};
}

const char *msf_radial_spacing_name(msf_radial_spacing s) { return spacing_names[s]; }
const char *msf_window_name(msf_window w) { return window_names[w]; }

msf_status msf_radial_spacing_parse(const char *name, msf_radial_spacing *s) {
    for (int i = 0; i < 2; i++)
        if (!strcmp(name, spacing_names[i])) {
            *s = (msf_radial_spacing)i;
            return MSF_OK;
        }
    return msf_fail(MSF_ERR_INVALID, "unknown radial bin spacing '%s' (expected linear or log)", name);
}

msf_status msf_window_parse(const char *name, msf_window *w) {
    for (int i = 0; i < 2; i++)
        if (!strcmp(name, window_names[i])) {
            *w = (msf_window)i;
            return MSF_OK;
        }
    return msf_fail(MSF_ERR_INVALID, "unknown window '%s' (expected none or hann)", name);
}

msf_status msf_spectrum_cuts_parse(msf_spectrum_opts *o, const char *text) {
    int n = 0;
    const char *p = text;
    double prev = 0;
    while (*p) {
        char *end;
        double v = strtod(p, &end);
        if (end != p && *end == '/') {
            const char *q = end + 1;
            double d = strtod(q, &end);
            if (end == q || d == 0) goto bad;
            v /= d;
        }
        if (end == p || (*end != ',' && *end) || !(v > prev) || v >= 2) goto bad;
        if (n == MSF_SPECTRUM_MAX_BANDS - 1)
            return msf_fail(MSF_ERR_INVALID, "band cuts '%s': at most %d cuts", text, MSF_SPECTRUM_MAX_BANDS - 1);
        o->cuts[n++] = prev = v;
        p = *end ? end + 1 : end;
    }
    if (n == 0) goto bad;
    o->ncuts = n;
    return MSF_OK;
bad:
    return msf_fail(MSF_ERR_INVALID,
                    "band cuts '%s': expected increasing fractions of the Nyquist radius in (0, 2), such as "
                    "\"1/3,2/3\" or \"0.5\"",
                    text);
}

void msf_spectrum_band_name(char *buf, size_t size, int band, int bands) {
    static const char *three[] = {"low", "mid", "high"};
    if (bands == 3) snprintf(buf, size, "%s", three[band]);
    else snprintf(buf, size, "band%d", band);
}

const char *msf_fftw_version(void) { return fftwf_version; }

// -----------------------------------------------------------------------------
// Plan

// Signed frequency of DFT index k of n points: k for k <= n/2, else k - n.
static int signed_freq(int k, int n) { return k <= n / 2 ? k : k - n; }

static double freq_radius(int ky, int kx, int h, int w) {
    double fy = (double)signed_freq(ky, h) / h, fx = (double)signed_freq(kx, w) / w;
    return sqrt(fy * fy + fx * fx);
}

static int radial_bin(const msf_spectrum_plan *p, double r) {
    if (p->opts.spacing == MSF_RADIAL_LINEAR) return (int)floor(r / p->delta + 0.5);
    if (r == 0) return 0;
    int j = (int)floor((p->bins - 1) * (log(r / p->r_lo) / log(p->r_max / p->r_lo)));
    if (j < 0) j = 0;
    if (j > p->bins - 2) j = p->bins - 2;
    return 1 + j;
}

static int band_of_radius(const msf_spectrum_plan *p, double r) {
    int b = 0;
    while (b < p->bands - 1 && r > p->band_edge[b + 1]) b++;
    return b;
}

// Periodic Hann window of n points scaled to unit mean square.
static void hann(double *wn, int n) {
    double ms = 0;
    for (int i = 0; i < n; i++) {
        wn[i] = 0.5 - 0.5 * cos(2 * M_PI * i / n);
        ms += wn[i] * wn[i];
    }
    double scale = 1 / sqrt(ms / n);
    for (int i = 0; i < n; i++) wn[i] *= scale;
}

// DFT of a real sequence in double (n^2, done once per plan).
static void dft_1d(double *re, double *im, const double *x, int n) {
    for (int k = 0; k < n; k++) {
        double sr = 0, si = 0;
        for (int i = 0; i < n; i++) {
            double a = -2 * M_PI * (double)((long)k * i % n) / n;
            sr += x[i] * cos(a), si += x[i] * sin(a);
        }
        re[k] = sr, im[k] = si;
    }
}

static msf_status setup_window(msf_spectrum_plan *p) {
    int h = p->h, w = p->w, wc = w / 2 + 1;
    double *wy = malloc((size_t)(h + w) * 3 * sizeof *wy);
    if (!wy) return msf_fail(MSF_ERR_NOMEM, "out of memory for a spectrum plan");
    double *wx = wy + h, *yr = wx + w, *yi = yr + h, *xr = yi + h, *xi = xr + w;
    for (int i = 0; i < h; i++) wy[i] = 1;
    for (int i = 0; i < w; i++) wx[i] = 1;
    if (p->opts.window == MSF_WINDOW_HANN) {
        hann(wy, h), hann(wx, w);
        p->window = malloc((size_t)h * w * sizeof *p->window);
        if (!p->window) {
            free(wy);
            return msf_fail(MSF_ERR_NOMEM, "out of memory for a spectrum plan");
        }
        for (int y = 0; y < h; y++)
            for (int x = 0; x < w; x++) p->window[(size_t)y * w + x] = wy[y] * wx[x];
    }
    // The separable window's DFT is the product of the 1-D ones; the terms that
    // are zero analytically come out ~1e-16 here and are dropped.
    dft_1d(yr, yi, wy, h), dft_1d(xr, xi, wx, w);
    double peak = fabs(yr[0] * xr[0]);
    p->mean_index = malloc((size_t)h * wc * sizeof *p->mean_index);
    p->mean_dft = malloc((size_t)h * wc * 2 * sizeof *p->mean_dft);
    if (!p->mean_index || !p->mean_dft) {
        free(wy);
        return msf_fail(MSF_ERR_NOMEM, "out of memory for a spectrum plan");
    }
    for (int ky = 0; ky < h; ky++)
        for (int kx = 0; kx < wc; kx++) {
            double re = yr[ky] * xr[kx] - yi[ky] * xi[kx], im = yr[ky] * xi[kx] + yi[ky] * xr[kx];
            if (hypot(re, im) <= 1e-9 * peak) continue;
            p->mean_index[p->mean_terms] = ky * wc + kx;
            p->mean_dft[2 * p->mean_terms] = re, p->mean_dft[2 * p->mean_terms + 1] = im;
            p->mean_terms++;
        }
    free(wy);
    return MSF_OK;
}

msf_status msf_spectrum_plan_create(msf_spectrum_plan *p, int h, int w, const msf_spectrum_opts *o) {
    memset(p, 0, sizeof *p);
    if (h < 2 || w < 2) return msf_fail(MSF_ERR_INVALID, "spectrum of a %dx%d image: both sides must be >= 2", h, w);
    if ((unsigned)o->spacing > MSF_RADIAL_LOG || (unsigned)o->window > MSF_WINDOW_HANN || o->ncuts < 0 ||
        o->ncuts > MSF_SPECTRUM_MAX_BANDS - 1)
        return msf_fail(MSF_ERR_INVALID, "invalid spectrum options");
    if (o->bins < 0 || o->bins == 1 || (o->spacing == MSF_RADIAL_LOG && o->bins == 2) || o->bins > 100000)
        return msf_fail(MSF_ERR_INVALID, "radial bins must be 0 (default) or 2..100000 (3.. with log spacing), got %d",
                        o->bins);
    for (int i = 0; i < o->ncuts; i++)
        if (!(o->cuts[i] > (i ? o->cuts[i - 1] : 0)) || o->cuts[i] >= 2)
            return msf_fail(MSF_ERR_INVALID, "band cuts must increase within (0, 2) (fractions of Nyquist)");
    p->h = h, p->w = w, p->opts = *o, p->bands = o->ncuts + 1;
    int wc = w / 2 + 1, side = h > w ? h : w;
    size_t half = (size_t)h * wc;

    p->r_max = 0;
    p->r_lo = INFINITY;
    for (int ky = 0; ky < h; ky++)
        for (int kx = 0; kx < wc; kx++) {
            double r = freq_radius(ky, kx, h, w);
            if (r > p->r_max) p->r_max = r;
            if (r > 0 && r < p->r_lo) p->r_lo = r;
        }
    if (o->spacing == MSF_RADIAL_LINEAR) {
        if (o->bins) p->delta = p->r_max / (o->bins - 1), p->bins = o->bins;
        else p->delta = 1.0 / side, p->bins = (int)floor(p->r_max / p->delta + 0.5) + 1;
    } else {
        p->bins = o->bins ? o->bins : MSF_SPECTRUM_LOG_BINS;
    }
    p->band_edge[0] = 0;
    for (int i = 0; i < o->ncuts; i++) p->band_edge[i + 1] = 0.5 * o->cuts[i];
    p->band_edge[p->bands] = p->r_max;

    p->radius = malloc((size_t)p->bins * sizeof *p->radius);
    p->count = calloc((size_t)p->bins, sizeof *p->count);
    p->bin_of = malloc(half * sizeof *p->bin_of);
    p->band_of = malloc(half * sizeof *p->band_of);
    p->mult = malloc(half);
    if (!p->radius || !p->count || !p->bin_of || !p->band_of || !p->mult) goto nomem;
    for (int b = 0; b < p->bins; b++) {
        if (o->spacing == MSF_RADIAL_LINEAR) p->radius[b] = b * p->delta;
        else p->radius[b] = b == 0 ? 0 : p->r_lo * exp((b - 0.5) / (p->bins - 1) * log(p->r_max / p->r_lo));
    }
    for (int ky = 0; ky < h; ky++)
        for (int kx = 0; kx < wc; kx++) {
            size_t e = (size_t)ky * wc + kx;
            double r = freq_radius(ky, kx, h, w);
            p->bin_of[e] = radial_bin(p, r);
            p->band_of[e] = band_of_radius(p, r);
            // Columns 1 .. (w-1)/2 stand for their mirror (-ky, -kx) too, which
            // has the same radius.
            p->mult[e] = (kx == 0 || 2 * kx == w) ? 1 : 2;
            p->count[p->bin_of[e]] += p->mult[e];
            p->band_count[p->band_of[e]] += p->mult[e];
        }
    msf_status s = setup_window(p);
    if (s) {
        msf_spectrum_plan_free(p);
        return s;
    }

    // Input (h * w floats) then the complex output, each 64-byte aligned.
    size_t in_floats = msf_align_up((size_t)h * w * sizeof(float)) / sizeof(float);
    p->work_floats = msf_align_up((in_floats + 2 * half) * sizeof(float)) / sizeof(float);
    p->threads = omp_get_max_threads();
    p->work = msf_aligned_alloc((size_t)p->threads * p->work_floats * sizeof(float));
    if (!p->work) goto nomem;
    float *in = p->work;
    fftwf_complex *out = (fftwf_complex *)(p->work + in_floats);
    p->fft = fftwf_plan_dft_r2c_2d(h, w, in, out, FFTW_ESTIMATE);
    if (!p->fft) {
        msf_spectrum_plan_free(p);
        return msf_fail(MSF_ERR_NUMERIC, "FFTW could not plan a %dx%d real transform", h, w);
    }
    return MSF_OK;
nomem:
    msf_spectrum_plan_free(p);
    return msf_fail(MSF_ERR_NOMEM, "out of memory for a %dx%d spectrum plan", h, w);
}

void msf_spectrum_plan_free(msf_spectrum_plan *p) {
    if (p->fft) fftwf_destroy_plan((fftwf_plan)p->fft);
    free(p->radius), free(p->count), free(p->bin_of), free(p->band_of), free(p->mult);
    free(p->window), free(p->mean_index), free(p->mean_dft);
    msf_aligned_free(p->work);
    memset(p, 0, sizeof *p);
}

// -----------------------------------------------------------------------------
// Transform

void msf_spectrum_image(const msf_spectrum_plan *p, double *bin_energy, double *band_energy, const float *x,
                        float *work) {
    int h = p->h, w = p->w, wc = w / 2 + 1;
    size_t n = (size_t)h * w, half = (size_t)h * wc;
    size_t in_floats = msf_align_up(n * sizeof(float)) / sizeof(float);
    float *in = work;
    float *out = work + in_floats;  // interleaved re, im

    double mean = 0;
    for (size_t i = 0; i < n; i++) mean += x[i];
    mean /= (double)n;
    if (p->window)
        for (size_t i = 0; i < n; i++) in[i] = (float)(((double)x[i] - mean) * p->window[i]);
    else
        for (size_t i = 0; i < n; i++) in[i] = (float)((double)x[i] - mean);
    fftwf_execute_dft_r2c((fftwf_plan)p->fft, in, (fftwf_complex *)out);

    double bands_acc[MSF_SPECTRUM_MAX_BANDS] = {0};
    double *be = bin_energy;  // accumulated in place, scaled at the end
    if (be) memset(be, 0, (size_t)p->bins * sizeof *be);
    for (size_t e = 0; e < half; e++) {
        double re = out[2 * e], im = out[2 * e + 1];
        double pw = p->mult[e] * (re * re + im * im);
        if (be) be[p->bin_of[e]] += pw;
        bands_acc[p->band_of[e]] += pw;
    }
    // The mean's exact contribution: X(k) = FFT(w (x - m))(k) + m W(k).
    for (int t = 0; t < p->mean_terms; t++) {
        size_t e = (size_t)p->mean_index[t];
        double re = out[2 * e], im = out[2 * e + 1];
        double cr = re + mean * p->mean_dft[2 * t], ci = im + mean * p->mean_dft[2 * t + 1];
        double d = p->mult[e] * ((cr * cr + ci * ci) - (re * re + im * im));
        if (be) be[p->bin_of[e]] += d;
        bands_acc[p->band_of[e]] += d;
    }
    double scale = 1.0 / (double)n;
    if (bin_energy)
        for (int b = 0; b < p->bins; b++) bin_energy[b] *= scale;
    if (band_energy)
        for (int b = 0; b < p->bands; b++) band_energy[b] = bands_acc[b] * scale;
}

void msf_spectrum_batch(msf_spectrum_plan *p, double *bin_energy, double *band_energy, const float *x, int64_t count) {
    size_t n = (size_t)p->h * p->w;
    int threads = omp_get_max_threads() < p->threads ? omp_get_max_threads() : p->threads;
#pragma omp parallel for schedule(dynamic, 8) num_threads(threads)
    for (int64_t i = 0; i < count; i++)
        msf_spectrum_image(p, bin_energy ? bin_energy + i * p->bins : NULL,
                           band_energy ? band_energy + i * p->bands : NULL, x + (size_t)i * n,
                           p->work + (size_t)omp_get_thread_num() * p->work_floats);
}
