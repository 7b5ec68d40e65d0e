// norm.h: normalisation operators (src/nn/norm.c; plain references in
// nn_ref.c). Statistics use the biased variance (as PyTorch). Conventions as
// nn.h (which includes this).
#ifndef MSF_NN_NORM_H
#define MSF_NN_NORM_H

#include <stddef.h>

// GroupNorm: x (n, c, hw), `groups` divides c; gamma, beta (c) or NULL (no affine).
void nn_group_norm_ref(float *y, const float *x, const float *gamma, const float *beta, int n, int c, int hw,
                       int groups, float eps);
void nn_group_norm(float *y, const float *x, const float *gamma, const float *beta, int n, int c, int hw, int groups,
                   float eps);

// GroupNorm followed by SiLU, fused (the SD VAE's ResNets apply them back to
// back): y = SiLU(GroupNorm(x)), arguments as nn_group_norm but gamma and beta
// are required. The reference is nn_group_norm_ref then nn_silu_ref. The fast
// version sums in a different order than nn_group_norm (four interleaved
// partial sums), so it is not bit-identical to nn_group_norm + nn_silu.
void nn_group_norm_silu_ref(float *y, const float *x, const float *gamma, const float *beta, int n, int c, int hw,
                            int groups, float eps);
void nn_group_norm_silu(float *y, const float *x, const float *gamma, const float *beta, int n, int c, int hw,
                        int groups, float eps);

// LayerNorm over the last dimension: x (rows, dim); gamma, beta (dim) or NULL.
void nn_layer_norm_ref(float *y, const float *x, const float *gamma, const float *beta, int rows, int dim, float eps);
void nn_layer_norm(float *y, const float *x, const float *gamma, const float *beta, int rows, int dim, float eps);

// BatchNorm in inference mode: y = (x - mean) / sqrt(var + eps) * gamma + beta
// per channel of x (n, c, hw); gamma, beta may be NULL.
void nn_batch_norm_ref(float *y, const float *x, const float *mean, const float *var, const float *gamma,
                       const float *beta, int n, int c, int hw, float eps);
void nn_batch_norm(float *y, const float *x, const float *mean, const float *var, const float *gamma, const float *beta,
                   int n, int c, int hw, float eps);

#endif
