// spectrum_report.c: the frequency report of a set of images or latents
// (see spectrum_report.h): inputs, analysis, the data files, plots.gp and
// its plots.
#include "eval/spectrum_report.h"

#include <errno.h>
#include <math.h>
#include <omp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <sys/types.h>

#include "core/arena.h"
#include "core/version.h"
#include "eval/image_input.h"
#include "io/gnuplot.h"
#include "io/h5write.h"
#include "io/textfile.h"
#include "io/h5read.h"

// -----------------------------------------------------------------------------
// Inputs

typedef struct {
    const char *path;
    const char *kind;  // "idx", "png-folder", "npz", "hdf5"
    float *x;          // (n, c, h, w)
    int64_t n;
    int c, h, w;
} input_set;

static msf_status load_hdf5(input_set *in, const msf_spectrum_report_opts *lo) {
    msf_h5_reader *f;
    msf_status s = msf_h5_open(&f, in->path);
    if (s) return s;
    const msf_h5_tensor *t = msf_h5_find(f, lo->dataset);
    if (!t) {
        s = msf_fail(MSF_ERR_NOT_FOUND, "%s has no dataset '%s' (use --dataset)", in->path, lo->dataset);
    } else if (t->ndim != 4 || t->shape[0] < 1) {
        s = msf_fail(MSF_ERR_SHAPE, "%s: dataset '%s' has %d dimensions, expected 4: [N, C, H, W]", in->path,
                     lo->dataset, t->ndim);
    } else {
        int64_t shape[4] = {t->shape[0], t->shape[1], t->shape[2], t->shape[3]};
        if (!(s = msf_h5_load(f, lo->dataset, 4, shape, &in->x))) {
            in->n = lo->max > 0 && lo->max < shape[0] ? lo->max : shape[0];
            in->c = (int)shape[1], in->h = (int)shape[2], in->w = (int)shape[3];
        }
    }
    msf_h5_close(f);
    return s;
}

msf_status msf_spectrum_input_kind(const char *path, const char **kind) {
    *kind = NULL;
    struct stat st;
    if (stat(path, &st) != 0) return msf_fail(MSF_ERR_IO, "cannot open %s: %s", path, strerror(errno));
    if (S_ISDIR(st.st_mode)) {
        *kind = "png-folder";
        return MSF_OK;
    }
    unsigned char head[8] = {0};
    FILE *f = fopen(path, "rb");
    if (!f) return msf_fail(MSF_ERR_IO, "cannot open %s: %s", path, strerror(errno));
    size_t got = fread(head, 1, sizeof head, f);
    fclose(f);
    if (got >= 4 && !memcmp(head, "PK\x03\x04", 4)) *kind = "npz";
    else if (got == 8 && !memcmp(head, "\x89HDF\r\n\x1a\n", 8)) *kind = "hdf5";
    else if ((got >= 2 && head[0] == 0x1f && head[1] == 0x8b) || (got >= 3 && !head[0] && !head[1] && head[2] == 0x08))
        *kind = "idx";
    else
        return msf_fail(MSF_ERR_FORMAT,
                        "%s is neither IDX images (.gz or plain), an .npz batch, an HDF5 file nor a folder", path);
    return MSF_OK;
}

static msf_status load_input(input_set *in, const char *path, const msf_spectrum_report_opts *lo) {
    memset(in, 0, sizeof *in);
    in->path = path;
    msf_status s = msf_spectrum_input_kind(path, &in->kind);
    if (s) return s;
    msf_image_input_opts io = {.range = lo->range, .max_images = lo->max};
    if (!strcmp(in->kind, "png-folder")) return msf_png_folder_read(path, &io, &in->x, &in->n, &in->c, &in->h, &in->w);
    if (!strcmp(in->kind, "npz"))
        return msf_npz_read_images(path, lo->array, &io, &in->x, &in->n, &in->c, &in->h, &in->w);
    if (!strcmp(in->kind, "hdf5")) return load_hdf5(in, lo);
    msf_idx_opts o = {.pad_to = lo->pad_to, .range = lo->range, .max_images = lo->max};
    s = msf_idx_read_images(path, &o, &in->x, &in->n, &in->h, &in->w);
    in->c = 1;
    return s;
}

// Analyse in batches; *a (freed by the caller) keeps the plans.
static msf_status analyse(msf_freq_analysis *a, msf_freq_result *r, const input_set *in, const msf_freq_opts *o,
                          const char *label, const msf_progress *p) {
    msf_status s = msf_freq_init(a, in->c, in->h, in->w, o);
    if (s) return msf_fail_context(s, "%s", in->path);
    size_t numel = (size_t)in->c * in->h * in->w;
    msf_progress_report(p, label, 0, in->n);
    for (int64_t i = 0; i < in->n && !s; i += 1024) {
        int64_t m = in->n - i < 1024 ? in->n - i : 1024;
        if ((s = msf_freq_add(a, in->x + (size_t)i * numel, m))) s = msf_fail_context(s, "%s", in->path);
        msf_progress_report(p, label, i + m, in->n);
    }
    if (!s) s = msf_freq_result_make(r, a);
    return s;
}

// -----------------------------------------------------------------------------
// Summaries (means over channels) and output

enum { NSER = MSF_SERIES_COUNT };

