// nn_ref.c: reference implementations of the nn.h operators (nn.h, conv.h,
// norm.h, attention.h), and the shape helpers shared with the fast versions.
//
// Each `*_ref` is the plain loop from the operator's definition: one thread,
// no BLAS, no allocation, reductions and arithmetic in double. They are slow
// on purpose; the tests hold them and the fast versions (nn.c, conv.c,
// conv_nhwc.c, norm.c, attention.c) against PyTorch's float64 goldens.
#include <math.h>
#include <string.h>

#include "nn/nn.h"

// -----------------------------------------------------------------------------
// Shape helpers

int nn_conv2d_out_h(const nn_conv2d_shape *s) { return (s->h + s->pad_top + s->pad_bottom - s->kh) / s->stride_h + 1; }

int nn_conv2d_out_w(const nn_conv2d_shape *s) { return (s->w + s->pad_left + s->pad_right - s->kw) / s->stride_w + 1; }

msf_status nn_conv2d_check(const nn_conv2d_shape *s) {
    if (s->n < 1 || s->c_in < 1 || s->h < 1 || s->w < 1 || s->c_out < 1 || s->kh < 1 || s->kw < 1)
        return msf_fail(MSF_ERR_INVALID,
                        "conv2d: sizes must be positive (n %d, c_in %d, h %d, w %d, c_out %d, kernel %dx%d)", s->n,
                        s->c_in, s->h, s->w, s->c_out, s->kh, s->kw);
    if (s->stride_h < 1 || s->stride_w < 1)
        return msf_fail(MSF_ERR_INVALID, "conv2d: stride %dx%d must be positive", s->stride_h, s->stride_w);
    if (s->pad_top < 0 || s->pad_bottom < 0 || s->pad_left < 0 || s->pad_right < 0)
        return msf_fail(MSF_ERR_INVALID, "conv2d: negative padding (top %d, bottom %d, left %d, right %d)", s->pad_top,
                        s->pad_bottom, s->pad_left, s->pad_right);
    if (s->h + s->pad_top + s->pad_bottom < s->kh || s->w + s->pad_left + s->pad_right < s->kw)
        return msf_fail(MSF_ERR_INVALID, "conv2d: kernel %dx%d larger than the padded input %dx%d", s->kh, s->kw,
                        s->h + s->pad_top + s->pad_bottom, s->w + s->pad_left + s->pad_right);
    return MSF_OK;
}

int nn_pool2d_out_h(const nn_pool2d_shape *s) { return (s->h + 2 * s->pad_h - s->kh) / s->stride_h + 1; }

int nn_pool2d_out_w(const nn_pool2d_shape *s) { return (s->w + 2 * s->pad_w - s->kw) / s->stride_w + 1; }

// -----------------------------------------------------------------------------
// Linear

void nn_linear_ref(float *y, const float *x, const float *w, const float *b, int M, int K, int N) {
    for (int m = 0; m < M; m++) {
        for (int j = 0; j < N; j++) {
            double acc = b ? b[j] : 0.0;
            for (int k = 0; k < K; k++) acc += (double)x[(size_t)m * K + k] * w[(size_t)j * K + k];
            y[(size_t)m * N + j] = (float)acc;
        }
    }
}

// -----------------------------------------------------------------------------
// Convolution

void nn_conv2d_ref(float *y, const float *x, const float *w, const float *b, const nn_conv2d_shape *s) {
    int oh = nn_conv2d_out_h(s), ow = nn_conv2d_out_w(s);
    for (int n = 0; n < s->n; n++) {
        for (int co = 0; co < s->c_out; co++) {
            for (int i = 0; i < oh; i++) {
                for (int j = 0; j < ow; j++) {
                    double acc = b ? b[co] : 0.0;
                    for (int ci = 0; ci < s->c_in; ci++) {
                        const float *xp = x + ((size_t)n * s->c_in + ci) * s->h * s->w;
                        const float *wp = w + ((size_t)co * s->c_in + ci) * s->kh * s->kw;
                        for (int ki = 0; ki < s->kh; ki++) {
                            int hi = i * s->stride_h + ki - s->pad_top;
                            if (hi < 0 || hi >= s->h) continue;  // zero padding
                            for (int kj = 0; kj < s->kw; kj++) {
                                int wi = j * s->stride_w + kj - s->pad_left;
                                if (wi < 0 || wi >= s->w) continue;
                                acc += (double)xp[(size_t)hi * s->w + wi] * wp[ki * s->kw + kj];
                            }
                        }
                    }
                    y[(((size_t)n * s->c_out + co) * oh + i) * ow + j] = (float)acc;
                }
            }
        }
    }
}

