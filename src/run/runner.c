// runner.c: one grid point, shard by shard (sample, decode, merge, grid), and
// the experiment's results files (metrics, table, plots, manifest).
#define _XOPEN_SOURCE 700  // nftw
#include "run/runner.h"
#include "run/seeds.h"

#include <dirent.h>
#include <ftw.h>
#include <errno.h>
#include <hdf5.h>
#include <math.h>
#include <png.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <unistd.h>
#include <yaml.h>
#include <zip.h>
#include <zlib.h>

#include "core/arena.h"
#include "core/hash.h"
#include "core/timer.h"
#include "core/version.h"
#include "eval/evaluate.h"
#include "eval/spectrum.h"
#include "io/gnuplot.h"
#include "io/h5write.h"
#include "io/textfile.h"
#include "io/images.h"
#include "io/weights.h"
#include "models/dit.h"
#include "models/vae.h"
#include "msf/factorize.h"

char *openblas_get_config(void);

// -----------------------------------------------------------------------------
// Files

static msf_status make_dir(const char *path) {
    if (mkdir(path, 0777) != 0 && errno != EEXIST)
        return msf_fail(MSF_ERR_IO, "cannot create directory %s: %s", path, strerror(errno));
    return MSF_OK;
}

static int exists(const char *path) { return access(path, F_OK) == 0; }

msf_status msf_run_clean_temporaries(const char *dir) {
    DIR *d = opendir(dir);
    if (!d) return errno == ENOENT ? MSF_OK : msf_fail(MSF_ERR_IO, "cannot read directory %s: %s", dir, strerror(errno));
    struct dirent *ent;
    msf_status s = MSF_OK;
    while ((ent = readdir(d)) && !s) {
        if (!strstr(ent->d_name, ".tmp-")) continue;
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", dir, ent->d_name);
        if (unlink(path) != 0) s = msf_fail(MSF_ERR_IO, "cannot remove %s: %s", path, strerror(errno));
        else msf_log(MSF_LOG_INFO, "removed %s (left by an interrupted run)", path);
    }
    closedir(d);
    return s;
}

// A number for JSON (null for NaN) or CSV (empty for NaN).
static void json_num(FILE *f, double v) {
    if (isfinite(v)) fprintf(f, "%.10g", v);
    else fputs("null", f);
}
static void csv_num(FILE *f, double v) {
    if (isfinite(v)) fprintf(f, "%.10g", v);
}

// -----------------------------------------------------------------------------
// Generator: a DiT or an MSF model with the point's sampling options

typedef struct {
    int is_msf, C, H, num_classes, batch;
    uint64_t seed;
    msf_run_sampling opts;
    dit_model dit;
    diff_schedule sched;
    diff_sample_opts so;
    diff_denoiser den;
    float *work;
    msf_model msf;
    uint64_t base_hash;  // MSF: the base network and its sampling options
} generator;

static msf_status dit_denoise(void *user, float *out, const float *x, const float *t, const int64_t *y, int m,
                              int64_t first_sample) {
    return dit_forward(user, out, x, t, y, m);
}

static void generator_free(generator *g) {
    dit_free(&g->dit);
    diff_schedule_free(&g->sched);
    msf_aligned_free(g->work);
    msf_model_free(&g->msf);
    memset(g, 0, sizeof *g);
}

static uint64_t base_hash(const generator *g);

static msf_status generator_open(generator *g, const msf_run_point *p) {
    memset(g, 0, sizeof *g);
    msf_model arch;
    msf_status s = msf_run_point_arch(&arch, p);
    if (s) return s;
    int ls[MSF_MAX_LEVELS], guided = 0;
    for (int k = 0; k < arch.num_stages; k++) ls[k] = arch.stage[k].cfg.learn_sigma;
    if ((s = msf_run_sampling_make(&g->opts, p, arch.num_stages, ls))) return s;
    for (int k = 0; k < arch.num_stages; k++) guided |= g->opts.stage[k].cfg_scale > 1.0f;
    g->is_msf = !strcmp(cfg_str(p->cfg, "model.kind", "dit"), "msf");
    g->batch = (int)cfg_int(p->cfg, "batch", 8);
    g->seed = (uint64_t)cfg_int(p->cfg, "seed", 0);
    if (g->batch < 1 || g->batch > 4096) return msf_fail(MSF_ERR_INVALID, "%s: batch must be 1..4096", p->name);
    const char *path = cfg_str(p->cfg, "model.weights", ""), *group = cfg_str(p->cfg, "model.group", NULL);
    msf_weights *w;
    if ((s = msf_weights_open(&w, path))) return s;
    int rows = guided ? 2 * g->batch : g->batch;
    if (g->is_msf) {
        s = msf_model_load(&g->msf, w, group, rows);
        if (!s) g->base_hash = base_hash(g);
        g->C = g->msf.channels, g->H = g->msf.size, g->num_classes = g->msf.stage[0].cfg.num_classes;
    } else {
        const msf_stage_opts *st = &g->opts.stage[0];
        if (!(s = dit_load(&g->dit, w, group, rows))) {
            const dit_config *c = &g->dit.cfg;
            g->C = c->in_channels, g->H = c->input_size, g->num_classes = c->num_classes;
            if (guided && !c->has_null_class)
                s = msf_fail(MSF_ERR_INVALID, "%s has no null class: set sampler.cfg_scale to 1", path);
            if (!s && c->learn_sigma != (st->var == DIFF_VAR_LEARNED_RANGE))
                s = msf_fail(MSF_ERR_INVALID, "sampler.variance %s needs a model %s learned sigma",
                             diff_var_type_name(st->var), c->learn_sigma ? "without" : "with");
        }
        if (!s) s = diff_schedule_create(&g->sched, 1000, st->steps, st->var);
        if (!s) {
            g->so = (diff_sample_opts){.sampler = st->sampler, .eta = st->eta, .cfg_scale = st->cfg_scale,
                                       .cfg_mode = st->cfg_mode, .seed = g->seed};
            g->den = (diff_denoiser){.fn = dit_denoise, .user = &g->dit, .channels = g->C,
                                     .out_channels = g->dit.cfg.out_channels, .height = g->H, .width = g->H,
                                     .null_label = g->num_classes};
            g->work = msf_aligned_alloc(diff_sample_workspace_floats(&g->den, g->batch, guided) * sizeof(float));
            if (!g->work) s = msf_fail(MSF_ERR_NOMEM, "out of memory for the sampler workspace");
        }
    }
    msf_weights_close(w);
    if (s) {
        msf_fail_context(s, "%s", p->name);
        generator_free(g);
    }
    return s;
}

// -----------------------------------------------------------------------------
// Base cache: MSF points of one `msf run` that share the base stage (the same
// base weights, base sampling options, seed and labels; an ablation of the
// residual stage) draw each batch's base once. msf_sample_base followed by
// msf_sample_from_base gives msf_sample's bits, and the key holds everything
// the base depends on, so the samples do not depend on the cache. The time a
// cached base took is added to every point that reuses it: seconds per sample
// stay those of the whole two-stage sampler.

typedef struct base_entry {
    struct base_entry *next;
    uint64_t key;
    size_t floats;
    float *base;
    double seconds;
} base_entry;

static base_entry *base_cache;
static size_t base_cache_floats;
enum { BASE_CACHE_MAX_FLOATS = 64 << 20 };  // 256 MiB

void msf_run_base_cache_clear(void) {
    while (base_cache) {
        base_entry *e = base_cache;
        base_cache = e->next;
        free(e->base);
        free(e);
    }
    base_cache_floats = 0;
}

// What the base of samples first..first+n-1 depends on (g->base_hash covers
// the base network and its sampling options).
static uint64_t base_key(const generator *g, const int64_t *labels, int64_t first, int n) {
    uint64_t h = msf_fnv1a(g->base_hash, &g->seed, sizeof g->seed);
    h = msf_fnv1a(h, &first, sizeof first);
    h = msf_fnv1a(h, &n, sizeof n);
    return msf_fnv1a(h, labels, (size_t)n * sizeof *labels);
}

static base_entry *base_cache_find(uint64_t key, size_t floats) {
    for (base_entry *e = base_cache; e; e = e->next)
        if (e->key == key && e->floats == floats) return e;
    return NULL;
}

// Keep a copy of a base (silently skipped when out of memory or over the cap).
static void base_cache_add(uint64_t key, const float *base, size_t floats, double seconds) {
    if (base_cache_floats + floats > BASE_CACHE_MAX_FLOATS) return;
    base_entry *e = malloc(sizeof *e);
    float *copy = malloc(floats * sizeof *copy);
    if (!e || !copy) {
        free(e), free(copy);
        return;
    }
    memcpy(copy, base, floats * sizeof *copy);
    *e = (base_entry){.next = base_cache, .key = key, .floats = floats, .base = copy, .seconds = seconds};
    base_cache = e;
    base_cache_floats += floats;
}

// The base network and its sampling options, hashed once per point.
static uint64_t base_hash(const generator *g) {
    const dit_model *b = &g->msf.stage[0];
    const msf_stage_opts *o = &g->opts.stage[0];
    uint64_t h = msf_fnv1a(MSF_FNV1A_INIT, &b->cfg, sizeof b->cfg);
    h = msf_fnv1a(h, b->params, b->num_params * sizeof *b->params);
    h = msf_fnv1a(h, o->steps, strlen(o->steps) + 1);
    int ints[] = {(int)o->var, (int)o->sampler, (int)o->cfg_mode, o->start_t};
    float floats[] = {o->eta, o->cfg_scale};
    h = msf_fnv1a(h, ints, sizeof ints);
    return msf_fnv1a(h, floats, sizeof floats);
}

