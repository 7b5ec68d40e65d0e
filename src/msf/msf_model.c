// msf_model.c: loading an MSF model and its multi-stage sampler.
#include "msf/msf_model.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/arena.h"

int msf_h5_is_msf(const msf_h5_reader *w) {
    char model[16];
    return msf_h5_get_attr_string(w, NULL, "model", model, sizeof model) == MSF_OK && !strcmp(model, "msf");
}

void msf_stage_group(char *buf, int size, int levels, int stage) {
    if (stage == 0) snprintf(buf, (size_t)size, "base");
    else if (levels == 2) snprintf(buf, (size_t)size, "residual");
    else snprintf(buf, (size_t)size, "residual%d", stage);
}

int msf_stage_side(const msf_model *m, int stage) {
    int side = m->size;
    for (int k = stage; k < m->num_stages - 1; k++) side /= m->factor.scale;
    return side;
}

void msf_model_free(msf_model *m) {
    for (int k = 0; k < m->num_stages; k++) dit_free(&m->stage[k]);
    memset(m, 0, sizeof *m);
}

static msf_status root_int(const msf_h5_reader *w, const char *root, const char *name, int64_t *v) {
    msf_status s = msf_h5_get_attr_int(w, root, name, v);
    return s ? msf_fail_context(s, "MSF config") : MSF_OK;
}

msf_status msf_model_read_layout(msf_model *m, msf_h5_reader *w, const char *root) {
    memset(m, 0, sizeof *m);
    const char *path = msf_h5_path(w);
    char model[16] = "";
    if (msf_h5_get_attr_string(w, root, "model", model, sizeof model) || strcmp(model, "msf"))
        return msf_fail(MSF_ERR_FORMAT, "%s%s%s is not an MSF model (attribute model != \"msf\")", path,
                        root && *root ? ":" : "", root ? root : "");
    int64_t scale, levels, channels, size;
    char down[32], up[32];
    msf_status s;
    if ((s = root_int(w, root, "scale", &scale)) || (s = root_int(w, root, "levels", &levels)) ||
        (s = root_int(w, root, "channels", &channels)) || (s = root_int(w, root, "input_size", &size)))
        return s;
    if (msf_h5_get_attr_string(w, root, "down", down, sizeof down) ||
        msf_h5_get_attr_string(w, root, "up", up, sizeof up))
        return msf_fail_context(MSF_ERR_FORMAT, "MSF config");
    if (levels < 2 || levels > MSF_MAX_LEVELS || scale < 2 || channels < 1 || size < 1)
        return msf_fail(MSF_ERR_FORMAT, "%s: MSF levels %lld, scale %lld, channels %lld, size %lld out of range", path,
                        (long long)levels, (long long)scale, (long long)channels, (long long)size);
    m->factor = (nn_pyramid_opts){.scale = (int)scale, .levels = (int)levels};
    if ((s = nn_down_parse(down, &m->factor.down)) || (s = nn_up_parse(up, &m->factor.up)) ||
        (s = nn_pyramid_check(&m->factor, (int)size, (int)size)))
        return msf_fail_context(s, "%s", path);
    m->channels = (int)channels;
    m->size = (int)size;
    m->num_stages = (int)levels;
    for (int k = 0; k < m->num_stages; k++) {
        msf_stage_group(m->group[k], sizeof m->group[k], m->num_stages, k);
        char group[96];
        snprintf(group, sizeof group, "%s%s%s", root && *root ? root : "", root && *root ? "/" : "", m->group[k]);
        dit_config c;
        if ((s = dit_config_read(&c, w, group))) {
            msf_model_free(m);
            return msf_fail_context(s, "%s: MSF stage '%s'", path, m->group[k]);
        }
        if (k == 0 && c.cond_aug) {
            msf_model_free(m);
            return msf_fail(MSF_ERR_FORMAT, "%s: MSF stage 'base' has cond_aug set, but the base has no condition",
                            path);
        }
        int side = msf_stage_side(m, k), want_in = k == 0 ? m->channels : 2 * m->channels;
        int want_out = c.learn_sigma ? 2 * m->channels : m->channels;
        if (c.input_size != side || c.in_channels != want_in || c.out_channels != want_out) {
            msf_model_free(m);
            return msf_fail(
                MSF_ERR_FORMAT, "%s: MSF stage '%s' is a DiT on %dx%dx%d -> %d channels, expected %dx%dx%d -> %d", path,
                m->group[k], c.in_channels, c.input_size, c.input_size, c.out_channels, want_in, side, side, want_out);
        }
        m->residual_scale[k] = 1.0f;
        if (k > 0) {
            double rs;
            if (msf_h5_get_attr_double(w, group, "residual_scale", &rs) || !(rs > 0)) {
                msf_model_free(m);
                return msf_fail(MSF_ERR_FORMAT, "%s: MSF stage '%s' needs a positive residual_scale attribute", path,
                                m->group[k]);
            }
            m->residual_scale[k] = (float)rs;
        }
        m->stage[k].config = c;
    }
    return MSF_OK;
}

