// vae.c: SD VAE (AutoencoderKL) encoder and decoder, as diffusers computes
// them (tools/reference/vae.py).
//
// Operators, all from src/nn: nn_conv2d for the 1x1 and the strided
// downsampling convolutions; nn_conv3x3 (Winograd F(2x2, 3x3), 90% of the
// work) for the 3x3 ones; nn_group_norm_silu in every ResNet;
// nn_attention_rows (single head over up to 4096 positions, in blocks of
// query rows); nn_group_norm and nn_upsample_nearest.
//
// Memory: an image is processed with three activation slots, each as large as
// the largest activation of the pass (ResNet: P = SiLU(GN(x)), Q = conv1(P),
// P = SiLU(GN(Q)), Q = conv2(P), P = shortcut(x), Q += P or x; the result
// takes Q's place), plus operator scratch. The slot sizes are found by
// running the pass in "plan" mode, which walks the same code without
// computing, so the sizing cannot drift from the forward pass. At 512x512 the
// largest activation is the 256-channel output of the last upsampling
// (67M floats): the decoder's workspace is 0.85 GB (vae_workspace_bytes).
#include "models/vae.h"

#include <cblas.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/rng.h"
#include "core/tensor.h"
#include "io/h5write.h"
#include "io/params.h"
#include "models/vae_table.h"
#include "nn/nn.h"

#define GN_EPS 1e-6f

// -----------------------------------------------------------------------------
// Passes: the forward code, also run in plan mode to size the workspace.

enum { SLOTS = 3, SLOT_IN = 3, SLOT_OUT = 4 };

typedef struct {
    int plan;            // 1: record sizes only
    size_t need[SLOTS];  // plan: floats per slot
    size_t scratch;      // plan: bytes of operator scratch beyond the slots
    float *slot[SLOTS];
    const float *in;
    float *out;
    msf_arena *ws;
    int groups;
    vae_model *m;       // bf16: the model's bf16 convs (m->precision), else fp32
    msf_status status;  // first failure (execution)
} vae_pass;

// The bf16 conv of weights w (made at its first call, with this call's
// shape), or NULL with p->status set.
static nn_bf16_conv *conv16(vae_pass *p, const float *w, const float *b, int cin, int cout, int k, int stride, int pt,
                            int pb, int pl, int pr) {
    vae_model *m = p->m;
    for (int i = 0; i < m->num16; i++)
        if (m->w16[i] == w) return m->c16[i];
    if (m->num16 == m->cap16) {
        p->status = msf_fail(MSF_ERR_INVALID, "VAE in bf16: more convolutions than weight tensors");
        return NULL;
    }
    nn_bf16_conv *c;
    if ((p->status = nn_bf16_conv_create(&c, w, b, cin, cout, k, k, stride, pt, pb, pl, pr))) return NULL;
    m->w16[m->num16] = w, m->c16[m->num16++] = c;
    return c;
}

static float *buf(vae_pass *p, int s) { return s == SLOT_OUT ? p->out : s == SLOT_IN ? (float *)p->in : p->slot[s]; }

static void use(vae_pass *p, int s, size_t floats) {
    if (s < SLOTS && floats > p->need[s]) p->need[s] = floats;
}

static void use_scratch(vae_pass *p, size_t bytes) {
    if (bytes > p->scratch) p->scratch = bytes;
}

// dst (cout, oh, ow) = conv(src (cin, h, w)); pad (top, bottom, left, right).
static void conv(vae_pass *p, int dst, int src, const float *w, const float *b, int cin, int cout, int h, int wd, int k,
                 int stride, int pt, int pb, int pl, int pr) {
    nn_conv2d_shape s = {.n = 1,
                         .c_in = cin,
                         .h = h,
                         .w = wd,
                         .c_out = cout,
                         .kh = k,
                         .kw = k,
                         .stride_h = stride,
                         .stride_w = stride,
                         .pad_top = pt,
                         .pad_bottom = pb,
                         .pad_left = pl,
                         .pad_right = pr};
    int bf16 = p->m && p->m->precision == NN_BF16, oh = nn_conv2d_out_h(&s), ow = nn_conv2d_out_w(&s);
    if (p->plan) {
        use(p, dst, (size_t)cout * oh * ow);
        use_scratch(p,
                    (bf16 ? nn_bf16_conv_workspace_bytes(cin, cout, 1, h, wd, oh, ow) : nn_conv2d_workspace_bytes(&s)) +
                        MSF_ALIGN);
        return;
    }
    if (p->status) return;
    if (!bf16) {
        p->status = nn_conv2d(buf(p, dst), buf(p, src), w, b, &s, p->ws);
        return;
    }
    nn_bf16_conv *c = conv16(p, w, b, cin, cout, k, stride, pt, pb, pl, pr);
    if (c) p->status = nn_bf16_conv_run(c, buf(p, dst), buf(p, src), 1, h, wd, p->ws);
}