// Samples first..first+n-1: latents (n, C, H, H), labels (n). *reused_seconds:
// the sampling time of the cached bases used (0 when none).
static msf_status generator_run(generator *g, float *latents, int64_t *labels, int64_t first, int n,
                                double *reused_seconds) {
    msf_status s = diff_sample_labels(labels, g->opts.labels, g->seed, first, n, g->num_classes);
    size_t numel = (size_t)g->C * g->H * g->H;
    *reused_seconds = 0;
    for (int b = 0; b < n && !s; b += g->batch) {
        int m = n - b < g->batch ? n - b : g->batch;
        if (g->is_msf) {
            int hb = msf_stage_side(&g->msf, 0);
            size_t floats = (size_t)m * g->C * hb * hb;
            uint64_t key = base_key(g, labels + b, first + b, m);
            const base_entry *e = base_cache_find(key, floats);
            float *base = e ? NULL : malloc(floats * sizeof *base);
            if (!e && !base) return msf_fail(MSF_ERR_NOMEM, "out of memory for %d base samples", m);
            if (!e) {
                double t0 = msf_now();
                s = msf_sample_base(&g->msf, g->opts.stage, g->seed, NULL, NULL, base, labels + b, first + b, m,
                                    NULL);
                if (!s) base_cache_add(key, base, floats, msf_now() - t0);
            } else {
                *reused_seconds += e->seconds;
            }
            if (!s)
                s = msf_sample_from_base(&g->msf, g->opts.stage, g->seed, NULL, NULL, latents + (size_t)b * numel,
                                         e ? e->base : base, NULL, labels + b, first + b, m, NULL);
            free(base);
        } else {
            s = diff_sample(&g->sched, &g->den, &g->so, latents + (size_t)b * numel, labels + b, first + b, m,
                            g->work);
        }
    }
    for (size_t i = 0; !s && i < (size_t)n * numel; i++)
        if (!isfinite(latents[i]))
            s = msf_fail(MSF_ERR_NUMERIC, "sample %lld has a non-finite value (NaN/Inf from the model?)",
                         (long long)(first + (int64_t)(i / numel)));
    return s;
}

// -----------------------------------------------------------------------------
// Images: the VAE, or pixels straight from a pixel-space model

typedef struct {
    int use_vae;
    vae_model vae;
    int h, w, C;        // latents
    int H, W, c;        // images (H, W, c)
} decoder;

// The image shape of a point's samples; with a VAE, *vf and *vc are its file
// (open, for the caller to close) and config.
static msf_status decoder_plan(decoder *d, const msf_run_point *p, int C, int h, int w, msf_weights **vf,
                               vae_config *vc) {
    memset(d, 0, sizeof *d);
    *vf = NULL;
    d->h = h, d->w = w, d->C = C;
    const char *path = cfg_str(p->cfg, "model.vae", NULL), *group = cfg_str(p->cfg, "model.vae_group", NULL);
    if (!path) {
        if (C != 1 && C != 3)
            return msf_fail(MSF_ERR_INVALID, "%s: the model makes %d channels; without model.vae the samples must "
                            "be 1- or 3-channel pixels in [-1, 1]", p->name, C);
        d->H = h, d->W = w, d->c = C;
        return MSF_OK;
    }
    msf_status s = msf_weights_open(vf, path);
    if (s) return s;
    if (!(s = vae_config_read(vc, *vf, group))) {
        int f = vae_factor(vc);
        d->H = h * f, d->W = w * f, d->c = vc->out_channels;
        if (vc->latent_channels != C)
            s = msf_fail(MSF_ERR_SHAPE, "%s: the model makes %d channels; the VAE %s takes %d", p->name, C, path,
                         vc->latent_channels);
        else if (vc->out_channels != 3)
            s = msf_fail(MSF_ERR_FORMAT, "%s: the decoder makes %d channels; images need 3", path, vc->out_channels);
    }
    if (s) {
        msf_weights_close(*vf);
        *vf = NULL;
    }
    return s;
}

static msf_status decoder_open(decoder *d, const msf_run_point *p, int C, int h, int w) {
    msf_weights *vf;
    vae_config vc;
    msf_status s = decoder_plan(d, p, C, h, w, &vf, &vc);
    if (s || !vf) return s;
    s = vae_load(&d->vae, vf, cfg_str(p->cfg, "model.vae_group", NULL), VAE_DECODER, d->H, d->W);
    d->use_vae = !s;
    msf_weights_close(vf);
    return s;
}

static void decoder_free(decoder *d) {
    if (d->use_vae) vae_free(&d->vae);
}

// pixels (n, H, W, c) from latents (n, C, h, w); `first` names the sample in messages.
static msf_status decoder_run(decoder *d, uint8_t *pixels, const float *latents, int n, int64_t first) {
    size_t zs = (size_t)d->C * d->h * d->w, ps = (size_t)d->H * d->W * d->c;
    for (int i = 0; i < n; i++) {
        msf_status s = d->use_vae ? vae_decode(&d->vae, pixels + i * ps, NULL, latents + i * zs, 1, d->h, d->w,
                                               first + i)
                                  : MSF_OK;
        if (s) return s;
        if (!d->use_vae) vae_pixels_from_float(pixels + i * ps, latents + i * zs, d->C, d->H, d->W);
    }
    return MSF_OK;
}

// -----------------------------------------------------------------------------
// Checks before sampling

// A file the config names exists but cannot be read (a missing one is
// reported by msf_run_point_missing).
static msf_status check_readable(const msf_run_point *p, const char *key) {
    const char *path = cfg_str(p->cfg, key, NULL);
    if (!path || access(path, F_OK) != 0) return MSF_OK;
    FILE *f = fopen(path, "rb");
    int ok = f && fgetc(f) != EOF;
    int err = errno;
    if (f) fclose(f);
    if (!ok)
        return msf_fail(MSF_ERR_IO, "%s: %s %s cannot be read: %s", p->name, key, path,
                        f ? "the file is empty" : strerror(err));
    return MSF_OK;
}

msf_status msf_run_point_check(const msf_run_point *p) {
    msf_status s;
    if ((s = check_readable(p, "model.weights")) || (s = check_readable(p, "model.vae")) ||
        (s = check_readable(p, "evaluator.featnet")) || (s = check_readable(p, "evaluator.reference")))
        return s;
    const char *weights = cfg_str(p->cfg, "model.weights", "");
    int have_weights = access(weights, R_OK) == 0;
    if (!have_weights && !cfg_find(p->cfg, "model.arch")) return MSF_OK;  // missing: listed by msf_run_point_missing
    msf_model m;
    if ((s = msf_run_point_arch(&m, p))) return msf_fail_context(s, "%s", p->name);
    int ls[MSF_MAX_LEVELS];
    for (int k = 0; k < m.num_stages; k++) ls[k] = m.stage[k].cfg.learn_sigma;
    msf_run_sampling o;
    if ((s = msf_run_sampling_make(&o, p, m.num_stages, ls))) return s;
    if (have_weights && m.num_stages == 1) {
        // What generator_open finds once the weights are loaded.
        const dit_config *c = &m.stage[0].cfg;
        if (o.stage[0].cfg_scale > 1.0f && !c->has_null_class)
            return msf_fail(MSF_ERR_INVALID, "%s: %s has no null class: set sampler.cfg_scale to 1", p->name, weights);
        if (c->learn_sigma != (o.stage[0].var == DIFF_VAR_LEARNED_RANGE))
            return msf_fail(MSF_ERR_INVALID, "%s: sampler.variance %s needs a model %s learned sigma", p->name,
                            diff_var_type_name(o.stage[0].var), c->learn_sigma ? "without" : "with");
    }
    const char *vae = cfg_str(p->cfg, "model.vae", NULL);
    if (!vae || access(vae, R_OK) == 0) {
        decoder d;
        msf_weights *vf;
        vae_config vc;
        if ((s = decoder_plan(&d, p, m.channels, m.size, m.size, &vf, &vc))) return s;
        msf_weights_close(vf);
    }
    if (cfg_find(p->cfg, "spectrum")) {
        // `msf spectrum` factorises the latents: the factorisation must fit them.
        msf_factor_opts fo = msf_factor_defaults();
        const char *spec = cfg_str(p->cfg, "spectrum.factorize", NULL);
        if ((spec && (s = msf_factor_opts_parse(&fo, spec))) || (s = msf_factor_check(&fo, m.size, m.size)))
            return msf_fail_context(s, "%s: spectrum.factorize", p->name);
    }
    return MSF_OK;
}

// -----------------------------------------------------------------------------
// Input files

// FNV-1a of a file's bytes, remembered per path with its size and mtime, so a
// point grid that names one weight file many times reads it once.
#define INPUT_CACHE 16
static struct {
    char path[4096];
    off_t size;
    struct timespec mtime;
    uint64_t hash;
} input_cache[INPUT_CACHE];
static int input_cache_next;

