// sampler.c: DiT's sampling loop (sample.py + p_sample_loop / ddim_sample_loop).
#include "diffusion/sampler.h"

#include <math.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#include "core/rng.h"

static const char *sampler_names[] = {"ddpm", "ddim"};
static const char *cfg_names[] = {"dit3", "all"};
_Static_assert(MSF_COUNT(sampler_names) == DIFF_SAMPLER_DDIM + 1, "a name per diff_sampler_kind");
_Static_assert(MSF_COUNT(cfg_names) == DIFF_CFG_ALL + 1, "a name per diff_cfg_mode");

const char *diff_sampler_name(diff_sampler_kind k) { return sampler_names[k]; }
const char *diff_cfg_mode_name(diff_cfg_mode m) { return cfg_names[m]; }

msf_status diff_sampler_parse(const char *name, diff_sampler_kind *k) {
    for (int i = 0; i < (int)MSF_COUNT(sampler_names); i++)
        if (!strcmp(name, sampler_names[i])) {
            *k = (diff_sampler_kind)i;
            return MSF_OK;
        }
    return msf_fail(MSF_ERR_INVALID, "unknown sampler '%s' (expected ddpm or ddim)", name);
}

msf_status diff_cfg_mode_parse(const char *name, diff_cfg_mode *m) {
    for (int i = 0; i < (int)MSF_COUNT(cfg_names); i++)
        if (!strcmp(name, cfg_names[i])) {
            *m = (diff_cfg_mode)i;
            return MSF_OK;
        }
    return msf_fail(MSF_ERR_INVALID, "unknown guidance mode '%s' (expected dit3 or all)", name);
}

msf_status msf_diffusion_noise(uint64_t seed, uint32_t stage, int step, int64_t first_sample, int n, size_t numel,
                               float *out) {
    for (int i = 0; i < n; i++) {
        msf_rng_key key = {.seed = seed,
                           .stream = (uint64_t)(first_sample + i),
                           .substream = msf_rng_substream(stage, (uint32_t)(step + 1))};
        msf_status s = msf_rng_normal(out + (size_t)i * numel, numel, key, 0);
        if (s) return s;
    }
    return MSF_OK;
}

// Spaced steps taken from a truncated start t0 (all K when t0 <= 0).
static int steps_from(const diff_schedule *s, int start_t) {
    if (start_t <= 0) return s->num_steps;
    int K = 0;
    while (K < s->num_steps && s->timestep_map[K] <= start_t) K++;
    return K;
}

void diff_stage_free(diff_stage *st) {
    diff_schedule_free(&st->sched);
    free(st->steps);
    memset(st, 0, sizeof *st);
}

msf_status diff_stage_init(diff_stage *st, const diff_stage_opts *o) {
    memset(st, 0, sizeof *st);
    st->opts = *o;
    st->steps = strdup(o->steps ? o->steps : "");
    if (!st->steps) return msf_fail(MSF_ERR_NOMEM, "out of memory");
    st->opts.steps = st->steps;
    msf_status s = diff_schedule_create(&st->sched, 1000, st->steps, o->var);
    if (!s) {
        st->num_steps = steps_from(&st->sched, o->start_t);
        if (st->num_steps < 1)
            s = msf_fail(MSF_ERR_INVALID, "no spaced step of '%s' at or below the start timestep %d", st->steps,
                         o->start_t);
    }
    if (s) diff_stage_free(st);
    return s;
}

msf_status diff_stage_count_steps(const diff_stage_opts *o, int *steps) {
    diff_schedule sched;
    *steps = 0;
    msf_status s = diff_schedule_create(&sched, 1000, o->steps ? o->steps : "", o->var);
    if (s) return s;
    *steps = steps_from(&sched, o->start_t);
    diff_schedule_free(&sched);
    return MSF_OK;
}

size_t diff_sample_workspace_floats(const diff_denoiser *d, int n, int guided) {
    size_t plane = (size_t)d->height * d->width, m = (size_t)n * (guided ? 2 : 1);
    size_t labels = (3 * m + 15) / 16 * 16;    // y (int64, 2 floats each) and t, padded to 64 bytes
    return labels + m * d->channels * plane    // model input
           + m * d->out_channels * plane       // model output
           + (size_t)n * d->channels * plane;  // noise
}