static void conv3(vae_pass *p, int dst, int src, const float *w, const float *b, int cin, int cout, int h, int wd) {
    if (p->m && p->m->precision == NN_BF16) {  // bf16: oneDNN's convolution (no Winograd transforms)
        conv(p, dst, src, w, b, cin, cout, h, wd, 3, 1, 1, 1, 1, 1);
        return;
    }
    if (p->plan) {
        use(p, dst, (size_t)cout * h * wd);
        use_scratch(p, nn_conv3x3_workspace_bytes(cin, cout, h, wd) + 3 * MSF_ALIGN);
        return;
    }
    if (p->status) return;
    p->status = nn_conv3x3(buf(p, dst), buf(p, src), w, b, cin, cout, h, wd, p->ws);
}

static void conv1(vae_pass *p, int dst, int src, const float *w, const float *b, int cin, int cout, int h, int wd) {
    conv(p, dst, src, w, b, cin, cout, h, wd, 1, 1, 0, 0, 0, 0);
}

// dst = SiLU(GroupNorm(src)), (c, hw).
static void norm_silu(vae_pass *p, int dst, int src, const float *gamma, const float *beta, int c, size_t hw) {
    if (p->plan) {
        use(p, dst, (size_t)c * hw);
        return;
    }
    if (p->status) return;
    nn_group_norm_silu(buf(p, dst), buf(p, src), gamma, beta, 1, c, (int)hw, p->groups, GN_EPS);
}

static void add_into(vae_pass *p, int dst, int src, size_t count) {
    if (p->plan || p->status) return;
    float *y = buf(p, dst);
    const float *x = buf(p, src);
#pragma omp parallel for schedule(static)
    for (size_t i = 0; i < count; i++) y[i] += x[i];
}

// Returns the slot of the result (x stays in `cur`).
static int resnet(vae_pass *p, const vae_resnet *r, int cur, int h, int w) {
    int P = (cur + 1) % SLOTS, Q = (cur + 2) % SLOTS;
    size_t hw = (size_t)h * w;
    norm_silu(p, P, cur, r->norm1_w, r->norm1_b, r->in, hw);
    conv3(p, Q, P, r->conv1_w, r->conv1_b, r->in, r->out, h, w);
    norm_silu(p, P, Q, r->norm2_w, r->norm2_b, r->out, hw);
    conv3(p, Q, P, r->conv2_w, r->conv2_b, r->out, r->out, h, w);
    if (r->short_w) {
        conv1(p, P, cur, r->short_w, r->short_b, r->in, r->out, h, w);
        add_into(p, Q, P, (size_t)r->out * hw);
    } else {
        add_into(p, Q, cur, (size_t)r->out * hw);
    }
    return Q;
}

// Single-head self-attention over the T = h*w positions, in place on `cur`
// (diffusers' Attention with AttnProcessor, heads 1):
//   h = GN(x) as (T, C); q, k, v = h Wq^T + bq, ...; o = softmax(q k^T / sqrt(C)) v;
//   x += (o Wo^T + bo)^T.
// The core is nn_attention_rows with blocks of ATTN_ROWS query rows (one
// (batch, head) pair here, so the threads share the blocks; the whole T x T
// scores would be 1 GB at T = 4096 on 16 threads). The projections run in
// blocks of ATTN_ROWS rows too; every sgemm's shape depends only on (T, C),
// so the bits do not depend on the thread count. Scratch: qkv (T, 3C) +
// ATTN_ROWS T floats per thread.

#define ATTN_ROWS NN_ATTENTION_BLOCK_ROWS

static size_t attention_scratch_bytes(int c, int T) {
    return msf_align_up(3 * (size_t)T * c * sizeof(float)) + nn_attention_rows_workspace_bytes(T, ATTN_ROWS) +
           5 * MSF_ALIGN;
}