msf_status msf_model_load(msf_model *m, msf_h5_reader *w, const char *root, int max_rows) {
    msf_status s = msf_model_read_layout(m, w, root);
    for (int k = 0; k < m->num_stages && !s; k++) {
        char group[96];
        snprintf(group, sizeof group, "%s%s%s", root && *root ? root : "", root && *root ? "/" : "", m->group[k]);
        s = dit_load(&m->stage[k], w, group, max_rows);
    }
    if (s) msf_model_free(m);
    return s;
}

msf_status msf_model_init_random(msf_model *m, const nn_pyramid_opts *f, int channels, int size,
                                 const dit_config *configs, float residual_scale, uint64_t seed, int max_rows) {
    memset(m, 0, sizeof *m);
    msf_status s = nn_pyramid_check(f, size, size);
    if (s) return s;
    if (f->levels > MSF_MAX_LEVELS) return msf_fail(MSF_ERR_INVALID, "at most %d MSF levels", MSF_MAX_LEVELS);
    m->factor = *f;
    m->channels = channels;
    m->size = size;
    m->num_stages = f->levels;
    for (int k = 0; k < m->num_stages && !s; k++) {
        msf_stage_group(m->group[k], sizeof m->group[k], m->num_stages, k);
        m->residual_scale[k] = k ? residual_scale : 1.0f;
        s = dit_init_random(&m->stage[k], &configs[k], seed + (uint64_t)k, 0.02f, max_rows);
    }
    if (s) msf_model_free(m);
    return s;
}

// -----------------------------------------------------------------------------
// Denoisers: the base DiT as is; a residual DiT on concat(x, cond).

typedef struct {
    dit_model *model;
    const float *cond;  // (n, C, h, w): U(lower levels) of the batch's samples (noised with cond_noise)
    const float *aug;   // (rows) the condition's noise level, NULL without cond_aug
    int n;
    size_t plane;  // C*h*w
    float *buf;    // (rows, 2C, h, w)
} stage_denoiser;

static msf_status denoise_base(void *user, float *out, const float *x, const float *t, const int64_t *y, int m,
                               int64_t first) {
    return dit_forward(((stage_denoiser *)user)->model, out, x, t, y, m);
}

static msf_status denoise_residual(void *user, float *out, const float *x, const float *t, const int64_t *y, int m,
                                   int64_t first) {
    stage_denoiser *d = user;
    for (int r = 0; r < m; r++) {
        float *row = d->buf + (size_t)r * 2 * d->plane;
        memcpy(row, x + (size_t)r * d->plane, d->plane * sizeof *row);
        memcpy(row + d->plane, d->cond + (size_t)(r % d->n) * d->plane, d->plane * sizeof *row);
    }
    return dit_forward_aug(d->model, out, d->buf, t, y, d->aug, m);
}

typedef struct {
    msf_noise_fn fn;
    void *user;
    int stage;
} stage_noise;

static msf_status noise_of_stage(void *user, int step, int64_t first, int n, float *out) {
    stage_noise *s = user;
    return s->fn(s->user, s->stage, step, first, n, out);
}

void msf_sampler_free(msf_sampler *s) {
    for (int k = 0; k < MSF_MAX_LEVELS; k++) diff_stage_free(&s->stage[k]);
    free(s->acc), free(s->cond), free(s->r), free(s->buf), free(s->aug), free(s->cond_in);
    msf_aligned_free(s->work);
    memset(s, 0, sizeof *s);
}

