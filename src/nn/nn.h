// nn.h: neural-network operators of the msf core.
//
// Every operator comes as a pair: `nn_<op>_ref`, a plain loop kept as the
// reference for tests, and `nn_<op>`, the fast version (OpenBLAS sgemm for the
// matrix work, OpenMP over outer independent dimensions). Arguments follow
// llm.c's order: outputs first, then inputs, then weights, then dimensions.
// Images are NCHW, token sequences (N,T,D), all float32 and contiguous.
//
// Determinism: the fast operators split work into pieces that depend only on
// the shapes, never on the thread count, and each output element is computed
// by one thread in a fixed order; so results are identical bit for bit for
// any OMP_NUM_THREADS. BLAS calls are made single-threaded from inside our own
// parallel regions (never a threaded BLAS call inside an OpenMP region).
//
// Unless stated, `y` may not alias `x`; the elementwise activations allow y == x.
#ifndef MSF_NN_H
#define MSF_NN_H

#include <stddef.h>

#include "core/arena.h"
#include "core/status.h"
#include "nn/attention.h"  // softmax, attention
#include "nn/conv.h"       // convolutions (NCHW im2col, 3x3 Winograd, NHWC)
#include "nn/norm.h"       // GroupNorm (+ SiLU), LayerNorm, BatchNorm

// -----------------------------------------------------------------------------
// Linear: y (M,N) = x (M,K) . w^T + b, w (N,K) as in torch.nn.Linear; b (N) or NULL.

void nn_linear_ref(float *y, const float *x, const float *w, const float *b, int M, int K, int N);
// The fast version computes rows beyond the last multiple of 16 (and problems
// too small for OpenBLAS's regular kernels) on a zero-padded copy, taken
// from `ws` (used by the calling thread, released before returning): with
// nn_linear_workspace_bytes(M, K, N) free there, nn_linear allocates nothing
// for any M' <= M. With ws NULL or short, the copy comes from the heap (the
// same bits either way).
size_t nn_linear_workspace_bytes(int M, int K, int N);
void nn_linear(float *y, const float *x, const float *w, const float *b, int M, int K, int N, msf_arena *ws);

// -----------------------------------------------------------------------------
// Activations (elementwise over `count` values; y may alias x).

void nn_gelu_ref(float *y, const float *x, size_t count);  // exact: x/2 (1 + erf(x/sqrt 2))
void nn_gelu(float *y, const float *x, size_t count);
void nn_gelu_tanh_ref(float *y, const float *x, size_t count);  // tanh approximation (GELU(approximate='tanh'))
void nn_gelu_tanh(float *y, const float *x, size_t count);
void nn_silu_ref(float *y, const float *x, size_t count);
void nn_silu(float *y, const float *x, size_t count);
void nn_relu_ref(float *y, const float *x, size_t count);
void nn_relu(float *y, const float *x, size_t count);

// -----------------------------------------------------------------------------
// Pooling over x (n, c, h, w), floor output size as PyTorch (ceil_mode off):
// out = (h + 2 pad_h - kh) / stride_h + 1. Max pooling ignores padding;
// average pooling divides by kh*kw when count_include_pad, else by the number
// of in-bounds elements (Inception's pools exclude the padding).

typedef struct {
    int n, c, h, w;
    int kh, kw;
    int stride_h, stride_w;
    int pad_h, pad_w;
    int count_include_pad;
} nn_pool2d_shape;

int nn_pool2d_out_h(const nn_pool2d_shape *s);
int nn_pool2d_out_w(const nn_pool2d_shape *s);
void nn_max_pool2d_ref(float *y, const float *x, const nn_pool2d_shape *s);
void nn_max_pool2d(float *y, const float *x, const nn_pool2d_shape *s);
void nn_avg_pool2d_ref(float *y, const float *x, const nn_pool2d_shape *s);
void nn_avg_pool2d(float *y, const float *x, const nn_pool2d_shape *s);

// -----------------------------------------------------------------------------
// Resizing x (n, c, h, w) to y (n, c, out_h, out_w).

// Nearest, PyTorch's mode='nearest': src = min(floor(dst * in/out), in-1).
void nn_upsample_nearest_ref(float *y, const float *x, int n, int c, int h, int w, int out_h, int out_w);
void nn_upsample_nearest(float *y, const float *x, int n, int c, int h, int w, int out_h, int out_w);

typedef enum {
    // PyTorch F.interpolate(mode='bilinear', align_corners=False), no antialias:
    // src = max((dst + 0.5) * in/out - 0.5, 0).
    NN_BILINEAR_HALF_PIXEL = 0,
    // TF1 legacy resize_bilinear (align_corners=False, half_pixel_centers=False),
    // the resize inside ADM's Inception graph: src = dst * in/out.
    NN_BILINEAR_TF1_LEGACY = 1,
} nn_bilinear_mode;

void nn_resize_bilinear_ref(float *y, const float *x, int n, int c, int h, int w, int out_h, int out_w,
                            nn_bilinear_mode mode);
void nn_resize_bilinear(float *y, const float *x, int n, int c, int h, int w, int out_h, int out_w,
                        nn_bilinear_mode mode);

// Area (average) resize, PyTorch's mode='area' = adaptive_avg_pool2d: output
// cell i averages input rows floor(i*h/out_h) .. ceil((i+1)*h/out_h)-1 (likewise
// columns). With out = in/s this is s x s average pooling.
void nn_resize_area_ref(float *y, const float *x, int n, int c, int h, int w, int out_h, int out_w);
void nn_resize_area(float *y, const float *x, int n, int c, int h, int w, int out_h, int out_w);

// -----------------------------------------------------------------------------
// Channel concat: y (n, ca+cb, hw) = [a (n, ca, hw), b (n, cb, hw)].

void nn_concat_channels_ref(float *y, const float *a, const float *b, int n, int ca, int cb, int hw);
void nn_concat_channels(float *y, const float *a, const float *b, int n, int ca, int cb, int hw);

#endif