static void attention(vae_pass *p, const vae_attention *a, int cur, int c, int h, int w) {
    int T = h * w, P = (cur + 1) % SLOTS, Q = (cur + 2) % SLOTS;
    if (p->plan) {
        use(p, P, (size_t)c * T);
        use(p, Q, (size_t)c * T);
        use_scratch(p, attention_scratch_bytes(c, T));
        return;
    }
    if (p->status) return;
    size_t mark = msf_arena_mark(p->ws);
    float *qkv = msf_arena_alloc(p->ws, 3 * (size_t)T * c * sizeof(float));
    if (!qkv) {
        p->status = msf_fail_context(MSF_ERR_NOMEM, "VAE attention");
        msf_arena_release(p->ws, mark);
        return;
    }
    float *x = buf(p, cur), *hn = buf(p, P), *o = hn, *proj = buf(p, Q);
    nn_group_norm(hn, x, a->norm_w, a->norm_b, 1, c, T, p->groups, GN_EPS);

    // qkv (T, 3C) = hn^T [Wq; Wk; Wv]^T + b, hn being (C, T): blocks of ATTN_ROWS rows.
    const float *W[3] = {a->q_w, a->k_w, a->v_w}, *B[3] = {a->q_b, a->k_b, a->v_b};
    int blocks = (T + ATTN_ROWS - 1) / ATTN_ROWS, ld = 3 * c;
#pragma omp parallel for schedule(dynamic, 1)
    for (int job = 0; job < 3 * blocks; job++) {
        int which = job / blocks, r0 = (job % blocks) * ATTN_ROWS, rows = T - r0 < ATTN_ROWS ? T - r0 : ATTN_ROWS;
        float *y = qkv + (size_t)r0 * ld + (size_t)which * c;
        for (int r = 0; r < rows; r++) memcpy(y + (size_t)r * ld, B[which], (size_t)c * sizeof(float));
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasTrans, rows, c, c, 1.0f, hn + r0, T, W[which], c, 1.0f, y, ld);
    }
    // o (T, C) overwrites hn, which the projections above were the last to read.
    if ((p->status = nn_attention_rows(o, qkv, 1, T, 1, c, ATTN_ROWS, p->ws))) {
        msf_arena_release(p->ws, mark);
        return;
    }
    // proj (C, T) = Wo o^T + bo, then x += proj: blocks of ATTN_ROWS output channels.
    int cblocks = (c + ATTN_ROWS - 1) / ATTN_ROWS;
#pragma omp parallel for schedule(dynamic, 1)
    for (int blk = 0; blk < cblocks; blk++) {
        int c0 = blk * ATTN_ROWS, rows = c - c0 < ATTN_ROWS ? c - c0 : ATTN_ROWS;
        float *y = proj + (size_t)c0 * T;
        for (int r = 0; r < rows; r++)
            for (int t = 0; t < T; t++) y[(size_t)r * T + t] = a->out_b[c0 + r];
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, rows, T, c, 1.0f, a->out_w + (size_t)c0 * c, c, o, c, 1.0f,
                    y, T);
        for (size_t i = 0; i < (size_t)rows * T; i++) x[(size_t)c0 * T + i] += y[i];
    }
    msf_arena_release(p->ws, mark);
}

static int mid_block(vae_pass *p, const vae_mid *mid, int cur, int c, int h, int w) {
    cur = resnet(p, &mid->res[0], cur, h, w);
    attention(p, &mid->attn, cur, c, h, w);
    return resnet(p, &mid->res[1], cur, h, w);
}

static void upsample2(vae_pass *p, int dst, int src, int c, int h, int w) {
    if (p->plan) {
        use(p, dst, (size_t)c * 4 * h * w);
        return;
    }
    if (p->status) return;
    nn_upsample_nearest(buf(p, dst), buf(p, src), 1, c, h, w, 2 * h, 2 * w);
}

// One image: out (out_channels, H, W) from in (latent, h, w).
static void decoder_pass(vae_pass *p, const vae_coder *d, const vae_config *c, int h, int w) {
    int L = c->num_levels, z = c->latent_channels, top = c->block_out[L - 1];
    conv1(p, 0, SLOT_IN, d->quant_w, d->quant_b, z, z, h, w);
    conv3(p, 1, 0, d->conv_in_w, d->conv_in_b, z, top, h, w);
    int cur = mid_block(p, &d->mid, 1, top, h, w);
    for (int i = 0; i < L; i++) {
        const vae_level *lv = &d->levels[i];
        for (int j = 0; j <= c->layers_per_block; j++) cur = resnet(p, &lv->res[j], cur, h, w);
        if (i < L - 1) {
            int ch = c->block_out[L - 1 - i], U = (cur + 1) % SLOTS, Y = (cur + 2) % SLOTS;
            upsample2(p, U, cur, ch, h, w);
            h *= 2, w *= 2;
            conv3(p, Y, U, lv->resample_w, lv->resample_b, ch, ch, h, w);
            cur = Y;
        }
    }
    int P = (cur + 1) % SLOTS;
    norm_silu(p, P, cur, d->norm_out_w, d->norm_out_b, c->block_out[0], (size_t)h * w);
    conv3(p, SLOT_OUT, P, d->conv_out_w, d->conv_out_b, c->block_out[0], c->out_channels, h, w);
}