msf_status msf_sampler_init(msf_sampler *s, const msf_model *m, const diff_stage_opts *opts, int batch) {
    memset(s, 0, sizeof *s);
    if (batch < 1) return msf_fail(MSF_ERR_INVALID, "MSF sampling: batch %d", batch);
    const int C = m->channels, H = m->size, L = m->num_stages;
    int guided_any = 0;
    msf_status st = MSF_OK;
    s->num_stages = L;
    s->batch = batch;
    for (int k = 0; k < L && !st; k++) {
        guided_any |= opts[k].cfg_scale > 1.0f;
        if (opts[k].cfg_scale > 1.0f && !m->stage[k].config.has_null_class)
            st = msf_fail(MSF_ERR_INVALID, "MSF stage '%s' has no null class: use a guidance scale of 1", m->group[k]);
        else if (opts[k].cond_noise < 0 || opts[k].cond_noise > 1000)
            st = msf_fail(MSF_ERR_INVALID, "MSF stage '%s': condition noise level %d outside 0..1000", m->group[k],
                          opts[k].cond_noise);
        else if (opts[k].cond_noise > 0 && !m->stage[k].config.cond_aug)
            st = msf_fail(MSF_ERR_INVALID,
                          "MSF stage '%s': a condition noise level (%d) needs a residual trained with "
                          "conditioning augmentation (DiT attribute cond_aug); this one was not",
                          m->group[k], opts[k].cond_noise);
        else if ((st = diff_stage_init(&s->stage[k], &opts[k]))) msf_fail_context(st, "MSF stage '%s'", m->group[k]);
    }
    if (!st) {
        const size_t full = (size_t)batch * C * H * H;
        const int rows = guided_any ? 2 * batch : batch;
        diff_denoiser probe = {.channels = C, .out_channels = 2 * C, .height = H, .width = H};
        s->acc = malloc(full * sizeof *s->acc), s->cond = malloc(full * sizeof *s->cond);
        s->r = malloc(full * sizeof *s->r);
        s->buf = malloc((size_t)rows * 2 * C * H * H * sizeof *s->buf);
        s->aug = malloc((size_t)2 * batch * sizeof *s->aug);
        s->cond_in = malloc(full * sizeof *s->cond_in);
        s->work = msf_aligned_alloc(diff_sample_workspace_floats(&probe, batch, guided_any) * sizeof(float));
        if (!s->acc || !s->cond || !s->r || !s->buf || !s->aug || !s->cond_in || !s->work)
            st = msf_fail(MSF_ERR_NOMEM, "out of memory for MSF sampling of %d", batch);
    }
    if (st) msf_sampler_free(s);
    return st;
}

