// diffusion.h: DiT's Gaussian diffusion (the IDDPM / ADM code DiT ships):
// linear betas over 1000 steps, timestep respacing, learned-range or fixed
// variance, and one reverse step of DDPM (p_sample) or DDIM.
//
// Schedules are computed in float64 exactly as DiT's numpy code does; a step
// casts the constants it uses to float32 and does its arithmetic in float32 in
// the same order as DiT's torch code (its `_extract_into_tensor(...).float()`).
#ifndef MSF_DIFFUSION_H
#define MSF_DIFFUSION_H

#include <stdint.h>

#include "core/status.h"

typedef enum {
    DIFF_VAR_LEARNED_RANGE = 0,  // model predicts v in [-1,1] between log posterior variance and log beta
    DIFF_VAR_FIXED_SMALL = 1,    // posterior variance
    DIFF_VAR_FIXED_LARGE = 2,    // betas (first entry: posterior variance of step 1)
} diff_var_type;

const char *diff_var_type_name(diff_var_type v);
msf_status diff_var_type_parse(const char *name, diff_var_type *v);

// IDDPM's space_timesteps: the original steps kept by a respacing spec, sorted.
// spec: "250" (one section), "10,15,20" (equal portions of the original steps,
// each strided to that many steps; Python round of an accumulated float), or
// "ddimN" (the fixed integer stride giving exactly N steps).
// msf's own form "SPEC@T" (1 <= T <= num_timesteps) applies SPEC to original
// steps 0..T-1 only: DiT's space_timesteps(T, SPEC), the steps then used as
// DiT's SpacedDiffusion(use_timesteps=...) uses them, with the betas of all
// num_timesteps steps. "5@500" keeps 0, 125, 250, 374, 499; "2@250" keeps 0,
// 249; "ddim5@500" keeps 0, 100, ..., 400; "N@1000" equals "N". With T below
// num_timesteps the top step is below num_timesteps - 1, and sampling starts
// there (see diff_stage_opts' start_t).
// *steps is malloc'd; MSF_ERR_INVALID with a message for a bad spec.
msf_status diff_space_timesteps(int num_timesteps, const char *spec, int64_t **steps, int *count);

typedef struct {
    int num_steps;          // spaced steps K
    int64_t *timestep_map;  // (K) original step of each spaced index: the model's t
    diff_var_type var_type;
    // (K) float64 constants of the spaced process.
    double *betas, *log_betas, *alphas_cumprod, *alphas_cumprod_prev;
    double *posterior_variance, *posterior_log_variance_clipped;
    double *posterior_mean_coef1, *posterior_mean_coef2;
    double *sqrt_recip_alphas_cumprod, *sqrt_recipm1_alphas_cumprod;
} diff_schedule;

// DiT's create_diffusion(spec) with `num_timesteps` original linear-beta steps
// (1000 in DiT).
msf_status diff_schedule_create(diff_schedule *s, int num_timesteps, const char *spec, diff_var_type var_type);
void diff_schedule_free(diff_schedule *s);
// abar(s) = prod_{i<s} (1 - beta_i) on DiT's 1000-step linear schedule, as its
// cumulative product (abar(0) = 1, abar(s) = alphas_cumprod[s - 1]), s in
// 0..1000: the noise level of MSF's conditioning augmentation.
double diff_linear_abar(int s);

// Scale of x_T (unit Gaussian noise) at a loop's first step, where the
// spaced alphas_cumprod is abar: sqrt(abar * v + 1 - abar), the standard
// deviation of the forward-noised x_t = sqrt(abar) x0 + sqrt(1 - abar) eps of
// a zero-mean target x0 of variance v (treated as Gaussian). The sampler
// uses v = 1 (DIFF_TARGET_VAR): DiT's latents and MSF's residual divided by
// its residual_scale both have unit variance, and the scale is then 1 at
// every step. v = 0 gives sqrt(1 - abar), the noised zero target.
#define DIFF_TARGET_VAR 1.0
double diff_start_scale(double abar, double target_var);

// One reverse step at spaced index k on x (n, C, hw), updated in place.
// model_out (n, out_c, hw): eps in channels [0, C), the variance values in
// [C, 2C) when var_type is learned_range (out_c = 2C), else out_c = C.
// noise (n, C, hw) is added unless k == 0 (DiT draws it at k == 0 too).
// clip_x0: clamp the x0 estimate to [-1, 1] before it is used, as ADM's
// p_mean_variance with clip_denoised=True (DiT samples with False: pass 0).
void diff_p_sample(const diff_schedule *s, int k, int clip_x0, float *x, const float *model_out, const float *noise,
                   int n, int C, int out_c, int hw);
void diff_ddim_sample(const diff_schedule *s, int k, float eta, int clip_x0, float *x, const float *model_out,
                      const float *noise, int n, int C, int out_c, int hw);

#endif