// One image: out (2 latent, H/f, W/f) moments from in (in_channels, H, W).
static void encoder_pass(vae_pass *p, const vae_coder *e, const vae_config *c, int h, int w) {
    int L = c->num_levels, z = c->latent_channels, top = c->block_out[L - 1];
    conv3(p, 0, SLOT_IN, e->conv_in_w, e->conv_in_b, c->in_channels, c->block_out[0], h, w);
    int cur = 0;
    for (int i = 0; i < L; i++) {
        const vae_level *lv = &e->levels[i];
        for (int j = 0; j < c->layers_per_block; j++) cur = resnet(p, &lv->res[j], cur, h, w);
        if (i < L - 1) {
            // diffusers' Downsample2D with padding 0: pad (0, 1, 0, 1), 3x3 stride 2.
            int D = (cur + 1) % SLOTS;
            conv(p, D, cur, lv->resample_w, lv->resample_b, c->block_out[i], c->block_out[i], h, w, 3, 2, 0, 1, 0, 1);
            h /= 2, w /= 2;
            cur = D;
        }
    }
    cur = mid_block(p, &e->mid, cur, top, h, w);
    int P = (cur + 1) % SLOTS, Q = (cur + 2) % SLOTS;
    norm_silu(p, P, cur, e->norm_out_w, e->norm_out_b, top, (size_t)h * w);
    conv3(p, Q, P, e->conv_out_w, e->conv_out_b, top, 2 * z, h, w);
    conv1(p, SLOT_OUT, Q, e->quant_w, e->quant_b, 2 * z, 2 * z, h, w);
}

// Sizes of one pass at image size H x W (plan mode).
static vae_pass plan_pass(vae_model *m, int part, int H, int W) {
    vae_pass p = {.plan = 1, .groups = m->config.norm_groups, .m = m};
    int f = vae_factor(&m->config);
    if (part == VAE_DECODER) decoder_pass(&p, &m->dec, &m->config, H / f, W / f);
    else encoder_pass(&p, &m->enc, &m->config, H, W);
    return p;
}

// Bytes of the buffers a decode/encode call keeps besides the pass: decode:
// one scaled latent and the decoded floats; encode: input floats and moments.
static size_t io_bytes(const vae_config *c, int part, int H, int W) {
    int f = vae_factor(c);
    if (part == VAE_DECODER)
        return msf_align_up((size_t)c->latent_channels * (H / f) * (W / f) * sizeof(float)) +
               msf_align_up((size_t)c->out_channels * H * W * sizeof(float));
    return msf_align_up((size_t)c->in_channels * H * W * sizeof(float)) +
           msf_align_up((size_t)2 * c->latent_channels * (H / f) * (W / f) * sizeof(float));
}

static size_t pass_bytes(const vae_pass *p) {
    size_t total = p->scratch;
    for (int s = 0; s < SLOTS; s++) total += msf_align_up(p->need[s] * sizeof(float));
    return total;
}

// Workspace for images up to H x W. Slot sizes grow with the image, but
// operator scratch need not: the Winograd chunk holds whole tile rows (a
// narrower image can fill more of WINO_CHUNK) and nn_conv2d's im2col rounds
// its row blocks to equal sizes. So scratch is maximised over every image
// size up to H x W (a plan costs microseconds).
static size_t workspace_bytes(vae_model *m, int parts, int H, int W) {
    size_t best = 0;
    int f = vae_factor(&m->config);
    for (int part = VAE_ENCODER; part <= VAE_DECODER; part++) {
        if (!(parts & part)) continue;
        vae_pass big = plan_pass(m, part, H, W);
        size_t scratch = 0;
        for (int h = f; h <= H; h += f)
            for (int w = f; w <= W; w += f) {
                vae_pass s = plan_pass(m, part, h, w);
                if (s.scratch > scratch) scratch = s.scratch;
            }
        big.scratch = scratch;
        size_t total = pass_bytes(&big) + io_bytes(&m->config, part, H, W) + 16 * MSF_ALIGN;
        if (total > best) best = total;
    }
    return best;
}

