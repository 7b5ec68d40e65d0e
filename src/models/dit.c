// dit.c: DiT forward pass (facebookresearch/DiT models.py), on the src/nn operators.
#include "models/dit.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/rng.h"
#include "io/h5write.h"
#include "io/params.h"
#include "nn/nn.h"

// -----------------------------------------------------------------------------
// Configs

msf_status dit_config_named(dit_config *c, const char *name, int input_size) {
    static const struct {
        const char *size;
        int depth, hidden, heads;
    } sizes[] = {{"S", 12, 384, 6}, {"B", 12, 768, 12}, {"L", 24, 1024, 16}, {"XL", 28, 1152, 16}};
    char size[8];
    int patch;
    if (sscanf(name, "DiT-%7[A-Z]/%d", size, &patch) != 2 || (patch != 2 && patch != 4 && patch != 8))
        return msf_fail(MSF_ERR_NOT_FOUND, "unknown DiT config '%s' (expected DiT-S/2 .. DiT-XL/8)", name);
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        if (strcmp(size, sizes[i].size)) continue;
        *c = (dit_config){.input_size = input_size,
                          .patch_size = patch,
                          .in_channels = 4,
                          .out_channels = 8,
                          .hidden_size = sizes[i].hidden,
                          .depth = sizes[i].depth,
                          .num_heads = sizes[i].heads,
                          .mlp_hidden = 4 * sizes[i].hidden,
                          .num_classes = 1000,
                          .has_null_class = 1,
                          .learn_sigma = 1,
                          .freq_dim = 256};
        if (input_size % patch)
            return msf_fail(MSF_ERR_INVALID, "%s: input size %d is not a multiple of the patch size", name, input_size);
        return MSF_OK;
    }
    return msf_fail(MSF_ERR_NOT_FOUND, "unknown DiT config '%s' (expected DiT-S/2 .. DiT-XL/8)", name);
}

double dit_gflops(const dit_config *c) {
    double D = c->hidden_size, T = dit_tokens(c), M = c->mlp_hidden, p2 = (double)c->patch_size * c->patch_size;
    double block = T * D * 3 * D                                   // qkv
                   + T * D * D                                     // attention output projection
                   + 2 * T * T * D                                 // q k^T and attention-weighted v
                   + 2 * T * D * M                                 // MLP
                   + D * 6 * D;                                    // adaLN modulation
    double total = c->depth * block + T * D * c->in_channels * p2  // patch embedding
                   + D * c->freq_dim + D * D                       // timestep MLP
                   + D * 2 * D + T * D * p2 * c->out_channels;     // final layer
    if (c->cond_aug) total += D * c->freq_dim + D * D;             // condition-level MLP
    return total * 1e-9;
}

// -----------------------------------------------------------------------------
// Loading

static msf_status attr_int(const msf_h5_reader *w, const char *group, const char *name, int64_t *v) {
    msf_status s = msf_h5_get_attr_int(w, group, name, v);
    if (s) return msf_fail_context(s, "DiT config");
    return MSF_OK;
}