// energy: of x (the wavelet energies add up to it); spectrum_energy: of the
// image the spectrum analyses (w x with a window, else x), what the band
// energies add up to: the `all` row of bands.csv and the denominator of its
// fractions.
typedef struct {
    double *power, *band, *wavelet, energy[NSER], spectrum_energy[NSER];  // [series][k]
    double cross_band[MSF_SPECTRUM_MAX_BANDS], cross_wavelet[1 + 3 * MSF_WAVEDEC2_MAX_LEVELS], cross_energy;
    double cross_spectrum_energy;
} summary;

static msf_status summarise(summary *m, const msf_freq_result *r) {
    m->power = malloc((size_t)NSER * r->bins * sizeof(double));
    m->band = malloc((size_t)NSER * r->bands * sizeof(double));
    m->wavelet = malloc((size_t)NSER * r->subbands * sizeof(double));
    if (!m->power || !m->band || !m->wavelet) return msf_fail(MSF_ERR_NOMEM, "out of memory");
    msf_freq_channel_mean(m->power, r->power, NSER, r->c, r->bins);
    msf_freq_channel_mean(m->band, r->band, NSER, r->c, r->bands);
    msf_freq_channel_mean(m->wavelet, r->wavelet, NSER, r->c, r->subbands);
    msf_freq_channel_mean(m->energy, r->energy, NSER, r->c, 1);
    msf_freq_channel_mean(m->spectrum_energy, r->spectrum_energy, NSER, r->c, 1);
    // E(z) = E(base) + E(residual) + cross.
    for (int b = 0; b < r->bands; b++)
        m->cross_band[b] = m->band[b] - m->band[r->bands + b] - m->band[2 * r->bands + b];
    for (int s = 0; s < r->subbands; s++)
        m->cross_wavelet[s] = m->wavelet[s] - m->wavelet[r->subbands + s] - m->wavelet[2 * r->subbands + s];
    m->cross_energy = m->energy[0] - m->energy[1] - m->energy[2];
    m->cross_spectrum_energy = m->spectrum_energy[0] - m->spectrum_energy[1] - m->spectrum_energy[2];
    return MSF_OK;
}

static void summary_free(summary *m) { free(m->power), free(m->band), free(m->wavelet); }

static const char *ser_names[NSER] = {"z", "base", "residual"};

static double ratio(double a, double b) { return b != 0 ? a / b : NAN; }

static msf_status write_spectrum_csv(const char *dir, const msf_spectrum_plan *p, const summary *m, const summary *ref,
                                     msf_staged_file *st) {
    msf_text_file o;
    msf_status s = msf_text_create_in(&o, dir, "spectrum.csv");
    if (s) return s;
    fprintf(o.f, "radius,z,base,residual%s\n", ref ? ",ref_z,ref_base,ref_residual" : "");
    for (int b = 0; b < p->bins; b++) {
        fprintf(o.f, "%.9g", p->radius[b]);
        for (int se = 0; se < NSER; se++) fprintf(o.f, ",%.9g", m->power[se * p->bins + b]);
        for (int se = 0; ref && se < NSER; se++) fprintf(o.f, ",%.9g", ref->power[se * p->bins + b]);
        fputc('\n', o.f);
    }
    return msf_text_finish(&o, st);
}

// bands.csv column numbers, for the plot script.
enum { BC_Z = 5, BC_SHARE = 9, BC_FRACTION = 12, BC_REF = 15, BC_VS_REF = 22 };

static void band_row(FILE *f, const char *name, double lo, double hi, int64_t freqs, const double *e, double cross,
                     const double *total, const double *ref_e, double ref_cross) {
    fprintf(f, "%s,%.9g,%.9g,%lld", name, lo, hi, (long long)freqs);
    for (int se = 0; se < NSER; se++) fprintf(f, ",%.9g", e[se]);
    fprintf(f, ",%.9g", cross);
    fprintf(f, ",%.9g,%.9g,%.9g", ratio(e[1], e[0]), ratio(e[2], e[0]), ratio(cross, e[0]));
    for (int se = 0; se < NSER; se++) fprintf(f, ",%.9g", ratio(e[se], total[se]));
    if (ref_e) {
        for (int se = 0; se < NSER; se++) fprintf(f, ",%.9g", ref_e[se]);
        fprintf(f, ",%.9g", ref_cross);
        fprintf(f, ",%.9g,%.9g,%.9g", ratio(ref_e[1], ref_e[0]), ratio(ref_e[2], ref_e[0]), ratio(ref_cross, ref_e[0]));
        for (int se = 0; se < NSER; se++) fprintf(f, ",%.9g", ratio(e[se], ref_e[se]));
    }
    fputc('\n', f);
}