size_t vae_workspace_bytes(const vae_config *c, int parts, int h, int w) {
    vae_model m;
    memset(&m, 0, sizeof m);
    m.config = *c;
    if (vae_check_config(c, "vae_workspace_bytes")) return 0;
    int L = c->num_levels, r = c->layers_per_block;
    m.resnets = calloc((size_t)L * (2 * r + 1), sizeof *m.resnets);
    size_t bytes = 0;
    if (m.resnets) {
        msf_params t;
        vae_tensor_table(&m, &t);  // (wires the resnets)
        if (!t.error) bytes = workspace_bytes(&m, parts, h, w);
        msf_params_free(&t);
    }
    free(m.resnets);
    return bytes;
}

// -----------------------------------------------------------------------------
// Loading

static msf_status check_size(const vae_config *c, int H, int W, const char *what) {
    int f = vae_factor(c);
    if (H < f || W < f || H % f || W % f || H > 16384 || W > 16384)
        return msf_fail(MSF_ERR_INVALID, "%s: image size %dx%d must be a positive multiple of %d (at most 16384)", what,
                        H, W, f);
    return MSF_OK;
}

// The half not in `parts` stays in the table as SKIP entries: checked in the
// file but not loaded, so a file is accepted or refused as a whole.
static msf_status vae_alloc(vae_model *m, int parts, int max_h, int max_w, msf_params *table) {
    const vae_config *c = &m->config;
    memset(table, 0, sizeof *table);
    msf_status s = check_size(c, max_h, max_w, "VAE workspace");
    if (s) return s;
    if (parts < 1 || parts > VAE_BOTH) return msf_fail(MSF_ERR_INVALID, "VAE parts %d: expected 1, 2 or 3", parts);
    int L = c->num_levels, r = c->layers_per_block;
    m->resnets = calloc((size_t)L * (2 * r + 1), sizeof *m->resnets);
    if (!m->resnets) return msf_fail(MSF_ERR_NOMEM, "out of memory for a VAE of %d levels", L);
    vae_tensor_table(m, table);
    for (int i = 0; i < table->count; i++)
        if (!(table->entries[i].tag & parts)) table->entries[i].flags |= MSF_PARAM_SKIP;
    if ((s = msf_params_alloc(table, &m->params, &m->num_params))) return s;
    if ((s = msf_arena_init(&m->ws, workspace_bytes(m, parts, max_h, max_w)))) return s;
    m->parts = parts, m->max_h = max_h, m->max_w = max_w;
    return MSF_OK;
}

msf_status vae_load(vae_model *m, msf_h5_reader *w, const char *group, int parts, int max_h, int max_w) {
    memset(m, 0, sizeof *m);
    msf_status s = vae_config_read(&m->config, w, group);
    if (s) return msf_fail_context(s, "loading VAE");
    // Any tensor of the group outside the table means the attributes do not
    // describe these weights (e.g. another layers_per_block): refused.
    msf_params table;
    s = vae_alloc(m, parts, max_h, max_w, &table);
    if (!s) s = msf_params_load(&table, w, group);
    msf_params_free(&table);
    if (s) {
        vae_free(m);
        return msf_fail_context(s, "loading VAE");
    }
    return MSF_OK;
}

msf_status vae_init_random(vae_model *m, const vae_config *c, uint64_t seed, int parts, int max_h, int max_w) {
    memset(m, 0, sizeof *m);
    m->config = *c;
    msf_status s = vae_check_config(c, "random VAE");
    if (s) return s;
    msf_params table;
    if ((s = vae_alloc(m, parts, max_h, max_w, &table))) {
        msf_params_free(&table);
        vae_free(m);
        return s;
    }
    for (int i = 0; i < table.count && !s; i++) {
        const msf_param *e = &table.entries[i];
        float *dst = *e->dst;
        if (!dst) continue;
        size_t numel = msf_param_numel(e);
        s = msf_rng_normal(dst, numel, (msf_rng_key){.seed = seed, .stream = (uint64_t)i}, 0);
        int is_gamma = e->ndim == 1 && strstr(e->name, "norm") && strstr(e->name, ".weight");
        float std = e->ndim >= 2 ? (float)(1.0 / sqrt((double)numel / (double)e->shape[0])) : 0.1f;
        for (size_t k = 0; k < numel; k++) dst[k] = (is_gamma ? 1.0f : 0.0f) + std * dst[k];
    }
    msf_params_free(&table);
    if (s) vae_free(m);
    return s;
}