// -----------------------------------------------------------------------------
// Normalisation

// Mean and 1/sqrt(biased variance + eps) of `count` values, in two passes.
static void moments_ref(double *mean, double *rstd, const float *x, size_t count, float eps) {
    double sum = 0.0;
    for (size_t i = 0; i < count; i++) sum += x[i];
    double m = sum / (double)count;
    double sq = 0.0;
    for (size_t i = 0; i < count; i++) sq += ((double)x[i] - m) * ((double)x[i] - m);
    *mean = m;
    *rstd = 1.0 / sqrt(sq / (double)count + (double)eps);
}

void nn_group_norm_ref(float *y, const float *x, const float *gamma, const float *beta, int n, int c, int hw,
                       int groups, float eps) {
    int cg = c / groups;
    for (int b = 0; b < n; b++) {
        for (int g = 0; g < groups; g++) {
            double mean, rstd;
            moments_ref(&mean, &rstd, x + ((size_t)b * c + (size_t)g * cg) * hw, (size_t)cg * hw, eps);
            for (int ch = g * cg; ch < (g + 1) * cg; ch++) {
                const float *xp = x + ((size_t)b * c + ch) * hw;
                float *yp = y + ((size_t)b * c + ch) * hw;
                double ga = gamma ? gamma[ch] : 1.0, be = beta ? beta[ch] : 0.0;
                for (int i = 0; i < hw; i++) yp[i] = (float)(((double)xp[i] - mean) * rstd * ga + be);
            }
        }
    }
}

// SiLU(GroupNorm(x)) with the normalised value kept in double.
void nn_group_norm_silu_ref(float *y, const float *x, const float *gamma, const float *beta, int n, int c, int hw,
                            int groups, float eps) {
    int cg = c / groups;
    for (int b = 0; b < n; b++) {
        for (int g = 0; g < groups; g++) {
            double mean, rstd;
            moments_ref(&mean, &rstd, x + ((size_t)b * c + (size_t)g * cg) * hw, (size_t)cg * hw, eps);
            for (int ch = g * cg; ch < (g + 1) * cg; ch++) {
                const float *xp = x + ((size_t)b * c + ch) * hw;
                float *yp = y + ((size_t)b * c + ch) * hw;
                for (int i = 0; i < hw; i++) {
                    double v = ((double)xp[i] - mean) * rstd * gamma[ch] + beta[ch];
                    yp[i] = (float)(v / (1.0 + exp(-v)));
                }
            }
        }
    }
}

void nn_layer_norm_ref(float *y, const float *x, const float *gamma, const float *beta, int rows, int dim, float eps) {
    for (int r = 0; r < rows; r++) {
        const float *xp = x + (size_t)r * dim;
        float *yp = y + (size_t)r * dim;
        double mean, rstd;
        moments_ref(&mean, &rstd, xp, (size_t)dim, eps);
        for (int i = 0; i < dim; i++) {
            double ga = gamma ? gamma[i] : 1.0, be = beta ? beta[i] : 0.0;
            yp[i] = (float)(((double)xp[i] - mean) * rstd * ga + be);
        }
    }
}

void nn_batch_norm_ref(float *y, const float *x, const float *mean, const float *var, const float *gamma,
                       const float *beta, int n, int c, int hw, float eps) {
    for (int b = 0; b < n; b++) {
        for (int ch = 0; ch < c; ch++) {
            const float *xp = x + ((size_t)b * c + ch) * hw;
            float *yp = y + ((size_t)b * c + ch) * hw;
            double rstd = 1.0 / sqrt((double)var[ch] + (double)eps);
            double ga = gamma ? gamma[ch] : 1.0, be = beta ? beta[ch] : 0.0;
            for (int i = 0; i < hw; i++) yp[i] = (float)(((double)xp[i] - mean[ch]) * rstd * ga + be);
        }
    }
}

// -----------------------------------------------------------------------------
// Softmax