static msf_status write_bands_csv(const char *dir, const msf_spectrum_plan *p, const summary *m, const summary *ref,
                                  msf_staged_file *st) {
    msf_text_file o;
    msf_status s = msf_text_create_in(&o, dir, "bands.csv");
    if (s) return s;
    fprintf(o.f,
            "band,r_lo,r_hi,frequencies,z,base,residual,cross,base_share,residual_share,cross_share,"
            "z_fraction,base_fraction,residual_fraction%s\n",
            ref ? ",ref_z,ref_base,ref_residual,ref_cross,ref_base_share,ref_residual_share,ref_cross_share,"
                  "z_vs_ref,base_vs_ref,residual_vs_ref"
                : "");
    for (int b = 0; b <= p->bands; b++) {
        int all = b == p->bands;
        char name[32];
        if (all) snprintf(name, sizeof name, "all");
        else msf_spectrum_band_name(name, sizeof name, b, p->bands);
        double e[NSER], re[NSER];
        for (int se = 0; se < NSER; se++) {
            e[se] = all ? m->spectrum_energy[se] : m->band[se * p->bands + b];
            if (ref) re[se] = all ? ref->spectrum_energy[se] : ref->band[se * p->bands + b];
        }
        band_row(o.f, name, all ? 0 : p->band_edge[b], p->band_edge[all ? p->bands : b + 1],
                 all ? (int64_t)p->h * p->w : p->band_count[b], e, all ? m->cross_spectrum_energy : m->cross_band[b],
                 m->spectrum_energy, ref ? re : NULL,
                 ref ? (all ? ref->cross_spectrum_energy : ref->cross_band[b]) : 0);
    }
    return msf_text_finish(&o, st);
}

// Series per subband in wavelet.csv: z, base, residual, cross (+ the reference's three).
static msf_status write_wavelet_csv(const char *dir, const msf_wavedec2_plan *wp, const summary *m, const summary *ref,
                                    msf_staged_file *st) {
    msf_text_file o;
    msf_status s = msf_text_create_in(&o, dir, "wavelet.csv");
    if (s) return s;
    fprintf(o.f, "level,subband,series,energy\n");
    for (int sb = 0; sb < wp->subbands; sb++) {
        int lvl = msf_wavedec2_subband_level(wp, sb);
        const char *kind = msf_subband_name(msf_wavedec2_subband_kind(wp, sb));
        for (int se = 0; se < NSER; se++)
            fprintf(o.f, "%d,%s,%s,%.9g\n", lvl, kind, ser_names[se], m->wavelet[se * wp->subbands + sb]);
        fprintf(o.f, "%d,%s,cross,%.9g\n", lvl, kind, m->cross_wavelet[sb]);
        for (int se = 0; ref && se < NSER; se++)
            fprintf(o.f, "%d,%s,ref_%s,%.9g\n", lvl, kind, ser_names[se], ref->wavelet[se * wp->subbands + sb]);
    }
    return msf_text_finish(&o, st);
}

// -----------------------------------------------------------------------------
// HDF5

typedef struct {
    const char *input, *reference, *title, *command;
    const input_set *in;
    const msf_freq_opts *fo;
    const msf_spectrum_report_opts *opts;
    char factor[128], cuts[160];
} run_info;

static msf_status write_f64(msf_h5_writer *w, const char *name, int ndim, const int64_t *shape, const double *v) {
    size_t n = 1;
    for (int i = 0; i < ndim; i++) n *= (size_t)shape[i];
    float *f = malloc((n ? n : 1) * sizeof *f);
    if (!f) return msf_fail(MSF_ERR_NOMEM, "out of memory");
    for (size_t i = 0; i < n; i++) f[i] = (float)v[i];
    msf_status s = msf_h5_write_f32(w, name, ndim, shape, f);
    free(f);
    return s;
}

static msf_status write_result_h5(msf_h5_writer *w, const char *group, const msf_freq_result *r) {
    char name[128];
    int64_t S = r->series, C = r->c;
    int64_t sp[3] = {S, C, r->bins}, sb[3] = {S, C, r->bands}, sw[3] = {S, C, r->subbands}, se[2] = {S, C};
    msf_status s;
    snprintf(name, sizeof name, "%spower", group);
    if ((s = write_f64(w, name, 3, sp, r->power))) return s;
    snprintf(name, sizeof name, "%sband", group);
    if ((s = write_f64(w, name, 3, sb, r->band))) return s;
    snprintf(name, sizeof name, "%swavelet", group);
    if ((s = write_f64(w, name, 3, sw, r->wavelet))) return s;
    snprintf(name, sizeof name, "%senergy", group);
    if ((s = write_f64(w, name, 2, se, r->energy))) return s;
    snprintf(name, sizeof name, "%sspectrum_energy", group);
    if ((s = write_f64(w, name, 2, se, r->spectrum_energy))) return s;
    snprintf(name, sizeof name, "%s", *group ? "reference" : "");
    return msf_h5_attr_int(w, name, "images", r->images);
}

