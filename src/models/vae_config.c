// vae_config.c: the SD VAE's config (read from a weight file's attributes,
// checked) and its tensor table (canonical state_dict keys and shapes), for
// vae.c (models/vae_table.h).
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "models/vae.h"
#include "models/vae_table.h"

vae_config vae_config_sd(void) {
    return (vae_config){.in_channels = 3,
                        .out_channels = 3,
                        .latent_channels = 4,
                        .num_levels = 4,
                        .block_out = {128, 256, 512, 512},
                        .layers_per_block = 2,
                        .norm_groups = 32,
                        .scaling_factor = 0.18215};
}

// -----------------------------------------------------------------------------
// Config

msf_status vae_check_config(const vae_config *c, const char *where) {
    int bad = c->num_levels < 1 || c->num_levels > VAE_MAX_LEVELS || c->in_channels < 1 || c->out_channels < 1 ||
              c->latent_channels < 1 || c->layers_per_block < 1 || c->norm_groups < 1 || c->in_channels > 4096 ||
              c->out_channels > 4096 || c->latent_channels > 4096 || c->layers_per_block > 64 ||
              !(c->scaling_factor > 0) || !isfinite(c->scaling_factor);
    for (int i = 0; !bad && i < c->num_levels; i++)
        bad = c->block_out[i] < 1 || c->block_out[i] > 65536 || c->block_out[i] % c->norm_groups;
    if (!bad) return MSF_OK;
    char chans[128] = "";
    for (int i = 0; i < c->num_levels && i < VAE_MAX_LEVELS; i++)
        snprintf(chans + strlen(chans), sizeof chans - strlen(chans), "%s%d", i ? "," : "", c->block_out[i]);
    return msf_fail(MSF_ERR_FORMAT,
                    "%s: invalid VAE config (block_out_channels %s, %d levels (1..%d), layers_per_block %d, "
                    "norm_num_groups %d (must divide every block_out_channels), channels in/out/latent %d/%d/%d, "
                    "scaling_factor %g)",
                    where, chans, c->num_levels, VAE_MAX_LEVELS, c->layers_per_block, c->norm_groups, c->in_channels,
                    c->out_channels, c->latent_channels, c->scaling_factor);
}

msf_status vae_config_read(vae_config *c, const msf_h5_reader *w, const char *group) {
    memset(c, 0, sizeof *c);
    const char *path = msf_h5_path(w);
    char model[32] = "", chans[256] = "";
    msf_status s = msf_h5_get_attr_string(w, group, "model", model, sizeof model);
    if (s) return msf_fail_context(s, "%s is not a VAE weight file (made by tools/convert_vae.py)", path);
    if (strcmp(model, "vae"))
        return msf_fail(MSF_ERR_FORMAT, "%s%s%s holds a '%s' model, expected 'vae'", path, group && *group ? ":" : "",
                        group ? group : "", model);
    int64_t v[5];
    static const char *names[5] = {"in_channels", "out_channels", "latent_channels", "layers_per_block",
                                   "norm_num_groups"};
    for (int i = 0; i < 5; i++) {
        s = msf_h5_get_attr_int(w, group, names[i], &v[i]);
        if (s) return msf_fail_context(s, "VAE config");
        if (v[i] < 1 || v[i] > 65536)
            return msf_fail(MSF_ERR_FORMAT, "%s: VAE attribute %s = %lld is out of range", path, names[i],
                            (long long)v[i]);
    }
    c->in_channels = (int)v[0], c->out_channels = (int)v[1], c->latent_channels = (int)v[2];
    c->layers_per_block = (int)v[3], c->norm_groups = (int)v[4];
    if ((s = msf_h5_get_attr_double(w, group, "scaling_factor", &c->scaling_factor)))
        return msf_fail_context(s, "VAE config");
    if ((s = msf_h5_get_attr_string(w, group, "block_out_channels", chans, sizeof chans)))
        return msf_fail_context(s, "VAE config");
    const char *p = chans;
    while (*p) {
        char *end;
        long ch = strtol(p, &end, 10);
        if (end == p || c->num_levels >= VAE_MAX_LEVELS || ch < 1 || ch > 65536 || (*end && *end != ','))
            return msf_fail(MSF_ERR_FORMAT,
                            "%s: attribute block_out_channels '%s' is not 1 to %d channel counts "
                            "like '128,256,512,512'",
                            path, chans, VAE_MAX_LEVELS);
        c->block_out[c->num_levels++] = (int)ch;
        p = *end ? end + 1 : end;
    }
    return vae_check_config(c, path);
}

// -----------------------------------------------------------------------------
// The tensor table: canonical state_dict key, shape, destination; the tag
// says which half (VAE_ENCODER or VAE_DECODER) an entry belongs to.

typedef struct {
    msf_params *t;
    int part;
    const char *prefix;  // "encoder." / "decoder." / ""
} table_builder;