msf_status diff_sample(const diff_stage *stage, const diff_denoiser *d, const diff_sample_opts *o, float *x,
                       const int64_t *y, int64_t first_sample, int n, float *work) {
    const diff_schedule *s = &stage->sched;
    const diff_stage_opts *so = &stage->opts;
    const int guided = so->cfg_scale > 1.0f, m = guided ? 2 * n : n, C = d->channels, OC = d->out_channels;
    const size_t hw = (size_t)d->height * d->width, xs = (size_t)C * hw, os = (size_t)OC * hw;
    if (s->var_type == DIFF_VAR_LEARNED_RANGE ? OC != 2 * C : OC != C)
        return msf_fail(MSF_ERR_INVALID, "sampler: a %d-channel model output does not fit %d channels with %s variance",
                        OC, C, diff_var_type_name(s->var_type));
    int64_t *yv = (int64_t *)(void *)work;
    float *tv = work + 2 * m;
    float *xin = work + (3 * (size_t)m + 15) / 16 * 16, *out = xin + (size_t)m * xs, *noise = out + (size_t)m * os;
    for (int i = 0; i < n; i++) {
        yv[i] = y[i];
        if (guided) yv[n + i] = d->null_label;
    }
    msf_status st = o->noise ? o->noise(o->noise_user, -1, first_sample, n, x)
                             : msf_diffusion_noise(o->seed, o->rng_stage, -1, first_sample, n, xs, x);
    if (st) return st;
    // Guided channels: eps channels 0..2 (dit3) or all eps channels.
    int g = so->cfg_mode == DIFF_CFG_DIT3 && C > 3 ? 3 : C;
    const int K = stage->num_steps;
    if (K < 1) return msf_fail(MSF_ERR_INVALID, "sampler: a stage with no steps (diff_stage_init not called?)");
    // x_T scaled to the forward marginal at the first step taken (a factor of
    // exactly 1 for a unit-variance target: x_T as DiT starts).
    const float a = (float)diff_start_scale(s->alphas_cumprod[K - 1], DIFF_TARGET_VAR);
    for (size_t e = 0; e < (size_t)n * xs; e++) x[e] *= a;
    msf_progress_report(&o->progress, "sample", 0, K);
    for (int i = 0; i < K; i++) {
        int k = K - 1 - i;
        for (int r = 0; r < m; r++) tv[r] = (float)s->timestep_map[k];
        memcpy(xin, x, (size_t)n * xs * sizeof(float));
        if (guided) memcpy(xin + (size_t)n * xs, x, (size_t)n * xs * sizeof(float));
        st = d->fn(d->user, out, xin, tv, yv, m, first_sample);
        if (st) return st;
        // A NaN or infinity from the model stops the stage here, naming the
        // step and the sample, before it reaches the update's exponentials.
        for (size_t e = 0; e < (size_t)m * os; e++)
            if (!isfinite(out[e])) {
                int row = (int)(e / os);
                return msf_fail(MSF_ERR_NUMERIC,
                                "step %d of %d (t = %lld): the model's output for sample %lld%s has a non-finite value "
                                "(%g)",
                                i + 1, K, (long long)s->timestep_map[k], (long long)(first_sample + row % n),
                                row >= n ? " (unconditional half)" : "", (double)out[e]);
            }
        if (guided)
            for (int b = 0; b < n; b++) {
                float *cond = out + (size_t)b * os;
                const float *uncond = out + (size_t)(n + b) * os;
                for (size_t e = 0; e < (size_t)g * hw; e++) cond[e] = uncond[e] + so->cfg_scale * (cond[e] - uncond[e]);
            }
        st = o->noise ? o->noise(o->noise_user, i, first_sample, n, noise)
                      : msf_diffusion_noise(o->seed, o->rng_stage, i, first_sample, n, xs, noise);
        if (st) return st;
        if (so->sampler == DIFF_SAMPLER_DDIM)
            diff_ddim_sample(s, k, so->eta, so->clip_x0, x, out, noise, n, C, OC, (int)hw);
        else diff_p_sample(s, k, so->clip_x0, x, out, noise, n, C, OC, (int)hw);
        msf_progress_report(&o->progress, "sample", i + 1, K);
    }
    return MSF_OK;
}

// -----------------------------------------------------------------------------
// Labels

// Substream of the label draws: stage 255, the last step number, never used by a sampler step.
#define LABEL_SUBSTREAM 0xFFFFFFFFu

msf_status diff_label_mode_parse(const char *name, diff_label_mode *m) {
    if (!strcmp(name, "uniform")) *m = DIFF_LABELS_UNIFORM;
    else if (!strcmp(name, "balanced")) *m = DIFF_LABELS_BALANCED;
    else return msf_fail(MSF_ERR_INVALID, "unknown label mode '%s' (expected uniform or balanced)", name);
    return MSF_OK;
}

msf_status diff_sample_labels(int64_t *labels, diff_label_mode mode, uint64_t seed, int64_t first, int n,
                              int num_classes) {
    if (num_classes < 1) return msf_fail(MSF_ERR_INVALID, "cannot draw labels for a model with no classes");
    for (int i = 0; i < n; i++) {
        if (mode == DIFF_LABELS_BALANCED) {
            labels[i] = (first + i) % num_classes;
            continue;
        }
        float u;
        msf_rng_key key = {.seed = seed, .stream = (uint64_t)(first + i), .substream = LABEL_SUBSTREAM};
        msf_status s = msf_rng_uniform(&u, 1, key, 0);
        if (s) return s;
        int64_t label = (int64_t)((double)u * num_classes);
        labels[i] = label < num_classes ? label : num_classes - 1;
    }
    return MSF_OK;
}
