// point.c: one grid point's samples: the point's generator (msf/generator.h
// with the point's model and sampling options; for MSF the bases it is given,
// sampler.base_from, and whether it samples the residual), the decoder (the
// VAE, or pixels straight from a pixel-space model), the checks a run makes
// before sampling, and msf_run_point_generate, shard by shard, or for a
// point of given samples their checks and grid.
#include "run/runner_internal.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/arena.h"
#include "core/timer.h"
#include "eval/evaluate.h"
#include "eval/image_input.h"
#include "io/idx.h"
#include "io/npz.h"
#include "io/h5read.h"
#include "models/dit.h"
#include "models/vae.h"
#include "nn/pyramid.h"
#include "msf/bases.h"
#include "msf/generator.h"

// -----------------------------------------------------------------------------
// Generator: a DiT or an MSF model with the point's sampling options

// The reference images of a point (evaluator.reference: IDX images, padded
// to the model's side as tools/train.py pads Fashion-MNIST, an .npz batch or
// a PNG folder) as a pixel-space model's samples z: (n, C, size, size), each
// byte b mapped to b / 127.5 - 1, and their labels when the reference has
// them (NULL when not).
static msf_status real_images(const msf_run_point *p, const msf_model *m, float **z, int64_t *n, int64_t **labels) {
    const char *ref = config_str(p->config, "evaluator.reference", "");
    size_t len = strlen(ref);
    int c = 1, h = 0, w = 0;
    struct stat st;
    msf_image_input_opts io = {.range = MSF_BYTES_SIGNED};
    msf_status s;
    *z = NULL, *labels = NULL;
    if ((len > 10 && !strcmp(ref + len - 10, "idx3-ubyte")) || (len > 13 && !strcmp(ref + len - 13, "idx3-ubyte.gz"))) {
        msf_idx_opts o = {.pad_to = m->size, .range = MSF_BYTES_SIGNED};
        s = msf_idx_read_images(ref, &o, z, n, &h, &w);
    } else if (stat(ref, &st) == 0 && S_ISDIR(st.st_mode)) {
        s = msf_png_folder_read(ref, &io, z, n, &c, &h, &w);
    } else {
        s = msf_npz_read_images(ref, NULL, &io, z, n, &c, &h, &w);
    }
    if (!s && (c != m->channels || h != m->size || w != m->size))
        s = msf_fail(MSF_ERR_SHAPE, "%s: images %dx%dx%d; the model makes %dx%dx%d", ref, c, h, w, m->channels, m->size,
                     m->size);
    if (!s) s = msf_image_input_labels(ref, *n, 0, labels);
    if (s) {
        msf_aligned_free(*z);
        *z = NULL;
        return msf_fail_context(s, "%s: sampler.base_from: real (the bases of the reference's images)", p->name);
    }
    return MSF_OK;
}

// The bases of sampler.base_from for model m: a bases file, or `real`.
static msf_status given_bases(msf_bases *b, const msf_run_point *p, const msf_model *m) {
    const char *from = config_str(p->config, "sampler.base_from", "");
    if (strcmp(from, "real")) return msf_bases_read(b, from, m);
    float *z;
    int64_t n, *labels;
    msf_status s = real_images(p, m, &z, &n, &labels);
    if (s) return s;
    s = msf_bases_factorise(b, z, n, m, config_str(p->config, "evaluator.reference", ""));
    msf_aligned_free(z);
    if (s) free(labels);
    else b->labels = labels;
    return s;
}

// The point's generator, label mode and MSF stages: bases from the base stage
// or given (sampler.base_from), the residual sampled or not (sampler.residual).
typedef struct {
    msf_generator gen;
    diff_label_mode labels;
    int residual;     // MSF: sample the residual stage(s); else the samples are U(base)
    msf_bases given;  // MSF: the given bases (given.base NULL: the base stage draws them)
    float *base;      // the bases of a shard, when the base stage draws them and there is no residual
} point_generator;

static void point_generator_free(point_generator *pg) {
    msf_generator_free(&pg->gen);
    msf_bases_free(&pg->given);
    free(pg->base);
}

