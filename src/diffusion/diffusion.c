// diffusion.c: DiT's Gaussian diffusion: schedules, respacing, reverse steps.
#include "diffusion/diffusion.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *diff_var_type_name(diff_var_type v) {
    switch (v) {
    case DIFF_VAR_LEARNED_RANGE: return "learned_range";
    case DIFF_VAR_FIXED_SMALL: return "fixed_small";
    case DIFF_VAR_FIXED_LARGE: return "fixed_large";
    }
    return "unknown";
}

msf_status diff_var_type_parse(const char *name, diff_var_type *v) {
    for (int i = 0; i < 3; i++)
        if (!strcmp(name, diff_var_type_name((diff_var_type)i))) {
            *v = (diff_var_type)i;
            return MSF_OK;
        }
    return msf_fail(MSF_ERR_INVALID, "unknown variance type '%s' (expected learned_range, fixed_small or fixed_large)",
                    name);
}

// -----------------------------------------------------------------------------
// Respacing

static int cmp_i64(const void *a, const void *b) {
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

// Parse a positive decimal integer spanning [p, end); -1 if malformed.
static long parse_count(const char *p, const char *end) {
    if (p == end || end - p > 9) return -1;
    long v = 0;
    for (; p < end; p++) {
        if (*p < '0' || *p > '9') return -1;
        v = v * 10 + (*p - '0');
    }
    return v;
}

// "SPEC@T": SPEC respaced over original steps 0..T-1 only, exactly what DiT's
// SpacedDiffusion(use_timesteps=space_timesteps(T, SPEC)) keeps of the full
// process (its betas stay those of all num_timesteps steps).
static msf_status space_timesteps_below(int num_timesteps, const char *spec, const char *at, int64_t **steps,
                                        int *count) {
    long range = parse_count(at + 1, at + strlen(at));
    if (range < 1 || range > num_timesteps)
        return msf_fail(MSF_ERR_INVALID,
                        "respacing '%s': expected SPEC@T with T an integer in 1..%d (SPEC spaced over original steps "
                        "0..T-1), got T = '%s'",
                        spec, num_timesteps, at + 1);
    char *inner = malloc((size_t)(at - spec) + 1);
    if (!inner) return msf_fail(MSF_ERR_NOMEM, "out of memory respacing");
    memcpy(inner, spec, (size_t)(at - spec));
    inner[at - spec] = '\0';
    msf_status s = diff_space_timesteps((int)range, inner, steps, count);
    free(inner);
    if (s) msf_fail_context(s, "respacing '%s' (over steps 0..%ld)", spec, range - 1);
    return s;
}

msf_status diff_space_timesteps(int num_timesteps, const char *spec, int64_t **steps, int *count) {
    *steps = NULL;
    *count = 0;
    if (num_timesteps < 1) return msf_fail(MSF_ERR_INVALID, "diffusion needs at least one step");
    const char *at = strchr(spec, '@');
    if (at) return space_timesteps_below(num_timesteps, spec, at, steps, count);
    int64_t *out = malloc((size_t)num_timesteps * sizeof *out);
    if (!out) return msf_fail(MSF_ERR_NOMEM, "out of memory respacing");
    int n = 0;
    if (!strncmp(spec, "ddim", 4)) {
        long want = parse_count(spec + 4, spec + strlen(spec));
        if (want < 1) {
            free(out);
            return msf_fail(MSF_ERR_INVALID, "respacing '%s': expected ddimN with N a positive integer", spec);
        }
        for (int stride = 1; stride < num_timesteps; stride++) {
            if ((num_timesteps + stride - 1) / stride != want) continue;
            for (int t = 0; t < num_timesteps; t += stride) out[n++] = t;
            break;
        }
        if (!n) {
            free(out);
            return msf_fail(MSF_ERR_INVALID, "respacing '%s': cannot create exactly %ld steps with an integer stride",
                            spec, want);
        }
    } else {
        int sections = 1;
        for (const char *p = spec; *p; p++) sections += *p == ',';
        int size_per = num_timesteps / sections, extra = num_timesteps % sections, start = 0;
        const char *p = spec;
        for (int i = 0; i < sections; i++) {
            const char *end = strchr(p, ',');
            if (!end) end = p + strlen(p);
            long section_count = parse_count(p, end);
            int size = size_per + (i < extra);
            if (section_count < 0) {
                free(out);
                return msf_fail(MSF_ERR_INVALID,
                                "respacing '%s': expected step counts such as \"250\" or \"10,15,20\", or \"ddimN\"",
                                spec);
            }
            if (size < section_count) {
                free(out);
                return msf_fail(MSF_ERR_INVALID, "respacing '%s': cannot divide section of %d steps into %ld", spec,
                                size, section_count);
            }
            double stride = section_count <= 1 ? 1.0 : (double)(size - 1) / (double)(section_count - 1);
            double cur = 0.0;
            for (long j = 0; j < section_count; j++) {
                out[n++] = start + (int64_t)nearbyint(cur);  // round half to even, as Python's round
                cur += stride;
            }
            start += size;
            p = end + (*end == ',');
        }
        qsort(out, (size_t)n, sizeof *out, cmp_i64);
        int u = 0;
        for (int i = 0; i < n; i++)
            if (!u || out[i] != out[u - 1]) out[u++] = out[i];
        n = u;
        if (!n) {
            free(out);
            return msf_fail(MSF_ERR_INVALID, "respacing '%s' keeps no steps", spec);
        }
    }
    *steps = out;
    *count = n;
    return MSF_OK;
}

// -----------------------------------------------------------------------------
// Schedule

void diff_schedule_free(diff_schedule *s) {
    free(s->timestep_map);
    free(s->betas);  // all double arrays live in this one allocation
    memset(s, 0, sizeof *s);
}

// Beta t of DiT's linear schedule over T steps: numpy's linspace (t * step +
// start, the last = stop) from 0.0001 to 0.02, scaled by 1000 / T.
static double linear_beta(int t, int T) {
    double scale = 1000.0 / T, start = scale * 0.0001, end = scale * 0.02;
    if (T == 1) return start;
    return t == T - 1 ? end : (double)t * ((end - start) / (T - 1)) + start;
}

msf_status diff_schedule_create(diff_schedule *s, int num_timesteps, const char *spec, diff_var_type var_type) {
    memset(s, 0, sizeof *s);
    int K;
    msf_status st = diff_space_timesteps(num_timesteps, spec, &s->timestep_map, &K);
    if (st) return st;
    s->num_steps = K;
    s->var_type = var_type;
    double *all = calloc((size_t)K * 10, sizeof *all);
    if (!all) {
        diff_schedule_free(s);
        return msf_fail(MSF_ERR_NOMEM, "out of memory creating a diffusion schedule");
    }
    double **arrays[10] = {&s->betas,
                           &s->log_betas,
                           &s->alphas_cumprod,
                           &s->alphas_cumprod_prev,
                           &s->posterior_variance,
                           &s->posterior_log_variance_clipped,
                           &s->posterior_mean_coef1,
                           &s->posterior_mean_coef2,
                           &s->sqrt_recip_alphas_cumprod,
                           &s->sqrt_recipm1_alphas_cumprod};
    for (int i = 0; i < 10; i++) *arrays[i] = all + (size_t)i * K;

    // Linear betas as numpy's linspace (i * step + start, last = stop), scaled
    // so that other step counts keep the same range (DiT's "linear" schedule).
    double alpha_cumprod = 1.0, last = 1.0;
    int k = 0;
    for (int t = 0; t < num_timesteps && k < K; t++) {
        alpha_cumprod *= 1.0 - linear_beta(t, num_timesteps);
        if (t != s->timestep_map[k]) continue;
        s->betas[k++] = 1.0 - alpha_cumprod / last;
        last = alpha_cumprod;
    }

    // Constants of the spaced process, recomputed from its betas as DiT's
    // GaussianDiffusion.__init__ does.
    double ac = 1.0;
    for (k = 0; k < K; k++) {
        double b = s->betas[k];
        s->alphas_cumprod_prev[k] = ac;
        ac *= 1.0 - b;
        s->alphas_cumprod[k] = ac;
        s->log_betas[k] = log(b);
        s->posterior_variance[k] = b * (1.0 - s->alphas_cumprod_prev[k]) / (1.0 - ac);
        s->posterior_mean_coef1[k] = b * sqrt(s->alphas_cumprod_prev[k]) / (1.0 - ac);
        s->posterior_mean_coef2[k] = (1.0 - s->alphas_cumprod_prev[k]) * sqrt(1.0 - b) / (1.0 - ac);
        s->sqrt_recip_alphas_cumprod[k] = sqrt(1.0 / ac);
        s->sqrt_recipm1_alphas_cumprod[k] = sqrt(1.0 / ac - 1.0);
    }
    // log of the posterior variance with its zero first entry replaced by the
    // second. With a single step DiT's array would be empty; that step adds no
    // noise, so any finite value serves: we use log beta.
    for (k = 0; k < K; k++)
        s->posterior_log_variance_clipped[k] = K > 1 ? log(s->posterior_variance[k == 0 ? 1 : k]) : s->log_betas[0];
    return MSF_OK;
}

double diff_start_scale(double abar, double target_var) { return sqrt(abar * target_var + (1.0 - abar)); }

// -----------------------------------------------------------------------------
// Reverse steps (float32, in DiT's order of operations)

// torch.clamp(x, -1, 1) (a NaN stays NaN).
static inline float clip_unit(float x) { return x < -1.0f ? -1.0f : x > 1.0f ? 1.0f : x; }

// Log variance of every element of sample b's channel ch at spaced index k.
static inline float model_log_variance(const diff_schedule *s, int k, const float *var_values, size_t i) {
    switch (s->var_type) {
    case DIFF_VAR_LEARNED_RANGE: {
        float min_log = (float)s->posterior_log_variance_clipped[k], max_log = (float)s->log_betas[k];
        float frac = (var_values[i] + 1.0f) / 2.0f;
        return frac * max_log + (1.0f - frac) * min_log;
    }
    case DIFF_VAR_FIXED_SMALL: return (float)s->posterior_log_variance_clipped[k];
    case DIFF_VAR_FIXED_LARGE:
        return (float)(k == 0 ? log(s->posterior_variance[s->num_steps > 1 ? 1 : 0]) : s->log_betas[k]);
    }
    return 0.0f;
}

void diff_p_sample(const diff_schedule *s, int k, int clip_x0, float *x, const float *model_out, const float *noise,
                   int n, int C, int out_c, int hw) {
    const float recip = (float)s->sqrt_recip_alphas_cumprod[k], recipm1 = (float)s->sqrt_recipm1_alphas_cumprod[k];
    const float coef1 = (float)s->posterior_mean_coef1[k], coef2 = (float)s->posterior_mean_coef2[k];
    const size_t plane = (size_t)C * hw;
#pragma omp parallel for schedule(static)
    for (int b = 0; b < n; b++) {
        float *xb = x + (size_t)b * plane;
        const float *eps = model_out + (size_t)b * out_c * hw, *var = eps + plane, *z = noise + (size_t)b * plane;
        for (size_t i = 0; i < plane; i++) {
            float x0 = recip * xb[i] - recipm1 * eps[i];
            if (clip_x0) x0 = clip_unit(x0);
            float mean = coef1 * x0 + coef2 * xb[i];
            if (k != 0) mean = mean + expf(0.5f * model_log_variance(s, k, var, i)) * z[i];
            xb[i] = mean;
        }
    }
}

void diff_ddim_sample(const diff_schedule *s, int k, float eta, int clip_x0, float *x, const float *model_out,
                      const float *noise, int n, int C, int out_c, int hw) {
    const float recip = (float)s->sqrt_recip_alphas_cumprod[k], recipm1 = (float)s->sqrt_recipm1_alphas_cumprod[k];
    const float ab = (float)s->alphas_cumprod[k], ab_prev = (float)s->alphas_cumprod_prev[k];
    const float sigma = eta * sqrtf((1.0f - ab_prev) / (1.0f - ab)) * sqrtf(1.0f - ab / ab_prev);
    const float sqrt_ab_prev = sqrtf(ab_prev), dir = sqrtf(1.0f - ab_prev - sigma * sigma);
    const size_t plane = (size_t)C * hw;
#pragma omp parallel for schedule(static)
    for (int b = 0; b < n; b++) {
        float *xb = x + (size_t)b * plane;
        const float *eps_model = model_out + (size_t)b * out_c * hw, *z = noise + (size_t)b * plane;
        for (size_t i = 0; i < plane; i++) {
            float x0 = recip * xb[i] - recipm1 * eps_model[i];
            if (clip_x0) x0 = clip_unit(x0);
            float eps = (recip * xb[i] - x0) / recipm1;  // DiT re-derives eps from (the clipped) x0
            float mean = x0 * sqrt_ab_prev + dir * eps;
            if (k != 0) mean = mean + sigma * z[i];
            xb[i] = mean;
        }
    }
}

double diff_linear_abar(int s) {
    double abar = 1.0;
    for (int t = 0; t < s && t < 1000; t++) abar *= 1.0 - linear_beta(t, 1000);
    return abar;
}