msf_status dit_config_read(dit_config *c, const msf_h5_reader *w, const char *group) {
    memset(c, 0, sizeof *c);
    char model[32] = "";
    if (msf_h5_get_attr_string(w, group, "model", model, sizeof model) == MSF_OK && strcmp(model, "dit"))
        return msf_fail(MSF_ERR_FORMAT, "%s%s%s holds a '%s' model, expected 'dit'", msf_h5_path(w),
                        group && *group ? ":" : "", group ? group : "", model);
    int64_t v[9];
    static const char *names[9] = {"input_size",  "patch_size",  "in_channels",
                                   "hidden_size", "depth",       "num_heads",
                                   "num_classes", "learn_sigma", "frequency_embedding_size"};
    for (int i = 0; i < 9; i++) {
        msf_status s = attr_int(w, group, names[i], &v[i]);
        if (s) return s;
        if (v[i] < 0 || v[i] > (1 << 24) || (v[i] == 0 && i != 7))
            return msf_fail(MSF_ERR_FORMAT, "%s: DiT attribute %s = %lld is out of range", msf_h5_path(w), names[i],
                            (long long)v[i]);
    }
    double mlp_ratio = 4.0, dropout = 0.1;
    if (msf_h5_get_attr_double(w, group, "mlp_ratio", &mlp_ratio) != MSF_OK) mlp_ratio = 4.0;
    if (msf_h5_get_attr_double(w, group, "class_dropout_prob", &dropout) != MSF_OK)
        return msf_fail_context(MSF_ERR_FORMAT, "DiT config");
    c->input_size = (int)v[0];
    c->patch_size = (int)v[1];
    c->in_channels = (int)v[2];
    c->hidden_size = (int)v[3];
    c->depth = (int)v[4];
    c->num_heads = (int)v[5];
    c->num_classes = (int)v[6];
    c->learn_sigma = v[7] != 0;
    c->freq_dim = (int)v[8];
    c->out_channels = c->learn_sigma ? 2 * c->in_channels : c->in_channels;
    // A conditional DiT (MSF's residual model: noisy residual + condition in,
    // eps [+ variance] of the residual out) states its output width.
    int64_t out_channels;
    if (msf_h5_get_attr_int(w, group, "out_channels", &out_channels) == MSF_OK) {
        if (out_channels < 1 || out_channels > (1 << 16))
            return msf_fail(MSF_ERR_FORMAT, "%s: DiT attribute out_channels = %lld is out of range", msf_h5_path(w),
                            (long long)out_channels);
        c->out_channels = (int)out_channels;
    }
    int64_t cond_aug;
    if (msf_h5_get_attr_int(w, group, "cond_aug", &cond_aug) == MSF_OK) {
        if (cond_aug != 0 && cond_aug != 1)
            return msf_fail(MSF_ERR_FORMAT, "%s: DiT attribute cond_aug = %lld, expected 0 or 1", msf_h5_path(w),
                            (long long)cond_aug);
        c->cond_aug = (int)cond_aug;
    }
    if (c->learn_sigma && c->out_channels % 2)
        return msf_fail(MSF_ERR_FORMAT, "%s: a DiT with learned sigma needs an even out_channels, got %d",
                        msf_h5_path(w), c->out_channels);
    c->mlp_hidden = (int)(c->hidden_size * mlp_ratio);
    c->has_null_class = dropout > 0;
    if (c->input_size % c->patch_size || c->hidden_size % c->num_heads || c->freq_dim % 2)
        return msf_fail(MSF_ERR_FORMAT,
                        "%s: inconsistent DiT config (input %d, patch %d, hidden %d, heads %d, frequency size %d)",
                        msf_h5_path(w), c->input_size, c->patch_size, c->hidden_size, c->num_heads, c->freq_dim);
    return MSF_OK;
}