msf_status vae_save(vae_model *m, const char *path, const char *source) {
    const vae_config *c = &m->config;
    if (m->parts != VAE_BOTH)
        return msf_fail(MSF_ERR_INVALID, "saving %s: only a VAE with both halves loaded can be saved", path);
    msf_params table;
    vae_tensor_table(m, &table);  // (re-derives the same pointers)
    if (table.error) {
        msf_status s = msf_fail(table.error, "saving %s: %s", path, table.error_msg);
        msf_params_free(&table);
        return s;
    }
    msf_h5_writer *w;
    msf_status s = msf_h5_create(&w, path);
    if (s) {
        msf_params_free(&table);
        return s;
    }
    char chans[128] = "";
    for (int i = 0; i < c->num_levels; i++)
        snprintf(chans + strlen(chans), sizeof chans - strlen(chans), "%s%d", i ? "," : "", c->block_out[i]);
    static const char *ints[] = {"in_channels",      "out_channels",    "latent_channels",
                                 "layers_per_block", "norm_num_groups", "format_version"};
    int64_t vals[] = {c->in_channels, c->out_channels, c->latent_channels, c->layers_per_block, c->norm_groups, 1};
    for (int i = 0; !s && i < 6; i++) s = msf_h5_attr_int(w, NULL, ints[i], vals[i]);
    if (!s) s = msf_h5_attr_string(w, NULL, "model", "vae");
    if (!s) s = msf_h5_attr_string(w, NULL, "block_out_channels", chans);
    if (!s) s = msf_h5_attr_double(w, NULL, "scaling_factor", c->scaling_factor);
    if (!s) s = msf_h5_attr_string(w, NULL, "source", source);
    for (int i = 0; !s && i < table.count; i++) {
        const msf_param *e = &table.entries[i];
        s = msf_h5_write_f32(w, e->name, e->ndim, e->shape, *e->dst);
    }
    msf_params_free(&table);
    if (s) {
        msf_h5_abort(w);
        return s;
    }
    return msf_h5_commit(w);
}

static void vae_free_bf16(vae_model *m) {
    for (int i = 0; i < m->num16; i++) nn_bf16_conv_free(m->c16[i]);
    free(m->c16), free(m->w16);
    m->c16 = NULL, m->w16 = NULL, m->num16 = m->cap16 = 0;
    m->precision = NN_FP32;
}

msf_status vae_set_precision(vae_model *m, nn_precision p) {
    vae_free_bf16(m);
    if (p == NN_FP32) return MSF_OK;
    if (!nn_bf16_available()) return nn_precision_parse(&p, "bf16", "VAE precision");
    msf_params t;
    vae_tensor_table(m, &t);  // (counts the weight tensors: at most that many convs)
    msf_status s = t.error;
    int cap = t.count;
    msf_params_free(&t);
    if (!s && (!(m->w16 = calloc((size_t)cap, sizeof *m->w16)) || !(m->c16 = calloc((size_t)cap, sizeof *m->c16))))
        s = msf_fail(MSF_ERR_NOMEM, "out of memory for a bf16 VAE");
    if (!s) {
        m->cap16 = cap;
        m->precision = p;
        size_t need = workspace_bytes(m, m->parts, m->max_h, m->max_w);
        if (need > m->ws.capacity) {
            msf_arena_free(&m->ws);
            s = msf_arena_init(&m->ws, need);
        }
    }
    if (s) {
        vae_free_bf16(m);
        if (!m->ws.base) (void)msf_arena_init(&m->ws, workspace_bytes(m, m->parts, m->max_h, m->max_w));
        return msf_fail_context(s, "VAE in bf16");
    }
    return MSF_OK;
}

void vae_free(vae_model *m) {
    vae_free_bf16(m);
    msf_aligned_free(m->params);
    free(m->resnets);
    msf_arena_free(&m->ws);
    memset(m, 0, sizeof *m);
}

// -----------------------------------------------------------------------------
// Forward