static msf_status file_content_hash(const char *path, uint64_t *hash) {
    struct stat st;
    if (stat(path, &st) != 0) return msf_fail(MSF_ERR_IO, "cannot read %s: %s", path, strerror(errno));
    for (int i = 0; i < INPUT_CACHE; i++)
        if (!strcmp(input_cache[i].path, path) && input_cache[i].size == st.st_size &&
            input_cache[i].mtime.tv_sec == st.st_mtim.tv_sec && input_cache[i].mtime.tv_nsec == st.st_mtim.tv_nsec) {
            *hash = input_cache[i].hash;
            return MSF_OK;
        }
    FILE *f = fopen(path, "rb");
    unsigned char *buf = malloc(1 << 20);
    if (!f || !buf) {
        free(buf);
        if (f) fclose(f);
        return msf_fail(f ? MSF_ERR_NOMEM : MSF_ERR_IO, "cannot read %s: %s", path, f ? "out of memory" : strerror(errno));
    }
    uint64_t h = MSF_FNV1A_INIT;
    size_t got;
    while ((got = fread(buf, 1, 1 << 20, f)) > 0) h = msf_fnv1a(h, buf, got);
    int bad = ferror(f);
    fclose(f);
    free(buf);
    if (bad) return msf_fail(MSF_ERR_IO, "error reading %s", path);
    int slot = input_cache_next++ % INPUT_CACHE;
    snprintf(input_cache[slot].path, sizeof input_cache[slot].path, "%s", path);
    input_cache[slot].size = st.st_size, input_cache[slot].mtime = st.st_mtim, input_cache[slot].hash = h;
    *hash = h;
    return MSF_OK;
}

// Chain the config key and, when the config names it, the file's content hash.
static msf_status hash_input(uint64_t *h, const msf_run_point *p, const char *key) {
    const char *path = cfg_str(p->cfg, key, NULL);
    if (!path) return MSF_OK;
    uint64_t content = 0;
    msf_status s = file_content_hash(path, &content);
    if (s) return msf_fail_context(s, "%s", p->name);
    *h = msf_fnv1a(*h, key, strlen(key) + 1);
    *h = msf_fnv1a(*h, &content, sizeof content);
    return MSF_OK;
}

msf_status msf_run_point_hash_inputs(msf_run_point *p) {
    uint64_t h = MSF_FNV1A_INIT;
    msf_status s;
    if ((s = hash_input(&h, p, "model.weights")) || (s = hash_input(&h, p, "model.vae"))) return s;
    p->model_hash = h;
    if ((s = hash_input(&h, p, "evaluator.featnet")) || (s = hash_input(&h, p, "evaluator.reference"))) return s;
    p->inputs_hash = h;
    return MSF_OK;
}

// -----------------------------------------------------------------------------
// Shards

static void hex64(char *buf, uint64_t v) { snprintf(buf, 17, "%016llx", (unsigned long long)v); }

// FNV-1a of a shard's or merged file's latents and labels: the "checksum"
// attribute, compared when the file is reused.
static uint64_t latents_checksum(const float *latents, const int64_t *labels, int64_t n, size_t numel) {
    uint64_t h = msf_fnv1a(MSF_FNV1A_INIT, latents, (size_t)n * numel * sizeof *latents);
    return msf_fnv1a(h, labels, (size_t)n * sizeof *labels);
}

// A damaged file that a resume would have reused: reported and removed, so
// that what it held is made again.
static void drop_damaged(const char *path, const char *what) {
    msf_log(MSF_LOG_WARN, "%s is damaged (%s): making it again", path, what);
    if (unlink(path) != 0 && errno != ENOENT) msf_log(MSF_LOG_WARN, "cannot remove %s: %s", path, strerror(errno));
}

// An existing shard of this point's samples: 1 if it holds samples first..first+n-1
// of the same sample and model hashes, whole (its latents [n, C, H, H] and
// labels [n] read into `latents` and `labels` match its checksum; seconds
// set); 0 if absent, of another count, or damaged (then reported and
// removed); MSF_ERR_INVALID (as -1) when made with another config or other
// weights.
static int shard_check(const char *path, const msf_run_point *p, int64_t first, int n, int C, int H, float *latents,
                       int64_t *labels, double *seconds) {
    if (!exists(path)) return 0;
    msf_weights *w;
    if (msf_weights_open(&w, path)) {
        drop_damaged(path, msf_error_message());
        return 0;
    }
    char hash[32] = "", want[17];
    int64_t f = -1, count = -1;
    char model[32] = "", want_model[17], sum[32] = "";
    int has_hash = msf_weights_attr_string(w, NULL, "sample_hash", hash, sizeof hash) == MSF_OK;
    int ok = msf_weights_attr_int(w, NULL, "first", &f) == MSF_OK &&
             msf_weights_attr_int(w, NULL, "count", &count) == MSF_OK &&
             msf_weights_attr_double(w, NULL, "seconds", seconds) == MSF_OK;
    // Shards written before msf hashed its inputs have no model_hash, before
    // it summed their contents no checksum.
    int has_model = msf_weights_attr_string(w, NULL, "model_hash", model, sizeof model) == MSF_OK;
    int has_sum = msf_weights_attr_string(w, NULL, "checksum", sum, sizeof sum) == MSF_OK;
    hex64(want, p->sample_hash);
    hex64(want_model, p->model_hash);
    if (has_hash && (strcmp(hash, want) || (ok && f != first))) {
        msf_weights_close(w);
        msf_fail(MSF_ERR_INVALID, "%s was made by another config of '%s' (sample hash %s, this config %s): rerun "
                 "with --force to start over", path, p->name, hash, want);
        return -1;
    }
    if (has_hash && ok && (!has_model || strcmp(model, want_model))) {
        msf_weights_close(w);
        msf_fail(MSF_ERR_INVALID, "%s was made with %s model weights than '%s' has now (model hash %s, now %s): rerun "
                 "with --force to start over", path, has_model ? "other" : "possibly other (unrecorded)", p->name,
                 has_model ? model : "none", want_model);
        return -1;
    }
    if (!has_hash || !ok) {
        msf_weights_close(w);
        drop_damaged(path, "attributes sample_hash, first, count or seconds missing");
        return 0;
    }
    if (count != n) {
        msf_weights_close(w);
        return 0;
    }
    int64_t ls[4] = {n, C, H, H}, ys[1] = {n};
    msf_status s = msf_weights_read(w, "latents", latents, 4, ls);
    if (!s) s = msf_weights_read_i64(w, "labels", labels, 1, ys);
    msf_weights_close(w);
    char got[17];
    if (!s) hex64(got, latents_checksum(latents, labels, n, (size_t)C * H * H));
    if (s || (has_sum && strcmp(got, sum))) {
        char why[600];
        if (s) snprintf(why, sizeof why, "%.580s", msf_error_message());
        else snprintf(why, sizeof why, "checksum %s, recorded %s", got, sum);
        drop_damaged(path, why);
        return 0;
    }
    return 1;
}

static msf_status shard_write(const char *path, const msf_run_point *p, const generator *g, const float *latents,
                              const int64_t *labels, int64_t first, int n, double seconds) {
    msf_h5_writer *w;
    char hash[17], model[17], sum[17];
    hex64(hash, p->sample_hash);
    hex64(model, p->model_hash);
    hex64(sum, latents_checksum(latents, labels, n, (size_t)g->C * g->H * g->H));
    int64_t ls[4] = {n, g->C, g->H, g->H}, ys[1] = {n};
    msf_status s = msf_h5_create(&w, path);
    if (s) return s;
    if ((s = msf_h5_write_f32(w, "latents", 4, ls, latents)) || (s = msf_h5_write_i64(w, "labels", 1, ys, labels)) ||
        (s = msf_h5_attr_string(w, NULL, "sample_hash", hash)) || (s = msf_h5_attr_string(w, NULL, "model_hash", model)) ||
        (s = msf_h5_attr_int(w, NULL, "first", first)) ||
        (s = msf_h5_attr_int(w, NULL, "count", n)) || (s = msf_h5_attr_double(w, NULL, "seconds", seconds)) ||
        (s = msf_h5_attr_int(w, NULL, "seed", (int64_t)g->seed)) ||
        (s = msf_h5_attr_string(w, NULL, "point", p->name)) ||
        (s = msf_h5_attr_string(w, NULL, "checksum", sum)) ||
        (s = msf_h5_attr_string(w, NULL, "git_commit", msf_git_commit()))) {
        msf_h5_abort(w);
        return s;
    }
    return msf_h5_commit(w);
}

static msf_status shard_read(const char *path, float *latents, int64_t *labels, int n, int C, int H) {
    msf_weights *w;
    msf_status s = msf_weights_open(&w, path);
    if (s) return s;
    int64_t ls[4] = {n, C, H, H}, ys[1] = {n};
    if (!(s = msf_weights_read(w, "latents", latents, 4, ls)) && labels) s = msf_weights_read_i64(w, "labels", labels, 1, ys);
    msf_weights_close(w);
    return s;
}

static msf_status npz_write(const char *path, const uint8_t *pixels, int n, int H, int W, int c) {
    msf_npz_writer *w;
    int64_t shape[4] = {n, H, W, c};
    msf_status s = msf_npz_create_u8(&w, path, "arr_0", 4, shape);
    if (s) return s;
    if ((s = msf_npz_append(w, pixels, (size_t)n * H * W * c))) {
        msf_npz_abort(w);
        return s;
    }
    return msf_npz_commit(w);
}

// -----------------------------------------------------------------------------
// Merging

static msf_status npz_open_checked(msf_npz_reader **r, const char *path, int64_t n, int H, int W, int c) {
    msf_status s = msf_npz_open_u8(r, path, "arr_0");
    if (s) return s;
    const int64_t *sh = msf_npz_shape(*r);
    if (msf_npz_ndim(*r) != 4 || sh[0] != n || sh[1] != H || sh[2] != W || sh[3] != c) {
        msf_npz_close(*r);
        *r = NULL;
        return msf_fail(MSF_ERR_SHAPE, "%s: arr_0 is not uint8 [%lld, %d, %d, %d]", path, (long long)n, H, W, c);
    }
    return MSF_OK;
}