// The tensor table, in state_dict order (the order of the random streams of
// dit_init_random).
static void dit_tensor_table(dit_model *m, msf_params *t) {
    const dit_config *c = &m->config;
    int64_t D = c->hidden_size, C = c->in_channels, p = c->patch_size, M = c->mlp_hidden;
    int64_t out = p * p * c->out_channels;
    msf_params_init(t, "a DiT with depth %d", c->depth);
    msf_params_add(t, &m->patch_w, 0, MSF_SHAPE(D, C, p, p), "x_embedder.proj.weight");
    msf_params_add(t, &m->patch_b, 0, MSF_SHAPE(D), "x_embedder.proj.bias");
    msf_params_add(t, &m->pos_embed, 0, MSF_SHAPE(1, dit_tokens(c), D), "pos_embed");
    msf_params_add(t, &m->t_w0, 0, MSF_SHAPE(D, c->freq_dim), "t_embedder.mlp.0.weight");
    msf_params_add(t, &m->t_b0, 0, MSF_SHAPE(D), "t_embedder.mlp.0.bias");
    msf_params_add(t, &m->t_w2, 0, MSF_SHAPE(D, D), "t_embedder.mlp.2.weight");
    msf_params_add(t, &m->t_b2, 0, MSF_SHAPE(D), "t_embedder.mlp.2.bias");
    msf_params_add(t, &m->y_table, 0, MSF_SHAPE(c->num_classes + c->has_null_class, D),
                   "y_embedder.embedding_table.weight");
    if (c->cond_aug) {
        msf_params_add(t, &m->aug_w0, 0, MSF_SHAPE(D, c->freq_dim), "aug_embedder.mlp.0.weight");
        msf_params_add(t, &m->aug_b0, 0, MSF_SHAPE(D), "aug_embedder.mlp.0.bias");
        msf_params_add(t, &m->aug_w2, 0, MSF_SHAPE(D, D), "aug_embedder.mlp.2.weight");
        msf_params_add(t, &m->aug_b2, 0, MSF_SHAPE(D), "aug_embedder.mlp.2.bias");
    }
    for (int i = 0; i < c->depth; i++) {
        dit_block *b = &m->blocks[i];
        msf_params_add(t, &b->qkv_w, 0, MSF_SHAPE(3 * D, D), "blocks.%d.attn.qkv.weight", i);
        msf_params_add(t, &b->qkv_b, 0, MSF_SHAPE(3 * D), "blocks.%d.attn.qkv.bias", i);
        msf_params_add(t, &b->proj_w, 0, MSF_SHAPE(D, D), "blocks.%d.attn.proj.weight", i);
        msf_params_add(t, &b->proj_b, 0, MSF_SHAPE(D), "blocks.%d.attn.proj.bias", i);
        msf_params_add(t, &b->fc1_w, 0, MSF_SHAPE(M, D), "blocks.%d.mlp.fc1.weight", i);
        msf_params_add(t, &b->fc1_b, 0, MSF_SHAPE(M), "blocks.%d.mlp.fc1.bias", i);
        msf_params_add(t, &b->fc2_w, 0, MSF_SHAPE(D, M), "blocks.%d.mlp.fc2.weight", i);
        msf_params_add(t, &b->fc2_b, 0, MSF_SHAPE(D), "blocks.%d.mlp.fc2.bias", i);
        msf_params_add(t, &b->ada_w, 0, MSF_SHAPE(6 * D, D), "blocks.%d.adaLN_modulation.1.weight", i);
        msf_params_add(t, &b->ada_b, 0, MSF_SHAPE(6 * D), "blocks.%d.adaLN_modulation.1.bias", i);
    }
    msf_params_add(t, &m->final_ada_w, 0, MSF_SHAPE(2 * D, D), "final_layer.adaLN_modulation.1.weight");
    msf_params_add(t, &m->final_ada_b, 0, MSF_SHAPE(2 * D), "final_layer.adaLN_modulation.1.bias");
    msf_params_add(t, &m->final_w, 0, MSF_SHAPE(out, D), "final_layer.linear.weight");
    msf_params_add(t, &m->final_b, 0, MSF_SHAPE(out), "final_layer.linear.bias");
}

// Scratch floats of one forward pass at batch n (besides the attention scratch).
static size_t dit_activation_floats(const dit_config *c, int n) {
    size_t D = (size_t)c->hidden_size, T = (size_t)dit_tokens(c), p2 = (size_t)c->patch_size * c->patch_size;
    size_t wide = 3 * D > (size_t)c->mlp_hidden ? 3 * D : (size_t)c->mlp_hidden;
    if (p2 * (size_t)c->out_channels > wide) wide = p2 * (size_t)c->out_channels;
    if (p2 * (size_t)c->in_channels > wide) wide = p2 * (size_t)c->in_channels;
    return (size_t)n * (T * D * 3                       // x, normalised x, attention output
                        + T * wide                      // qkv / MLP hidden / patches / final tokens
                        + 6 * D                         // block modulation
                        + (size_t)c->freq_dim + 3 * D)  // timestep frequencies, embeddings, SiLU(c)
           + 16 * 64;                                   // alignment slack (one per buffer)
}

// Scratch bytes of the linears at batch up to n (nn_linear's padded rows, or
// in bf16 the bf16 copy of the input; the largest one, as they run one after
// the other).
static size_t dit_linear_bytes(const dit_config *c, int n, nn_precision p) {
    int D = c->hidden_size, NT = n * dit_tokens(c), p2 = c->patch_size * c->patch_size;
    int shapes[][3] = {{NT, c->in_channels * p2, D},
                       {n, c->freq_dim, D},
                       {n, D, D},
                       {n, D, 6 * D},
                       {NT, D, 3 * D},
                       {NT, D, D},
                       {NT, D, c->mlp_hidden},
                       {NT, c->mlp_hidden, D},
                       {n, D, 2 * D},
                       {NT, D, p2 * c->out_channels}};
    size_t most = 0;
    for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++) {
        size_t b = nn_linear_workspace_bytes(shapes[i][0], shapes[i][1], shapes[i][2]);
        if (p == NN_BF16) b = nn_bf16_linear_workspace_bytes(shapes[i][0], shapes[i][1]);
        most = b > most ? b : most;
    }
    return most;
}