// Stages k0..k1-1 of msf_sample. k0 > 0 starts from base_in (the base of the
// batch, (n, C, hb, hb)); with k1 < num_stages (only the base) z is not
// written. Every model has at least 2 stages (nn_pyramid_check).
static msf_status sample_stages(msf_model *m, msf_sampler *sp, uint64_t seed, msf_noise_fn noise, void *noise_user,
                                float *z, float *base, const float *base_in, float *residual, const int64_t *y,
                                int64_t first, int n, const msf_progress *progress, int k0, int k1) {
    const int C = m->channels, H = m->size, L = m->num_stages;
    if (sp->num_stages != L || n < 1 || n > sp->batch)
        return msf_fail(MSF_ERR_INVALID,
                        "MSF sampling: %d samples for a sampler of %d stages and batch %d (model: %d "
                        "stages)",
                        n, sp->num_stages, sp->batch, L);
    const size_t full = (size_t)n * C * H * H;
    float *acc = sp->acc, *cond = sp->cond, *r = sp->r;
    msf_status s = MSF_OK;
    stage_noise sn = {noise, noise_user, 0};
    if (k0 > 0) memcpy(acc, base_in, (size_t)n * C * msf_stage_side(m, 0) * msf_stage_side(m, 0) * sizeof *acc);
    for (int k = k0; k < k1 && !s; k++) {
        const diff_stage *stage = &sp->stage[k];
        int side = msf_stage_side(m, k);
        const dit_config *c = &m->stage[k].config;
        const int level = stage->opts.cond_noise;
        stage_denoiser sd = {.model = &m->stage[k],
                             .cond = level > 0 ? sp->cond_in : cond,
                             .aug = c->cond_aug ? sp->aug : NULL,
                             .n = n,
                             .plane = (size_t)C * side * side,
                             .buf = sp->buf};
        for (int row = 0; row < 2 * n; row++) sp->aug[row] = (float)level;
        diff_denoiser d = {.fn = k == 0 ? denoise_base : denoise_residual,
                           .user = &sd,
                           .channels = C,
                           .out_channels = c->out_channels,
                           .height = side,
                           .width = side,
                           .null_label = c->num_classes};
        diff_sample_opts so = {
            .seed = seed, .rng_stage = (uint32_t)k, .progress = progress ? *progress : (msf_progress){0}};
        if (noise) {
            sn.stage = k;
            so.noise = noise_of_stage;
            so.noise_user = &sn;
        }
        if (k == 0) {
            s = diff_sample(stage, &d, &so, acc, y, first, n, sp->work);
            if (s) s = msf_fail_context(s, "MSF base stage");
            if (!s && base) memcpy(base, acc, (size_t)n * C * side * side * sizeof *base);
        } else {
            nn_pyramid_up(cond, acc, n, C, side, side, &m->factor);
            if (level > 0) {
                // Conditioning augmentation: the network sees the noised condition (cond_in),
                // the level adds to the clean one. The condition's noise is that of "step -2"
                // of this stage (Philox substream (stage, 2^32 - 1), or the noise callback's).
                const size_t count = (size_t)n * C * side * side, plane = (size_t)C * side * side;
                s = noise ? noise(noise_user, k, -2, first, n, r)
                          : msf_diffusion_noise(seed, (uint32_t)k, -2, first, n, plane, r);
                const double abar = diff_linear_abar(level);
                const float a = (float)sqrt(abar), b = (float)sqrt(1.0 - abar);
                for (size_t i = 0; !s && i < count; i++) sp->cond_in[i] = a * cond[i] + b * r[i];
                if (s) s = msf_fail_context(s, "MSF residual stage %d: condition noise", k);
            }
            if (!s) s = diff_sample(stage, &d, &so, r, y, first, n, sp->work);
            if (s) s = msf_fail_context(s, "MSF residual stage %d", k);
            float rs = m->residual_scale[k];
            size_t count = (size_t)n * C * side * side;
            for (size_t i = 0; !s && i < count; i++) {
                float detail = rs * r[i];
                acc[i] = cond[i] + detail;
                if (residual && k == L - 1) residual[i] = detail;
            }
        }
        if (s) msf_fail_context(s, "MSF stage '%s'", m->group[k]);
    }
    if (!s && k1 == L) memcpy(z, acc, full * sizeof *z);
    return s;
}

msf_status msf_sample(msf_model *m, msf_sampler *s, uint64_t seed, msf_noise_fn noise, void *noise_user, float *z,
                      float *base, float *residual, const int64_t *y, int64_t first, int n,
                      const msf_progress *progress) {
    return sample_stages(m, s, seed, noise, noise_user, z, base, NULL, residual, y, first, n, progress, 0,
                         m->num_stages);
}

msf_status msf_sample_base(msf_model *m, msf_sampler *s, uint64_t seed, msf_noise_fn noise, void *noise_user,
                           float *base, const int64_t *y, int64_t first, int n, const msf_progress *progress) {
    return sample_stages(m, s, seed, noise, noise_user, NULL, base, NULL, NULL, y, first, n, progress, 0, 1);
}

msf_status msf_sample_from_base(msf_model *m, msf_sampler *s, uint64_t seed, msf_noise_fn noise, void *noise_user,
                                float *z, const float *base, float *residual, const int64_t *y, int64_t first, int n,
                                const msf_progress *progress) {
    return sample_stages(m, s, seed, noise, noise_user, z, NULL, base, residual, y, first, n, progress, 1,
                         m->num_stages);
}

double msf_sample_gflops(const msf_model *m, const diff_stage_opts *opts, double *per_stage) {
    double total = 0;
    for (int k = 0; k < m->num_stages; k++) {
        int steps;
        diff_stage_count_steps(&opts[k], &steps);  // 0 steps for a bad respacing
        double g = steps * dit_gflops(&m->stage[k].config) * (opts[k].cfg_scale > 1.0f ? 2 : 1);
        if (per_stage) per_stage[k] = g;
        total += g;
    }
    return total;
}
