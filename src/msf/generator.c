// generator.c: sampling a DiT or an MSF model with given options (the DiT
// denoiser glue, the workspace, batching), and the MSF base cache.
#include "msf/generator.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/arena.h"
#include "core/hash.h"
#include "core/timer.h"

// -----------------------------------------------------------------------------
// Base cache

typedef struct base_entry {
    struct base_entry *next;
    uint64_t key;
    size_t floats;
    float *base;
    double seconds;
} base_entry;

struct msf_base_cache {
    base_entry *head;
    size_t floats, max_floats;
};

msf_status msf_base_cache_create(msf_base_cache **c, size_t max_floats) {
    *c = calloc(1, sizeof **c);
    if (!*c) return msf_fail(MSF_ERR_NOMEM, "out of memory for the base cache");
    (*c)->max_floats = max_floats;
    return MSF_OK;
}

void msf_base_cache_free(msf_base_cache *c) {
    if (!c) return;
    while (c->head) {
        base_entry *e = c->head;
        c->head = e->next;
        free(e->base);
        free(e);
    }
    free(c);
}

static const base_entry *base_cache_find(const msf_base_cache *c, uint64_t key, size_t floats) {
    for (const base_entry *e = c->head; e; e = e->next)
        if (e->key == key && e->floats == floats) return e;
    return NULL;
}

// Keep a copy of a base (silently skipped when out of memory or over the cap).
static void base_cache_add(msf_base_cache *c, uint64_t key, const float *base, size_t floats, double seconds) {
    if (c->floats + floats > c->max_floats) return;
    base_entry *e = malloc(sizeof *e);
    float *copy = malloc(floats * sizeof *copy);
    if (!e || !copy) {
        free(e), free(copy);
        return;
    }
    memcpy(copy, base, floats * sizeof *copy);
    *e = (base_entry){.next = c->head, .key = key, .floats = floats, .base = copy, .seconds = seconds};
    c->head = e;
    c->floats += floats;
}

// The base network and its sampling options, hashed once per generator.
static uint64_t base_hash(const msf_generator *g) {
    const dit_model *b = &g->msf.stage[0];
    const diff_stage_opts *o = &g->opts.stage[0];
    uint64_t h = msf_fnv1a(MSF_FNV1A_INIT, &b->config, sizeof b->config);
    h = msf_fnv1a(h, b->params, b->num_params * sizeof *b->params);
    h = msf_fnv1a(h, &b->precision, sizeof b->precision);
    h = msf_fnv1a(h, o->steps, strlen(o->steps) + 1);
    int ints[] = {(int)o->var, (int)o->sampler, (int)o->cfg_mode, o->start_t, o->clip_x0};
    float floats[] = {o->eta, o->cfg_scale};
    h = msf_fnv1a(h, ints, sizeof ints);
    return msf_fnv1a(h, floats, sizeof floats);
}

// What the base of samples first..first+n-1 depends on (g->base_hash covers
// the base network and its sampling options).
static uint64_t base_key(const msf_generator *g, const int64_t *labels, int64_t first, int n) {
    uint64_t h = msf_fnv1a(g->base_hash, &g->opts.seed, sizeof g->opts.seed);
    h = msf_fnv1a(h, &first, sizeof first);
    h = msf_fnv1a(h, &n, sizeof n);
    return msf_fnv1a(h, labels, (size_t)n * sizeof *labels);
}

// -----------------------------------------------------------------------------
// Generator

// A DiT as the sampler's denoiser.
static msf_status dit_denoise(void *user, float *out, const float *x, const float *t, const int64_t *y, int m,
                              int64_t first_sample) {
    (void)first_sample;
    return dit_forward(user, out, x, t, y, m);
}

// A replayed noise function of stage 0 as a DiT's noise.
static msf_status dit_noise(void *user, int step, int64_t first, int n, float *out) {
    const msf_generator *g = user;
    return g->opts.noise(g->opts.noise_user, 0, step, first, n, out);
}