static msf_status write_h5(const char *dir, const run_info *ri, const msf_freq_analysis *a, const msf_freq_result *r,
                           const msf_freq_result *ref, msf_staged_file *st) {
    char path[4200];
    snprintf(path, sizeof path, "%.4000s/spectrum.h5", dir);
    msf_h5_writer *w;
    msf_status s = msf_h5_create(&w, path);
    if (s) return s;
    const msf_spectrum_plan *p = &a->spec;
    const msf_wavedec2_plan *wp = &a->wave;
    int64_t nb[1] = {p->bins}, ne[1] = {p->bands + 1}, ns[1] = {wp->subbands};
    int64_t *cnt = malloc((size_t)(p->bins + 2 * wp->subbands) * sizeof *cnt);
    if (!cnt) {
        msf_h5_abort(w);
        return msf_fail(MSF_ERR_NOMEM, "out of memory");
    }
    int64_t *lvl = cnt + p->bins, *kind = lvl + wp->subbands;
    for (int b = 0; b < p->bins; b++) cnt[b] = p->count[b];
    for (int sb = 0; sb < wp->subbands; sb++)
        lvl[sb] = msf_wavedec2_subband_level(wp, sb), kind[sb] = msf_wavedec2_subband_kind(wp, sb);
    const msf_freq_opts *fo = ri->fo;
    const char *desc =
        "power [series, channel, bin]: radially averaged power |DFT|^2/(H W) per frequency, mean over images; "
        "band [series, channel, band] and wavelet [series, channel, subband]: energy per image; energy: sum of "
        "squares per image; spectrum_energy: the same of the windowed image (= energy without a window), what the "
        "bands add up to (the 'all' row of bands.csv); the wavelet energies are of the unwindowed image. series = z, U(base), residual = z - U(base). Subbands in pywt.wavedec2 order (LL_n, "
        "then LH, HL, HH from level n down to 1; LH = pywt cH, HL = cV, HH = cD).";
    if ((s = write_f64(w, "radius", 1, nb, p->radius)) || (s = msf_h5_write_i64(w, "count", 1, nb, cnt)) ||
        (s = write_f64(w, "band_edge", 1, ne, p->band_edge)) ||
        (s = msf_h5_write_i64(w, "subband_level", 1, ns, lvl)) ||
        (s = msf_h5_write_i64(w, "subband_kind", 1, ns, kind)) || (s = write_result_h5(w, "", r)) ||
        (ref && (s = write_result_h5(w, "reference/", ref))) ||
        (s = msf_h5_attr_string(w, NULL, "description", desc)) ||
        (s = msf_h5_attr_string(w, NULL, "series", "z,base,residual")) ||
        (s = msf_h5_attr_string(w, NULL, "subband_kinds", "LL,LH,HL,HH")) ||
        (s = msf_h5_attr_string(w, NULL, "input", ri->input)) ||
        (s = msf_h5_attr_string(w, NULL, "input_kind", ri->in->kind)) ||
        (s = msf_h5_attr_string(w, NULL, "reference_input", ri->reference ? ri->reference : "")) ||
        (s = msf_h5_attr_string(w, NULL, "title", ri->title)) ||
        (s = msf_h5_attr_string(w, NULL, "command", ri->command)) ||
        (s = msf_h5_attr_int(w, NULL, "channels", ri->in->c)) || (s = msf_h5_attr_int(w, NULL, "height", ri->in->h)) ||
        (s = msf_h5_attr_int(w, NULL, "width", ri->in->w)) ||
        (s = msf_h5_attr_string(w, NULL, "factorize", ri->factor)) ||
        (s = msf_h5_attr_string(w, NULL, "window", msf_window_name(fo->spectrum.window))) ||
        (s = msf_h5_attr_string(w, NULL, "spacing", msf_radial_spacing_name(fo->spectrum.spacing))) ||
        (s = msf_h5_attr_int(w, NULL, "bins", p->bins)) || (s = msf_h5_attr_string(w, NULL, "cuts", ri->cuts)) ||
        (s = msf_h5_attr_string(w, NULL, "wavelet", msf_wavelet_name(fo->wavelet))) ||
        (s = msf_h5_attr_string(w, NULL, "wavelet_mode", msf_wavelet_mode_name(fo->wavelet_mode))) ||
        (s = msf_h5_attr_int(w, NULL, "wavelet_levels", fo->wavelet_levels)) ||
        (s = msf_h5_attr_string(w, NULL, "range", msf_byte_range_name(ri->opts->range))) ||
        (s = msf_h5_attr_int(w, NULL, "pad_to", ri->opts->pad_to)) ||
        (s = msf_h5_attr_int(w, NULL, "threads", omp_get_max_threads())) ||
        (s = msf_h5_attr_string(w, NULL, "fftw_version", msf_fftw_version())) ||
        (s = msf_h5_attr_string(w, NULL, "msf_version", msf_version())) ||
        (s = msf_h5_attr_string(w, NULL, "git_commit", msf_git_commit()))) {
        free(cnt);
        msf_h5_abort(w);
        return s;
    }
    free(cnt);
    return msf_h5_finish(w, st);
}

// The data files (spectrum.csv, bands.csv, wavelet.csv, spectrum.h5) appear
// together or not at all: each is written completely under its temporary
// name, and only then are all renamed into place.
static msf_status write_data_files(const char *dir, const run_info *ri, const msf_freq_analysis *a,
                                   const msf_freq_result *r, const msf_freq_result *ref, const summary *m,
                                   const summary *mref) {
    msf_staged_file st[4];
    int n = 0;
    msf_status s;
    if (!(s = write_spectrum_csv(dir, &a->spec, m, mref, &st[n]))) n++;
    if (!s && !(s = write_bands_csv(dir, &a->spec, m, mref, &st[n]))) n++;
    if (!s && !(s = write_wavelet_csv(dir, &a->wave, m, mref, &st[n]))) n++;
    if (!s && !(s = write_h5(dir, ri, a, r, ref, &st[n]))) n++;
    if (s) {
        msf_staged_discard(st, n);
        return s;
    }
    return msf_staged_publish(st, n);
}

