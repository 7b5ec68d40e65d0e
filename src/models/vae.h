// vae.h: the SD VAE (AutoencoderKL, kl-f8 family: stabilityai/sd-vae-ft-ema
// and -mse), encoder and decoder, as diffusers' AutoencoderKL computes them.
//
// A model is a config plus pointers into one weight allocation, loaded from an
// HDF5 weight file in the canonical naming of tools/convert_vae.py (diffusers'
// state_dict keys, attention as to_q/to_k/to_v/to_out.0 [C, C]), and one
// workspace sized at load for the largest image it will process. Either half
// may be loaded alone (decoding needs only the decoder's 49M parameters).
//
// Images are processed one at a time: a batch call loops over its images, so
// the workspace depends only on the image size, and a result never depends on
// the batch it came in or on the thread count (bit for bit).
//
// Architecture (tools/reference/vae.py has it in PyTorch), for
// block_out_channels c_0..c_{L-1} and layers_per_block r:
//   ResNet(in,out): h = conv3(SiLU(GN(x))), h = conv3(SiLU(GN(h))),
//                   out = h + (in != out ? conv1x1(x) : x); GN eps 1e-6
//   Attention(C):   single head over the h*w positions of GN(x); x + proj(out)
//   Mid(C):         ResNet, Attention, ResNet
//   Encoder:        conv_in; level i: r ResNets to c_i, then (but the last)
//                   pad (0,1,0,1) + 3x3 stride-2 conv; Mid; GN, SiLU, conv_out
//                   to 2*latent; quant_conv 1x1 -> (mean, logvar)
//   Decoder:        post_quant_conv 1x1; conv_in; Mid; up block i (0 = lowest
//                   resolution): r+1 ResNets to c_{L-1-i}, then (but the last)
//                   nearest x2 + 3x3 conv; GN, SiLU, conv_out to 3 channels
#ifndef MSF_MODELS_VAE_H
#define MSF_MODELS_VAE_H

#include <stddef.h>
#include <stdint.h>

#include "core/arena.h"
#include "core/status.h"
#include "io/h5read.h"
#include "nn/linear_bf16.h"

#define VAE_MAX_LEVELS 8

typedef struct {
    int in_channels;      // image channels in (3)
    int out_channels;     // image channels out (3)
    int latent_channels;  // 4
    int num_levels;       // L, the number of entries of block_out_channels
    int block_out[VAE_MAX_LEVELS];
    int layers_per_block;   // r: ResNets per encoder level (r + 1 per decoder level)
    int norm_groups;        // GroupNorm groups (32)
    double scaling_factor;  // latents = posterior * scaling_factor (0.18215)
} vae_config;

// stabilityai/sd-vae-ft-ema / -mse: (128, 256, 512, 512), r 2, 32 groups, latent 4.
vae_config vae_config_sd(void);
// Spatial factor between images and latents: 2^(L-1) (8 for kl-f8).
static inline int vae_factor(const vae_config *c) { return 1 << (c->num_levels - 1); }

// Which halves to load.
enum { VAE_ENCODER = 1, VAE_DECODER = 2, VAE_BOTH = 3 };

typedef struct {
    float *norm1_w, *norm1_b;  // (in)
    float *conv1_w, *conv1_b;  // (out, in, 3, 3), (out)
    float *norm2_w, *norm2_b;  // (out)
    float *conv2_w, *conv2_b;  // (out, out, 3, 3), (out)
    float *short_w, *short_b;  // (out, in, 1, 1), (out); NULL when in == out
    int in, out;
} vae_resnet;

typedef struct {
    float *norm_w, *norm_b;  // group_norm (C)
    float *q_w, *q_b;        // to_q: (C, C), (C) (a Linear over channels)
    float *k_w, *k_b;        // to_k
    float *v_w, *v_b;        // to_v
    float *out_w, *out_b;    // to_out.0
} vae_attention;

typedef struct {
    vae_resnet res[2];
    vae_attention attn;
} vae_mid;

typedef struct {
    vae_resnet *res;                 // r (encoder) or r + 1 (decoder) per level
    float *resample_w, *resample_b;  // downsampler / upsampler conv (C, C, 3, 3), (C); NULL at the last level
} vae_level;

typedef struct {
    float *conv_in_w, *conv_in_b;
    vae_level levels[VAE_MAX_LEVELS];  // encoder: down_blocks; decoder: up_blocks (0 = lowest resolution)
    vae_mid mid;
    float *norm_out_w, *norm_out_b;
    float *conv_out_w, *conv_out_b;
    float *quant_w, *quant_b;  // encoder: quant_conv (2z, 2z, 1, 1); decoder: post_quant_conv (z, z, 1, 1)
} vae_coder;