void msf_generator_free(msf_generator *g) {
    dit_free(&g->dit);
    diff_stage_free(&g->stage);
    msf_sampler_free(&g->sampler);
    msf_aligned_free(g->work);
    msf_model_free(&g->msf);
    for (int k = 0; k < MSF_MAX_LEVELS; k++) free(g->steps[k]);
    memset(g, 0, sizeof *g);
}

static msf_status open_dit(msf_generator *g, msf_h5_reader *w, const char *group, int guided) {
    const diff_stage_opts *st = &g->opts.stage[0];
    msf_status s = dit_load(&g->dit, w, group, guided ? 2 * g->opts.batch : g->opts.batch);
    if (!s) s = dit_set_precision(&g->dit, g->opts.precision);
    if (s) return s;
    const dit_config *c = &g->dit.config;
    g->channels = c->in_channels, g->size = g->base_side = c->input_size, g->num_classes = c->num_classes;
    if (guided && !c->has_null_class)
        return msf_fail(MSF_ERR_INVALID, "%s has no null class: use a guidance scale of 1", msf_h5_path(w));
    if (c->learn_sigma != (st->var == DIFF_VAR_LEARNED_RANGE))
        return msf_fail(MSF_ERR_INVALID, "variance %s needs a model %s learned sigma", diff_var_type_name(st->var),
                        c->learn_sigma ? "without" : "with");
    if ((s = diff_stage_init(&g->stage, st))) return s;
    g->so = (diff_sample_opts){.seed = g->opts.seed};
    if (g->opts.noise) g->so.noise = dit_noise, g->so.noise_user = g;
    g->den = (diff_denoiser){.fn = dit_denoise,
                             .user = &g->dit,
                             .channels = g->channels,
                             .out_channels = c->out_channels,
                             .height = g->size,
                             .width = g->size,
                             .null_label = g->num_classes};
    g->num_steps[0] = g->stage.num_steps;
    g->work = msf_aligned_alloc(diff_sample_workspace_floats(&g->den, g->opts.batch, guided) * sizeof(float));
    if (!g->work) return msf_fail(MSF_ERR_NOMEM, "out of memory for the sampler workspace");
    return MSF_OK;
}

static msf_status open_msf(msf_generator *g, msf_h5_reader *w, const char *group, int guided) {
    msf_status s = msf_model_load(&g->msf, w, group, guided ? 2 * g->opts.batch : g->opts.batch);
    for (int k = 0; k < g->msf.num_stages && !s; k++) s = dit_set_precision(&g->msf.stage[k], g->opts.precision);
    if (s) return s;
    if (g->msf.num_stages != g->opts.num_stages)
        return msf_fail(MSF_ERR_INVALID, "%s: the model has %d stages, the sampling options %d", msf_h5_path(w),
                        g->msf.num_stages, g->opts.num_stages);
    g->channels = g->msf.channels, g->size = g->msf.size, g->num_classes = g->msf.stage[0].config.num_classes;
    g->base_side = msf_stage_side(&g->msf, 0);
    if ((s = msf_sampler_init(&g->sampler, &g->msf, g->opts.stage, g->opts.batch))) return s;
    for (int k = 0; k < g->opts.num_stages; k++) g->num_steps[k] = g->sampler.stage[k].num_steps;
    if (g->opts.base_cache) g->base_hash = base_hash(g);
    return MSF_OK;
}