static msf_status point_generator_open(point_generator *pg, const msf_run_point *p, msf_base_cache *bases, int shard) {
    memset(pg, 0, sizeof *pg);
    msf_model arch;
    msf_status s = msf_run_point_arch(&arch, p);
    if (s) return s;
    int ls[MSF_MAX_LEVELS];
    for (int k = 0; k < arch.num_stages; k++) ls[k] = arch.stage[k].config.learn_sigma;
    msf_run_sampling o;
    if ((s = msf_run_sampling_make(&o, p, arch.num_stages, ls))) return s;
    int is_msf = !strcmp(config_str(p->config, "model.kind", "dit"), "msf");
    int64_t batch = msf_run_int(p->config, "batch");
    if (batch < 1 || batch > 4096) return msf_fail(MSF_ERR_INVALID, "%s: batch must be 1..4096", p->name);
    int given = config_find(p->config, "sampler.base_from") != NULL;
    msf_generator_opts go = {.num_stages = o.num_stages,
                             .seed = (uint64_t)msf_run_int(p->config, "seed"),
                             .batch = (int)batch,
                             .base_cache = is_msf && !given ? bases : NULL,
                             .precision = strcmp(msf_run_point_precision(p), "bf16") ? NN_FP32 : NN_BF16};
    memcpy(go.stage, o.stage, sizeof go.stage);
    pg->labels = o.labels;
    pg->residual = strcmp(msf_run_str(p->config, "sampler.residual"), "none") != 0;
    const char *path = config_str(p->config, "model.weights", ""), *group = msf_run_str(p->config, "model.group");
    msf_h5_reader *w;
    if ((s = msf_h5_open(&w, path))) return s;
    s = msf_generator_open(&pg->gen, w, group, is_msf, &go);
    msf_h5_close(w);
    if (!s && given) {
        int64_t row;
        if (!(s = given_bases(&pg->given, p, &pg->gen.msf)) &&
            !(s = msf_bases_row(&pg->given, 0, msf_run_int(p->config, "num_samples"), &row)))
            s = msf_bases_check_labels(&pg->given, pg->gen.num_classes);
    } else if (!s && is_msf && !pg->residual) {
        pg->base = malloc((size_t)shard * pg->gen.channels * pg->gen.base_side * pg->gen.base_side * sizeof *pg->base);
        if (!pg->base) s = msf_fail(MSF_ERR_NOMEM, "out of memory for a shard of bases");
    }
    if (s) point_generator_free(pg);
    return s;  // the caller names the point
}

// Samples first..first+n-1: latents (n, C, H, H), labels (n). *reused_seconds:
// the sampling time of the cached bases used (0 when none).
static msf_status point_generator_run(point_generator *pg, float *latents, int64_t *labels, int64_t first, int n,
                                      double *reused_seconds) {
    msf_generator *g = &pg->gen;
    const msf_bases *given = &pg->given;
    const size_t base_numel = (size_t)g->channels * g->base_side * g->base_side;
    int64_t row = 0;
    *reused_seconds = 0;
    msf_status s = given->base ? msf_bases_row(given, first, n, &row) : MSF_OK;
    if (!s && given->labels) memcpy(labels, given->labels + row, (size_t)n * sizeof *labels);
    else if (!s) s = diff_sample_labels(labels, pg->labels, g->opts.seed, first, n, g->num_classes);
    const float *base = given->base ? given->base + (size_t)row * base_numel : pg->base;
    if (s) return s;
    if (!g->is_msf || (pg->residual && !given->base)) {
        s = msf_generator_sample(g, latents, NULL, NULL, labels, first, n, NULL, reused_seconds);
    } else {
        if (!given->base) s = msf_generator_sample_base(g, pg->base, labels, first, n, NULL, reused_seconds);
        if (!s)
            s = pg->residual ? msf_generator_sample_from_base(g, latents, base, NULL, labels, first, n, NULL)
                             : msf_generator_upsample_base(g, latents, base, n);
    }
    if (!s) s = msf_check_finite(latents, n, (size_t)g->channels * g->size * g->size, first);
    return s;
}

