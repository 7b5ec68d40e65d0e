// linear_bf16.h: y = x W^T + b with bfloat16 inputs and float32 accumulation,
// through oneDNN's matmul (issue 17: the bf16 path). The weights are
// converted to bf16 once, when the layer is made; x is rounded to bf16 on each
// call; the products are exact in float32 and summed in float32 by oneDNN;
// the bias and y stay float32.
//
// Built only with oneDNN (libdnnl-dev; the Makefile's DNNL=1, on when
// <oneapi/dnnl/dnnl.h> and -ldnnl are found, defines MSF_DNNL); without it
// nn_bf16_available() is 0 and nn_bf16_linear_create says that this build
// lacks bf16.
//
// A layer keeps one oneDNN primitive per row count M it has seen (a few: a
// sampler calls it with the same M every step), made on first use and reused.
// Calls may come from several threads at once (one image per thread): the
// primitives are made under a lock and oneDNN's scratchpad is the caller's.
// Called outside a parallel region, oneDNN spreads one product over the
// OpenMP threads; inside one, it runs the product in the calling thread.
#ifndef MSF_NN_LINEAR_BF16_H
#define MSF_NN_LINEAR_BF16_H

#include <stddef.h>
#include <stdint.h>

#include "core/arena.h"
#include "core/status.h"

// The arithmetic of a network's large matrix products: fp32 (the default and
// the exact reference) or bf16 (bf16 inputs, fp32 accumulation, through
// oneDNN); norms, softmax, the diffusion arithmetic and statistics stay fp32.
typedef enum { NN_FP32, NN_BF16, NN_PRECISION_COUNT } nn_precision;
// "fp32" or "bf16".
const char *nn_precision_name(nn_precision p);
// Parse "fp32" / "bf16" (MSF_ERR_INVALID naming `what` otherwise, and for
// bf16 in a build without oneDNN).
msf_status nn_precision_parse(nn_precision *p, const char *text, const char *what);

// 1 when this build has oneDNN.
int nn_bf16_available(void);
// The instruction set oneDNN dispatches to on this CPU ("avx512_core_bf16",
// "avx512_core_amx", ...; "none" without oneDNN).
const char *nn_bf16_isa(void);
// oneDNN's version and that ISA ("2.6.3 (avx512_core_bf16)"); "none" without oneDNN.
const char *nn_bf16_library(void);

// bfloat16 as uint16_t: float32's upper half, rounded to nearest even (NaN
// stays NaN), as PyTorch's and oneDNN's conversions round.
static inline uint16_t nn_bf16_from_float(float f) {
    union {
        float f;
        uint32_t u;
    } v = {f};
    if ((v.u & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((v.u >> 16) | 0x40);  // quiet NaN
    return (uint16_t)((v.u + 0x7fffu + ((v.u >> 16) & 1u)) >> 16);
}
static inline float nn_bf16_to_float(uint16_t h) {
    union {
        uint32_t u;
        float f;
    } v = {(uint32_t)h << 16};
    return v.f;
}

typedef struct nn_bf16_linear nn_bf16_linear;

// A layer of weights w [N, K] (PyTorch's Linear layout) and bias b [N] (NULL:
// none), both copied (w as bf16).
msf_status nn_bf16_linear_create(nn_bf16_linear **out, const float *w, const float *b, int K, int N);
// Scratch bytes of a call with M rows of K inputs: the bf16 copy of x (and
// oneDNN's scratchpad, a few MB at most, on top).
#define NN_BF16_SCRATCHPAD ((size_t)16 << 20)  // room kept for oneDNN's scratchpad
size_t nn_bf16_linear_workspace_bytes(int M, int K);
// y [M, N] = bf16(x) [M, K] bf16(W)^T + b. The bf16 copy of x and oneDNN's
// scratchpad come from ws when it has room (ws may be NULL), else from the heap.
msf_status nn_bf16_linear_run(nn_bf16_linear *l, float *y, const float *x, int M, msf_arena *ws);
// The same with strides: element (i, k) of x at x[i * xs0 + k * xs1] and
// (i, j) of y at y[i * ys0 + j * ys1] (ys0 = N, ys1 = 1 and xs0 = K, xs1 = 1
// is nn_bf16_linear_run): a convolution's rows of pixels written into a
// wider NHWC tensor (ys0 = its channel count), or the transposed product of
// an NCHW im2col (x [K, M] and y [N, M]: xs0 = 1, xs1 = M, ys0 = 1, ys1 = M).
msf_status nn_bf16_linear_run_strided(nn_bf16_linear *l, float *y, int64_t ys0, int64_t ys1, const float *x,
                                      int64_t xs0, int64_t xs1, int M, msf_arena *ws);
// The same on rows already in bf16: xh [M, K] dense (ws: oneDNN's scratchpad).
msf_status nn_bf16_linear_run_bf16(nn_bf16_linear *l, float *y, int64_t ys0, int64_t ys1, const uint16_t *xh, int M,
                                   msf_arena *ws);
void nn_bf16_linear_free(nn_bf16_linear *l);

// -----------------------------------------------------------------------------
// A convolution with bf16 operands through oneDNN's own convolution
// primitive (the SD VAE's bf16 path): y (n, c_out, oh, ow) fp32 NCHW =
// conv(bf16(x) (n, c_in, h, w), bf16(w) (c_out, c_in, kh, kw)) + b, stride s,
// zero padding (top, bottom, left, right). Each call reorders x (rounding to
// bf16) into the layout oneDNN picked and the fp32 output back to NCHW; the
// weights are reordered once per input size. A primitive per input size,
// made on first use and kept. Calls come from one thread at a time (oneDNN
// spreads each over the OpenMP threads).
typedef struct nn_bf16_conv nn_bf16_conv;
msf_status nn_bf16_conv_create(nn_bf16_conv **out, const float *w, const float *b, int c_in, int c_out, int kh, int kw,
                               int stride, int pad_t, int pad_b, int pad_l, int pad_r);
// An upper bound of the scratch bytes of a call on n images of h x w giving
// oh x ow (the reordered copies of x and y: channels padded to 16).
size_t nn_bf16_conv_workspace_bytes(int c_in, int c_out, int n, int h, int w, int oh, int ow);
msf_status nn_bf16_conv_run(nn_bf16_conv *c, float *y, const float *x, int n, int h, int w, msf_arena *ws);
void nn_bf16_conv_free(nn_bf16_conv *c);

// -----------------------------------------------------------------------------
// A product of two runtime bf16 operands (attention: q k^T, weights x v):
// C [M, N] (fp32) = A [M, K] B [K, N], each operand's element (i, j) at
// base[i * s[0] + j * s[1]]. The primitive is made at creation; a call
// brings its operands, its output and nn_bf16_matmul_scratch_bytes of
// scratch (oneDNN's scratchpad), so calls may come from several threads.
typedef struct nn_bf16_matmul nn_bf16_matmul;
msf_status nn_bf16_matmul_create(nn_bf16_matmul **out, int M, int K, int N, const int64_t as[2], const int64_t bs[2],
                                 const int64_t cs[2]);
size_t nn_bf16_matmul_scratch_bytes(const nn_bf16_matmul *mm);
msf_status nn_bf16_matmul_run(const nn_bf16_matmul *mm, float *c, const uint16_t *a, const uint16_t *b, void *scratch);
void nn_bf16_matmul_free(nn_bf16_matmul *mm);

#endif