// Run `part` on one image with the slots taken from the workspace.
static msf_status run_pass(vae_model *m, int part, float *out, const float *in, int H, int W) {
    vae_pass plan = plan_pass(m, part, H, W);
    vae_pass p = {.in = in, .out = out, .ws = &m->ws, .groups = m->config.norm_groups, .m = m};
    size_t mark = msf_arena_mark(&m->ws);
    for (int s = 0; s < SLOTS; s++) {
        p.slot[s] = msf_arena_alloc(&m->ws, plan.need[s] * sizeof(float));
        if (!p.slot[s]) {
            msf_arena_release(&m->ws, mark);
            return msf_fail_context(MSF_ERR_NOMEM, "VAE %s", part == VAE_DECODER ? "decoder" : "encoder");
        }
    }
    int f = vae_factor(&m->config);
    if (part == VAE_DECODER) decoder_pass(&p, &m->dec, &m->config, H / f, W / f);
    else encoder_pass(&p, &m->enc, &m->config, H, W);
    msf_arena_release(&m->ws, mark);
    if (p.status) return msf_fail_context(p.status, "VAE %s", part == VAE_DECODER ? "decoder" : "encoder");
    return MSF_OK;
}

static msf_status check_call(vae_model *m, int part, int n, int H, int W) {
    const char *what = part == VAE_DECODER ? "VAE decoder" : "VAE encoder";
    if (!(m->parts & part)) return msf_fail(MSF_ERR_INVALID, "%s: not loaded (load the model with it)", what);
    if (n < 0) return msf_fail(MSF_ERR_INVALID, "%s: negative batch %d", what, n);
    msf_status s = check_size(&m->config, H, W, what);
    if (s) return s;
    if (H > m->max_h || W > m->max_w)
        return msf_fail(MSF_ERR_INVALID, "%s: image size %dx%d exceeds the %dx%d the model was loaded for", what, H, W,
                        m->max_h, m->max_w);
    return MSF_OK;
}

msf_status vae_decoder_forward(vae_model *m, float *images, const float *z, int n, int h, int w) {
    int f = vae_factor(&m->config), H = h * f, W = w * f;
    msf_status s = check_call(m, VAE_DECODER, n, H, W);
    size_t zs = (size_t)m->config.latent_channels * h * w, xs = (size_t)m->config.out_channels * H * W;
    for (int i = 0; i < n && !s; i++) s = run_pass(m, VAE_DECODER, images + i * xs, z + i * zs, H, W);
    return s;
}

msf_status vae_encoder_forward(vae_model *m, float *moments, const float *x, int n, int H, int W) {
    int f = vae_factor(&m->config);
    msf_status s = check_call(m, VAE_ENCODER, n, H, W);
    size_t xs = (size_t)m->config.in_channels * H * W, ms = (size_t)2 * m->config.latent_channels * (H / f) * (W / f);
    for (int i = 0; i < n && !s; i++) s = run_pass(m, VAE_ENCODER, moments + i * ms, x + i * xs, H, W);
    return s;
}

// -----------------------------------------------------------------------------
// Pixels

void vae_pixels_from_float(uint8_t *pixels, const float *x, int channels, int H, int W) {
    size_t hw = (size_t)H * W;
#pragma omp parallel for schedule(static)
    for (size_t i = 0; i < hw; i++)
        for (int c = 0; c < channels; c++) {
            float v = 127.5f * x[(size_t)c * hw + i] + 128.0f;
            v = v < 0.0f ? 0.0f : (v > 255.0f ? 255.0f : v);
            v = v == v ? v : 0.0f;                  // defined for a NaN (callers reject non-finite images before this)
            pixels[i * channels + c] = (uint8_t)v;  // truncation, as torch's .to(uint8)
        }
}

void vae_float_from_pixels(float *x, const uint8_t *pixels, int channels, int H, int W) {
    size_t hw = (size_t)H * W;
#pragma omp parallel for schedule(static)
    for (size_t i = 0; i < hw; i++)
        for (int c = 0; c < channels; c++)
            x[(size_t)c * hw + i] = ((float)pixels[i * channels + c] / 255.0f - 0.5f) / 0.5f;
}

// Index of the first non-finite value, or -1.
static long first_nonfinite(const float *x, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (!isfinite(x[i])) return (long)i;
    return -1;
}

