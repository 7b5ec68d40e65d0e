// factorize.h: MSF's multi-scale factorisation of a latent (or image) tensor.
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
#ifndef MSF_MSF_FACTORIZE_H
#define MSF_MSF_FACTORIZE_H

#include "core/status.h"

typedef enum {
    MSF_DOWN_AREA = 0,      // s x s average (PyTorch mode='area')
    MSF_DOWN_BILINEAR = 1,  // F.interpolate bilinear, align_corners=False, no antialias
} msf_down_op;

typedef enum {
    MSF_UP_BILINEAR = 0,    // F.interpolate bilinear, align_corners=False
    MSF_UP_NEAREST = 1,     // F.interpolate nearest (each value repeated s x s)
} msf_up_op;

typedef struct {
    int scale;   // s >= 2
    int levels;  // L >= 2: one base and L-1 residuals
    msf_down_op down;
    msf_up_op up;
} msf_factor_opts;

// s = 2, L = 2, area down, bilinear up.
msf_factor_opts msf_factor_defaults(void);
const char *msf_down_name(msf_down_op d);
const char *msf_up_name(msf_up_op u);
msf_status msf_down_parse(const char *name, msf_down_op *d);
msf_status msf_up_parse(const char *name, msf_up_op *u);
// "s=2,down=area,up=bilinear,levels=2" (any subset, any order) over the defaults.
msf_status msf_factor_opts_parse(msf_factor_opts *o, const char *text);
// "s=2,levels=2,down=area,up=bilinear"
void msf_factor_opts_format(char *buf, int size, const msf_factor_opts *o);

// MSF_ERR_INVALID unless h and w are divisible by s^(L-1) and the options are valid.
msf_status msf_factor_check(const msf_factor_opts *o, int h, int w);

// One step down / up between a level (h, w) and the next coarser (h/s, w/s).
// x (n, c, h, w) -> y (n, c, h/s, w/s), and x (n, c, h/s, w/s) -> y (n, c, h, w).
void msf_down(float *y, const float *x, int n, int c, int h, int w, const msf_factor_opts *o);
void msf_up(float *y, const float *x, int n, int c, int h, int w, const msf_factor_opts *o);

// z (n, c, h, w) -> base (n, c, h/s^(L-1), w/s^(L-1)) and residuals[k]
// (n, c, h/s^k, w/s^k), k = 0 .. L-2. `scratch` holds msf_factor_scratch_floats.
msf_status msf_factorize(float *base, float **residuals, const float *z, int n, int c, int h, int w,
                         const msf_factor_opts *o, float *scratch);
// The inverse: z = U(... U(U(base) + r_{L-2}) ...) + r_0.
msf_status msf_reconstruct(float *z, const float *base, float *const *residuals, int n, int c, int h, int w,
                           const msf_factor_opts *o, float *scratch);
// Scratch floats either call needs: two full-resolution tensors.
static inline long msf_factor_scratch_floats(int n, int c, int h, int w) { return 2L * n * c * h * w; }

#endif
