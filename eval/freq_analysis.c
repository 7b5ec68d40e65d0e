// freq_analysis.c: spectra and wavelet energies of z, U(base) and the
// residual (see freq_analysis.h).
#include "eval/freq_analysis.h"

#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "core/arena.h"

// Images per chunk: fixed, so neither the batch split nor the thread count
// changes which computation produces a value.
#define CHUNK 64

static const char *series_names[] = {"z", "base", "residual"};

const char *msf_freq_series_name(msf_freq_series s) { return series_names[s]; }

msf_freq_opts msf_freq_defaults(void) {
    return (msf_freq_opts){.factor = nn_pyramid_defaults(),
                           .spectrum = msf_spectrum_defaults(),
                           .wavelet = MSF_WAVELET_DB2,
                           .wavelet_mode = MSF_WMODE_PERIODIZATION,
                           .wavelet_levels = 3};
}

msf_status msf_freq_init(msf_freq_analysis *a, int c, int h, int w, const msf_freq_opts *o) {
    memset(a, 0, sizeof *a);
    if (c < 1) return msf_fail(MSF_ERR_INVALID, "frequency analysis of images with %d channels", c);
    if (o->factor.levels > 9) return msf_fail(MSF_ERR_INVALID, "at most 9 factorisation levels");
    msf_status s = nn_pyramid_check(&o->factor, h, w);
    if (s) return s;
    a->opts = *o, a->c = c, a->h = h, a->w = w;
    if ((s = msf_spectrum_plan_create(&a->spec, h, w, &o->spectrum))) return s;
    if ((s = msf_wavedec2_plan_init(&a->wave, h, w, o->wavelet, o->wavelet_mode, o->wavelet_levels))) {
        msf_freq_free(a);
        return s;
    }
    a->threads = a->spec.threads;
    a->item_doubles = a->spec.bins + a->spec.bands + a->wave.subbands + 2;
    size_t per_series = (size_t)c * a->item_doubles, full = (size_t)CHUNK * c * h * w;
    a->sums = calloc(MSF_SERIES_COUNT * per_series, sizeof(double));
    a->base = msf_aligned_alloc(full * sizeof(float));
    a->ub = msf_aligned_alloc(full * sizeof(float));
    a->res = msf_aligned_alloc(full * sizeof(float));
    a->scratch = msf_aligned_alloc((size_t)nn_pyramid_scratch_floats(CHUNK, c, h, w) * sizeof(float));
    a->coeffs = msf_aligned_alloc((size_t)a->threads * a->wave.total * sizeof(float));
    a->wave_work = msf_aligned_alloc((size_t)a->threads * a->wave.work_doubles * sizeof(double));
    a->item = msf_aligned_alloc((size_t)CHUNK * MSF_SERIES_COUNT * per_series * sizeof(double));
    int ok = a->sums && a->base && a->ub && a->res && a->scratch && a->coeffs && a->wave_work && a->item;
    for (int k = 0, lh = h, lw = w; ok && k < o->factor.levels - 1; k++, lh /= o->factor.scale, lw /= o->factor.scale)
        ok = (a->residuals[k] = msf_aligned_alloc((size_t)CHUNK * c * lh * lw * sizeof(float))) != NULL;
    if (!ok) {
        msf_freq_free(a);
        return msf_fail(MSF_ERR_NOMEM, "out of memory for the frequency analysis of %dx%dx%d images", c, h, w);
    }
    return MSF_OK;
}

void msf_freq_free(msf_freq_analysis *a) {
    msf_spectrum_plan_free(&a->spec);
    msf_wavedec2_plan_free(&a->wave);
    free(a->sums);
    msf_aligned_free(a->base), msf_aligned_free(a->ub), msf_aligned_free(a->res), msf_aligned_free(a->scratch);
    msf_aligned_free(a->coeffs), msf_aligned_free(a->wave_work), msf_aligned_free(a->item);
    for (int k = 0; k < 8; k++) msf_aligned_free(a->residuals[k]);
    memset(a, 0, sizeof *a);
}

// -----------------------------------------------------------------------------

// Statistics of one plane x (h, w) into item: power per bin, band energies,
// subband energies, energy, spectrum energy (of w x: what the bands add up to).
static void plane_stats(const msf_freq_analysis *a, double *item, const float *x, int tid) {
    const msf_spectrum_plan *p = &a->spec;
    double *power = item, *band = power + p->bins, *wav = band + p->bands, *energy = wav + a->wave.subbands;
    double *spectrum_energy = energy + 1;
    msf_spectrum_image(p, power, band, x, p->work + (size_t)tid * p->work_floats);
    for (int b = 0; b < p->bins; b++) power[b] = p->count[b] ? power[b] / (double)p->count[b] : 0;
    float *coeffs = a->coeffs + (size_t)tid * a->wave.total;
    msf_wavedec2(coeffs, x, &a->wave, a->wave_work + (size_t)tid * a->wave.work_doubles);
    msf_wavedec2_energy(wav, coeffs, &a->wave);
    double e = 0;
    for (size_t i = 0; i < (size_t)a->h * a->w; i++) e += (double)x[i] * x[i];
    *energy = e;
    // Parseval for w x; summed in the pixel domain, as the energy is.
    if (p->window) {
        e = 0;
        for (size_t i = 0; i < (size_t)a->h * a->w; i++) {
            double v = x[i] * p->window[i];
            e += v * v;
        }
    }
    *spectrum_energy = e;
}