// -----------------------------------------------------------------------------
// Plots

// The formatted text as a quoted gnuplot string (msf_gp_quote): titles hold
// the input's and the reference's names, which may hold anything. Two joined
// with ."\n". make a two-line title.
__attribute__((format(printf, 3, 4))) static const char *gp_text(char *dst, size_t size, const char *fmt, ...) {
    char text[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    return msf_gp_quote(dst, size, text);
}

// Smallest positive and largest value of v (1, 1 if none is positive).
static void log_range(double *lo, double *hi, const double *v, size_t n) {
    *lo = INFINITY, *hi = 0;
    for (size_t i = 0; i < n; i++)
        if (v[i] > 0 && isfinite(v[i])) {
            if (v[i] < *lo) *lo = v[i];
            if (v[i] > *hi) *hi = v[i];
        }
    if (*hi == 0) *lo = *hi = 1;
}

// Ticks 0, 1, ... named after the rows of bands.csv.
static void band_xtics(FILE *f, const msf_spectrum_plan *p) {
    fprintf(f, "set xtics (");
    for (int b = 0; b <= p->bands; b++) {
        char name[32];
        if (b == p->bands) snprintf(name, sizeof name, "all");
        else msf_spectrum_band_name(name, sizeof name, b, p->bands);
        fprintf(f, "%s'%s' %d", b ? ", " : "", name, b);
    }
    fprintf(f, ")\n");
}

static const char *colors[NSER + 1] = {"#222222", "#1f77b4", "#d62728", "#8c8c8c"};
static const char *legends[NSER + 1] = {"z", "U(base)", "residual z - U(base)", "cross term 2<U(base), residual>"};

static msf_status write_plot_script(const char *dir, const run_info *ri, const msf_freq_analysis *a,
                                    const msf_freq_result *r, int has_ref) {
    msf_text_file o;
    msf_status s = msf_text_create_in(&o, dir, "plots.gp");
    if (s) return s;
    FILE *f = o.f;
    const msf_spectrum_plan *p = &a->spec;
    const msf_wavedec2_plan *wp = &a->wave;
    // title, refname, sub: plain text; q1, q2: gnuplot literals made of them.
    char title[512], sub[1024], refname[512] = "", q1[2100], q2[2100];
    snprintf(title, sizeof title, "%s", ri->title);
    if (has_ref) {
        const char *slash = strrchr(ri->reference, '/');
        snprintf(refname, sizeof refname, "%s", slash && slash[1] ? slash + 1 : ri->reference);
    }
    snprintf(sub, sizeof sub, "%lld images %dx%dx%d, factorisation %s", (long long)r->images, ri->in->c, ri->in->h,
             ri->in->w, ri->factor);
    int f_base = 1;
    for (int l = 1; l < ri->fo->factor.levels; l++) f_base *= ri->fo->factor.scale;
    // What the spectrum and the bands are energies of (the wavelets are never windowed).
    int hann = ri->fo->spectrum.window == MSF_WINDOW_HANN;
    const char *of = hann ? " of the Hann-windowed images" : "";

    char comment[2300];
    snprintf(comment, sizeof comment, "plots.gp: made by `%s`", ri->command);
    msf_gp_comment(f, comment);
    snprintf(comment, sizeof comment, "(msf %s, commit %s). Rerun with: cd DIR && gnuplot plots.gp", msf_version(),
             msf_git_commit());
    msf_gp_comment(f, comment);
    msf_gp_prologue(f);
    // pngcairo where gnuplot has it (gnuplot-nox does), else libgd's png.
    fprintf(f,
            "term = strstrt(GPVAL_TERMINALS, 'pngcairo') > 0 ? \"pngcairo enhanced font 'sans,11'\" : "
            "'png enhanced'\n");
    fprintf(f, "set datafile separator ','\nset datafile missing 'nan'\nset grid lc rgb '#dddddd'\n\n");

    // 1. Radial spectra.
    fprintf(f, "set terminal @term size 1000,650\n");
    msf_gp_set_output(f, "spectrum.png");
    fprintf(f, "set title %s.\"\\n\".%s noenhanced\n",
            gp_text(q1, sizeof q1, "%s: radially averaged power spectrum%s", title, of),
            gp_text(q2, sizeof q2, "%s", sub));
    fprintf(f, "set logscale xy\nset format y '10^{%%L}'\n");
    // Radii run past the Nyquist radius 0.5 to the corners of the grid (0.707
    // for even sides): the last band holds them.
    fprintf(f,
            "set xlabel 'radial frequency |f| = (f_x^2 + f_y^2)^{1/2} (cycles/pixel, log scale; 0.5 = Nyquist "
            "along an axis, %.3g in the corners; DC not shown)'\n",
            p->r_max);
    fprintf(f, "set ylabel 'power per frequency, |DFT|^2/(HW) (input units^2, log scale)'\n");
    fprintf(f, "set key bottom left box opaque\n");
    // Nine decades below the largest power: U(base) falls to ~1e-15 near the
    // corners, which would squeeze the rest of the plot.
    double top = 0;
    for (size_t i = 0; i < (size_t)NSER * r->c * p->bins; i++)
        if (isfinite(r->power[i]) && r->power[i] > top && p->radius[i % p->bins] > 0) top = r->power[i];
    if (top > 0) fprintf(f, "set yrange [%.6g:*]\n", top * 1e-9);
    for (int b = 0; b < p->bands; b++) {
        double lo = b == 0 ? p->r_lo : p->band_edge[b], hi = p->band_edge[b + 1];
        char name[32];
        msf_spectrum_band_name(name, sizeof name, b, p->bands);
        if (b > 0) fprintf(f, "set arrow from %.9g, graph 0 to %.9g, graph 1 nohead dt 2 lc rgb 'gray50'\n", lo, lo);
        fprintf(f, "set label '%s' at %.9g, graph 0.96 center tc rgb 'gray30'\n", name, sqrt(lo * hi));
    }
    double base_nyq = 0.5 / f_base;
    fprintf(f, "set arrow from %.9g, graph 0 to %.9g, graph 1 nohead dt 3 lw 1.5 lc rgb '#b03030'\n", base_nyq,
            base_nyq);
    fprintf(f, "set label 'base Nyquist (0.5/%d)' at %.9g, graph 0.90 left offset 0.5,0 tc rgb '#b03030'\n", f_base,
            base_nyq);
    fprintf(f, "plot ");
    for (int se = 0; se < NSER; se++)
        fprintf(f, "%s'spectrum.csv' skip 2 using 1:%d with linespoints lw 2 pt 7 ps 0.7 lc rgb '%s' title '%s%s'",
                se ? ", \\\n     " : "", 2 + se, colors[se], legends[se], has_ref ? " (input)" : "");
    for (int se = 0; has_ref && se < NSER; se++)
        fprintf(f, ", \\\n     'spectrum.csv' skip 2 using 1:%d with lines dt 2 lw 2 lc rgb '%s' title %s noenhanced",
                5 + se, colors[se], gp_text(q1, sizeof q1, "%s (reference %s)", legends[se], refname));
    fprintf(f, "\nunset arrow\nunset label\nunset logscale\nset format y '%%g'\nset yrange [*:*]\n\n");

    // 2. Band energies and shares.
    int nrows = p->bands + 1;
    fprintf(f, "set terminal @term size 1400,650\n");
    msf_gp_set_output(f, "bands.png");
    fprintf(f, "set multiplot layout 1,2 title %s.\"\\n\".%s noenhanced\n",
            gp_text(q1, sizeof q1,
                    "%s: energy per frequency band%s (band edges as fractions of the Nyquist radius %s; "
                    "'all' = every frequency)",
                    title, of, ri->cuts),
            gp_text(q2, sizeof q2, "%s", sub));
    fprintf(f, "set style fill solid 0.85 border lc rgb 'black'\nset boxwidth 0.2\nset xrange [-0.6:%d.6]\n",
            nrows - 1);
    fprintf(f, "set key top right box opaque\nset xlabel 'radial frequency band'\n");
    band_xtics(f, p);
    // Left: energies (log scale), with head room for the key.
    double lo_e, hi_e;
    log_range(&lo_e, &hi_e, r->band, (size_t)NSER * r->c * r->bands);
    fprintf(f, "set title 'energy per image and channel'\nset logscale y\n");
    fprintf(f, "set ylabel 'energy in the band (input units^2, log scale)'\n");
    fprintf(f, "set yrange [%.6g:%.6g]\nset format y '10^{%%L}'\nplot ", lo_e / 3, hi_e * (has_ref ? 300 : 30));
    int nbar = has_ref ? 6 : 3;
    double wbar = 0.8 / nbar;
    for (int k = 0; k < nbar; k++) {
        int se = k % NSER, ref = k >= NSER;
        fprintf(f, "%s'bands.csv' skip 1 using ($0%+.4f):%d:(%.4f) with boxes lc rgb '%s'%s title \"%s%s\" noenhanced",
                k ? ", \\\n     " : "", (k - (nbar - 1) / 2.0) * wbar, (ref ? BC_REF : BC_Z) + se, wbar, colors[se],
                ref ? " fs pattern 4" : "", legends[se], ref ? " (reference)" : "");
    }
    fprintf(f, "\nunset logscale y\nset format y '%%g'\n");
    // Right: shares of z's energy in percent, each bar labelled with its value
    // (above a positive bar, below a negative one).
    fprintf(f, "set title \"share of z's energy in each band carried by U(base) and by the residual\"\n");
    fprintf(
        f,
        "set ylabel 'share of the band energy of z (%%)'\nset yrange [*:*]\nset offsets 0, 0, graph 0.3, graph 0.05\n");
    fprintf(f, "set xzeroaxis lt -1\npct(v) = abs(v) < 0.0005 ? '0.0' : sprintf('%%.1f', 100 * v)\n");
    wbar = 0.8 / 3;
    fprintf(f, "set boxwidth %.4f\nplot ", wbar);
    for (int k = 0; k < 3; k++) {
        int col = BC_SHARE + k, se = k + 1;
        double off = (k - 1) * wbar;
        fprintf(
            f,
            "%s'bands.csv' skip 1 using ($0%+.4f):(100*$%d):(%.4f) with boxes lc rgb '%s' title \"%s\" noenhanced, \\\n"
            "     '' skip 1 using ($0%+.4f):($%d >= 0 ? 100*$%d : NaN):(pct($%d)) with labels offset 0,0.7 font ',9' notitle, \\\n"
            "     '' skip 1 using ($0%+.4f):($%d < 0 ? 100*$%d : NaN):(pct($%d)) with labels offset 0,-0.7 font ',9' notitle",
            k ? ", \\\n     " : "", off, col, wbar, colors[se], legends[se], off, col, col, col, off, col, col, col);
    }
    fprintf(f, "\nunset multiplot\nunset xzeroaxis\nset offsets 0, 0, 0, 0\nset autoscale\nset xrange [*:*]\n\n");

    // 3. Wavelet subband energies.
    int per = has_ref ? 7 : 4;
    fprintf(f, "set terminal @term size 1200,650\n");
    msf_gp_set_output(f, "wavelet.png");
    fprintf(f, "set title %s.\"\\n\".%s noenhanced\n",
            gp_text(q1, sizeof q1, "%s: %s wavelet (%s, %d levels) subband energies%s", title,
                    msf_wavelet_name(ri->fo->wavelet), msf_wavelet_mode_name(ri->fo->wavelet_mode), wp->levels,
                    hann ? " (no window)" : ""),
            gp_text(q2, sizeof q2, "%s; level 1 is the finest; LH = pywt cH, HL = cV, HH = cD", sub));
    double lo_w, hi_w;
    log_range(&lo_w, &hi_w, r->wavelet, (size_t)NSER * r->c * r->subbands);
    fprintf(f, "set logscale y\nset format y '10^{%%L}'\nset yrange [%.6g:%.6g]\n", lo_w / 3,
            hi_w * (has_ref ? 300 : 30));
    fprintf(f, "set ylabel 'energy per image and channel (input units^2, log scale)'\n");
    fprintf(f, "set xlabel 'subband (LL = approximation; LH, HL, HH = detail) and level'\n");
    fprintf(f, "set xrange [-0.6:%d.6]\nset key top right box opaque\nset xtics (", wp->subbands - 1);
    for (int sb = 0; sb < wp->subbands; sb++)
        fprintf(f, "%s'%s%d' %d", sb ? ", " : "", msf_subband_name(msf_wavedec2_subband_kind(wp, sb)),
                msf_wavedec2_subband_level(wp, sb), sb);
    fprintf(f, ")\n");
    nbar = has_ref ? 6 : 3;
    wbar = 0.8 / nbar;
    fprintf(f, "set boxwidth %.4f\nplot ", wbar);
    for (int k = 0; k < nbar; k++) {
        int se = k % NSER, ref = k >= NSER, row = ref ? 4 + se : se;
        fprintf(
            f,
            "%s'wavelet.csv' skip 1 every %d::%d using ($0%+.4f):4:(%.4f)%s with boxes lc rgb '%s'%s title \"%s%s\" noenhanced",
            k ? ", \\\n     " : "", per, row, (k - (nbar - 1) / 2.0) * wbar, wbar, "", colors[se],
            ref ? " fs pattern 4" : "", legends[se], ref ? " (reference)" : "");
    }
    fprintf(f, "\nunset logscale y\nset format y '%%g'\n\n");

    // 4. Input vs reference.
    if (has_ref) {
        fprintf(f, "set terminal @term size 1000,650\n");
        msf_gp_set_output(f, "bands_vs_reference.png");
        fprintf(f, "set title %s.\"\\n\".%s noenhanced\n",
                gp_text(q1, sizeof q1, "%s vs reference %s: band energy ratio (1 = the reference's energy)", title,
                        refname),
                gp_text(q2, sizeof q2, "%s", sub));
        fprintf(f, "set ylabel 'band energy of input / band energy of reference%s'\n",
                hann ? " (both Hann-windowed)" : "");
        fprintf(f, "set xlabel 'radial frequency band'\n");
        fprintf(f, "set xrange [-0.6:%d.6]\nset yrange [0:*]\nset key top left box opaque\n", nrows - 1);
        band_xtics(f, p);
        fprintf(f, "set arrow from graph 0, first 1 to graph 1, first 1 nohead lt -1 dt 2\n");
        wbar = 0.8 / 3;
        fprintf(f, "set boxwidth %.4f\nplot ", wbar);
        for (int se = 0; se < NSER; se++) {
            double off = (se - 1) * wbar;
            fprintf(
                f,
                "%s'bands.csv' skip 1 using ($0%+.4f):%d:(%.4f)%s with boxes lc rgb '%s' title \"%s\" noenhanced, \\\n"
                "     'bands.csv' skip 1 using ($0%+.4f):%d:(sprintf('%%.2f', $%d)) with labels offset 0,0.7 font ',9' notitle",
                se ? ", \\\n     " : "", off, BC_VS_REF + se, wbar, "", colors[se], legends[se], off, BC_VS_REF + se,
                BC_VS_REF + se);
        }
        fprintf(f, "\nunset arrow\n");
    }
    fprintf(f, "unset output\n");
    return msf_text_commit(&o);
}

// -----------------------------------------------------------------------------
// The report

msf_spectrum_report_opts msf_spectrum_report_defaults(void) {
    return (msf_spectrum_report_opts){.cuts = "1/3,2/3",
                                      .dataset = "latents",
                                      .array = "arr_0",
                                      .pad_to = 32,
                                      .range = MSF_BYTES_UNIT,
                                      .freq = msf_freq_defaults(),
                                      .plots = 1};
}

void msf_spectrum_command_line(char *dst, size_t size, int argc, const char *const *argv) {
    static const char plain_chars[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_=,./:+@%";
    if (!size) return;
    snprintf(dst, size, "msf");
    for (int i = 0; i < argc; i++) {
        size_t len = strlen(dst);
        if (argv[i][0] && strspn(argv[i], plain_chars) == strlen(argv[i])) {
            snprintf(dst + len, size - len, " %s", argv[i]);
            continue;
        }
        // '...', a quote of the argument written '\'' (end the quotes, a quoted quote, reopen).
        snprintf(dst + len, size - len, " '");
        for (const char *c = argv[i]; *c; c++) {
            len = strlen(dst);
            if (*c == '\'') snprintf(dst + len, size - len, "'\\''");
            else snprintf(dst + len, size - len, "%c", *c);
        }
        len = strlen(dst);
        snprintf(dst + len, size - len, "'");
    }
}

static void energies(msf_spectrum_energies *e, const summary *m, int bands) {
    for (int se = 0; se < NSER; se++) {
        for (int b = 0; b < bands; b++) e->band[se][b] = m->band[se * bands + b];
        e->energy[se] = m->spectrum_energy[se];
    }
    for (int b = 0; b < bands; b++) e->cross_band[b] = m->cross_band[b];
    e->cross_energy = m->cross_spectrum_energy;
}

msf_status msf_spectrum_report_write(msf_spectrum_report *rep, const msf_spectrum_report_opts *o,
                                     const msf_progress *progress) {
    memset(rep, 0, sizeof *rep);
    if (!o->input || !o->out_dir) return msf_fail(MSF_ERR_INVALID, "a spectrum report needs an input and a folder");
    if (strlen(o->out_dir) > 4000) return msf_fail(MSF_ERR_INVALID, "output folder longer than 4000 characters");
    input_set in = {0}, rin = {0};
    msf_freq_result r = {0}, rr = {0};
    summary m = {0}, mr = {0};
    msf_freq_analysis plan = {0}, rplan = {0};
    const msf_freq_opts *fo = &o->freq;
    const char *title = o->title;
    if (!title) {
        const char *slash = strrchr(o->input, '/');
        title = slash && slash[1] ? slash + 1 : o->input;
    }
    run_info ri = {.input = o->input,
                   .reference = o->reference,
                   .title = title,
                   .command = o->command ? o->command : "",
                   .in = &in,
                   .fo = fo,
                   .opts = o};
    nn_pyramid_opts_format(ri.factor, sizeof ri.factor, &fo->factor);
    snprintf(ri.cuts, sizeof ri.cuts, "%s", o->cuts ? o->cuts : "1/3,2/3");
    int made_dir = 0;
    msf_status s = load_input(&in, o->input, o);
    if (!s && o->reference) {
        if (!(s = load_input(&rin, o->reference, o)) && (rin.c != in.c || rin.h != in.h || rin.w != in.w))
            s = msf_fail(MSF_ERR_SHAPE, "reference %s holds %dx%dx%d images, %s holds %dx%dx%d", o->reference, rin.c,
                         rin.h, rin.w, o->input, in.c, in.h, in.w);
    }
    if (!s) {
        made_dir = mkdir(o->out_dir, 0777) == 0;
        if (!made_dir && errno != EEXIST)
            s = msf_fail(MSF_ERR_IO, "cannot create output folder %s: %s", o->out_dir, strerror(errno));
    }
    if (!s) s = analyse(&plan, &r, &in, fo, "spectrum", progress);
    if (!s && o->reference) s = analyse(&rplan, &rr, &rin, fo, "reference", progress);
    if (!s) s = summarise(&m, &r);
    if (!s && o->reference) s = summarise(&mr, &rr);
    const summary *mref = o->reference ? &mr : NULL;
    if (!s) s = write_data_files(o->out_dir, &ri, &plan, &r, o->reference ? &rr : NULL, &m, mref);
    if (!s) s = write_plot_script(o->out_dir, &ri, &plan, &r, o->reference != NULL);
    if (!s && o->plots && (s = msf_gp_plot(o->out_dir, "plots.gp", NULL)))
        s = msf_fail_context(s, "no plots (the CSV and HDF5 files are written)");
    if (!s) {
        const msf_spectrum_plan *p = &plan.spec;
        rep->kind = in.kind, rep->images = in.n, rep->c = in.c, rep->h = in.h, rep->w = in.w;
        snprintf(rep->factor, sizeof rep->factor, "%s", ri.factor);
        rep->bands = p->bands;
        memcpy(rep->band_edge, p->band_edge, (size_t)(p->bands + 1) * sizeof *p->band_edge);
        energies(&rep->input, &m, p->bands);
        if (mref) energies(&rep->reference, mref, p->bands);
        rep->has_reference = mref != NULL;
    }
    if (s && made_dir) rmdir(o->out_dir);  // removed only if nothing is in it
    msf_freq_free(&plan), msf_freq_free(&rplan);
    summary_free(&m), summary_free(&mr);
    msf_freq_result_free(&r), msf_freq_result_free(&rr);
    msf_aligned_free(in.x), msf_aligned_free(rin.x);
    return s;
}