// -----------------------------------------------------------------------------
// Images: the VAE, or pixels straight from a pixel-space model

typedef struct {
    int use_vae;
    vae_model vae;
    int h, w, C;  // latents
    int H, W, c;  // images (H, W, c)
} decoder;

// The image shape of a point's samples; with a VAE, *vf and *vc are its file
// (open, for the caller to close) and config.
static msf_status decoder_plan(decoder *d, const msf_run_point *p, int C, int h, int w, msf_h5_reader **vf,
                               vae_config *vc) {
    memset(d, 0, sizeof *d);
    *vf = NULL;
    d->h = h, d->w = w, d->C = C;
    const char *path = msf_run_str(p->config, "model.vae"), *group = msf_run_str(p->config, "model.vae_group");
    if (!path) {
        if (C != 1 && C != 3)
            return msf_fail(MSF_ERR_INVALID,
                            "%s: the model makes %d channels; without model.vae the samples must "
                            "be 1- or 3-channel pixels in [-1, 1]",
                            p->name, C);
        d->H = h, d->W = w, d->c = C;
        return MSF_OK;
    }
    msf_status s = msf_h5_open(vf, path);
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
        msf_h5_close(*vf);
        *vf = NULL;
    }
    return s;
}

static msf_status decoder_open(decoder *d, const msf_run_point *p, int C, int h, int w) {
    msf_h5_reader *vf;
    vae_config vc;
    msf_status s = decoder_plan(d, p, C, h, w, &vf, &vc);
    if (s || !vf) return s;
    s = vae_load(&d->vae, vf, msf_run_str(p->config, "model.vae_group"), VAE_DECODER, d->H, d->W);
    if (!s) s = vae_set_precision(&d->vae, strcmp(msf_run_point_precision(p), "bf16") ? NN_FP32 : NN_BF16);
    d->use_vae = !s;
    msf_h5_close(vf);
    return s;
}

static void decoder_free(decoder *d) {
    if (d->use_vae) vae_free(&d->vae);
}