static msf_status add_chunk(msf_freq_analysis *a, const float *x, int m) {
    const nn_pyramid_opts *fo = &a->opts.factor;
    int c = a->c, h = a->h, w = a->w;
    size_t plane = (size_t)h * w, full = (size_t)m * c * plane;
    msf_status s = nn_pyramid_factorize(a->base, a->residuals, x, m, c, h, w, fo, a->scratch);
    if (s) return s;
    // U applied L-1 times, from the base's size up to (h, w).
    int f = 1;
    for (int l = 1; l < fo->levels; l++) f *= fo->scale;
    const float *cur = a->base;
    for (int lh = h / f * fo->scale, lw = w / f * fo->scale; lh <= h; lh *= fo->scale, lw *= fo->scale) {
        float *dst = lh == h ? a->ub : (cur == a->scratch ? a->scratch + full : a->scratch);
        nn_pyramid_up(dst, cur, m, c, lh, lw, fo);
        cur = dst;
    }
    for (size_t i = 0; i < full; i++) a->res[i] = x[i] - a->ub[i];

    const float *src[MSF_SERIES_COUNT] = {x, a->ub, a->res};
    int64_t items = (int64_t)m * MSF_SERIES_COUNT * c;
    int threads = omp_get_max_threads() < a->threads ? omp_get_max_threads() : a->threads;
#pragma omp parallel for schedule(dynamic, 4) num_threads(threads)
    for (int64_t it = 0; it < items; it++) {
        // it = (image, series, channel)
        int ch = (int)(it % c), se = (int)(it / c % MSF_SERIES_COUNT);
        int64_t img = it / ((int64_t)c * MSF_SERIES_COUNT);
        plane_stats(a, a->item + (size_t)it * a->item_doubles, src[se] + ((size_t)img * c + ch) * plane,
                    omp_get_thread_num());
    }
    // Sums in image order.
    size_t per_image = (size_t)MSF_SERIES_COUNT * c * a->item_doubles;
    for (int i = 0; i < m; i++) {
        const double *v = a->item + (size_t)i * per_image;
        for (size_t k = 0; k < per_image; k++) a->sums[k] += v[k];
    }
    a->images += m;
    return MSF_OK;
}

msf_status msf_freq_add(msf_freq_analysis *a, const float *x, int64_t n) {
    size_t numel = (size_t)a->c * a->h * a->w;
    for (int64_t i = 0; i < n; i++)
        for (size_t k = 0; k < numel; k++)
            if (!isfinite(x[(size_t)i * numel + k]))
                return msf_fail(MSF_ERR_NUMERIC, "image %lld has a non-finite value (element %zu)",
                                (long long)(a->images + i), k);
    for (int64_t i = 0; i < n; i += CHUNK) {
        int m = (int)(n - i < CHUNK ? n - i : CHUNK);
        msf_status s = add_chunk(a, x + (size_t)i * numel, m);
        if (s) return s;
    }
    return MSF_OK;
}

// -----------------------------------------------------------------------------

msf_status msf_freq_result_make(msf_freq_result *r, const msf_freq_analysis *a) {
    memset(r, 0, sizeof *r);
    if (a->images == 0) return msf_fail(MSF_ERR_INVALID, "frequency analysis of no images");
    const msf_spectrum_plan *p = &a->spec;
    *r = (msf_freq_result){.series = MSF_SERIES_COUNT,
                           .c = a->c,
                           .bins = p->bins,
                           .bands = p->bands,
                           .subbands = a->wave.subbands,
                           .images = a->images};
    size_t sc = (size_t)MSF_SERIES_COUNT * a->c;
    r->power = malloc(sc * p->bins * sizeof(double));
    r->band = malloc(sc * p->bands * sizeof(double));
    r->wavelet = malloc(sc * a->wave.subbands * sizeof(double));
    r->energy = malloc(sc * sizeof(double));
    r->spectrum_energy = malloc(sc * sizeof(double));
    if (!r->power || !r->band || !r->wavelet || !r->energy || !r->spectrum_energy) {
        msf_freq_result_free(r);
        return msf_fail(MSF_ERR_NOMEM, "out of memory for frequency results");
    }
    double inv = 1.0 / (double)a->images;
    for (size_t i = 0; i < sc; i++) {
        const double *v = a->sums + i * a->item_doubles;
        for (int b = 0; b < p->bins; b++) r->power[i * p->bins + b] = p->count[b] ? v[b] * inv : NAN;
        v += p->bins;
        for (int b = 0; b < p->bands; b++) r->band[i * p->bands + b] = v[b] * inv;
        v += p->bands;
        for (int b = 0; b < a->wave.subbands; b++) r->wavelet[i * a->wave.subbands + b] = v[b] * inv;
        v += a->wave.subbands;
        r->energy[i] = v[0] * inv;
        r->spectrum_energy[i] = v[1] * inv;
    }
    return MSF_OK;
}

void msf_freq_result_free(msf_freq_result *r) {
    free(r->power), free(r->band), free(r->wavelet), free(r->energy), free(r->spectrum_energy);
    memset(r, 0, sizeof *r);
}

void msf_freq_channel_mean(double *out, const double *x, int series, int c, int k) {
    for (int s = 0; s < series; s++)
        for (int j = 0; j < k; j++) {
            double sum = 0;
            for (int ch = 0; ch < c; ch++) sum += x[((size_t)s * c + ch) * k + j];
            out[(size_t)s * k + j] = sum / c;
        }
}