msf_status vae_decode(vae_model *m, uint8_t *pixels, float *x, const float *latents, int n, int h, int w,
                      int64_t first) {
    const vae_config *c = &m->config;
    int f = vae_factor(c), H = h * f, W = w * f;
    msf_status s = check_call(m, VAE_DECODER, n, H, W);
    if (s) return s;
    size_t zs = (size_t)c->latent_channels * h * w, xs = (size_t)c->out_channels * H * W;
    size_t mark = msf_arena_mark(&m->ws);
    float *z = msf_arena_alloc(&m->ws, zs * sizeof(float));
    float *img = x ? NULL : msf_arena_alloc(&m->ws, xs * sizeof(float));
    if (!z || (!x && !img)) {
        msf_arena_release(&m->ws, mark);
        return msf_fail_context(MSF_ERR_NOMEM, "VAE decode");
    }
    for (int i = 0; i < n && !s; i++) {
        const float *zi = latents + i * zs;
        long bad = first_nonfinite(zi, zs);
        if (bad >= 0) {
            s = msf_fail(MSF_ERR_NUMERIC,
                         "VAE decode: latent %lld holds a non-finite value (%g at channel %ld, "
                         "row %ld, column %ld)",
                         (long long)(first + i), zi[bad], bad / ((long)h * w), bad / w % h, bad % w);
            break;
        }
        // z / scaling_factor in float32, as DiT divides a float32 tensor by 0.18215.
        const float sf = (float)c->scaling_factor;
        for (size_t e = 0; e < zs; e++) z[e] = zi[e] / sf;
        float *xi = x ? x + i * xs : img;
        if ((s = run_pass(m, VAE_DECODER, xi, z, H, W))) break;
        bad = first_nonfinite(xi, xs);
        if (bad >= 0) {
            s = msf_fail(MSF_ERR_NUMERIC,
                         "VAE decode: decoded image %lld holds a non-finite value (%g at channel "
                         "%ld, row %ld, column %ld) although its latent is finite",
                         (long long)(first + i), xi[bad], bad / ((long)H * W), bad / W % H, bad % W);
            break;
        }
        vae_pixels_from_float(pixels + i * xs, xi, c->out_channels, H, W);
    }
    msf_arena_release(&m->ws, mark);
    return s;
}

msf_status vae_encode(vae_model *m, float *latents, const uint8_t *pixels, int n, int H, int W, vae_posterior mode,
                      uint64_t seed, int64_t first) {
    const vae_config *c = &m->config;
    msf_status s = check_call(m, VAE_ENCODER, n, H, W);
    if (s) return s;
    if (mode != VAE_POSTERIOR_MEAN && mode != VAE_POSTERIOR_SAMPLE)
        return msf_fail(MSF_ERR_INVALID, "VAE encode: unknown posterior mode %d", (int)mode);
    int f = vae_factor(c), z = c->latent_channels;
    size_t xs = (size_t)c->in_channels * H * W, zs = (size_t)z * (H / f) * (W / f);
    size_t mark = msf_arena_mark(&m->ws);
    float *x = msf_arena_alloc(&m->ws, xs * sizeof(float)), *mom = msf_arena_alloc(&m->ws, 2 * zs * sizeof(float));
    if (!x || !mom) {
        msf_arena_release(&m->ws, mark);
        return msf_fail_context(MSF_ERR_NOMEM, "VAE encode");
    }
    const float sf = (float)c->scaling_factor;
    for (int i = 0; i < n && !s; i++) {
        vae_float_from_pixels(x, pixels + i * xs, c->in_channels, H, W);
        if ((s = run_pass(m, VAE_ENCODER, mom, x, H, W))) break;
        float *out = latents + i * zs;
        if (mode == VAE_POSTERIOR_SAMPLE) {
            msf_rng_key key = {.seed = seed, .stream = (uint64_t)(first + i), .substream = 0};
            if ((s = msf_rng_normal(out, zs, key, 0))) break;
        }
        for (size_t e = 0; e < zs; e++) {
            float mean = mom[e];
            if (mode == VAE_POSTERIOR_SAMPLE) {
                float logvar = mom[zs + e];
                logvar = logvar < -30.0f ? -30.0f : (logvar > 20.0f ? 20.0f : logvar);
                mean = mean + expf(0.5f * logvar) * out[e];
            }
            out[e] = mean * sf;
        }
        long bad = first_nonfinite(out, zs);
        if (bad >= 0) {
            s = msf_fail(MSF_ERR_NUMERIC, "VAE encode: the latent of image %lld holds a non-finite value (%g)",
                         (long long)(first + i), out[bad]);
            break;
        }
    }
    msf_arena_release(&m->ws, mark);
    return s;
}
