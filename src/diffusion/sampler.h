// sampler.h: the sampling loop of DiT's sample.py around any denoiser:
// classifier-free guidance, DDPM or DDIM steps, and noise keyed by
// (seed, global sample index, stage, step) so that a sample's trajectory does
// not depend on the batch it was computed in or on the thread count.
#ifndef MSF_DIFFUSION_SAMPLER_H
#define MSF_DIFFUSION_SAMPLER_H

#include <stddef.h>
#include <stdint.h>

#include "core/progress.h"
#include "core/status.h"
#include "diffusion/diffusion.h"

typedef enum { DIFF_SAMPLER_DDPM = 0, DIFF_SAMPLER_DDIM = 1 } diff_sampler_kind;

typedef enum {
    // DiT's forward_with_cfg: guidance on eps channels 0..2 only (a GLIDE
    // leftover DiT kept). With fewer than 3 eps channels DiT's slice
    // model_out[:, :3] would reach into the variance channels; we guide only
    // the eps channels there (so dit3 = all), as REFERENCE.md states the
    // variance channels come unguided.
    DIFF_CFG_DIT3 = 0,
    DIFF_CFG_ALL = 1,  // standard: every eps channel, never the variance channels
} diff_cfg_mode;

const char *diff_sampler_name(diff_sampler_kind k);
msf_status diff_sampler_parse(const char *name, diff_sampler_kind *k);
const char *diff_cfg_mode_name(diff_cfg_mode m);
msf_status diff_cfg_mode_parse(const char *name, diff_cfg_mode *m);

// The network: out (m, out_channels, H, W) = f(x (m, in_channels, H, W), t, y)
// for m rows. With guidance the sampler passes 2n rows: [x; x] with labels
// [y; null]; `first_sample` is the global index of the first of the n samples
// (a conditional denoiser such as MSF's residual model uses it to find its
// conditioning).
typedef msf_status (*diff_denoise_fn)(void *user, float *out, const float *x, const float *t, const int64_t *y, int m,
                                      int64_t first_sample);

typedef struct {
    diff_denoise_fn fn;
    void *user;
    int channels;      // C of x
    int out_channels;  // C, or 2C with learned variance
    int height, width;
    int null_label;  // label of "no class" for the unconditional half
} diff_denoiser;

// Noise source: the initial x_T (step = -1) or the noise drawn at the i-th
// step taken (step = i, spaced index K-1-i) for samples first..first+n-1,
// written to out (n, C, H, W).
typedef msf_status (*diff_noise_fn)(void *user, int step, int64_t first_sample, int n, float *out);

// How one stage samples: what an experiment file or the CLI sets. A DiT is
// one stage; an MSF model has one per level. The only options type for a
// stage (the generator, the MSF model, `msf sample`, `msf run`, `msf flops`).
typedef struct {
    const char *steps;  // DiT's respacing: "250", "ddim50", "10,20,30", or "5@500" (diff_space_timesteps)
    diff_var_type var;  // the model's variance (learned_range when it learns sigma)
    diff_sampler_kind sampler;
    float eta;        // DDIM only
    float cfg_scale;  // guidance when > 1
    diff_cfg_mode cfg_mode;
    // Truncated start: 0 runs every spaced step. t0 > 0 keeps only the spaced
    // steps whose original timestep is <= t0. Either way the loop starts at
    // the largest step kept, k0 (with a spacing such as "5@500" below 999
    // even for t0 = 0), from x = diff_start_scale(alphas_cumprod[k0],
    // DIFF_TARGET_VAR) x_T, the coefficient computed in float64 and rounded to
    // float32: the spread of the forward-noised target, zero-mean and of
    // unit variance (MSF's residual is divided by its residual_scale for
    // that), so the coefficient is 1 and x = x_T. Steps are numbered from that
    // start (noise of step i is used at spaced index k0 - i).
    int start_t;
    // MSF residual stages of a model trained with conditioning augmentation
    // (dit_config.cond_aug): the noise level s in 0..1000 of the condition,
    // U(g) -> sqrt(abar(s)) U(g) + sqrt(1 - abar(s)) eps (diff_linear_abar), s
    // given to the network. 0: the clean condition (still told s = 0).
    int cond_noise;
    // Clamp each x0 estimate to [-1, 1] (ADM's clip_denoised; DiT samples
    // without). Meaningful for targets bounded to [-1, 1] (pixels), not for
    // latents or MSF's scaled residual: the user's choice. 0 or 1.
    int clip_x0;
} diff_stage_opts;

// A stage ready to sample: its options (steps copied) and its schedule, made
// once (diff_stage_init) and used for every batch.
typedef struct {
    diff_stage_opts opts;  // opts.steps points at `steps`
    char *steps;
    diff_schedule sched;
    int num_steps;  // spaced steps taken (K, or k0 + 1 with a truncated start); >= 1
} diff_stage;

// Parse o's respacing over DiT's 1000 steps and count the steps taken;
// MSF_ERR_INVALID for a bad respacing or a start that leaves no step.
msf_status diff_stage_init(diff_stage *st, const diff_stage_opts *o);
void diff_stage_free(diff_stage *st);
// The steps a stage takes under o without keeping it (0 and the error when
// o's respacing is bad): for cost estimates.
msf_status diff_stage_count_steps(const diff_stage_opts *o, int *steps);

// What one sampling call needs besides its stage: where the noise comes from
// and who hears about progress.
typedef struct {
    uint64_t seed;
    uint32_t rng_stage;   // RNG stage (0 for DiT; MSF numbers its stages)
    diff_noise_fn noise;  // NULL: the Philox streams of msf_diffusion_noise
    void *noise_user;
    msf_progress progress;  // reports steps taken
} diff_sample_opts;

// Philox noise of sampler step `step` (-1 = x_T) for samples first..first+n-1,
// each (C,H,W) = `numel` values: stream = sample index, substream =
// (stage, step + 1), elements 0..numel-1.
msf_status msf_diffusion_noise(uint64_t seed, uint32_t stage, int step, int64_t first_sample, int n, size_t numel,
                               float *out);

// Workspace floats diff_sample needs for n samples (pass a buffer this large,
// 8-byte aligned or better).
size_t diff_sample_workspace_floats(const diff_denoiser *d, int n, int guided);

// Run the reverse process of stage st for samples first..first+n-1 with
// labels y (n): x (n, C, H, W) receives the final sample. `work` holds
// diff_sample_workspace_floats(d, n, st->opts.cfg_scale > 1) floats.
msf_status diff_sample(const diff_stage *st, const diff_denoiser *d, const diff_sample_opts *o, float *x,
                       const int64_t *y, int64_t first_sample, int n, float *work);

// -----------------------------------------------------------------------------
// Labels

typedef enum {
    DIFF_LABELS_UNIFORM = 0,   // sample i: floor(u * classes), u the Philox uniform of (seed, i, labels substream)
    DIFF_LABELS_BALANCED = 1,  // sample i: i mod classes
} diff_label_mode;

msf_status diff_label_mode_parse(const char *name, diff_label_mode *m);
// Labels of samples first..first+n-1: a pure function of (mode, seed, index).
msf_status diff_sample_labels(int64_t *labels, diff_label_mode mode, uint64_t seed, int64_t first, int n,
                              int num_classes);

#endif