void nn_softmax_ref(float *y, const float *x, int rows, int dim) {
    for (int r = 0; r < rows; r++) {
        const float *xp = x + (size_t)r * dim;
        float *yp = y + (size_t)r * dim;
        float max = xp[0];
        for (int i = 1; i < dim; i++) max = xp[i] > max ? xp[i] : max;
        double sum = 0.0;
        for (int i = 0; i < dim; i++) sum += exp((double)xp[i] - max);
        // Each x[i] is read before y[i] is written, so y == x is fine.
        for (int i = 0; i < dim; i++) yp[i] = (float)(exp((double)xp[i] - max) / sum);
    }
}

// -----------------------------------------------------------------------------
// Attention

static double dot_ref(const float *a, const float *b, int count) {
    double acc = 0.0;
    for (int i = 0; i < count; i++) acc += (double)a[i] * b[i];
    return acc;
}

// Output columns are accumulated in double in blocks of this many, so the
// reference needs no buffer proportional to t or head_dim; the scores are
// recomputed for each block.
#define ATTN_REF_BLOCK 64

void nn_attention_ref(float *out, const float *qkv, int n, int t, int heads, int head_dim) {
    int D = heads * head_dim;
    size_t row = 3 * (size_t)D;  // qkv row stride
    double scale = 1.0 / sqrt((double)head_dim);
    for (int b = 0; b < n; b++) {
        for (int h = 0; h < heads; h++) {
            // q_i, k_j, v_j of this batch item and head
            const float *q = qkv + (size_t)b * t * row + (size_t)h * head_dim;
            const float *k = q + D, *v = q + 2 * (size_t)D;
            for (int i = 0; i < t; i++) {
                const float *qi = q + (size_t)i * row;
                double max = -INFINITY;
                for (int j = 0; j < t; j++) {
                    double s = dot_ref(qi, k + (size_t)j * row, head_dim) * scale;
                    max = s > max ? s : max;
                }
                double denom = 0.0;
                for (int j = 0; j < t; j++) denom += exp(dot_ref(qi, k + (size_t)j * row, head_dim) * scale - max);
                float *o = out + ((size_t)b * t + i) * D + (size_t)h * head_dim;
                for (int d0 = 0; d0 < head_dim; d0 += ATTN_REF_BLOCK) {
                    int nd = head_dim - d0 < ATTN_REF_BLOCK ? head_dim - d0 : ATTN_REF_BLOCK;
                    double acc[ATTN_REF_BLOCK] = {0};
                    for (int j = 0; j < t; j++) {
                        double p = exp(dot_ref(qi, k + (size_t)j * row, head_dim) * scale - max) / denom;
                        const float *vj = v + (size_t)j * row + d0;
                        for (int d = 0; d < nd; d++) acc[d] += p * vj[d];
                    }
                    for (int d = 0; d < nd; d++) o[d0 + d] = (float)acc[d];
                }
            }
        }
    }
}

// -----------------------------------------------------------------------------
// Activations

void nn_gelu_ref(float *y, const float *x, size_t count) {
    for (size_t i = 0; i < count; i++) {
        double v = x[i];
        y[i] = (float)(0.5 * v * (1.0 + erf(v / sqrt(2.0))));
    }
}

void nn_gelu_tanh_ref(float *y, const float *x, size_t count) {
    double c = sqrt(2.0 / M_PI);
    for (size_t i = 0; i < count; i++) {
        double v = x[i];
        y[i] = (float)(0.5 * v * (1.0 + tanh(c * (v + 0.044715 * v * v * v))));
    }
}

void nn_silu_ref(float *y, const float *x, size_t count) {
    for (size_t i = 0; i < count; i++) {
        double v = x[i];
        y[i] = (float)(v / (1.0 + exp(-v)));
    }
}

// Written so that NaN passes through (as in PyTorch) instead of becoming 0.
void nn_relu_ref(float *y, const float *x, size_t count) {
    for (size_t i = 0; i < count; i++) y[i] = x[i] < 0.0f ? 0.0f : x[i];
}

// -----------------------------------------------------------------------------
// Pooling