// A merged or shard images file that holds n images [H, W, c] (`pixels`:
// room for them all to read them through, or NULL to check the header only).
// 1 if so, else 0 with the reason in `why`.
// H = 0: any image shape (a point.json from before msf recorded it).
static int images_file_ok(const char *path, int64_t n, int H, int W, int c, uint8_t *pixels, char *why, size_t size) {
    msf_npz_reader *r = NULL;
    msf_status s;
    if (H > 0) s = npz_open_checked(&r, path, n, H, W, c);
    else if (!(s = msf_npz_open_u8(&r, path, "arr_0")) && (msf_npz_ndim(r) != 4 || msf_npz_shape(r)[0] != n))
        s = msf_fail(MSF_ERR_SHAPE, "%s: arr_0 is not uint8 [%lld, H, W, c]", path, (long long)n);
    if (!s && pixels) s = msf_npz_read(r, pixels, (size_t)n * H * W * c);
    if (r) msf_npz_close(r);
    if (s) snprintf(why, size, "%s", msf_error_message());
    return !s;
}

// latents.h5 of a point: latents [N, C, H, H] and labels [N] (C = 0: any
// C, H) of this point's sample and model hashes. 1 if so, else 0 with the
// reason in `why`.
static int latents_file_ok(const char *path, const msf_run_point *p, int64_t N, int C, int H, char *why,
                           size_t size) {
    msf_weights *w;
    if (msf_weights_open(&w, path)) {
        snprintf(why, size, "%s", msf_error_message());
        return 0;
    }
    const msf_weight_info *z = msf_weights_find(w, "latents"), *y = msf_weights_find(w, "labels");
    char hash[32], want[17];
    int64_t count;
    int ok = 1;
    if (!z || z->ndim != 4 || z->shape[0] != N || (C && (z->shape[1] != C || z->shape[2] != H || z->shape[3] != H)) ||
        !y || y->ndim != 1 || y->shape[0] != N) {
        snprintf(why, size, "expected latents [%lld, C, H, W] and labels [%lld]", (long long)N, (long long)N);
        ok = 0;
    } else if (msf_weights_attr_int(w, NULL, "count", &count) == MSF_OK && count != N) {
        snprintf(why, size, "attribute count %lld, expected %lld", (long long)count, (long long)N);
        ok = 0;
    }
    static const char *const keys[] = {"sample_hash", "model_hash"};
    const uint64_t values[] = {p->sample_hash, p->model_hash};
    for (int k = 0; k < 2 && ok; k++) {
        hex64(want, values[k]);
        if (msf_weights_attr_string(w, NULL, keys[k], hash, sizeof hash) == MSF_OK && strcmp(hash, want)) {
            snprintf(why, size, "%s %s, this point's %s", keys[k], hash, want);
            ok = 0;
        }
    }
    msf_weights_close(w);
    return ok;
}

static msf_status merge_images(const char *dir, int shards, int64_t N, int S, int H, int W, int c) {
    char path[4096], shard[4096];
    snprintf(path, sizeof path, "%s/images.npz", dir);
    msf_npz_writer *w;
    int64_t shape[4] = {N, H, W, c};
    size_t img = (size_t)H * W * c;
    uint8_t *buf = malloc(img);
    if (!buf) return msf_fail(MSF_ERR_NOMEM, "out of memory");
    msf_status s = msf_npz_create_u8(&w, path, "arr_0", 4, shape);
    for (int k = 0; k < shards && !s; k++) {
        int64_t n = N - (int64_t)k * S < S ? N - (int64_t)k * S : S;
        msf_npz_reader *r;
        snprintf(shard, sizeof shard, "%s/shards/shard_%05d.npz", dir, k);
        if ((s = npz_open_checked(&r, shard, n, H, W, c))) break;
        for (int64_t i = 0; i < n && !s; i++)
            if (!(s = msf_npz_read(r, buf, img))) s = msf_npz_append(w, buf, img);
        msf_npz_close(r);
    }
    free(buf);
    if (s) {
        msf_npz_abort(w);
        return s;
    }
    return msf_npz_commit(w);
}

static msf_status merge_latents(const char *dir, const msf_run_point *p, int shards, int64_t N, int S, int C,
                                int H) {
    size_t numel = (size_t)C * H * H;
    float *z = malloc((size_t)N * numel * sizeof *z);
    int64_t *y = malloc((size_t)N * sizeof *y);
    msf_status s = z && y ? MSF_OK : msf_fail(MSF_ERR_NOMEM, "out of memory for %lld latents", (long long)N);
    char path[4096];
    for (int k = 0; k < shards && !s; k++) {
        int64_t first = (int64_t)k * S, n = N - first < S ? N - first : S;
        snprintf(path, sizeof path, "%s/shards/shard_%05d.h5", dir, k);
        s = shard_read(path, z + (size_t)first * numel, y + first, (int)n, C, H);
    }
    msf_h5_writer *w = NULL;
    int64_t ls[4] = {N, C, H, H}, ys[1] = {N};
    snprintf(path, sizeof path, "%s/latents.h5", dir);
    char hash[17], model[17], sum[17];
    hex64(hash, p->sample_hash);
    hex64(model, p->model_hash);
    if (!s) hex64(sum, latents_checksum(z, y, N, numel));
    if (!s && !(s = msf_h5_create(&w, path))) {
        if ((s = msf_h5_write_f32(w, "latents", 4, ls, z)) || (s = msf_h5_write_i64(w, "labels", 1, ys, y)) ||
            (s = msf_h5_attr_string(w, NULL, "sample_hash", hash)) ||
            (s = msf_h5_attr_string(w, NULL, "model_hash", model)) || (s = msf_h5_attr_int(w, NULL, "count", N)) ||
            (s = msf_h5_attr_string(w, NULL, "checksum", sum)))
            msf_h5_abort(w);
        else s = msf_h5_commit(w);
    }
    free(z), free(y);
    return s;
}

// The first up to `count` images of images.npz as one RGB grid with 2-pixel gaps.
static msf_status write_grid(const char *dir, int64_t N, int count, int H, int W, int c) {
    if (count <= 0) return MSF_OK;
    if (count > N) count = (int)N;
    int cols = (int)ceil(sqrt((double)count)), rows = (count + cols - 1) / cols;
    int gh = 2 + rows * (H + 2), gw = 2 + cols * (W + 2);
    size_t img = (size_t)H * W * c;
    uint8_t *canvas = calloc((size_t)gh * gw * 3, 1), *buf = malloc(img);
    char path[4096];
    snprintf(path, sizeof path, "%s/images.npz", dir);
    msf_npz_reader *r = NULL;
    msf_status s = canvas && buf ? npz_open_checked(&r, path, N, H, W, c) : msf_fail(MSF_ERR_NOMEM, "out of memory");
    for (int i = 0; i < count && !s; i++) {
        if ((s = msf_npz_read(r, buf, img))) break;
        int y0 = 2 + (i / cols) * (H + 2), x0 = 2 + (i % cols) * (W + 2);
        for (int y = 0; y < H; y++)
            for (int x = 0; x < W; x++)
                for (int ch = 0; ch < 3; ch++)
                    canvas[((size_t)(y0 + y) * gw + x0 + x) * 3 + ch] = buf[((size_t)y * W + x) * c + (c == 1 ? 0 : ch)];
    }
    msf_npz_close(r);
    snprintf(path, sizeof path, "%s/grid.png", dir);
    if (!s) s = msf_png_write_rgb(path, canvas, gh, gw);
    free(canvas), free(buf);
    return s;
}

// -----------------------------------------------------------------------------
// A point