msf_status msf_generator_open(msf_generator *g, msf_h5_reader *w, const char *group, int is_msf,
                              const msf_generator_opts *opts) {
    memset(g, 0, sizeof *g);
    if (opts->batch < 1 || opts->batch > 4096) return msf_fail(MSF_ERR_INVALID, "batch must be 1..4096");
    if (opts->num_stages < 1 || opts->num_stages > MSF_MAX_LEVELS || (!is_msf && opts->num_stages != 1))
        return msf_fail(MSF_ERR_INVALID, "%d sampling stages for a%s model", opts->num_stages,
                        is_msf ? "n MSF" : " DiT");
    g->is_msf = is_msf;
    g->opts = *opts;
    int guided = 0;
    msf_status s = MSF_OK;
    for (int k = 0; k < opts->num_stages && !s; k++) {
        guided |= opts->stage[k].cfg_scale > 1.0f;
        g->steps[k] = strdup(opts->stage[k].steps ? opts->stage[k].steps : "");
        if (!g->steps[k]) s = msf_fail(MSF_ERR_NOMEM, "out of memory");
        g->opts.stage[k].steps = g->steps[k];
    }
    if (!s) s = is_msf ? open_msf(g, w, group, guided) : open_dit(g, w, group, guided);
    if (s) msf_generator_free(g);
    return s;
}

// The base of one batch (m <= batch) through the base cache: *b is the cached
// base, or `own` sampled into.
static msf_status cached_base(msf_generator *g, float *own, const float **b, const int64_t *labels, int64_t first,
                              int m, const msf_progress *progress, double *cached_seconds) {
    size_t floats = (size_t)m * g->channels * g->base_side * g->base_side;
    uint64_t key = base_key(g, labels, first, m);
    const base_entry *e = base_cache_find(g->opts.base_cache, key, floats);
    if (e) {
        *cached_seconds += e->seconds;
        *b = e->base;
        return MSF_OK;
    }
    double t0 = msf_now();
    msf_status s = msf_sample_base(&g->msf, &g->sampler, g->opts.seed, g->opts.noise, g->opts.noise_user, own, labels,
                                   first, m, progress);
    if (!s) base_cache_add(g->opts.base_cache, key, own, floats, msf_now() - t0);
    *b = own;
    return s;
}

// One batch (m <= batch) of an MSF model through the base cache.
static msf_status sample_cached(msf_generator *g, float *latents, float *base, float *residual, const int64_t *labels,
                                int64_t first, int m, const msf_progress *progress, double *cached_seconds) {
    size_t floats = (size_t)m * g->channels * g->base_side * g->base_side;
    float *own = base ? base : malloc(floats * sizeof *own);
    if (!own) return msf_fail(MSF_ERR_NOMEM, "out of memory for %d base samples", m);
    const float *b;
    msf_status s = cached_base(g, own, &b, labels, first, m, progress, cached_seconds);
    if (!s && base && b != base) memcpy(base, b, floats * sizeof *base);
    if (!s)
        s = msf_sample_from_base(&g->msf, &g->sampler, g->opts.seed, g->opts.noise, g->opts.noise_user, latents, b,
                                 residual, labels, first, m, progress);
    if (own != base) free(own);
    return s;
}

msf_status msf_generator_sample(msf_generator *g, float *latents, float *base, float *residual, const int64_t *labels,
                                int64_t first, int n, const msf_progress *progress, double *cached_seconds) {
    const size_t numel = (size_t)g->channels * g->size * g->size;
    const size_t base_numel = (size_t)g->channels * g->base_side * g->base_side;
    double cached = 0;
    msf_status s = MSF_OK;
    if (progress) g->so.progress = *progress;
    for (int b = 0; b < n && !s; b += g->opts.batch) {
        int m = n - b < g->opts.batch ? n - b : g->opts.batch;
        float *z = latents + (size_t)b * numel;
        float *zb = base ? base + (size_t)b * base_numel : NULL, *zr = residual ? residual + (size_t)b * numel : NULL;
        if (!g->is_msf) s = diff_sample(&g->stage, &g->den, &g->so, z, labels + b, first + b, m, g->work);
        else if (g->opts.base_cache) s = sample_cached(g, z, zb, zr, labels + b, first + b, m, progress, &cached);
        else
            s = msf_sample(&g->msf, &g->sampler, g->opts.seed, g->opts.noise, g->opts.noise_user, z, zb, zr, labels + b,
                           first + b, m, progress);
    }
    g->so.progress = (msf_progress){0};
    if (cached_seconds) *cached_seconds = cached;
    return s;
}

