// msf_model.h: an MSF model (a base DiT plus one conditional residual DiT per
// finer level) and its multi-stage sampler.
//
// Weight file: root attributes model="msf", format_version, scale, levels,
// down, up, channels, input_size (the full-resolution side); group "base/" is
// a DiT over base latents (side input_size / s^(L-1)); residual DiTs are in
// "residual/" (L = 2) or "residual1/" .. "residual{L-1}/" in generation order
// (coarsest first). A residual DiT takes concat(noisy residual, U(lower
// levels)) -- 2C channels, noisy residual first -- and states out_channels
// (2C with learned sigma, else C) and residual_scale: its diffusion target is
// the residual divided by residual_scale.
//
// Sampling: stage 0 draws the base; stage k draws residual k conditioned on
// U(g), g being the levels so far, and g <- U(g) + residual_scale * sample.
// Noise of stage k is keyed by (seed, sample index, stage k, step), as DiT's.
// Conditioning augmentation (a residual with cond_aug, diff_stage_opts
// cond_noise = s > 0): U(g) is replaced by sqrt(abar(s)) U(g) + sqrt(1 -
// abar(s)) eps before the stage, eps the noise of that stage's "step -2".
#ifndef MSF_MSF_MODEL_H
#define MSF_MSF_MODEL_H

#include <stdint.h>

#include "core/progress.h"
#include "diffusion/sampler.h"
#include "io/h5read.h"
#include "models/dit.h"
#include "nn/pyramid.h"

#define MSF_MAX_LEVELS 8

typedef struct {
    nn_pyramid_opts factor;
    int channels, size;  // full-resolution C and H (= W)
    int num_stages;      // = factor.levels
    dit_model stage[MSF_MAX_LEVELS];
    float residual_scale[MSF_MAX_LEVELS];  // stage 0 (the base): 1
    char group[MSF_MAX_LEVELS][24];
} msf_model;

// Whether the file holds an MSF model (root attribute model = "msf").
int msf_h5_is_msf(const msf_h5_reader *w);
// Group name of a stage for `levels` levels ("base", "residual", "residual2", ...).
void msf_stage_group(char *buf, int size, int levels, int stage);
// Side of the tensors a stage generates.
int msf_stage_side(const msf_model *m, int stage);

// A model with random weights (dit_init_random per stage): configs[0] is the
// base DiT, configs[k] residual stage k (in_channels 2C, out_channels set).
// For benchmarks and cost measurements.
msf_status msf_model_init_random(msf_model *m, const nn_pyramid_opts *f, int channels, int size,
                                 const dit_config *configs, float residual_scale, uint64_t seed, int max_rows);

// Load from the file root (root NULL or "") or from a group holding the same
// layout. max_rows: rows per network call (2x the batch with guidance).
msf_status msf_model_load(msf_model *m, msf_h5_reader *w, const char *root, int max_rows);
// The layout alone, checked as msf_model_load checks it: factorisation,
// channels, size, stage groups, residual scales and each stage's config
// (m->stage[k].config), no parameters. msf_model_free frees nothing then, but may
// be called.
msf_status msf_model_read_layout(msf_model *m, msf_h5_reader *w, const char *root);
void msf_model_free(msf_model *m);

// Noise of `stage` (x_T when step = -1, the condition's noise when step = -2),
// as diff_noise_fn with a stage.
typedef msf_status (*msf_noise_fn)(void *user, int stage, int step, int64_t first, int n, float *out);

// The sampling state of a model: each stage ready (its options and schedule,
// diff_stage) and the buffers of a batch of up to `batch` samples, made once
// and used for every batch (nothing is parsed or allocated per batch).
typedef struct {
    int num_stages;
    diff_stage stage[MSF_MAX_LEVELS];
    int batch;
    float *acc, *cond, *r, *buf, *work;  // levels so far, U(levels), a residual, concat input, sampler workspace
    float *aug;                          // (2 x batch) the condition's noise level per network row
    float *cond_in;                      // the noised condition the network sees (cond_noise > 0)
} msf_sampler;

// Prepare sampling m with opts (m->num_stages entries; a stage's var should
// be its model's) for up to `batch` samples per call: MSF_ERR_INVALID for a
// bad respacing, a start that leaves no step, or guidance on a stage without
// a null class.
msf_status msf_sampler_init(msf_sampler *s, const msf_model *m, const diff_stage_opts *opts, int batch);
void msf_sampler_free(msf_sampler *s);

// Sample first..first+n-1 (n <= s->batch) with labels y: z (n, C, H, W); base
// (n, C, hb, hb) and residual (the finest level's detail z - U(g), in z units,
// (n, C, H, W)) when not NULL. noise NULL = Philox.
msf_status msf_sample(msf_model *m, msf_sampler *s, uint64_t seed, msf_noise_fn noise, void *noise_user, float *z,
                      float *base, float *residual, const int64_t *y, int64_t first, int n,
                      const msf_progress *progress);

// msf_sample in two parts: the base alone (stage 0, into base (n, C, hb, hb)),
// then the residual stages from a given base. Together they give msf_sample's
// bits (the base's noise and the residuals' noise do not depend on each other),
// so a base drawn once can serve every residual setting of the same base
// options, seed and labels.
msf_status msf_sample_base(msf_model *m, msf_sampler *s, uint64_t seed, msf_noise_fn noise, void *noise_user,
                           float *base, const int64_t *y, int64_t first, int n, const msf_progress *progress);
msf_status msf_sample_from_base(msf_model *m, msf_sampler *s, uint64_t seed, msf_noise_fn noise, void *noise_user,
                                float *z, const float *base, float *residual, const int64_t *y, int64_t first, int n,
                                const msf_progress *progress);

// GFLOPs per sample of a run: sum over stages of steps x forward x (2 with guidance).
double msf_sample_gflops(const msf_model *m, const diff_stage_opts *opts, double *per_stage);

#endif