msf_status msf_run_point_generate(msf_point_result *r, const msf_run_point *p, const char *dir, int want_latents,
                                  const msf_progress *progress) {
    *r = (msf_point_result){.fid = NAN, .sfid = NAN, .is = NAN, .precision = NAN, .recall = NAN,
                            .class_consistency = NAN, .decode_seconds_per_sample = NAN};
    const int64_t N = cfg_int(p->cfg, "num_samples", 0), S64 = cfg_int(p->cfg, "shard_size", 1000);
    if (N < 1 || S64 < 1 || S64 > (1 << 20))
        return msf_fail(MSF_ERR_INVALID, "%s: num_samples must be >= 1 and shard_size 1..%d", p->name, 1 << 20);
    const int S = (int)S64;
    char shards_dir[4096], h5[4200], npz[4200], images[4096];
    snprintf(shards_dir, sizeof shards_dir, "%s/shards", dir);
    snprintf(images, sizeof images, "%s/images.npz", dir);
    msf_status s;
    if ((s = make_dir(dir)) || (s = make_dir(shards_dir)) || (s = msf_run_clean_temporaries(dir)) ||
        (s = msf_run_clean_temporaries(shards_dir)) || (s = msf_run_point_gflops(&r->gflops_per_sample, p)))
        return s;
    msf_model arch;
    if ((s = msf_run_point_arch(&arch, p))) return s;
    const int C = arch.channels, H = arch.size;
    const size_t numel = (size_t)C * H * H;
    r->num_samples = N;
    r->shards_total = (int)((N + S - 1) / S);

    generator g = {0};
    decoder d = {0};
    int have_gen = 0, have_dec = 0;
    float *z = malloc((size_t)S * numel * sizeof *z);
    int64_t *y = malloc((size_t)S * sizeof *y);
    uint8_t *pixels = NULL;
    double sample_seconds = 0, decode_seconds = 0;
    int64_t decoded = 0;
    if (!z || !y) s = msf_fail(MSF_ERR_NOMEM, "out of memory for a shard of %d samples", S);
    if (!s && (s = decoder_open(&d, p, C, H, H)) == MSF_OK) have_dec = 1;
    r->img_h = d.H, r->img_w = d.W, r->img_c = d.c;
    const size_t img = (size_t)d.H * d.W * d.c;
    char why[1024];
    int images_done = 0;
    if (!s && exists(images)) {
        images_done = images_file_ok(images, N, d.H, d.W, d.c, NULL, why, sizeof why);
        if (!images_done) drop_damaged(images, why);
    }
    if (!s && !(pixels = malloc((size_t)S * img))) s = msf_fail(MSF_ERR_NOMEM, "out of memory for a shard of images");
    msf_progress_report(progress, "shards", 0, r->shards_total);
    for (int k = 0; k < r->shards_total && !s; k++) {
        int64_t first = (int64_t)k * S;
        int n = (int)(N - first < S ? N - first : S);
        snprintf(h5, sizeof h5, "%s/shard_%05d.h5", shards_dir, k);
        snprintf(npz, sizeof npz, "%s/shard_%05d.npz", shards_dir, k);
        double secs = 0;
        int have = shard_check(h5, p, first, n, C, H, z, y, &secs);
        if (have < 0) {
            s = MSF_ERR_INVALID;
            break;
        }
        int sampled = 0;
        if (have) {
            r->shards_reused++;
        } else {
            if (!have_gen && (s = generator_open(&g, p))) break;
            have_gen = 1;
            if (g.C != C || g.H != H) {
                s = msf_fail(MSF_ERR_SHAPE, "%s: model size changed while loading", p->name);
                break;
            }
            double t0 = msf_now(), reused = 0;
            if ((s = generator_run(&g, z, y, first, n, &reused))) break;
            secs = msf_now() - t0 + reused;
            if ((s = shard_write(h5, p, &g, z, y, first, n, secs))) break;
            sampled = 1;
        }
        sample_seconds += secs;
        // A shard's images that are there but damaged are decoded again (z
        // holds the shard's latents, sampled or read by shard_check).
        int decode = !images_done && (sampled || !exists(npz));
        if (!images_done && !decode && !images_file_ok(npz, n, d.H, d.W, d.c, pixels, why, sizeof why)) {
            drop_damaged(npz, why);
            decode = 1;
        }
        if (decode) {
            double t0 = msf_now();
            if ((s = decoder_run(&d, pixels, z, n, first))) break;
            decode_seconds += msf_now() - t0;
            decoded += n;
            if ((s = npz_write(npz, pixels, n, d.H, d.W, d.c))) break;
        }
        msf_progress_report(progress, "shards", k + 1, r->shards_total);
    }
    if (have_gen) generator_free(&g);
    if (have_dec) decoder_free(&d);
    free(z), free(y), free(pixels);
    if (s) return msf_fail_context(s, "%s", p->name);
    r->seconds_per_sample = sample_seconds / (double)N;
    if (decoded == N) r->decode_seconds_per_sample = decode_seconds / (double)N;
    if (!images_done && (s = merge_images(dir, r->shards_total, N, S, d.H, d.W, d.c))) return s;
    // The merged batch holds every image; the shard copies are no longer needed.
    for (int k = 0; k < r->shards_total; k++) {
        snprintf(npz, sizeof npz, "%s/shard_%05d.npz", shards_dir, k);
        unlink(npz);
    }
    snprintf(h5, sizeof h5, "%s/latents.h5", dir);
    if (want_latents && exists(h5) && !latents_file_ok(h5, p, N, C, H, why, sizeof why)) drop_damaged(h5, why);
    if (want_latents && !exists(h5) && (s = merge_latents(dir, p, r->shards_total, N, S, C, H))) return s;
    return write_grid(dir, N, (int)cfg_int(p->cfg, "grid", 16), d.H, d.W, d.c);
}

// -----------------------------------------------------------------------------
// Metrics

// The labels of every sample, from the shards (malloc'd [N]).
static msf_status shard_labels(int64_t **out, const char *dir, int64_t N, int S) {
    int64_t *y = malloc((size_t)N * sizeof *y);
    if (!y) return msf_fail(MSF_ERR_NOMEM, "out of memory");
    msf_status s = MSF_OK;
    char path[4096];
    for (int k = 0; (int64_t)k * S < N && !s; k++) {
        int64_t first = (int64_t)k * S, n = N - first < S ? N - first : S, shape[1] = {n};
        msf_weights *w;
        snprintf(path, sizeof path, "%s/shards/shard_%05d.h5", dir, k);
        if (!(s = msf_weights_open(&w, path))) {
            s = msf_weights_read_i64(w, "labels", y + first, 1, shape);
            msf_weights_close(w);
        }
    }
    if (s) free(y);
    else *out = y;
    return s;
}

msf_status msf_run_point_metrics(msf_point_result *r, const msf_run_point *p, const char *dir,
                                 const msf_progress *progress) {
    const char *net_path = cfg_str(p->cfg, "evaluator.featnet", ""), *ref = cfg_str(p->cfg, "evaluator.reference", "");
    int batch = (int)cfg_int(p->cfg, "evaluator.batch", 50);
    char images[4096];
    snprintf(images, sizeof images, "%s/images.npz", dir);
    msf_resize_mode mode;
    msf_featnet *net = NULL;
    msf_eval_input ref_in = {0}, smp_in = {0};
    int have_ref = 0, have_smp = 0;
    msf_status s = msf_resize_mode_parse(cfg_str(p->cfg, "evaluator.resize", "adm"), &mode);
    if (!s && (batch < 1 || batch > 4096)) s = msf_fail(MSF_ERR_INVALID, "%s: evaluator.batch must be 1..4096", p->name);
    if (!s) s = msf_featnet_load(net_path, &net);
    if (!s && !(s = msf_eval_input_load(&ref_in, ref, net, mode, batch, progress))) have_ref = 1;
    if (!s && !(s = msf_eval_input_load(&smp_in, images, net, mode, batch, progress))) have_smp = 1;
    if (!s && smp_in.has_features && !smp_in.features.labels)
        s = shard_labels(&smp_in.features.labels, dir, r->num_samples, (int)cfg_int(p->cfg, "shard_size", 1000));
    msf_metrics m;
    msf_eval_opts o = msf_eval_opts_default();
    if (!s) s = msf_evaluate(&m, &ref_in, &smp_in, &o);
    if (!s) {
        r->fid = m.present & MSF_METRIC_FID ? m.fid : NAN;
        r->sfid = m.present & MSF_METRIC_SFID ? m.sfid : NAN;
        r->is = m.present & MSF_METRIC_IS ? m.inception_score : NAN;
        r->precision = m.present & MSF_METRIC_PR ? m.precision : NAN;
        r->recall = m.present & MSF_METRIC_PR ? m.recall : NAN;
        r->class_consistency = m.present & MSF_METRIC_CLASS ? m.class_consistency : NAN;
    }
    if (have_ref) msf_eval_input_free(&ref_in);
    if (have_smp) msf_eval_input_free(&smp_in);
    msf_featnet_free(net);
    return s ? msf_fail_context(s, "%s: metrics", p->name) : MSF_OK;
}

// -----------------------------------------------------------------------------
// point.json

static const struct {
    const char *key;
    size_t offset;
} point_numbers[] = {
    {"fid", offsetof(msf_point_result, fid)},
    {"sfid", offsetof(msf_point_result, sfid)},
    {"is", offsetof(msf_point_result, is)},
    {"precision", offsetof(msf_point_result, precision)},
    {"recall", offsetof(msf_point_result, recall)},
    {"class_consistency", offsetof(msf_point_result, class_consistency)},
    {"gflops_per_sample", offsetof(msf_point_result, gflops_per_sample)},
    {"seconds_per_sample", offsetof(msf_point_result, seconds_per_sample)},
    {"decode_seconds_per_sample", offsetof(msf_point_result, decode_seconds_per_sample)},
};
#define NUM_POINT_NUMBERS (sizeof point_numbers / sizeof point_numbers[0])

static double *point_number(msf_point_result *r, size_t i) { return (double *)((char *)r + point_numbers[i].offset); }

// A finished point whose input files have changed since: its shards, merged
// images and latents hold samples of the old inputs, so they go before the
// point is computed again (the grid, metrics and spectra are rewritten).
static void remove_stale_point(const char *point_dir) {
    char sdir[4096], path[4096 + 256];
    snprintf(sdir, sizeof sdir, "%s/shards", point_dir);
    int removed = 0;
    DIR *d = opendir(sdir);
    struct dirent *ent;
    while (d && (ent = readdir(d))) {
        size_t n = strlen(ent->d_name);
        if (strncmp(ent->d_name, "shard_", 6) || n < 4 ||
            (strcmp(ent->d_name + n - 3, ".h5") && strcmp(ent->d_name + n - 4, ".npz")))
            continue;
        snprintf(path, sizeof path, "%s/%s", sdir, ent->d_name);
        if (unlink(path) == 0) removed++;
        else msf_log(MSF_LOG_WARN, "cannot remove stale %s: %s", path, strerror(errno));
    }
    if (d) closedir(d);
    static const char *const merged[] = {"images.npz", "latents.h5", "point.json"};
    for (size_t i = 0; i < sizeof merged / sizeof merged[0]; i++) {
        snprintf(path, sizeof path, "%s/%s", point_dir, merged[i]);
        if (unlink(path) != 0 && errno != ENOENT) msf_log(MSF_LOG_WARN, "cannot remove stale %s: %s", path, strerror(errno));
    }
    msf_log(MSF_LOG_INFO, "%s: removed the old inputs' samples (%d shard file%s, merged images)", point_dir, removed,
            removed == 1 ? "" : "s");
}