void nn_max_pool2d_ref(float *y, const float *x, const nn_pool2d_shape *s) {
    int oh = nn_pool2d_out_h(s), ow = nn_pool2d_out_w(s);
    for (size_t p = 0; p < (size_t)s->n * s->c; p++) {
        const float *xp = x + p * s->h * s->w;
        for (int i = 0; i < oh; i++) {
            for (int j = 0; j < ow; j++) {
                float max = -INFINITY;
                for (int ki = 0; ki < s->kh; ki++) {
                    int hi = i * s->stride_h + ki - s->pad_h;
                    if (hi < 0 || hi >= s->h) continue;
                    for (int kj = 0; kj < s->kw; kj++) {
                        int wi = j * s->stride_w + kj - s->pad_w;
                        if (wi < 0 || wi >= s->w) continue;
                        float v = xp[(size_t)hi * s->w + wi];
                        if (v > max || isnan(v)) max = v;
                    }
                }
                y[(p * oh + i) * ow + j] = max;
            }
        }
    }
}

void nn_avg_pool2d_ref(float *y, const float *x, const nn_pool2d_shape *s) {
    int oh = nn_pool2d_out_h(s), ow = nn_pool2d_out_w(s);
    for (size_t p = 0; p < (size_t)s->n * s->c; p++) {
        const float *xp = x + p * s->h * s->w;
        for (int i = 0; i < oh; i++) {
            for (int j = 0; j < ow; j++) {
                double sum = 0.0;
                int count = 0;
                for (int ki = 0; ki < s->kh; ki++) {
                    int hi = i * s->stride_h + ki - s->pad_h;
                    if (hi < 0 || hi >= s->h) continue;
                    for (int kj = 0; kj < s->kw; kj++) {
                        int wi = j * s->stride_w + kj - s->pad_w;
                        if (wi < 0 || wi >= s->w) continue;
                        sum += xp[(size_t)hi * s->w + wi];
                        count++;
                    }
                }
                int div = s->count_include_pad ? s->kh * s->kw : count;
                y[(p * oh + i) * ow + j] = (float)(sum / div);
            }
        }
    }
}

// -----------------------------------------------------------------------------
// Resizing

void nn_upsample_nearest_ref(float *y, const float *x, int n, int c, int h, int w, int out_h, int out_w) {
    // PyTorch computes the source index with a float scale; so do we, to
    // pick the same pixel when dst*in/out lands on an integer.
    float sh = (float)h / out_h, sw = (float)w / out_w;
    for (size_t p = 0; p < (size_t)n * c; p++) {
        for (int i = 0; i < out_h; i++) {
            int hi = (int)floorf((float)i * sh);
            hi = hi < h - 1 ? hi : h - 1;
            for (int j = 0; j < out_w; j++) {
                int wi = (int)floorf((float)j * sw);
                wi = wi < w - 1 ? wi : w - 1;
                y[(p * out_h + i) * out_w + j] = x[(p * h + hi) * w + wi];
            }
        }
    }
}

// Source coordinate of output index `dst` along an axis of `in` -> `out`.
static double bilinear_src_ref(int dst, int in, int out, nn_bilinear_mode mode) {
    double scale = (double)in / out;
    if (mode == NN_BILINEAR_TF1_LEGACY) return dst * scale;
    double src = (dst + 0.5) * scale - 0.5;
    return src > 0.0 ? src : 0.0;
}

void nn_resize_bilinear_ref(float *y, const float *x, int n, int c, int h, int w, int out_h, int out_w,
                            nn_bilinear_mode mode) {
    for (size_t p = 0; p < (size_t)n * c; p++) {
        const float *xp = x + p * h * w;
        for (int i = 0; i < out_h; i++) {
            double sy = bilinear_src_ref(i, h, out_h, mode);
            int y0 = (int)floor(sy);
            int y1 = y0 + 1 < h ? y0 + 1 : h - 1;
            double fy = sy - y0;
            for (int j = 0; j < out_w; j++) {
                double sx = bilinear_src_ref(j, w, out_w, mode);
                int x0 = (int)floor(sx);
                int x1 = x0 + 1 < w ? x0 + 1 : w - 1;
                double fx = sx - x0;
                double top = (1.0 - fx) * xp[(size_t)y0 * w + x0] + fx * xp[(size_t)y0 * w + x1];
                double bot = (1.0 - fx) * xp[(size_t)y1 * w + x0] + fx * xp[(size_t)y1 * w + x1];
                y[(p * out_h + i) * out_w + j] = (float)((1.0 - fy) * top + fy * bot);
            }
        }
    }
}