static void add(table_builder *b, float **dst, int ndim, const int64_t *shape, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
static void add(table_builder *b, float **dst, int ndim, const int64_t *shape, const char *fmt, ...) {
    char key[MSF_PARAM_NAME_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(key, sizeof key, fmt, ap);
    va_end(ap);
    msf_param *e = msf_params_add(b->t, dst, 0, ndim, shape, "%s%s", b->prefix, key);
    if (e) e->tag = b->part;
}

static void add_conv(table_builder *b, float **w, float **bias, int cout, int cin, int k, const char *name) {
    add(b, w, MSF_SHAPE(cout, cin, k, k), "%s.weight", name);
    add(b, bias, MSF_SHAPE(cout), "%s.bias", name);
}

static void add_norm(table_builder *b, float **w, float **bias, int c, const char *name) {
    add(b, w, MSF_SHAPE(c), "%s.weight", name);
    add(b, bias, MSF_SHAPE(c), "%s.bias", name);
}

static void add_resnet(table_builder *b, vae_resnet *r, int in, int out, const char *path) {
    char name[96];
    r->in = in, r->out = out;
    snprintf(name, sizeof name, "%s.norm1", path);
    add_norm(b, &r->norm1_w, &r->norm1_b, in, name);
    snprintf(name, sizeof name, "%s.conv1", path);
    add_conv(b, &r->conv1_w, &r->conv1_b, out, in, 3, name);
    snprintf(name, sizeof name, "%s.norm2", path);
    add_norm(b, &r->norm2_w, &r->norm2_b, out, name);
    snprintf(name, sizeof name, "%s.conv2", path);
    add_conv(b, &r->conv2_w, &r->conv2_b, out, out, 3, name);
    if (in != out) {
        snprintf(name, sizeof name, "%s.conv_shortcut", path);
        add_conv(b, &r->short_w, &r->short_b, out, in, 1, name);
    }
}

static void add_mid(table_builder *b, vae_mid *mid, int c) {
    add_resnet(b, &mid->res[0], c, c, "mid_block.resnets.0");
    vae_attention *a = &mid->attn;
    add_norm(b, &a->norm_w, &a->norm_b, c, "mid_block.attentions.0.group_norm");
    float **w[4] = {&a->q_w, &a->k_w, &a->v_w, &a->out_w}, **bias[4] = {&a->q_b, &a->k_b, &a->v_b, &a->out_b};
    static const char *proj[4] = {"to_q", "to_k", "to_v", "to_out.0"};
    for (int i = 0; i < 4; i++) {
        add(b, w[i], MSF_SHAPE(c, c), "mid_block.attentions.0.%s.weight", proj[i]);
        add(b, bias[i], MSF_SHAPE(c), "mid_block.attentions.0.%s.bias", proj[i]);
    }
    add_resnet(b, &mid->res[1], c, c, "mid_block.resnets.1");
}

// Both halves, in state_dict order; m->resnets must hold num_levels * (2r + 1).
void vae_tensor_table(vae_model *m, msf_params *t) {
    const vae_config *c = &m->config;
    int L = c->num_levels, r = c->layers_per_block, z = c->latent_channels;
    char path[96];
    msf_params_init(t, "a VAE with the file's config (%d levels, layers_per_block %d)", L, r);
    table_builder b = {.t = t, .part = VAE_ENCODER, .prefix = "encoder."};
    vae_coder *e = &m->enc, *d = &m->dec;
    vae_resnet *next = m->resnets;
    add_conv(&b, &e->conv_in_w, &e->conv_in_b, c->block_out[0], c->in_channels, 3, "conv_in");
    for (int i = 0; i < L; i++) {
        vae_level *lv = &e->levels[i];
        lv->res = next, next += r;
        for (int j = 0; j < r; j++) {
            snprintf(path, sizeof path, "down_blocks.%d.resnets.%d", i, j);
            add_resnet(&b, &lv->res[j], j == 0 ? c->block_out[i ? i - 1 : 0] : c->block_out[i], c->block_out[i], path);
        }
        if (i < L - 1) {
            snprintf(path, sizeof path, "down_blocks.%d.downsamplers.0.conv", i);
            add_conv(&b, &lv->resample_w, &lv->resample_b, c->block_out[i], c->block_out[i], 3, path);
        }
    }
    add_mid(&b, &e->mid, c->block_out[L - 1]);
    add_norm(&b, &e->norm_out_w, &e->norm_out_b, c->block_out[L - 1], "conv_norm_out");
    add_conv(&b, &e->conv_out_w, &e->conv_out_b, 2 * z, c->block_out[L - 1], 3, "conv_out");

    b.part = VAE_DECODER, b.prefix = "decoder.";
    add_conv(&b, &d->conv_in_w, &d->conv_in_b, c->block_out[L - 1], z, 3, "conv_in");
    add_mid(&b, &d->mid, c->block_out[L - 1]);
    for (int i = 0; i < L; i++) {
        vae_level *lv = &d->levels[i];
        int out = c->block_out[L - 1 - i], in = c->block_out[i ? L - i : L - 1];
        lv->res = next, next += r + 1;
        for (int j = 0; j <= r; j++) {
            snprintf(path, sizeof path, "up_blocks.%d.resnets.%d", i, j);
            add_resnet(&b, &lv->res[j], j == 0 ? in : out, out, path);
        }
        if (i < L - 1) {
            snprintf(path, sizeof path, "up_blocks.%d.upsamplers.0.conv", i);
            add_conv(&b, &lv->resample_w, &lv->resample_b, out, out, 3, path);
        }
    }
    add_norm(&b, &d->norm_out_w, &d->norm_out_b, c->block_out[0], "conv_norm_out");
    add_conv(&b, &d->conv_out_w, &d->conv_out_b, c->out_channels, c->block_out[0], 3, "conv_out");

    b.prefix = "";
    b.part = VAE_ENCODER;
    add_conv(&b, &e->quant_w, &e->quant_b, 2 * z, 2 * z, 1, "quant_conv");
    b.part = VAE_DECODER;
    add_conv(&b, &d->quant_w, &d->quant_b, z, z, 1, "post_quant_conv");
}
