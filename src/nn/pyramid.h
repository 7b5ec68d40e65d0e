// pyramid.h: the multi-scale factorisation of MSF (base + residuals) of a tensor.
//
// A Laplacian-style pyramid: g_0 = z, g_{k+1} = D(g_k) (down by the scale s);
// the base is the coarsest g_{L-1}, and residual k (k = 0 finest .. L-2) is
// r_k = g_k - U(g_{k+1}), the detail that U of the next coarser level misses.
// Reconstruction runs back up: g_k = U(g_{k+1}) + r_k, exact up to float
// rounding. With two levels: base = D(z), residual = z - U(D(z)).
//
// The MSF paper does not state D, U or s; these are named options (defaults:
// area down, bilinear up, s = 2; see paper/ASSUMPTIONS.md). Area down with
// nearest up makes each residual the Haar detail: zero mean in every s x s block.
#ifndef MSF_NN_PYRAMID_H
#define MSF_NN_PYRAMID_H

#include "core/status.h"

typedef enum {
    NN_DOWN_AREA = 0,      // s x s average (PyTorch mode='area')
    NN_DOWN_BILINEAR = 1,  // F.interpolate bilinear, align_corners=False, no antialias
} nn_down_op;

typedef enum {
    NN_UP_BILINEAR = 0,  // F.interpolate bilinear, align_corners=False
    NN_UP_NEAREST = 1,   // F.interpolate nearest (each value repeated s x s)
} nn_up_op;

typedef struct {
    int scale;   // s >= 2
    int levels;  // L >= 2: one base and L-1 residuals
    nn_down_op down;
    nn_up_op up;
} nn_pyramid_opts;

// s = 2, L = 2, area down, bilinear up.
nn_pyramid_opts nn_pyramid_defaults(void);
const char *nn_down_name(nn_down_op d);
const char *nn_up_name(nn_up_op u);
msf_status nn_down_parse(const char *name, nn_down_op *d);
msf_status nn_up_parse(const char *name, nn_up_op *u);
// "s=2,down=area,up=bilinear,levels=2" (any subset, any order) over the defaults.
msf_status nn_pyramid_opts_parse(nn_pyramid_opts *o, const char *text);
// "s=2,levels=2,down=area,up=bilinear"
void nn_pyramid_opts_format(char *buf, int size, const nn_pyramid_opts *o);

// MSF_ERR_INVALID unless h and w are divisible by s^(L-1) and the options are valid.
msf_status nn_pyramid_check(const nn_pyramid_opts *o, int h, int w);

// One step down / up between a level (h, w) and the next coarser (h/s, w/s).
// x (n, c, h, w) -> y (n, c, h/s, w/s), and x (n, c, h/s, w/s) -> y (n, c, h, w).
void nn_pyramid_down(float *y, const float *x, int n, int c, int h, int w, const nn_pyramid_opts *o);
void nn_pyramid_up(float *y, const float *x, int n, int c, int h, int w, const nn_pyramid_opts *o);

// z (n, c, h, w) -> base (n, c, h/s^(L-1), w/s^(L-1)) and residuals[k]
// (n, c, h/s^k, w/s^k), k = 0 .. L-2. `scratch` holds nn_pyramid_scratch_floats.
msf_status nn_pyramid_factorize(float *base, float **residuals, const float *z, int n, int c, int h, int w,
                                const nn_pyramid_opts *o, float *scratch);
// The inverse: z = U(... U(U(base) + r_{L-2}) ...) + r_0.
msf_status nn_pyramid_reconstruct(float *z, const float *base, float *const *residuals, int n, int c, int h, int w,
                                  const nn_pyramid_opts *o, float *scratch);
// Scratch floats either call needs: two full-resolution tensors.
static inline long nn_pyramid_scratch_floats(int n, int c, int h, int w) { return 2L * n * c * h * w; }

#endif