void nn_resize_area_ref(float *y, const float *x, int n, int c, int h, int w, int out_h, int out_w) {
    for (size_t p = 0; p < (size_t)n * c; p++) {
        const float *xp = x + p * h * w;
        for (int i = 0; i < out_h; i++) {
            int h0 = (int)((long)i * h / out_h), h1 = (int)(((long)(i + 1) * h + out_h - 1) / out_h);
            for (int j = 0; j < out_w; j++) {
                int w0 = (int)((long)j * w / out_w), w1 = (int)(((long)(j + 1) * w + out_w - 1) / out_w);
                double sum = 0.0;
                for (int hi = h0; hi < h1; hi++)
                    for (int wi = w0; wi < w1; wi++) sum += xp[(size_t)hi * w + wi];
                y[(p * out_h + i) * out_w + j] = (float)(sum / ((h1 - h0) * (w1 - w0)));
            }
        }
    }
}

// -----------------------------------------------------------------------------
// Concat

void nn_concat_channels_ref(float *y, const float *a, const float *b, int n, int ca, int cb, int hw) {
    for (int i = 0; i < n; i++) {
        float *yp = y + (size_t)i * (ca + cb) * hw;
        memcpy(yp, a + (size_t)i * ca * hw, (size_t)ca * hw * sizeof(float));
        memcpy(yp + (size_t)ca * hw, b + (size_t)i * cb * hw, (size_t)cb * hw * sizeof(float));
    }
}

// -----------------------------------------------------------------------------
// NHWC convolution and pooling (conv.h)

void nn_conv2d_nhwc_relu_ref(float *y, int ldy, const float *x, int ldx, int h, int w, const nn_conv_nhwc *cv) {
    int oh = nn_conv_nhwc_out(h, cv->kh, cv->stride, cv->pad_h);
    int ow = nn_conv_nhwc_out(w, cv->kw, cv->stride, cv->pad_w);
    for (int oy = 0; oy < oh; oy++)
        for (int ox = 0; ox < ow; ox++)
            for (int co = 0; co < cv->c_out; co++) {
                double acc = cv->b[co];
                for (int ki = 0; ki < cv->kh; ki++) {
                    int iy = oy * cv->stride - cv->pad_h + ki;
                    if (iy < 0 || iy >= h) continue;
                    for (int kj = 0; kj < cv->kw; kj++) {
                        int ix = ox * cv->stride - cv->pad_w + kj;
                        if (ix < 0 || ix >= w) continue;
                        const float *xp = x + ((size_t)iy * w + ix) * ldx;
                        const float *wp = cv->w + (((size_t)co * cv->kh + ki) * cv->kw + kj) * cv->c_in;
                        for (int ci = 0; ci < cv->c_in; ci++) acc += (double)xp[ci] * wp[ci];
                    }
                }
                y[((size_t)oy * ow + ox) * ldy + co] = acc > 0.0 ? (float)acc : 0.0f;
            }
}

void nn_max_pool3_nhwc_ref(float *y, int ldy, const float *x, int ldx, int h, int w, int c, int stride, int pad) {
    int oh = (h + 2 * pad - 3) / stride + 1, ow = (w + 2 * pad - 3) / stride + 1;
    for (int oy = 0; oy < oh; oy++)
        for (int ox = 0; ox < ow; ox++)
            for (int k = 0; k < c; k++) {
                float max = -INFINITY;
                for (int iy = oy * stride - pad; iy < oy * stride - pad + 3; iy++)
                    for (int ix = ox * stride - pad; ix < ox * stride - pad + 3; ix++)
                        if (iy >= 0 && iy < h && ix >= 0 && ix < w) {
                            float v = x[((size_t)iy * w + ix) * ldx + k];
                            max = v > max ? v : max;
                        }
                y[((size_t)oy * ow + ox) * ldy + k] = max;
            }
}

void nn_avg_pool3_nhwc_ref(float *y, const float *x, int ldx, int h, int w, int c) {
    for (int oy = 0; oy < h; oy++)
        for (int ox = 0; ox < w; ox++)
            for (int k = 0; k < c; k++) {
                double sum = 0.0;
                int count = 0;
                for (int iy = oy - 1; iy <= oy + 1; iy++)
                    for (int ix = ox - 1; ix <= ox + 1; ix++)
                        if (iy >= 0 && iy < h && ix >= 0 && ix < w) {
                            sum += x[((size_t)iy * w + ix) * ldx + k];
                            count++;
                        }
                y[((size_t)oy * w + ox) * c + k] = (float)(sum / count);
            }
}