int msf_run_point_load_done(msf_point_result *r, const msf_run_point *p, const char *dir) {
    char path[4096], want[17];
    snprintf(path, sizeof path, "%s/point.json", dir);
    if (!exists(path)) return 0;
    cfg_node *n;
    if (cfg_parse_file(&n, path)) {  // JSON is YAML flow syntax
        drop_damaged(path, msf_error_message());
        return 0;
    }
    hex64(want, p->hash);
    int ok = !strcmp(cfg_str(n, "config_hash", ""), want);
    const char *inputs = cfg_str(n, "inputs_hash", NULL);
    char want_inputs[17];
    hex64(want_inputs, p->inputs_hash);
    if (ok && inputs && strcmp(inputs, want_inputs)) {
        msf_log(MSF_LOG_INFO, "%s: an input file (weights, feature network or reference) changed since it was "
                "computed: computing it again", path);
        remove_stale_point(dir);
        ok = 0;
    } else if (ok && !inputs) {
        msf_log(MSF_LOG_WARN, "%s predates input hashing: reused without checking that the weights, feature network "
                "and reference are the ones it was made with (--force recomputes)", path);
    }
    if (ok) {
        // The merged files the numbers came from, where they are (results
        // shared without them keep their numbers), must still be whole.
        char file[4200], why[1024];
        int64_t N = cfg_int(n, "num_samples", 0);
        snprintf(file, sizeof file, "%s/images.npz", dir);
        int damaged = exists(file) && !images_file_ok(file, N, (int)cfg_int(n, "image_height", 0),
                                                      (int)cfg_int(n, "image_width", 0),
                                                      (int)cfg_int(n, "image_channels", 0), NULL, why, sizeof why);
        if (!damaged) {
            snprintf(file, sizeof file, "%s/latents.h5", dir);
            damaged = exists(file) && !latents_file_ok(file, p, N, 0, 0, why, sizeof why);
        }
        if (damaged) {
            drop_damaged(file, why);
            if (unlink(path) != 0) msf_log(MSF_LOG_WARN, "cannot remove %s: %s", path, strerror(errno));
            ok = 0;
        }
    }
    if (ok) {
        memset(r, 0, sizeof *r);
        r->num_samples = cfg_int(n, "num_samples", 0);
        for (size_t i = 0; i < NUM_POINT_NUMBERS; i++) *point_number(r, i) = cfg_num(n, point_numbers[i].key, NAN);
        r->shards_total = (int)cfg_int(n, "shards", 0);
        r->shards_reused = r->shards_total;
        r->img_h = (int)cfg_int(n, "image_height", 0), r->img_w = (int)cfg_int(n, "image_width", 0);
        r->img_c = (int)cfg_int(n, "image_channels", 0);
    }
    cfg_free(n);
    return ok;
}

msf_status msf_run_point_write_done(const msf_point_result *r, const msf_run_point *p, const char *dir) {
    msf_text_file t;
    msf_status s = msf_text_create_in(&t, dir, "point.json");
    if (s) return s;
    char h[17], sh[17], ih[17];
    hex64(h, p->hash), hex64(sh, p->sample_hash), hex64(ih, p->inputs_hash);
    fprintf(t.f, "{\n  \"point\": ");
    cfg_json_string(t.f, p->name);
    fprintf(t.f, ",\n  \"config_hash\": \"%s\",\n  \"sample_hash\": \"%s\",\n  \"inputs_hash\": \"%s\",\n", h, sh, ih);
    fprintf(t.f, "  \"num_samples\": %lld,\n  \"shards\": %d,\n", (long long)r->num_samples, r->shards_total);
    fprintf(t.f, "  \"image_height\": %d,\n  \"image_width\": %d,\n  \"image_channels\": %d", r->img_h, r->img_w,
            r->img_c);
    for (size_t i = 0; i < NUM_POINT_NUMBERS; i++) {
        fprintf(t.f, ",\n  \"%s\": ", point_numbers[i].key);
        json_num(t.f, *point_number((msf_point_result *)r, i));
    }
    fprintf(t.f, "\n}\n");
    return msf_text_commit(&t);
}

// -----------------------------------------------------------------------------
// Experiment results

// Stage steps of a point as the tables show them ("" when not applicable).
static void point_steps(const msf_run_point *p, const char **steps, const char **base, const char **residual) {
    int msf = !strcmp(cfg_str(p->cfg, "model.kind", "dit"), "msf");
    *steps = cfg_str(p->cfg, "sampler.steps", "250");
    *base = msf ? cfg_str(p->cfg, "sampler.base_steps", *steps) : "";
    *residual = msf ? cfg_str(p->cfg, "sampler.residual_steps", *steps) : "";
}

static double point_cfg_scale(const msf_run_point *p) {
    return cfg_num(p->cfg, "sampler.base_cfg_scale", cfg_num(p->cfg, "sampler.cfg_scale", 1.5));
}

static const char *metric_names[] = {"fid", "sfid", "is", "precision", "recall", "class_consistency"};
static const char *metric_titles[] = {"FID", "sFID", "IS", "Precision", "Recall", "class consistency"};
#define NUM_METRICS 6

static void point_metrics(const msf_point_result *r, double m[NUM_METRICS]) {
    const double v[NUM_METRICS] = {r->fid, r->sfid, r->is, r->precision, r->recall, r->class_consistency};
    memcpy(m, v, sizeof v);
}

static msf_status write_metrics_csv(const char *dir, const msf_experiment *e, const msf_point_result *res) {
    msf_text_file t;
    msf_status s = msf_text_create_in(&t, dir, "metrics.csv");
    if (s) return s;
    fprintf(t.f, "point,run,sweep,kind,steps,base_steps,residual_steps,cfg_scale,num_samples,fid,sfid,is,precision,"
                 "recall,class_consistency,seconds_per_sample,gflops_per_sample,config_hash,reproduces_model,reproduces_resolution,"
                 "reproduces_cfg_scale,reproduces_steps\n");
    for (int i = 0; i < e->num_points; i++) {
        const msf_run_point *p = &e->points[i];
        const msf_point_result *r = &res[i];
        const char *steps, *base, *residual;
        point_steps(p, &steps, &base, &residual);
        // Sweep values hold commas: quote the fields that can.
        fprintf(t.f, "\"%s\",%s,\"%s\",%s,\"%s\",\"%s\",\"%s\",%g,%lld", p->name, p->run, p->sweep,
                cfg_str(p->cfg, "model.kind", "dit"), steps, base, residual, point_cfg_scale(p),
                (long long)r->num_samples);
        const double v[] = {r->fid, r->sfid, r->is, r->precision, r->recall, r->class_consistency,
                            r->seconds_per_sample, r->gflops_per_sample};
        for (size_t k = 0; k < sizeof v / sizeof v[0]; k++) {
            fputc(',', t.f);
            csv_num(t.f, v[k]);
        }
        fprintf(t.f, ",%016llx,\"%s\",%s,", (unsigned long long)p->hash, cfg_str(p->cfg, "reproduces.model", ""),
                cfg_str(p->cfg, "reproduces.resolution", ""));
        if (cfg_find(p->cfg, "reproduces.cfg_scale")) fprintf(t.f, "%g", cfg_num(p->cfg, "reproduces.cfg_scale", 0));
        fprintf(t.f, ",%s\n", cfg_str(p->cfg, "reproduces.steps", ""));
    }
    return msf_text_commit(&t);
}

static msf_status write_metrics_json(const char *dir, const msf_experiment *e, const msf_point_result *res) {
    msf_text_file t;
    msf_status s = msf_text_create_in(&t, dir, "metrics.json");
    if (s) return s;
    fprintf(t.f, "{\n  \"experiment\": ");
    cfg_json_string(t.f, e->name);
    fprintf(t.f, ",\n  \"points\": [");
    for (int i = 0; i < e->num_points; i++) {
        const msf_run_point *p = &e->points[i];
        const msf_point_result *r = &res[i];
        fprintf(t.f, "%s\n    {\"point\": ", i ? "," : "");
        cfg_json_string(t.f, p->name);
        fprintf(t.f, ", \"run\": ");
        cfg_json_string(t.f, p->run);
        fprintf(t.f, ", \"sweep\": ");
        cfg_json_string(t.f, p->sweep);
        fprintf(t.f, ", \"config_hash\": \"%016llx\", \"num_samples\": %lld", (unsigned long long)p->hash,
                (long long)r->num_samples);
        for (size_t k = 0; k < NUM_POINT_NUMBERS; k++) {
            fprintf(t.f, ", \"%s\": ", point_numbers[k].key);
            json_num(t.f, *point_number((msf_point_result *)r, k));
        }
        fputc('}', t.f);
    }
    fprintf(t.f, "\n  ]\n}\n");
    return msf_text_commit(&t);
}

static void md_num(FILE *f, double v, const char *fmt) {
    if (isfinite(v)) fprintf(f, fmt, v);
    else fputs("n/a", f);
}

