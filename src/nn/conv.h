// conv.h: convolutions (src/nn/conv.c, src/nn/conv_nhwc.c; plain references
// in nn_ref.c). Conventions as nn.h (which includes this).
#ifndef MSF_NN_CONV_H
#define MSF_NN_CONV_H

#include <stddef.h>

#include "core/arena.h"
#include "core/status.h"
#include "nn/linear_bf16.h"

// -----------------------------------------------------------------------------
// 2-D convolution (groups 1, dilation 1): x (n, c_in, h, w), w (c_out, c_in, kh, kw),
// b (c_out) or NULL, y (n, c_out, out_h, out_w) with
// out_h = (h + pad_top + pad_bottom - kh) / stride_h + 1 (likewise out_w).
// Padding is zeros and may be asymmetric (the SD VAE pads (0,1,0,1) before a
// stride-2 conv).

typedef struct {
    int n, c_in, h, w;
    int c_out, kh, kw;
    int stride_h, stride_w;
    int pad_top, pad_bottom, pad_left, pad_right;
} nn_conv2d_shape;

int nn_conv2d_out_h(const nn_conv2d_shape *s);
int nn_conv2d_out_w(const nn_conv2d_shape *s);
// MSF_OK, or MSF_ERR_INVALID with a message when the shape is impossible.
msf_status nn_conv2d_check(const nn_conv2d_shape *s);
// Scratch bytes the fast conv2d takes from its arena (im2col buffers, one per
// OpenMP thread, so this depends on omp_get_max_threads(); the result does not).
size_t nn_conv2d_workspace_bytes(const nn_conv2d_shape *s);

// The im2col matrix col (c_in*kh*kw, (r1-r0)*ow) of output rows r0..r1-1 of
// one image xb (c_in, h, w): row (ci*kh + ki)*kw + kj holds the inputs that
// weight meets, zeros where it meets padding. Single-threaded.
void nn_im2col_rows(float *col, const float *xb, const nn_conv2d_shape *s, int r0, int r1);

void nn_conv2d_ref(float *y, const float *x, const float *w, const float *b, const nn_conv2d_shape *s);
// MSF_ERR_NOMEM (message set) if `ws` has less than nn_conv2d_workspace_bytes free.
msf_status nn_conv2d(float *y, const float *x, const float *w, const float *b, const nn_conv2d_shape *s, msf_arena *ws);

// -----------------------------------------------------------------------------
// 3x3 convolution, stride 1, zero padding 1, of one image by Winograd's
// F(2x2, 3x3): y (c_out, h, wd) = conv(x (c_in, h, wd), w (c_out, c_in, 3, 3)) + b
// (b may be NULL). The SD VAE's ResNet convolutions. Not bit-identical to
// nn_conv2d (the transforms round differently); within float32 rounding of
// the direct sum (tests: nn_conv2d_ref on the same shape).

// Scratch bytes nn_conv3x3 takes from its arena (depends on omp_get_max_threads()).
size_t nn_conv3x3_workspace_bytes(int c_in, int c_out, int h, int w);
// MSF_ERR_NOMEM (message set) if `ws` has less than that free.
msf_status nn_conv3x3(float *y, const float *x, const float *w, const float *b, int c_in, int c_out, int h, int wd,
                      msf_arena *ws);

// -----------------------------------------------------------------------------
// NHWC convolution and pooling on one image (InceptionV3's forward pass). A
// tensor is (pixels, channels) with a row stride `ld` >= channels, so a
// branch can read or write a channel slice of a concatenated output in place.

// A convolution with bias and ReLU: y = ReLU(conv(x, w) + b), symmetric zero
// padding, equal strides; w (c_out, kh, kw, c_in) so that a row of w matches
// an NHWC im2col row.
typedef struct {
    int c_in, c_out, kh, kw, stride, pad_h, pad_w;
    float *w;             // (c_out, kh * kw * c_in)
    float *b;             // (c_out)
    nn_bf16_linear *w16;  // bf16: w as a bf16 layer (no bias), else NULL (fp32)
} nn_conv_nhwc;

// How an NHWC kernel runs. With `inner` set, the caller is not inside a
// parallel region and the kernel shares its loop's pieces among `threads`
// threads, thread i using the im2col buffer col[i]; otherwise it runs in the
// calling thread with col[0]. The pieces and each one's arithmetic are the
// same either way, so the bits are too.
//
// A conv with a bf16 layer (w16) makes one product of the whole image
// through oneDNN (on the image's thread, or with `inner` on all of them): it
// needs col16 (the whole image's im2col: oh*ow*kh*kw*c_in floats) and ws16
// (nn_bf16_linear_workspace_bytes of oh*ow rows of kh*kw*c_in), and a
// failure of the product goes to *err (the first one kept; the caller checks
// it after the image).
typedef struct {
    int inner;
    int threads;
    float **col;      // each nn_conv_nhwc_col_floats floats
    float *col16;     // bf16 convs: the whole image's im2col
    msf_arena *ws16;  // bf16 convs: the bf16 copy of it
    msf_status *err;  // bf16 convs: where a failure goes
} nn_nhwc_exec;

// Output size along one axis, 0 when the kernel does not fit.
int nn_conv_nhwc_out(int in, int k, int stride, int pad);
// Output pixels per sgemm block (shape-only; multiples of 16 = full sgemm tiles).
int nn_conv_nhwc_block_pixels(const nn_conv_nhwc *cv, int npix);
// im2col floats one buffer needs for an oh x ow output (0 for a pointwise conv).
size_t nn_conv_nhwc_col_floats(const nn_conv_nhwc *cv, int oh, int ow);

// y (oh, ow; row stride ldy) = ReLU(conv(x (h, w; row stride ldx))); the output size is returned in oh, ow.
void nn_conv2d_nhwc_relu_ref(float *y, int ldy, const float *x, int ldx, int h, int w, const nn_conv_nhwc *cv);
void nn_conv2d_nhwc_relu(const nn_nhwc_exec *e, const nn_conv_nhwc *cv, float *y, int ldy, const float *x, int ldx,
                         int h, int w, int *oh, int *ow);

// 3x3 max pool, padding ignored (as PyTorch pads with -inf): y (oh, ow; ldy),
// oh = (h + 2 pad - 3) / stride + 1.
void nn_max_pool3_nhwc_ref(float *y, int ldy, const float *x, int ldx, int h, int w, int c, int stride, int pad);
void nn_max_pool3_nhwc(const nn_nhwc_exec *e, float *y, int ldy, const float *x, int ldx, int h, int w, int c,
                       int stride, int pad);

// 3x3 stride-1 average pool with padding 1, dividing by the in-bounds count
// (count_include_pad=False): y (h, w; row stride c).
void nn_avg_pool3_nhwc_ref(float *y, const float *x, int ldx, int h, int w, int c);
void nn_avg_pool3_nhwc(const nn_nhwc_exec *e, float *y, const float *x, int ldx, int h, int w, int c);

#endif