// Workspace bytes of a forward pass at batch up to n in precision p.
static size_t dit_workspace_bytes(const dit_config *c, int n, nn_precision p) {
    size_t attn = nn_attention_workspace_bytes(n, dit_tokens(c), c->num_heads, c->hidden_size / c->num_heads);
    size_t lin = dit_linear_bytes(c, n, p);
    return dit_activation_floats(c, n) * sizeof(float) + (attn > lin ? attn : lin);
}

// Allocate weights (one slab, laid out by the tensor table) and workspace
// for config m->config; *table gets the table (caller frees it with msf_params_free).
static msf_status dit_alloc(dit_model *m, int max_batch, msf_params *table) {
    const dit_config *c = &m->config;
    memset(table, 0, sizeof *table);
    if (max_batch < 1) return msf_fail(MSF_ERR_INVALID, "DiT batch size %d must be at least 1", max_batch);
    m->blocks = calloc((size_t)c->depth, sizeof *m->blocks);
    if (!m->blocks) return msf_fail(MSF_ERR_NOMEM, "out of memory for a DiT of depth %d", c->depth);
    dit_tensor_table(m, table);
    msf_status s = msf_params_alloc(table, &m->params, &m->num_params);
    if (s) return s;
    if ((s = msf_arena_init(&m->ws, dit_workspace_bytes(c, max_batch, NN_FP32)))) return s;
    m->max_batch = max_batch;
    return MSF_OK;
}

msf_status dit_load(dit_model *m, msf_h5_reader *w, const char *group, int max_batch) {
    memset(m, 0, sizeof *m);
    msf_status s = dit_config_read(&m->config, w, group);
    if (s) return s;
    // Any tensor of the group outside the table means the config attributes
    // do not describe these weights (e.g. a depth mismatch): refused.
    msf_params table;
    s = dit_alloc(m, max_batch, &table);
    if (!s) s = msf_params_load(&table, w, group);
    msf_params_free(&table);
    if (s) {
        dit_free(m);
        return msf_fail_context(s, "loading DiT");
    }
    return MSF_OK;
}

void dit_pos_embed(float *out, int D, int G) {
    // Row-major token (i, j) = i*G + j; dims [0, D/2) encode the column j,
    // [D/2, D) the row i; each half is [sin(pos w_k), cos(pos w_k)] with
    // w_k = 10000^(-k / (D/4)), computed in float64 as DiT's numpy code does.
    int quarter = D / 4;
    for (int i = 0; i < G; i++)
        for (int j = 0; j < G; j++) {
            float *row = out + ((size_t)i * G + j) * D;
            for (int half = 0; half < 2; half++) {
                double pos = half == 0 ? j : i;
                for (int k = 0; k < quarter; k++) {
                    double omega = 1.0 / pow(10000.0, (double)k / quarter);
                    row[half * 2 * quarter + k] = (float)sin(pos * omega);
                    row[half * 2 * quarter + quarter + k] = (float)cos(pos * omega);
                }
            }
        }
}

msf_status dit_init_random(dit_model *m, const dit_config *c, uint64_t seed, float scale, int max_batch) {
    memset(m, 0, sizeof *m);
    m->config = *c;
    if (c->hidden_size % 4 || c->input_size % c->patch_size || c->hidden_size % c->num_heads)
        return msf_fail(MSF_ERR_INVALID, "inconsistent DiT config for random weights");
    msf_params table;
    msf_status s = dit_alloc(m, max_batch, &table);
    for (int i = 0; i < table.count && !s; i++) {
        const msf_param *e = &table.entries[i];
        size_t numel = msf_param_numel(e);
        msf_rng_key key = {.seed = seed, .stream = (uint64_t)i};
        s = msf_rng_normal(*e->dst, numel, key, 0);
        for (size_t k = 0; k < numel; k++) (*e->dst)[k] *= scale;
    }
    if (!s) dit_pos_embed(m->pos_embed, c->hidden_size, dit_grid(c));
    msf_params_free(&table);
    if (s) dit_free(m);
    return s;
}