// pixels (n, H, W, c) from latents (n, C, h, w); `first` names the sample in messages.
static msf_status decoder_run(decoder *d, uint8_t *pixels, const float *latents, int n, int64_t first) {
    size_t zs = (size_t)d->C * d->h * d->w, ps = (size_t)d->H * d->W * d->c;
    for (int i = 0; i < n; i++) {
        msf_status s = d->use_vae
                           ? vae_decode(&d->vae, pixels + i * ps, NULL, latents + i * zs, 1, d->h, d->w, first + i)
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
    const char *path = config_str(p->config, key, NULL);
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

// The images of a point of given samples: arr_0 uint8 [N, H, W, C] of
// `samples`, N equal to num_samples when that is given.
static msf_status given_samples_shape(const msf_run_point *p, int64_t *n, int *h, int *w, int *c) {
    const char *path = config_str(p->config, "samples", "");
    msf_npz_reader *r;
    msf_status s = msf_npz_open_u8(&r, path, "arr_0");
    if (s) return msf_fail_context(s, "%s: samples", p->name);
    const int64_t *sh = msf_npz_shape(r);
    if (msf_npz_ndim(r) != 4 || sh[0] < 1 || sh[1] < 1 || sh[1] > 16384 || sh[2] < 1 || sh[2] > 16384 || sh[3] < 1 ||
        sh[3] > 4)
        s = msf_fail(MSF_ERR_SHAPE,
                     "%s: samples %s: arr_0 must be uint8 images [N, H, W, C] (C = 1, 3 or 4), as DiT's "
                     "sample_ddp.py writes them",
                     p->name, path);
    else *n = sh[0], *h = (int)sh[1], *w = (int)sh[2], *c = (int)sh[3];
    msf_npz_close(r);
    const config_node *v = config_find(p->config, "num_samples");
    if (!s && v && msf_run_int(p->config, "num_samples") != *n)
        s = msf_fail(MSF_ERR_SHAPE,
                     "%s:%d: %s: num_samples is %s but %s holds %lld images (leave num_samples out for "
                     "given samples)",
                     v->file, v->line, p->name, v->text, path, (long long)*n);
    return s;
}

// Given bases (sampler.base_from) that a run could not use, found without
// reading them: a file of another shape or too few rows, `real` for a latent
// model.
static msf_status check_given_bases(const msf_run_point *p) {
    const char *from = msf_run_str(p->config, "sampler.base_from"),
               *weights = config_str(p->config, "model.weights", "");
    if (!from) return MSF_OK;
    if (!strcmp(from, "real")) {
        if (config_find(p->config, "model.vae"))
            return msf_fail(MSF_ERR_INVALID,
                            "%s: sampler.base_from: real takes the reference's pixels as z, for a "
                            "pixel-space model; this one has a VAE (encode the images with msf encode and give the "
                            "latents file as base_from)",
                            p->name);
        return MSF_OK;
    }
    if (access(from, R_OK) != 0 || access(weights, R_OK) != 0) return MSF_OK;  // missing: listed elsewhere
    msf_h5_reader *w;
    msf_model layout;
    msf_bases b;
    int64_t row;
    msf_status s = msf_h5_open(&w, weights);
    if (s) return s;
    s = msf_model_read_layout(&layout, w, msf_run_str(p->config, "model.group"));
    msf_h5_close(w);
    if (!s && !(s = msf_bases_probe(&b, from, &layout))) {
        s = msf_bases_row(&b, 0, msf_run_int(p->config, "num_samples"), &row);
        msf_bases_free(&b);
    }
    return s ? msf_fail_context(s, "%s: sampler.base_from", p->name) : MSF_OK;
}

msf_status msf_run_point_check(const msf_run_point *p) {
    msf_status s;
    if ((s = check_readable(p, "model.weights")) || (s = check_readable(p, "model.vae")) ||
        (s = check_readable(p, "samples")) || (s = check_readable(p, "evaluator.featnet")) ||
        (s = check_readable(p, "evaluator.reference")))
        return s;
    if (strcmp(config_str(p->config, "sampler.base_from", "real"), "real") &&
        (s = check_readable(p, "sampler.base_from")))
        return s;
    if (config_find(p->config, "samples")) {
        int64_t n;
        int h, w, c;
        return access(config_str(p->config, "samples", ""), R_OK) == 0 ? given_samples_shape(p, &n, &h, &w, &c)
                                                                       : MSF_OK;
    }
    const char *weights = config_str(p->config, "model.weights", "");
    int have_weights = access(weights, R_OK) == 0;
    if (!have_weights && !config_find(p->config, "model.arch"))
        return MSF_OK;  // missing: listed by msf_run_point_missing
    msf_model m;
    if ((s = msf_run_point_arch(&m, p))) return msf_fail_context(s, "%s", p->name);
    int ls[MSF_MAX_LEVELS];
    for (int k = 0; k < m.num_stages; k++) ls[k] = m.stage[k].config.learn_sigma;
    msf_run_sampling o;
    if ((s = msf_run_sampling_make(&o, p, m.num_stages, ls))) return s;
    if ((s = check_given_bases(p))) return s;
    if (have_weights && m.num_stages == 1) {
        // What msf_generator_open finds once the weights are loaded.
        const dit_config *c = &m.stage[0].config;
        if (o.stage[0].cfg_scale > 1.0f && !c->has_null_class)
            return msf_fail(MSF_ERR_INVALID, "%s: %s has no null class: set sampler.cfg_scale to 1", p->name, weights);
        if (c->learn_sigma != (o.stage[0].var == DIFF_VAR_LEARNED_RANGE))
            return msf_fail(MSF_ERR_INVALID, "%s: sampler.variance %s needs a model %s learned sigma", p->name,
                            diff_var_type_name(o.stage[0].var), c->learn_sigma ? "without" : "with");
    }
    const char *vae = msf_run_str(p->config, "model.vae");
    if (!vae || access(vae, R_OK) == 0) {
        decoder d;
        msf_h5_reader *vf;
        vae_config vc;
        if ((s = decoder_plan(&d, p, m.channels, m.size, m.size, &vf, &vc))) return s;
        msf_h5_close(vf);
    }
    if (config_find(p->config, "spectrum")) {
        // The spectrum stage factorises the latents: the factorisation must fit them.
        nn_pyramid_opts fo = nn_pyramid_defaults();
        const char *spec = msf_run_str(p->config, "spectrum.factorize");
        if ((spec && (s = nn_pyramid_opts_parse(&fo, spec))) || (s = nn_pyramid_check(&fo, m.size, m.size)))
            return msf_fail_context(s, "%s: spectrum.factorize", p->name);
    }
    return MSF_OK;
}

// -----------------------------------------------------------------------------
// A point

// A point of given samples: nothing to sample; their shape and grid.png.
static msf_status generate_given(msf_point_result *r, const msf_run_point *p, const char *dir) {
    int64_t n;
    int h, w, c;
    msf_status s = given_samples_shape(p, &n, &h, &w, &c);
    if (!s) s = msf_run_point_gflops(&r->gflops_per_sample, p);
    r->seconds_per_sample = NAN;
    r->num_samples = n, r->img_h = h, r->img_w = w, r->img_c = c;
    if (!s && !(s = run_make_dir(dir)) && !(s = msf_run_clean_temporaries(dir)))
        s = run_write_grid(dir, p, config_str(p->config, "samples", ""), n, (int)msf_run_int(p->config, "grid"), h, w,
                           c);
    return s ? msf_fail_context(s, "%s", p->name) : MSF_OK;
}

// images.npz (unless it is there whole), the shards' image copies removed,
// latents.h5 when wanted, grid.png: from the point's complete shards.
static msf_status merge_point(const msf_point_result *r, const msf_run_point *p, const char *dir, int want_latents,
                              int64_t N, int S, int C, int H, const decoder *d, int images_done) {
    char path[4200], why[1024], images[4096];
    snprintf(images, sizeof images, "%s/images.npz", dir);
    msf_status s;
    if (!images_done && (s = run_merge_images(dir, r->shards_total, N, S, d->H, d->W, d->c))) return s;
    // The merged batch holds every image; the shard copies are no longer needed.
    for (int k = 0; k < r->shards_total; k++) {
        snprintf(path, sizeof path, "%s/shards/shard_%05d.npz", dir, k);
        unlink(path);
    }
    snprintf(path, sizeof path, "%s/latents.h5", dir);
    if (want_latents && run_exists(path) && !run_latents_file_ok(path, p, N, C, H, why, sizeof why))
        run_drop_damaged(path, why);
    if (want_latents && !run_exists(path) && (s = run_merge_latents(dir, p, r->shards_total, N, S, C, H))) return s;
    return run_write_grid(dir, p, images, N, (int)msf_run_int(p->config, "grid"), d->H, d->W, d->c);
}

// The shards of a point that are on disk (sampled by any rank): rank 0's
// progress while it waits for the others.
typedef struct {
    const char *shards_dir;
    int total;
    const msf_progress *progress;
} shard_progress;

static void report_shards_on_disk(void *user) {
    const shard_progress *sp = user;
    char path[4200];
    int done = 0;
    for (int k = 0; k < sp->total; k++) {
        snprintf(path, sizeof path, "%s/shard_%05d.h5", sp->shards_dir, k);
        done += run_exists(path);
    }
    msf_progress_report(sp->progress, "shards", done, sp->total);
}

msf_status msf_run_point_generate(msf_point_result *r, const msf_run_point *p, const char *dir, int want_latents,
                                  msf_base_cache *bases, const msf_dist *dist, const msf_progress *progress) {
    *r = (msf_point_result){.fid = NAN,
                            .sfid = NAN,
                            .is = NAN,
                            .precision = NAN,
                            .recall = NAN,
                            .class_consistency = NAN,
                            .decode_seconds_per_sample = NAN};
    const int root = msf_dist_is_root(dist);
    if (config_find(p->config, "samples")) {
        msf_status s = root ? generate_given(r, p, dir) : MSF_OK;
        return msf_dist_agree(dist, s, NULL, NULL);
    }
    const int64_t N = msf_run_int(p->config, "num_samples"), S64 = msf_run_int(p->config, "shard_size");
    if (N < 1 || S64 < 1 || S64 > (1 << 20))
        return msf_fail(MSF_ERR_INVALID, "%s: num_samples must be >= 1 and shard_size 1..%d", p->name, 1 << 20);
    const int S = (int)S64;
    char shards_dir[4096], h5[4200], npz[4200], images[4096];
    snprintf(shards_dir, sizeof shards_dir, "%s/shards", dir);
    snprintf(images, sizeof images, "%s/images.npz", dir);
    msf_status s = MSF_OK;
    // Rank 0 makes the folders and removes what a killed writer left, before
    // any rank writes there.
    if (root && ((s = run_make_dir(dir)) || (s = run_make_dir(shards_dir)) || (s = msf_run_clean_temporaries(dir)) ||
                 (s = msf_run_clean_temporaries(shards_dir))))
        msf_fail_context(s, "%s", p->name);
    if ((s = msf_dist_agree(dist, s, NULL, NULL)) || (s = msf_run_point_gflops(&r->gflops_per_sample, p))) return s;
    msf_model arch;
    if ((s = msf_run_point_arch(&arch, p))) return s;
    const int C = arch.channels, H = arch.size;
    const size_t numel = (size_t)C * H * H;
    r->num_samples = N;
    r->shards_total = (int)((N + S - 1) / S);

    point_generator g;
    decoder d = {0};
    int have_gen = 0, have_dec = 0;
    float *z = malloc((size_t)S * numel * sizeof *z);
    int64_t *y = malloc((size_t)S * sizeof *y);
    uint8_t *pixels = NULL;
    // Summed over this rank's shards, then over the ranks: sampling and
    // decoding seconds, samples decoded, shards reused.
    double sums[4] = {0, 0, 0, 0};
    if (!z || !y) s = msf_fail(MSF_ERR_NOMEM, "out of memory for a shard of %d samples", S);
    if (!s && (s = decoder_open(&d, p, C, H, H)) == MSF_OK) have_dec = 1;
    r->img_h = d.H, r->img_w = d.W, r->img_c = d.c;
    const size_t img = (size_t)d.H * d.W * d.c;
    char why[1024];
    // Whether images.npz is there whole (then no shard needs its images):
    // rank 0 looks, and removes a damaged one, for all.
    int images_done = 0;
    if (!s && root && run_exists(images)) {
        images_done = run_images_file_ok(images, N, d.H, d.W, d.c, NULL, why, sizeof why);
        if (!images_done) run_drop_damaged(images, why);
    }
    if (!(s = msf_dist_agree(dist, s, NULL, NULL))) s = msf_dist_bcast(dist, &images_done, sizeof images_done, 0);
    if (!s && !(pixels = malloc((size_t)S * img))) s = msf_fail(MSF_ERR_NOMEM, "out of memory for a shard of images");
    // Shard k is rank k mod size's (msf_dist_owner): only it reads, samples,
    // decodes, writes or removes that shard's files.
    shard_progress sp = {shards_dir, r->shards_total, progress};
    if (!s && root) report_shards_on_disk(&sp);
    for (int k = 0; k < r->shards_total && !s; k++) {
        if (msf_dist_owner(dist, k) != msf_dist_rank(dist)) continue;
        int64_t first = (int64_t)k * S;
        int n = (int)(N - first < S ? N - first : S);
        snprintf(h5, sizeof h5, "%s/shard_%05d.h5", shards_dir, k);
        snprintf(npz, sizeof npz, "%s/shard_%05d.npz", shards_dir, k);
        double secs = 0;
        int have = run_shard_check(h5, p, first, n, C, H, z, y, &secs);
        if (have < 0) {
            s = MSF_ERR_INVALID;
            break;
        }
        int sampled = 0;
        if (have) {
            sums[3] += 1;
        } else {
            if (!have_gen && (s = point_generator_open(&g, p, bases, S))) break;
            have_gen = 1;
            if (g.gen.channels != C || g.gen.size != H) {
                s = msf_fail(MSF_ERR_SHAPE, "%s: model size changed while loading", p->name);
                break;
            }
            double t0 = msf_now(), reused = 0;
            if ((s = point_generator_run(&g, z, y, first, n, &reused))) break;
            secs = msf_now() - t0 + reused;
            if ((s = run_shard_write(h5, p, C, H, g.gen.opts.seed, z, y, first, n, secs))) break;
            sampled = 1;
        }
        sums[0] += secs;
        // A shard's images that are there but damaged are decoded again (z
        // holds the shard's latents, sampled or read by shard_check).
        int decode = !images_done && (sampled || !run_exists(npz));
        if (!images_done && !decode && !run_images_file_ok(npz, n, d.H, d.W, d.c, pixels, why, sizeof why)) {
            run_drop_damaged(npz, why);
            decode = 1;
        }
        if (decode) {
            double t0 = msf_now();
            if ((s = decoder_run(&d, pixels, z, n, first))) break;
            sums[1] += msf_now() - t0;
            sums[2] += n;
            if ((s = run_npz_write(npz, pixels, n, d.H, d.W, d.c))) break;
        }
        if (root) report_shards_on_disk(&sp);
    }
    if (have_gen) point_generator_free(&g);
    if (have_dec) decoder_free(&d);
    free(z), free(y), free(pixels);
    if (s) msf_fail_context(s, "%s", p->name);
    // Every rank's shards are written (or one failed, and the point with it).
    if ((s = msf_dist_agree(dist, s, root ? report_shards_on_disk : NULL, &sp)) || (s = msf_dist_sum(dist, sums, 4)))
        return s;
    if (root) report_shards_on_disk(&sp);
    r->seconds_per_sample = sums[0] / (double)N;
    if (sums[2] == (double)N) r->decode_seconds_per_sample = sums[1] / (double)N;
    r->shards_reused = (int)sums[3];
    // The merged files: rank 0's (the others wait at the next agreement).
    if (root) s = merge_point(r, p, dir, want_latents, N, S, C, H, &d, images_done);
    return msf_dist_agree(dist, s, NULL, NULL);
}

// -----------------------------------------------------------------------------
// Spectra

msf_status msf_run_point_spectrum(msf_spectrum_report *r, const msf_run_point *p, const char *dir,
                                  const msf_progress *progress) {
    char in[4700], out[4700], max[32], command[2048];
    snprintf(in, sizeof in, "%s/latents.h5", dir);
    snprintf(out, sizeof out, "%s/spectrum", dir);
    msf_spectrum_report_opts o = msf_spectrum_report_defaults();
    o.input = in, o.out_dir = out, o.title = p->name;
    // The command recorded: the `msf spectrum` that writes the same report.
    const char *args[16];
    int n = 0;
    args[n++] = "spectrum", args[n++] = in, args[n++] = "--out", args[n++] = out, args[n++] = "--title";
    args[n++] = p->name;
    const char *factorize = msf_run_str(p->config, "spectrum.factorize");
    msf_status s;
    if (factorize) {
        if ((s = nn_pyramid_opts_parse(&o.freq.factor, factorize)))
            return msf_fail_context(s, "%s: spectrum.factorize", p->name);
        args[n++] = "--factorize", args[n++] = factorize;
    }
    if (config_find(p->config, "spectrum.max")) {
        o.max = msf_run_int(p->config, "spectrum.max");
        snprintf(max, sizeof max, "%lld", (long long)o.max);
        args[n++] = "--max", args[n++] = max;
    }
    msf_spectrum_command_line(command, sizeof command, n, args);
    o.command = command;
    if ((s = msf_spectrum_report_write(r, &o, progress))) return msf_fail_context(s, "%s: spectra", p->name);
    return MSF_OK;
}