static msf_status write_table_md(const char *dir, const msf_experiment *e, const msf_point_result *res) {
    msf_text_file t;
    msf_status s = msf_text_create_in(&t, dir, "table.md");
    if (s) return s;
    fprintf(t.f, "# %s\n\n", e->name);
    const char *desc = cfg_str(e->root, "description", NULL);
    if (desc) fprintf(t.f, "%s\n\n", desc);
    fprintf(t.f, "| point | model | steps | cfg | samples | FID | sFID | IS | Prec. | Rec. | class cons. | s/sample | "
                 "GFLOPs/sample |\n|---|---|---|---|---|---|---|---|---|---|---|---|---|\n");
    for (int i = 0; i < e->num_points; i++) {
        const msf_run_point *p = &e->points[i];
        const msf_point_result *r = &res[i];
        const char *steps, *base, *residual;
        point_steps(p, &steps, &base, &residual);
        fprintf(t.f, "| %s | %s | ", p->name, cfg_str(p->cfg, "model.kind", "dit"));
        if (*base) fprintf(t.f, "%s + %s", base, residual);
        else fputs(steps, t.f);
        fprintf(t.f, " | %g | %lld | ", point_cfg_scale(p), (long long)r->num_samples);
        const double v[] = {r->fid, r->sfid, r->is, r->precision, r->recall, r->class_consistency,
                            r->seconds_per_sample, r->gflops_per_sample};
        static const char *const fmt[] = {"%.4g", "%.4g", "%.4g", "%.3f", "%.3f", "%.3f", "%.4g", "%.4g"};
        for (size_t k = 0; k < sizeof v / sizeof v[0]; k++) {
            if (k) fputs(" | ", t.f);
            md_num(t.f, v[k], fmt[k]);
        }
        fputs(" |\n", t.f);
    }
    fprintf(t.f, "\nSteps of an MSF point: base + residual. FID, sFID, IS, Prec., Rec.: of the evaluator's feature "
                 "network (Fashion-MNIST: the classifier's features, an FD and an IS-like score). class cons.: share of "
                 "samples the feature network classifies as the class they were conditioned on. s/sample: sampling "
                 "wall time per sample on this machine (not the VAE decode). Per-point configs: manifest.json.\n");
    msf_seed_group *groups = malloc((size_t)e->num_points * sizeof *groups);
    if (!groups) {
        msf_text_abort(&t);
        return msf_fail(MSF_ERR_NOMEM, "out of memory");
    }
    int n = msf_seed_groups(groups, e, res);
    if (msf_seed_groups_any(groups, n)) msf_seed_table_md(t.f, groups, n, e);
    free(groups);
    return msf_text_commit(&t);
}

// One plots.dat / guidance.dat row: "X gflops seconds" and the metrics (NaN
// where absent).
static void write_plot_row(FILE *f, double x, const msf_point_result *r) {
    double m[NUM_METRICS];
    point_metrics(r, m);
    fprintf(f, "%.10g %.10g %.10g", x, r->gflops_per_sample, r->seconds_per_sample);
    for (int k = 0; k < NUM_METRICS; k++) fprintf(f, " %.10g", isfinite(m[k]) ? m[k] : NAN);
    fputc('\n', f);
}

// plots.dat: one gnuplot block per series (run and guidance scale), rows
// "residual_steps gflops seconds fid sfid is precision recall class_consistency".
static int write_plot_data(FILE *f, char names[][96], int max_series, const msf_experiment *e,
                           const msf_point_result *res) {
    int series = 0;
    for (int i = 0; i < e->num_points; i++) {
        char name[96];
        snprintf(name, sizeof name, "%s,cfg=%g", e->points[i].run, point_cfg_scale(&e->points[i]));
        int known = 0;
        for (int k = 0; k < series; k++) known |= !strcmp(names[k], name);
        if (known || series == max_series) continue;
        snprintf(names[series++], 96, "%s", name);
        char header[96];  // one line, whatever the run name holds
        fprintf(f, "%s# %s\n", series > 1 ? "\n\n" : "", msf_gp_inert(header, sizeof header, name));
        for (int j = i; j < e->num_points; j++) {
            const msf_run_point *p = &e->points[j];
            char other[96];
            snprintf(other, sizeof other, "%s,cfg=%g", p->run, point_cfg_scale(p));
            if (strcmp(other, name)) continue;
            const char *steps, *base, *residual;
            point_steps(p, &steps, &base, &residual);
            const msf_point_result *r = &res[j];
            char *end;
            double rs = strtod(residual, &end);
            write_plot_row(f, *residual && !*end ? rs : NAN, r);
        }
    }
    return series;
}

// A guidance series: the points of one run at one step setting ("run,steps=S"),
// told apart by their guidance scale.
static void guidance_series_name(char name[96], const msf_run_point *p) {
    const char *steps, *base, *residual;
    point_steps(p, &steps, &base, &residual);
    if (*base) snprintf(name, 96, "%s,steps=%s+%s", p->run, base, residual);
    else snprintf(name, 96, "%s,steps=%s", p->run, steps);
}

// guidance.dat: one gnuplot block per guidance series with at least two
// guidance scales, rows "cfg_scale gflops seconds fid sfid is precision recall
// class_consistency" in sweep order. Returns the number of blocks.
static int write_guidance_data(FILE *f, char names[][96], int max_series, const msf_experiment *e,
                               const msf_point_result *res) {
    int series = 0;
    for (int i = 0; i < e->num_points && series < max_series; i++) {
        char name[96], other[96];
        guidance_series_name(name, &e->points[i]);
        int known = 0, scales = 0;
        for (int k = 0; k < series; k++) known |= !strcmp(names[k], name);
        for (int j = i + 1; j < e->num_points && !known; j++) {
            guidance_series_name(other, &e->points[j]);
            scales |= !strcmp(other, name) && point_cfg_scale(&e->points[j]) != point_cfg_scale(&e->points[i]);
        }
        if (known || !scales) continue;
        snprintf(names[series++], 96, "%s", name);
        char header[96];  // one line, whatever the run name holds
        fprintf(f, "%s# %s\n", series > 1 ? "\n\n" : "", msf_gp_inert(header, sizeof header, name));
        for (int j = i; j < e->num_points; j++) {
            guidance_series_name(other, &e->points[j]);
            if (strcmp(other, name)) continue;
            write_plot_row(f, point_cfg_scale(&e->points[j]), &res[j]);
        }
    }
    return series;
}

// With seed sweeps: metrics_seeds.csv, seeds.dat and their plots (appended
// to plots.gp); nothing when every setting has one seed.
static msf_status write_seed_results(FILE *gp, const char *dir, const msf_experiment *e,
                                     const msf_point_result *res) {
    msf_seed_group *groups = malloc((size_t)e->num_points * sizeof *groups);
    if (!groups) return msf_fail(MSF_ERR_NOMEM, "out of memory");
    int n = msf_seed_groups(groups, e, res);
    msf_status s = MSF_OK;
    if (msf_seed_groups_any(groups, n) && !(s = msf_seed_write_csv(dir, groups, n, e)))
        s = msf_seed_write_plots(gp, dir, groups, n, e);
    free(groups);
    return s;
}

static msf_status write_plots(const char *dir, const msf_experiment *e, const msf_point_result *res) {
    msf_text_file dat, gp;
    msf_status s = msf_text_create_in(&dat, dir, "plots.dat");
    if (s) return s;
    char names[64][96], gnames[64][96];
    int series = write_plot_data(dat.f, names, 64, e, res);
    if ((s = msf_text_commit(&dat))) return s;
    msf_text_file gdat;
    if ((s = msf_text_create_in(&gdat, dir, "guidance.dat"))) return s;
    int gseries = write_guidance_data(gdat.f, gnames, 64, e, res);
    if ((s = msf_text_commit(&gdat))) return s;
    if ((s = msf_text_create_in(&gp, dir, "plots.gp"))) return s;
    // Metrics with a value somewhere; seconds per sample when there are none.
    int any[NUM_METRICS] = {0}, count = 0, residual_axis = 0;
    for (int i = 0; i < e->num_points; i++) {
        double m[NUM_METRICS];
        point_metrics(&res[i], m);
        for (int k = 0; k < NUM_METRICS; k++) any[k] |= isfinite(m[k]);
        residual_axis |= !strcmp(cfg_str(e->points[i].cfg, "model.kind", "dit"), "msf");
    }
    // Every name (experiment, runs, series) reaches the script only as an
    // msf_gp_quote string (io/gnuplot.h): a name may hold backquotes, quotes or
    // newlines. Series names go in arrays (word() would split one at a blank).
    FILE *f = gp.f;
    char text[512], q[1100], out[128];
    snprintf(text, sizeof text, "plots.gp: written by msf run for %s; run `gnuplot plots.gp` in this folder.", e->name);
    msf_gp_comment(f, text);
    msf_gp_prologue(f);
    fprintf(f, "set terminal pngcairo size 800,560 noenhanced\nset datafile missing 'NaN'\nset key outside right\n"
               "set grid\n");
    for (int g = 0; g < 2; g++) {
        int n = g ? gseries : series;
        if (!n) continue;
        fprintf(f, "array %s[%d] = [", g ? "gnames" : "names", n);
        for (int k = 0; k < n; k++)
            fprintf(f, "%s%s", k ? ", " : "", msf_gp_quote(q, sizeof q, g ? gnames[k] : names[k]));
        fprintf(f, "]\n");
    }
    for (int k = 0; k <= NUM_METRICS; k++) {
        if (k < NUM_METRICS && !any[k]) continue;
        if (k == NUM_METRICS && count) break;
        count++;
        const char *name = k < NUM_METRICS ? metric_names[k] : "seconds";
        const char *title = k < NUM_METRICS ? metric_titles[k] : "seconds per sample";
        int col = k < NUM_METRICS ? 4 + k : 3;
        if (residual_axis) {
            snprintf(out, sizeof out, "%s_vs_residual_steps.png", name);
            msf_gp_set_output(f, out);
            snprintf(text, sizeof text, "%s: %s vs residual steps", e->name, title);
            fprintf(f, "set title %s\nset xlabel 'residual steps'\nset ylabel '%s'\nset logscale x\n"
                       "plot for [i=0:%d] 'plots.dat' index i using 1:%d with linespoints title names[i+1]\n"
                       "unset logscale x\n",
                    msf_gp_quote(q, sizeof q, text), title, series - 1, col);
        }
        snprintf(out, sizeof out, "%s_vs_gflops.png", name);
        msf_gp_set_output(f, out);
        snprintf(text, sizeof text, "%s: %s vs cost", e->name, title);
        fprintf(f, "set title %s\nset xlabel 'GFLOPs per sample'\nset ylabel '%s'\nset logscale x\n"
                   "plot for [i=0:%d] 'plots.dat' index i using 2:%d with linespoints title names[i+1]\n"
                   "unset logscale x\n",
                msf_gp_quote(q, sizeof q, text), title, series - 1, col);
        if (gseries) {
            snprintf(out, sizeof out, "%s_vs_guidance.png", name);
            msf_gp_set_output(f, out);
            snprintf(text, sizeof text, "%s: %s vs guidance scale", e->name, title);
            fprintf(f, "set title %s\nset xlabel 'guidance scale (1 = none)'\nset ylabel '%s'\n"
                       "plot for [i=0:%d] 'guidance.dat' index i using 1:%d with linespoints title gnames[i+1]\n",
                    msf_gp_quote(q, sizeof q, text), title, gseries - 1, col);
        }
    }
    if ((s = write_seed_results(f, dir, e, res))) {
        msf_text_abort(&gp);
        return s;
    }
    return msf_text_commit(&gp);
}