static msf_status need_msf(const msf_generator *g, const char *what) {
    return g->is_msf ? MSF_OK : msf_fail(MSF_ERR_INVALID, "%s needs an MSF model; this is a DiT", what);
}

msf_status msf_generator_sample_base(msf_generator *g, float *base, const int64_t *labels, int64_t first, int n,
                                     const msf_progress *progress, double *cached_seconds) {
    const size_t base_numel = (size_t)g->channels * g->base_side * g->base_side;
    double cached = 0;
    msf_status s = need_msf(g, "sampling the base stage alone");
    for (int b = 0; b < n && !s; b += g->opts.batch) {
        int m = n - b < g->opts.batch ? n - b : g->opts.batch;
        float *out = base + (size_t)b * base_numel;
        const float *got;
        if (!g->opts.base_cache)
            s = msf_sample_base(&g->msf, &g->sampler, g->opts.seed, g->opts.noise, g->opts.noise_user, out, labels + b,
                                first + b, m, progress);
        else if (!(s = cached_base(g, out, &got, labels + b, first + b, m, progress, &cached)) && got != out)
            memcpy(out, got, (size_t)m * base_numel * sizeof *out);
    }
    if (cached_seconds) *cached_seconds = cached;
    return s;
}

msf_status msf_generator_sample_from_base(msf_generator *g, float *latents, const float *base, float *residual,
                                          const int64_t *labels, int64_t first, int n, const msf_progress *progress) {
    const size_t numel = (size_t)g->channels * g->size * g->size;
    const size_t base_numel = (size_t)g->channels * g->base_side * g->base_side;
    msf_status s = need_msf(g, "sampling the residual stages on given bases");
    for (int b = 0; b < n && !s; b += g->opts.batch) {
        int m = n - b < g->opts.batch ? n - b : g->opts.batch;
        s = msf_sample_from_base(&g->msf, &g->sampler, g->opts.seed, g->opts.noise, g->opts.noise_user,
                                 latents + (size_t)b * numel, base + (size_t)b * base_numel,
                                 residual ? residual + (size_t)b * numel : NULL, labels + b, first + b, m, progress);
    }
    return s;
}

msf_status msf_generator_upsample_base(msf_generator *g, float *latents, const float *base, int n) {
    msf_status s = need_msf(g, "upsampling bases");
    if (s) return s;
    const int C = g->channels, L = g->msf.num_stages;
    const size_t numel = (size_t)C * g->size * g->size, base_numel = (size_t)C * g->base_side * g->base_side;
    // The sampler's buffers of the levels so far and of U(levels), as msf_sample uses them.
    float *acc = g->sampler.acc, *cond = g->sampler.cond;
    for (int b = 0; b < n; b += g->opts.batch) {
        int m = n - b < g->opts.batch ? n - b : g->opts.batch;
        memcpy(acc, base + (size_t)b * base_numel, (size_t)m * base_numel * sizeof *acc);
        for (int k = 1; k < L; k++) {
            int side = msf_stage_side(&g->msf, k);
            nn_pyramid_up(cond, acc, m, C, side, side, &g->msf.factor);
            memcpy(acc, cond, (size_t)m * C * side * side * sizeof *acc);
        }
        memcpy(latents + (size_t)b * numel, acc, (size_t)m * numel * sizeof *latents);
    }
    return MSF_OK;
}

msf_status msf_check_finite(const float *x, int64_t n, size_t numel, int64_t first) {
    for (size_t i = 0; i < (size_t)n * numel; i++)
        if (!isfinite(x[i]))
            return msf_fail(MSF_ERR_NUMERIC, "sample %lld has a non-finite value (NaN/Inf from the model?)",
                            (long long)(first + (int64_t)(i / numel)));
    return MSF_OK;
}