msf_status dit_save(dit_model *m, const char *path, const char *source) {
    const dit_config *c = &m->config;
    msf_params table;
    dit_tensor_table(m, &table);  // (re-derives the same pointers)
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
    static const char *ints[] = {"input_size",     "patch_size",  "in_channels",
                                 "hidden_size",    "depth",       "num_heads",
                                 "num_classes",    "learn_sigma", "frequency_embedding_size",
                                 "format_version", "out_channels"};
    int64_t vals[] = {c->input_size,  c->patch_size,  c->in_channels, c->hidden_size, c->depth,
                      c->num_heads,   c->num_classes, c->learn_sigma, c->freq_dim,    1,
                      c->out_channels};
    for (int i = 0; !s && i < 11; i++) s = msf_h5_attr_int(w, NULL, ints[i], vals[i]);
    if (!s && c->cond_aug) s = msf_h5_attr_int(w, NULL, "cond_aug", 1);
    if (!s) s = msf_h5_attr_string(w, NULL, "model", "dit");
    if (!s) s = msf_h5_attr_string(w, NULL, "source", source);
    if (!s) s = msf_h5_attr_double(w, NULL, "mlp_ratio", (double)c->mlp_hidden / c->hidden_size);
    // Only whether a null class exists is known; DiT trains with 0.1.
    if (!s) s = msf_h5_attr_double(w, NULL, "class_dropout_prob", c->has_null_class ? 0.1 : 0.0);
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

// The linear layers in the order of lin16: the model-level ones, then five per block.
enum { LIN_PATCH, LIN_T0, LIN_T2, LIN_AUG0, LIN_AUG2, LIN_FINAL_ADA, LIN_FINAL, LIN_BLOCKS };
enum { LIN_ADA, LIN_QKV, LIN_PROJ, LIN_FC1, LIN_FC2, LIN_PER_BLOCK };

static int dit_num_linears(const dit_config *c) { return LIN_BLOCKS + LIN_PER_BLOCK * c->depth; }

static void dit_free_bf16(dit_model *m) {
    if (m->lin16)
        for (int i = 0; i < dit_num_linears(&m->config); i++) nn_bf16_linear_free(m->lin16[i]);
    free(m->lin16);
    m->lin16 = NULL;
    nn_bf16_attention_free(m->att16);
    m->att16 = NULL;
    m->precision = NN_FP32;
}

msf_status dit_set_precision(dit_model *m, nn_precision p) {
    dit_free_bf16(m);
    if (p == NN_FP32) return MSF_OK;
    const dit_config *c = &m->config;
    const int D = c->hidden_size, M = c->mlp_hidden, p2 = c->patch_size * c->patch_size;
    int n = dit_num_linears(c);
    struct {
        const float *w, *b;
        int K, N;
    } *L = calloc((size_t)n, sizeof *L);
    m->lin16 = calloc((size_t)n, sizeof *m->lin16);
    if (!L || !m->lin16) {
        free(L);
        dit_free_bf16(m);
        return msf_fail(MSF_ERR_NOMEM, "out of memory for a bf16 DiT");
    }
#define LIN(i, W, B, KK, NN) L[i].w = (W), L[i].b = (B), L[i].K = (KK), L[i].N = (NN)
    LIN(LIN_PATCH, m->patch_w, m->patch_b, c->in_channels * p2, D);
    LIN(LIN_T0, m->t_w0, m->t_b0, c->freq_dim, D);
    LIN(LIN_T2, m->t_w2, m->t_b2, D, D);
    if (c->cond_aug) {
        LIN(LIN_AUG0, m->aug_w0, m->aug_b0, c->freq_dim, D);
        LIN(LIN_AUG2, m->aug_w2, m->aug_b2, D, D);
    }
    LIN(LIN_FINAL_ADA, m->final_ada_w, m->final_ada_b, D, 2 * D);
    LIN(LIN_FINAL, m->final_w, m->final_b, D, p2 * c->out_channels);
    for (int l = 0; l < c->depth; l++) {
        const dit_block *b = &m->blocks[l];
        int i = LIN_BLOCKS + LIN_PER_BLOCK * l;
        LIN(i + LIN_ADA, b->ada_w, b->ada_b, D, 6 * D);
        LIN(i + LIN_QKV, b->qkv_w, b->qkv_b, D, 3 * D);
        LIN(i + LIN_PROJ, b->proj_w, b->proj_b, D, D);
        LIN(i + LIN_FC1, b->fc1_w, b->fc1_b, D, M);
        LIN(i + LIN_FC2, b->fc2_w, b->fc2_b, M, D);
    }
#undef LIN
    msf_status s = MSF_OK;
    for (int i = 0; i < n && !s; i++)
        if (L[i].w) s = nn_bf16_linear_create(&m->lin16[i], L[i].w, L[i].b, L[i].K, L[i].N);
    free(L);
    if (!s) s = nn_bf16_attention_create(&m->att16, dit_tokens(c), c->num_heads, D / c->num_heads);
    size_t need = dit_workspace_bytes(c, m->max_batch, p);
    if (!s) {  // the bf16 attention's scratch instead of the fp32 one's, when larger
        size_t att = dit_activation_floats(c, m->max_batch) * sizeof(float) +
                     nn_bf16_attention_workspace_bytes(m->att16, m->max_batch);
        need = att > need ? att : need;
    }
    if (!s && need > m->ws.capacity) {
        msf_arena_free(&m->ws);
        s = msf_arena_init(&m->ws, need);
    }
    if (s) {
        dit_free_bf16(m);
        if (!m->ws.base) (void)msf_arena_init(&m->ws, dit_workspace_bytes(c, m->max_batch, NN_FP32));
        return msf_fail_context(s, "DiT in bf16");
    }
    m->precision = p;
    return MSF_OK;
}

void dit_free(dit_model *m) {
    dit_free_bf16(m);
    msf_aligned_free(m->params);
    free(m->blocks);
    msf_arena_free(&m->ws);
    memset(m, 0, sizeof *m);
}

// -----------------------------------------------------------------------------
// Forward pieces

// Sinusoidal timestep frequencies as DiT computes them, in float32:
// freqs_k = exp(-ln(10000) k / half); emb = [cos(t freqs), sin(t freqs)].
static void timestep_frequencies(float *emb, const float *t, int n, int dim) {
    int half = dim / 2;
    const float neg_log_period = (float)-log(10000.0);
    for (int i = 0; i < n; i++)
        for (int k = 0; k < half; k++) {
            float freq = expf(neg_log_period * (float)k / (float)half);
            float arg = t[i] * freq;
            emb[(size_t)i * dim + k] = cosf(arg);
            emb[(size_t)i * dim + half + k] = sinf(arg);
        }
}

// x (n, C, H, W) -> patches (n*T, C*p*p), column order (c, pi, pj) as the
// conv weight (D, C, p, p) flattens, rows (n, h, w): token index h*G + w.
static void patchify(float *patches, const float *x, int n, int C, int H, int p) {
    int G = H / p, K = C * p * p;
#pragma omp parallel for collapse(2) schedule(static)
    for (int b = 0; b < n; b++)
        for (int h = 0; h < G; h++)
            for (int w = 0; w < G; w++) {
                float *row = patches + ((size_t)b * G * G + (size_t)h * G + w) * K;
                for (int c = 0; c < C; c++)
                    for (int pi = 0; pi < p; pi++)
                        for (int pj = 0; pj < p; pj++)
                            row[(c * p + pi) * p + pj] = x[(((size_t)b * C + c) * H + h * p + pi) * H + w * p + pj];
            }
}

// tokens (n*T, p*p*C_out), element (pi*p + pj)*C_out + ch of token (h, w)
// -> out[b, ch, h*p + pi, w*p + pj].
static void unpatchify(float *out, const float *tokens, int n, int C_out, int H, int p) {
    int G = H / p;
#pragma omp parallel for collapse(2) schedule(static)
    for (int b = 0; b < n; b++)
        for (int ch = 0; ch < C_out; ch++)
            for (int y = 0; y < H; y++)
                for (int x = 0; x < H; x++) {
                    int h = y / p, pi = y % p, w = x / p, pj = x % p;
                    const float *tok = tokens + ((size_t)b * G * G + (size_t)h * G + w) * p * p * C_out;
                    out[(((size_t)b * C_out + ch) * H + y) * H + x] = tok[(pi * p + pj) * C_out + ch];
                }
}

// h (n, T, D) = LN(x) * (1 + scale) + shift, with shift/scale rows (n, D) at
// stride `mod_stride` floats per sample.
static void norm_modulate(float *h, const float *x, const float *shift, const float *scale, int mod_stride, int n,
                          int T, int D) {
    nn_layer_norm(h, x, NULL, NULL, n * T, D, 1e-6f);
#pragma omp parallel for collapse(2) schedule(static)
    for (int b = 0; b < n; b++)
        for (int t = 0; t < T; t++) {
            float *row = h + ((size_t)b * T + t) * D;
            const float *sh = shift + (size_t)b * mod_stride, *sc = scale + (size_t)b * mod_stride;
            for (int d = 0; d < D; d++) row[d] = row[d] * (1.0f + sc[d]) + sh[d];
        }
}

// x (n, T, D) += gate (n, D; stride mod_stride) * y (n, T, D).
static void gated_add(float *x, const float *gate, const float *y, int mod_stride, int n, int T, int D) {
#pragma omp parallel for collapse(2) schedule(static)
    for (int b = 0; b < n; b++)
        for (int t = 0; t < T; t++) {
            float *xr = x + ((size_t)b * T + t) * D;
            const float *yr = y + ((size_t)b * T + t) * D, *g = gate + (size_t)b * mod_stride;
            for (int d = 0; d < D; d++) xr[d] += g[d] * yr[d];
        }
}

// -----------------------------------------------------------------------------

// y = x W^T + b in the model's precision; passes an earlier failure `s` on.
static msf_status lin(dit_model *m, int i, msf_status s, float *y, const float *x, const float *w, const float *b,
                      int M, int K, int N) {
    if (s) return s;
    if (m->lin16) return nn_bf16_linear_run(m->lin16[i], y, x, M, &m->ws);
    nn_linear(y, x, w, b, M, K, N, &m->ws);
    return MSF_OK;
}

msf_status dit_forward(dit_model *m, float *out, const float *x, const float *t, const int64_t *y, int n) {
    return dit_forward_aug(m, out, x, t, y, NULL, n);
}

msf_status dit_forward_aug(dit_model *m, float *out, const float *x, const float *t, const int64_t *y, const float *aug,
                           int n) {
    const dit_config *c = &m->config;
    if (c->cond_aug != (aug != NULL))
        return msf_fail(MSF_ERR_INVALID, c->cond_aug ? "DiT forward: the model was trained with conditioning "
                                                       "augmentation and needs its condition's noise level"
                                                     : "DiT forward: a condition noise level "
                                                       "given to a model without conditioning augmentation");
    if (n < 1 || n > m->max_batch)
        return msf_fail(MSF_ERR_INVALID, "DiT forward: batch %d outside 1..%d (the batch the model was loaded for)", n,
                        m->max_batch);
    int classes = c->num_classes + c->has_null_class;
    for (int i = 0; i < n; i++)
        if (y[i] < 0 || y[i] >= classes)
            return msf_fail(MSF_ERR_INVALID, "DiT forward: label %lld of sample %d outside 0..%d", (long long)y[i], i,
                            classes - 1);
    const int D = c->hidden_size, T = dit_tokens(c), p = c->patch_size, H = c->input_size, NT = n * T;
    const int heads = c->num_heads, M = c->mlp_hidden;
    msf_arena *ws = &m->ws;
    size_t mark = msf_arena_mark(ws);
    size_t width = (size_t)(3 * D > M ? 3 * D : M);
    if ((size_t)p * p * c->out_channels > width) width = (size_t)p * p * c->out_channels;
    if ((size_t)p * p * c->in_channels > width) width = (size_t)p * p * c->in_channels;
    float *xs = msf_arena_alloc(ws, (size_t)NT * D * sizeof(float));
    float *hs = msf_arena_alloc(ws, (size_t)NT * D * sizeof(float));
    float *att = msf_arena_alloc(ws, (size_t)NT * D * sizeof(float));
    float *big = msf_arena_alloc(ws, (size_t)NT * width * sizeof(float));
    float *mod = msf_arena_alloc(ws, (size_t)n * 6 * D * sizeof(float));
    float *freq = msf_arena_alloc(ws, (size_t)n * c->freq_dim * sizeof(float));
    float *temb = msf_arena_alloc(ws, (size_t)n * D * sizeof(float));
    float *cond = msf_arena_alloc(ws, (size_t)n * D * sizeof(float));
    float *silu_c = msf_arena_alloc(ws, (size_t)n * D * sizeof(float));
    if (!xs || !hs || !att || !big || !mod || !freq || !temb || !cond || !silu_c) {
        msf_arena_release(ws, mark);
        return msf_fail_context(MSF_ERR_NOMEM, "DiT forward");
    }

    // 1. Patch embedding (a conv with kernel = stride = p, as a matmul) + pos_embed.
    msf_status s = MSF_OK;
    patchify(big, x, n, c->in_channels, H, p);
    s = lin(m, LIN_PATCH, s, xs, big, m->patch_w, m->patch_b, NT, c->in_channels * p * p, D);
#pragma omp parallel for schedule(static)
    for (int r = 0; r < NT; r++)
        for (int d = 0; d < D; d++) xs[(size_t)r * D + d] += m->pos_embed[(size_t)(r % T) * D + d];

    // 2-4. Conditioning c = t_emb + y_emb; every adaLN takes SiLU(c).
    timestep_frequencies(freq, t, n, c->freq_dim);
    s = lin(m, LIN_T0, s, temb, freq, m->t_w0, m->t_b0, n, c->freq_dim, D);
    nn_silu(temb, temb, (size_t)n * D);
    s = lin(m, LIN_T2, s, cond, temb, m->t_w2, m->t_b2, n, D, D);
    for (int i = 0; i < n; i++)
        for (int d = 0; d < D; d++) cond[(size_t)i * D + d] += m->y_table[(size_t)y[i] * D + d];
    if (aug) {  // c += aug_emb(level), after the label (the reference's order of additions)
        timestep_frequencies(freq, aug, n, c->freq_dim);
        s = lin(m, LIN_AUG0, s, temb, freq, m->aug_w0, m->aug_b0, n, c->freq_dim, D);
        nn_silu(temb, temb, (size_t)n * D);
        s = lin(m, LIN_AUG2, s, silu_c, temb, m->aug_w2, m->aug_b2, n, D, D);
        for (size_t i = 0; i < (size_t)n * D; i++) cond[i] += silu_c[i];
    }
    nn_silu(silu_c, cond, (size_t)n * D);

    // 5. Blocks. mod holds (shift_msa, scale_msa, gate_msa, shift_mlp, scale_mlp, gate_mlp).
    for (int l = 0; l < c->depth && !s; l++) {
        const dit_block *b = &m->blocks[l];
        const int bl = LIN_BLOCKS + LIN_PER_BLOCK * l;
        s = lin(m, bl + LIN_ADA, s, mod, silu_c, b->ada_w, b->ada_b, n, D, 6 * D);
        norm_modulate(hs, xs, mod, mod + D, 6 * D, n, T, D);
        s = lin(m, bl + LIN_QKV, s, big, hs, b->qkv_w, b->qkv_b, NT, D, 3 * D);
        if (!s)
            s = m->att16 ? nn_bf16_attention_run(m->att16, att, big, n, ws)
                         : nn_attention(att, big, n, T, heads, D / heads, ws);
        if (s) break;
        s = lin(m, bl + LIN_PROJ, s, hs, att, b->proj_w, b->proj_b, NT, D, D);
        gated_add(xs, mod + 2 * D, hs, 6 * D, n, T, D);
        norm_modulate(hs, xs, mod + 3 * D, mod + 4 * D, 6 * D, n, T, D);
        s = lin(m, bl + LIN_FC1, s, big, hs, b->fc1_w, b->fc1_b, NT, D, M);
        nn_gelu_tanh(big, big, (size_t)NT * M);
        s = lin(m, bl + LIN_FC2, s, att, big, b->fc2_w, b->fc2_b, NT, M, D);
        gated_add(xs, mod + 5 * D, att, 6 * D, n, T, D);
    }
    if (s) {
        msf_arena_release(ws, mark);
        return msf_fail_context(s, "DiT forward");
    }

    // 6. Final layer: (shift, scale) -- shift first here -- then linear.
    s = lin(m, LIN_FINAL_ADA, s, mod, silu_c, m->final_ada_w, m->final_ada_b, n, D, 2 * D);
    norm_modulate(hs, xs, mod, mod + D, 2 * D, n, T, D);
    int out_width = p * p * c->out_channels;
    s = lin(m, LIN_FINAL, s, big, hs, m->final_w, m->final_b, NT, D, out_width);

    // 7. Unpatchify.
    unpatchify(out, big, n, c->out_channels, H, p);
    msf_arena_release(ws, mark);
    return MSF_OK;
}
