// dit.h: the DiT network (Peebles & Xie, "Scalable Diffusion Models with
// Transformers"), forward pass only, as in facebookresearch/DiT models.py.
//
// A model is a config plus pointers into one weight allocation, loaded from an
// HDF5 weight file whose datasets are named by the official state_dict keys
// (optionally under a group such as "base/"), and one workspace sized at load
// for a maximum batch.
#ifndef MSF_MODELS_DIT_H
#define MSF_MODELS_DIT_H

#include <stddef.h>
#include <stdint.h>

#include "core/arena.h"
#include "core/status.h"
#include "io/h5read.h"
#include "nn/linear_bf16.h"

typedef struct {
    int input_size;    // latent side H = W
    int patch_size;    // p
    int in_channels;   // C
    int out_channels;  // 2C with learn_sigma, else C; or the out_channels attribute
                       // (a conditional model such as MSF's residual DiT)
    int hidden_size;   // D
    int depth;
    int num_heads;
    int mlp_hidden;      // D * mlp_ratio
    int num_classes;     // without the null class
    int has_null_class;  // class_dropout_prob > 0: label num_classes is "no class"
    int learn_sigma;
    int freq_dim;  // sinusoidal timestep embedding size (256)
    int cond_aug;  // conditioning augmentation (msf's option, attribute cond_aug): a
                   // second timestep MLP embeds the noise level of the model's
                   // condition, added to c after the label embedding
} dit_config;

// Official configs by name ("DiT-XL/2", ..., "DiT-S/8") with ImageNet defaults
// (input 32, 4 channels, 1000 classes, learn_sigma); MSF_ERR_NOT_FOUND if unknown.
msf_status dit_config_named(dit_config *c, const char *name, int input_size);

static inline int dit_grid(const dit_config *c) { return c->input_size / c->patch_size; }
static inline int dit_tokens(const dit_config *c) { return dit_grid(c) * dit_grid(c); }

// GFLOPs of one forward pass of one sample, counting a multiply-add as one
// FLOP as DiT's Table 4 does (linear and attention matmuls, patch embedding,
// the conditioning MLPs).
double dit_gflops(const dit_config *c);

typedef struct {
    float *qkv_w, *qkv_b;    // (3D, D), (3D)
    float *proj_w, *proj_b;  // (D, D), (D)
    float *fc1_w, *fc1_b;    // (M, D), (M)
    float *fc2_w, *fc2_b;    // (D, M), (D)
    float *ada_w, *ada_b;    // (6D, D), (6D)
} dit_block;

typedef struct {
    dit_config config;
    float *params;  // one allocation; the pointers below point into it
    size_t num_params;
    float *patch_w, *patch_b;  // x_embedder.proj: (D, C, p, p), (D)
    float *pos_embed;          // (T, D)
    float *t_w0, *t_b0;        // t_embedder.mlp.0: (D, freq_dim), (D)
    float *t_w2, *t_b2;        // t_embedder.mlp.2: (D, D), (D)
    float *y_table;            // y_embedder.embedding_table: (classes [+1], D)
    float *aug_w0, *aug_b0;    // aug_embedder.mlp.0 (cond_aug only): (D, freq_dim), (D)
    float *aug_w2, *aug_b2;    // aug_embedder.mlp.2: (D, D), (D)
    dit_block *blocks;
    float *final_ada_w, *final_ada_b;  // (2D, D), (2D)
    float *final_w, *final_b;          // (p*p*out, D), (p*p*out)
    int max_batch;
    msf_arena ws;
    nn_precision precision;           // of the linear layers (dit_set_precision; fp32 after load)
    nn_bf16_linear **lin16;           // bf16: every linear layer as a bf16 layer (dit.c's order), else NULL
    struct nn_bf16_attention *att16;  // bf16: the attention's products, else NULL
} dit_model;

// Read the config from the attributes of `group` (NULL or "" = the file root)
// and every tensor under that group, checking each shape against the config.
// A missing, mis-shaped or unexpected tensor is an error naming it.
msf_status dit_config_read(dit_config *c, const msf_h5_reader *w, const char *group);
msf_status dit_load(dit_model *m, msf_h5_reader *w, const char *group, int max_batch);
void dit_free(dit_model *m);

// The arithmetic of the matrix products: fp32 (the default) or bf16. In bf16
// every linear layer (patch embedding, conditioning MLPs, adaLN, qkv,
// attention projection, MLP, final layer) takes bf16 weights (converted
// once, here) and bf16 inputs (rounded per call), and the attention's q k^T
// and weights x v take bf16 operands (nn_bf16_attention_run); all sums are
// fp32 (oneDNN); softmax, the norms and the modulation stay fp32. Grows the
// workspace for the bf16 copies. MSF_ERR_INVALID for bf16 in a build
// without oneDNN.
msf_status dit_set_precision(dit_model *m, nn_precision p);

// A model of config c with random weights: every tensor from its own Philox
// normal stream (seed, tensor index) times `scale`, pos_embed the fixed
// sin-cos table. For benchmarks and cost measurements.
msf_status dit_init_random(dit_model *m, const dit_config *c, uint64_t seed, float scale, int max_batch);
// Write the model in the weight-file format (state_dict names, config attributes).
msf_status dit_save(dit_model *m, const char *path, const char *source);
// DiT's 2-D sin-cos position table (T = G*G tokens, D dims) into out (T, D).
void dit_pos_embed(float *out, int D, int G);

// out (n, out_channels, H, W) = DiT(x (n, C, H, W), t (n), y (n)), n <= max_batch.
// t is the original diffusion step (0..999, may be fractional); y in
// [0, num_classes], num_classes being the null class when the model has one.
msf_status dit_forward(dit_model *m, float *out, const float *x, const float *t, const int64_t *y, int n);
// dit_forward of a conditioning-augmented model (config.cond_aug): aug (n) is the
// noise level of each row's condition, embedded as t is. aug must be NULL
// exactly when the model has no cond_aug.
msf_status dit_forward_aug(dit_model *m, float *out, const float *x, const float *t, const int64_t *y, const float *aug,
                           int n);

#endif