typedef struct {
    vae_config config;
    int parts;      // VAE_ENCODER | VAE_DECODER as loaded
    float *params;  // one allocation; the pointers below point into it
    size_t num_params;
    vae_resnet *resnets;  // storage of the levels' ResNets
    vae_coder enc, dec;
    int max_h, max_w;  // largest IMAGE size the workspace was sized for
    msf_arena ws;
    nn_precision precision;  // of the convolutions (vae_set_precision)
    int num16, cap16;        // bf16: the convolutions made so far, by weight
    const float **w16;
    nn_bf16_conv **c16;
} vae_model;

// Read the config from the attributes of `group` (NULL or "" = file root).
msf_status vae_config_read(vae_config *c, const msf_h5_reader *w, const char *group);

// Load the halves in `parts` from `group` of w, checking every tensor's shape
// against the config (also of the half not loaded) and refusing unknown
// tensors; the workspace fits images up to max_h x max_w (pixels; multiples
// of vae_factor).
msf_status vae_load(vae_model *m, msf_h5_reader *w, const char *group, int parts, int max_h, int max_w);
void vae_free(vae_model *m);
// The arithmetic of the convolutions: fp32 (the default, exact) or bf16
// (oneDNN's convolution on bf16 input and weights, fp32 sums: nn_bf16_conv,
// made at a conv's first call). GroupNorm, SiLU, the mid-block attention and
// the latent/pixel scaling stay fp32. Grows the workspace. MSF_ERR_INVALID
// without oneDNN.
msf_status vae_set_precision(vae_model *m, nn_precision p);
// Random weights (each tensor from its own Philox normal stream (seed, index):
// weights N(0, 1/fan_in), biases and GroupNorm betas N(0, 0.1^2), gammas
// 1 + N(0, 0.1^2)), for benchmarks.
msf_status vae_init_random(vae_model *m, const vae_config *c, uint64_t seed, int parts, int max_h, int max_w);
// Write a model with both halves loaded in the weight-file format (a file
// that vae_load and tools/convert_vae.py's reader accept).
msf_status vae_save(vae_model *m, const char *path, const char *source);

// Workspace bytes a model of config c needs for images up to h x w (the
// sizes vae_load allocates; for reports).
size_t vae_workspace_bytes(const vae_config *c, int parts, int h, int w);

// -----------------------------------------------------------------------------
// Raw network passes (no latent scaling): n images processed one by one.

// images (n, out_channels, 8h, 8w) = decoder(post_quant_conv(z (n, latent, h, w))).
msf_status vae_decoder_forward(vae_model *m, float *images, const float *z, int n, int h, int w);
// moments (n, 2*latent, H/8, W/8) = quant_conv(encoder(x (n, in_channels, H, W))),
// channels [0, latent) the mean, the rest the log-variance (not clamped).
msf_status vae_encoder_forward(vae_model *m, float *moments, const float *x, int n, int H, int W);

// -----------------------------------------------------------------------------
// Pixels and latents as DiT uses them.

// pixels (n, 8h, 8w, C) uint8 from latents (n, latent, h, w) as DiT's
// sample_ddp.py: x = decoder(z / scaling_factor); pixel = (uint8) clamp(127.5 x
// + 128, 0, 255) (truncation). MSF_ERR_NUMERIC, naming the image, if the
// decoded image holds a NaN or Inf. `first` is the global index of image 0
// (for that message). `x` may be NULL; if not, it gets the decoded floats
// (n, C, 8h, 8w).
msf_status vae_decode(vae_model *m, uint8_t *pixels, float *x, const float *latents, int n, int h, int w,
                      int64_t first);

typedef enum {
    VAE_POSTERIOR_MEAN = 0,    // latents = mean * scaling_factor
    VAE_POSTERIOR_SAMPLE = 1,  // (mean + exp(logvar/2) eps) * scaling_factor, eps Philox normal
} vae_posterior;

// latents (n, latent, H/8, W/8) from pixels (n, H, W, C) uint8 as DiT's
// train.py: x = (p / 255 - 0.5) / 0.5, moments = encoder(x), logvar clamped
// to [-30, 20]. With VAE_POSTERIOR_SAMPLE, image i's eps is the Philox normal
// stream (seed, stream = first + i, substream 0), element = its position in
// the latent: independent of batching and threads.
msf_status vae_encode(vae_model *m, float *latents, const uint8_t *pixels, int n, int H, int W, vae_posterior mode,
                      uint64_t seed, int64_t first);

// Pixel <-> float conversions used above (exposed for tests).
void vae_pixels_from_float(uint8_t *pixels, const float *x, int channels, int H, int W);  // one image
void vae_float_from_pixels(float *x, const uint8_t *pixels, int channels, int H, int W);  // one image

#endif