static void library_versions(FILE *f) {
    unsigned maj, min, rel;
    H5get_libversion(&maj, &min, &rel);
    fprintf(f, "{\"hdf5\": \"%u.%u.%u\", \"openblas\": ", maj, min, rel);
    cfg_json_string(f, openblas_get_config());
    fprintf(f, ", \"fftw\": ");
    cfg_json_string(f, msf_fftw_version());
    fprintf(f, ", \"libpng\": \"%s\", \"zlib\": \"%s\", \"libzip\": \"%s\", \"libyaml\": \"%s\"}",
            png_get_libpng_ver(NULL), zlibVersion(), zip_libzip_version(), yaml_get_version_string());
}

static msf_status write_manifest(const char *dir, const msf_experiment *e, const msf_run_info *info) {
    msf_text_file t;
    msf_status s = msf_text_create_in(&t, dir, "manifest.json");
    if (s) return s;
    FILE *f = t.f;
    struct utsname u;
    char host[1024] = "unknown";
    if (uname(&u) == 0) snprintf(host, sizeof host, "%s (%s %s %s)", u.nodename, u.sysname, u.release, u.machine);
    fprintf(f, "{\n  \"experiment\": ");
    cfg_json_string(f, e->name);
    fprintf(f, ",\n  \"experiment_file\": ");
    cfg_json_string(f, e->path);
    fprintf(f, ",\n  \"command\": ");
    cfg_json_string(f, info->command ? info->command : "");
    fprintf(f, ",\n  \"msf_version\": \"%s\",\n  \"git_commit\": ", msf_version());
    cfg_json_string(f, msf_git_commit());
    fprintf(f, ",\n  \"config_hash\": \"%016llx\",\n  \"host\": ", (unsigned long long)cfg_hash(e->root));
    cfg_json_string(f, host);
    fprintf(f, ",\n  \"threads\": %d,\n  \"processes\": %d,\n  \"started\": \"%s\",\n  \"ended\": ",
            info->threads, info->processes, info->started);
    if (info->ended) fprintf(f, "\"%s\"", info->ended);
    else fputs("null", f);
    fprintf(f, ",\n  \"resumed\": %s,\n  \"libraries\": ", info->resumed ? "true" : "false");
    library_versions(f);
    fprintf(f, ",\n  \"config\": ");
    cfg_write_json(f, e->root, 2);
    fprintf(f, ",\n  \"points\": [");
    for (int i = 0; i < e->num_points; i++) {
        const msf_run_point *p = &e->points[i];
        fprintf(f, "%s\n    {\"point\": ", i ? "," : "");
        cfg_json_string(f, p->name);
        fprintf(f, ", \"seed\": %lld, \"num_samples\": %lld, \"config_hash\": \"%016llx\", \"sample_hash\": "
                   "\"%016llx\", \"inputs_hash\": \"%016llx\",\n     \"config\": ",
                (long long)cfg_int(p->cfg, "seed", 0), (long long)cfg_int(p->cfg, "num_samples", 0),
                (unsigned long long)p->hash, (unsigned long long)p->sample_hash, (unsigned long long)p->inputs_hash);
        cfg_write_json(f, p->cfg, -1);
        fputc('}', f);
    }
    fprintf(f, "\n  ]\n}\n");
    return msf_text_commit(&t);
}

msf_status msf_run_write_results(const char *dir, const msf_experiment *e, const msf_point_result *results,
                                 const msf_run_info *info) {
    msf_status s;
    if ((s = write_metrics_csv(dir, e, results)) || (s = write_metrics_json(dir, e, results)) ||
        (s = write_table_md(dir, e, results)) || (s = write_plots(dir, e, results)))
        return s;
    return write_manifest(dir, e, info);
}

msf_status msf_run_write_manifest(const char *dir, const msf_experiment *e, const msf_run_info *info) {
    return write_manifest(dir, e, info);
}

// -----------------------------------------------------------------------------
// The experiment's folder

// 1 if path is a directory with no entries.
static int empty_dir(const char *path) {
    DIR *d = opendir(path);
    if (!d) return 0;
    int empty = 1;
    struct dirent *ent;
    while (empty && (ent = readdir(d))) empty = !strcmp(ent->d_name, ".") || !strcmp(ent->d_name, "..");
    closedir(d);
    return empty;
}

msf_status msf_run_check_folder(const char *dir) {
    DIR *d = opendir(dir);
    if (!d) return errno == ENOENT ? MSF_OK : msf_fail(MSF_ERR_IO, "cannot read directory %s: %s", dir, strerror(errno));
    // A run killed before its first manifest was written leaves at most an
    // empty points/ and temporaries: nothing of anyone else's.
    int entries = 0;
    struct dirent *ent;
    char sub[4200];
    while ((ent = readdir(d))) {
        const char *name = ent->d_name;
        if (!strcmp(name, ".") || !strcmp(name, "..") || !strncmp(name, "manifest.json.tmp-", 18)) continue;
        snprintf(sub, sizeof sub, "%s/%s", dir, name);
        entries += strcmp(name, "points") || !empty_dir(sub);
    }
    closedir(d);
    char manifest[4200];
    snprintf(manifest, sizeof manifest, "%s/manifest.json", dir);
    if (!entries || exists(manifest)) return MSF_OK;
    return msf_fail(MSF_ERR_INVALID, "%s holds files but no manifest.json: msf run did not make it, so it neither "
                    "writes into it nor deletes it (--force included); move it away or give the experiment another "
                    "name", dir);
}

static int removed_files, remove_errors;

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
    (void)st, (void)flag, (void)ftw;
    if (remove(path) == 0) removed_files++;
    else {
        msf_log(MSF_LOG_WARN, "--force: cannot remove %s: %s", path, strerror(errno));
        remove_errors++;
    }
    return 0;
}

// A top-level file of an experiment's folder that msf run writes.
static int runner_file(const char *name) {
    static const char *const files[] = {"metrics.json", "metrics.csv", "table.md", "plots.gp", "plots.dat",
                                        "guidance.dat", "plots.log"};
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++)
        if (!strcmp(name, files[i])) return 1;
    if (strstr(name, ".tmp-")) return 1;
    static const char *const axes[] = {"_vs_gflops.png", "_vs_residual_steps.png", "_vs_guidance.png"};
    for (int k = 0; k <= NUM_METRICS; k++) {
        const char *metric = k < NUM_METRICS ? metric_names[k] : "seconds";
        size_t len = strlen(metric);
        if (strncmp(name, metric, len)) continue;
        for (size_t a = 0; a < sizeof axes / sizeof axes[0]; a++)
            if (!strcmp(name + len, axes[a])) return 1;
    }
    return 0;
}

msf_status msf_run_remove_results(const char *dir) {
    msf_status s = msf_run_check_folder(dir);
    if (s) return s;
    DIR *d = opendir(dir);
    if (!d) return errno == ENOENT ? MSF_OK : msf_fail(MSF_ERR_IO, "cannot read directory %s: %s", dir, strerror(errno));
    removed_files = remove_errors = 0;
    char path[4200], kept[600] = "";
    int num_kept = 0;
    struct dirent *ent;
    while ((ent = readdir(d))) {
        const char *name = ent->d_name;
        if (!strcmp(name, ".") || !strcmp(name, "..") || !strcmp(name, "manifest.json")) continue;
        snprintf(path, sizeof path, "%s/%s", dir, name);
        if (!strcmp(name, "points")) {
            // Every point's folder: shards, merged files, grid, spectra.
            if (nftw(path, remove_entry, 16, FTW_DEPTH | FTW_PHYS) != 0 && errno != ENOENT) remove_errors++;
        } else if (runner_file(name)) {
            if (unlink(path) == 0) removed_files++;
            else if (errno != ENOENT) {
                msf_log(MSF_LOG_WARN, "--force: cannot remove %s: %s", path, strerror(errno));
                remove_errors++;
            }
        } else {
            size_t len = strlen(kept);
            if (num_kept++ < 8) snprintf(kept + len, sizeof kept - len, "%s%.60s", len ? ", " : "", name);
        }
    }
    closedir(d);
    if (remove_errors)
        return msf_fail(MSF_ERR_IO, "--force: cannot remove %d of the files in %s (above); nothing was run",
                        remove_errors, dir);
    // The manifest goes last: a --force killed half way is still recognised.
    snprintf(path, sizeof path, "%s/manifest.json", dir);
    if (unlink(path) != 0 && errno != ENOENT)
        return msf_fail(MSF_ERR_IO, "--force: cannot remove %s: %s", path, strerror(errno));
    if (num_kept)
        msf_log(MSF_LOG_INFO, "--force: kept %d file%s in %s that msf run did not write: %s%s", num_kept,
                num_kept == 1 ? "" : "s", dir, kept, num_kept > 8 ? ", ..." : "");
    return MSF_OK;
}
