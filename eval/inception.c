// inception.c: pytorch-fid's FIDInceptionV3 in C (see inception.h): weight
// loading with BatchNorm folding, the NHWC forward pass, and the "inception"
// feature-network backend of featnet.h.
// Over 700 lines on purpose: the layer table, its weight loading and the
// forward pass (fp32 and bf16) of one network read best side by side, as
// pytorch-fid keeps FIDInceptionV3 in one file; the kernels are in src/nn.
#include "eval/inception.h"

#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/arena.h"
#include "eval/featnet_impl.h"
#include "io/params.h"
#include "nn/conv.h"

#define BN_EPS 1e-3
#define MAX_CONVS 10

// A conv with BatchNorm folded in: y = ReLU(conv(x, w) + b) (nn/conv.h).
typedef nn_conv_nhwc inc_conv;

typedef struct {
    inception_block_spec spec;
    int num_convs;
    inc_conv conv[MAX_CONVS];
} inc_block;

struct inception_model {
    int num_blocks;
    inc_block blocks[INCEPTION_MAX_BLOCKS];
    int whole;  // a whole network (fc loaded), not one block
    int num_classes, feat_dim;
    float *fc;      // (num_classes, feat_dim)
    float *params;  // one allocation for all weights
    int max_h, max_w;
    int threads;               // workspaces (omp_get_max_threads() at load)
    size_t act_floats;         // one activation buffer (two per workspace)
    size_t scratch_floats;     // branch intermediates (two buffers per workspace)
    size_t col_floats;         // im2col
    size_t ws_floats;          // one workspace: 2 act + 2 scratch + col
    float *ws;                 // threads * ws_floats
    nn_precision precision;    // of the convs (inception_set_precision)
    size_t col16_floats, x16;  // bf16 needs at max_h x max_w (ws_need)
    float *col16;              // bf16: a whole image's im2col, one per workspace
    msf_arena *ws16;           // bf16: its bf16 rows and oneDNN's scratchpad, one arena per workspace
};

// -----------------------------------------------------------------------------
// Architecture tables

int inception_block_out_channels(const inception_block_spec *s) {
    const int *w = s->widths;
    switch (s->kind) {
    case INCEPTION_STEM: return w[4];
    case INCEPTION_A: return w[0] + w[2] + w[4] + w[5];
    case INCEPTION_B: return w[0] + w[2] + s->c_in;
    case INCEPTION_C: return w[0] + 2 * w[2] + w[3];
    case INCEPTION_D: return w[1] + w[3] + s->c_in;
    case INCEPTION_E1:
    case INCEPTION_E2: return w[0] + 2 * w[2] + 2 * w[4] + w[5];
    }
    return 0;
}

static int num_widths(inception_block_kind k) {
    static const int n[] = {5, 6, 3, 4, 4, 6, 6};
    return n[k];
}

// The convs of a block in the order the forward pass indexes them, with
// their module names.
static int block_convs(const inception_block_spec *s, inc_conv *cv, const char **names) {
    const int *w = s->widths, ci = s->c_in;
    int n = 0;
#define CONV(NAME, CIN, COUT, KH, KW, S, PH, PW) \
    (names[n] = (NAME),                          \
     cv[n++] = (inc_conv){                       \
         .c_in = (CIN), .c_out = (COUT), .kh = (KH), .kw = (KW), .stride = (S), .pad_h = (PH), .pad_w = (PW)})
    switch (s->kind) {
    case INCEPTION_STEM:
        CONV("Conv2d_1a_3x3", ci, w[0], 3, 3, 2, 0, 0);
        CONV("Conv2d_2a_3x3", w[0], w[1], 3, 3, 1, 0, 0);
        CONV("Conv2d_2b_3x3", w[1], w[2], 3, 3, 1, 1, 1);
        CONV("Conv2d_3b_1x1", w[2], w[3], 1, 1, 1, 0, 0);
        CONV("Conv2d_4a_3x3", w[3], w[4], 3, 3, 1, 0, 0);
        break;
    case INCEPTION_A:
        CONV("branch1x1", ci, w[0], 1, 1, 1, 0, 0);
        CONV("branch5x5_1", ci, w[1], 1, 1, 1, 0, 0);
        CONV("branch5x5_2", w[1], w[2], 5, 5, 1, 2, 2);
        CONV("branch3x3dbl_1", ci, w[3], 1, 1, 1, 0, 0);
        CONV("branch3x3dbl_2", w[3], w[4], 3, 3, 1, 1, 1);
        CONV("branch3x3dbl_3", w[4], w[4], 3, 3, 1, 1, 1);
        CONV("branch_pool", ci, w[5], 1, 1, 1, 0, 0);
        break;
    case INCEPTION_B:
        CONV("branch3x3", ci, w[0], 3, 3, 2, 0, 0);
        CONV("branch3x3dbl_1", ci, w[1], 1, 1, 1, 0, 0);
        CONV("branch3x3dbl_2", w[1], w[2], 3, 3, 1, 1, 1);
        CONV("branch3x3dbl_3", w[2], w[2], 3, 3, 2, 0, 0);
        break;
    case INCEPTION_C:
        CONV("branch1x1", ci, w[0], 1, 1, 1, 0, 0);
        CONV("branch7x7_1", ci, w[1], 1, 1, 1, 0, 0);
        CONV("branch7x7_2", w[1], w[1], 1, 7, 1, 0, 3);
        CONV("branch7x7_3", w[1], w[2], 7, 1, 1, 3, 0);
        CONV("branch7x7dbl_1", ci, w[1], 1, 1, 1, 0, 0);
        CONV("branch7x7dbl_2", w[1], w[1], 7, 1, 1, 3, 0);
        CONV("branch7x7dbl_3", w[1], w[1], 1, 7, 1, 0, 3);
        CONV("branch7x7dbl_4", w[1], w[1], 7, 1, 1, 3, 0);
        CONV("branch7x7dbl_5", w[1], w[2], 1, 7, 1, 0, 3);
        CONV("branch_pool", ci, w[3], 1, 1, 1, 0, 0);
        break;
    case INCEPTION_D:
        CONV("branch3x3_1", ci, w[0], 1, 1, 1, 0, 0);
        CONV("branch3x3_2", w[0], w[1], 3, 3, 2, 0, 0);
        CONV("branch7x7x3_1", ci, w[2], 1, 1, 1, 0, 0);
        CONV("branch7x7x3_2", w[2], w[3], 1, 7, 1, 0, 3);
        CONV("branch7x7x3_3", w[3], w[3], 7, 1, 1, 3, 0);
        CONV("branch7x7x3_4", w[3], w[3], 3, 3, 2, 0, 0);
        break;
    case INCEPTION_E1:
    case INCEPTION_E2:
        CONV("branch1x1", ci, w[0], 1, 1, 1, 0, 0);
        CONV("branch3x3_1", ci, w[1], 1, 1, 1, 0, 0);
        CONV("branch3x3_2a", w[1], w[2], 1, 3, 1, 0, 1);
        CONV("branch3x3_2b", w[1], w[2], 3, 1, 1, 1, 0);
        CONV("branch3x3dbl_1", ci, w[3], 1, 1, 1, 0, 0);
        CONV("branch3x3dbl_2", w[3], w[4], 3, 3, 1, 1, 1);
        CONV("branch3x3dbl_3a", w[4], w[4], 1, 3, 1, 0, 1);
        CONV("branch3x3dbl_3b", w[4], w[4], 3, 1, 1, 1, 0);
        CONV("branch_pool", ci, w[5], 1, 1, 1, 0, 0);
        break;
    }
#undef CONV
    return n;
}

msf_status inception_config_scaled(inception_config *c, int divisor, int num_classes) {
    static const int stem[5] = {32, 32, 64, 80, 192}, a[5] = {64, 48, 64, 64, 96}, b[3] = {384, 64, 96},
                     d[4] = {192, 320, 192, 192}, e[6] = {320, 384, 384, 448, 384, 192};
    static const int a_pool[3] = {32, 64, 64}, c7[4] = {128, 160, 160, 192};
    if (divisor < 1 || 16 % divisor != 0 || num_classes < 1)
        return msf_fail(MSF_ERR_INVALID, "inception: width divisor %d (expected 1, 2, 4, 8 or 16), %d classes", divisor,
                        num_classes);
    memset(c, 0, sizeof *c);
    int n = 0;
    inception_block_spec *s = &c->blocks[n++];
    s->kind = INCEPTION_STEM, s->c_in = 3;
    for (int i = 0; i < 5; i++) s->widths[i] = stem[i] / divisor;
    for (int k = 0; k < 3; k++) {
        s = &c->blocks[n++];
        s->kind = INCEPTION_A;
        for (int i = 0; i < 5; i++) s->widths[i] = a[i] / divisor;
        s->widths[5] = a_pool[k] / divisor;
    }
    s = &c->blocks[n++];
    s->kind = INCEPTION_B;
    for (int i = 0; i < 3; i++) s->widths[i] = b[i] / divisor;
    for (int k = 0; k < 4; k++) {
        s = &c->blocks[n++];
        s->kind = INCEPTION_C;
        s->widths[0] = s->widths[2] = s->widths[3] = 192 / divisor;
        s->widths[1] = c7[k] / divisor;
    }
    s = &c->blocks[n++];
    s->kind = INCEPTION_D;
    for (int i = 0; i < 4; i++) s->widths[i] = d[i] / divisor;
    for (int k = 0; k < 2; k++) {
        s = &c->blocks[n++];
        s->kind = k == 0 ? INCEPTION_E1 : INCEPTION_E2;
        for (int i = 0; i < 6; i++) s->widths[i] = e[i] / divisor;
    }
    for (int i = 1; i < n; i++) c->blocks[i].c_in = inception_block_out_channels(&c->blocks[i - 1]);
    c->num_blocks = n;
    c->num_classes = num_classes;
    return MSF_OK;
}

static const char *const BLOCK_PREFIX[INCEPTION_MAX_BLOCKS] = {"",          "Mixed_5b.", "Mixed_5c.", "Mixed_5d.",
                                                               "Mixed_6a.", "Mixed_6b.", "Mixed_6c.", "Mixed_6d.",
                                                               "Mixed_6e.", "Mixed_7a.", "Mixed_7b.", "Mixed_7c."};
#define SPATIAL_BLOCK 7  // Mixed_6d
#define SPATIAL_GRID 17
#define SPATIAL_CHANNELS 7

// -----------------------------------------------------------------------------
// Shapes

// Output size of a 3x3 pool, 0 when it does not fit.
static int pool_out(int in, int stride) { return nn_conv_nhwc_out(in, 3, stride, 0); }  // 3x3, no padding

typedef struct {
    size_t act, scratch, col;
    size_t col16, x16;  // bf16: one conv's whole-image im2col (floats) and its bf16 rows (elements)
} ws_need;

static void need_max(size_t *a, size_t b) {
    if (b > *a) *a = b;
}

// Conv output size; records its im2col need.
static void conv_shape(const inc_conv *cv, int h, int w, int *oh, int *ow, ws_need *nd) {
    *oh = nn_conv_nhwc_out(h, cv->kh, cv->stride, cv->pad_h);
    *ow = nn_conv_nhwc_out(w, cv->kw, cv->stride, cv->pad_w);
    need_max(&nd->col, nn_conv_nhwc_col_floats(cv, *oh, *ow));
    size_t whole = (size_t)*oh * *ow * cv->kh * cv->kw * cv->c_in;
    need_max(&nd->x16, whole);
    if (nn_conv_nhwc_col_floats(cv, *oh, *ow)) need_max(&nd->col16, whole);
}

// Output size of block b on an h x w input, and its workspace needs. 0 if
// the input is too small for it.
static int block_shape(const inc_block *b, int h, int w, int *oh, int *ow, ws_need *nd) {
    const inc_conv *cv = b->conv;
    int th, tw;
    if (b->spec.kind == INCEPTION_STEM) {
        need_max(&nd->act, (size_t)h * w * cv[0].c_in);
        conv_shape(&cv[0], h, w, &h, &w, nd);
        need_max(&nd->act, (size_t)h * w * cv[0].c_out);
        conv_shape(&cv[1], h, w, &h, &w, nd);
        need_max(&nd->act, (size_t)h * w * cv[1].c_out);
        conv_shape(&cv[2], h, w, &h, &w, nd);
        need_max(&nd->act, (size_t)h * w * cv[2].c_out);
        h = pool_out(h, 2), w = pool_out(w, 2);
        conv_shape(&cv[3], h, w, &h, &w, nd);
        need_max(&nd->act, (size_t)h * w * cv[3].c_out);
        conv_shape(&cv[4], h, w, &h, &w, nd);
        need_max(&nd->act, (size_t)h * w * cv[4].c_out);
        h = pool_out(h, 2), w = pool_out(w, 2);
    } else {
        for (int i = 0; i < b->num_convs; i++) conv_shape(&cv[i], h, w, &th, &tw, nd);  // all read h x w
        int widest = b->spec.c_in;
        for (int i = 0; i < num_widths(b->spec.kind); i++)
            if (b->spec.widths[i] > widest) widest = b->spec.widths[i];
        need_max(&nd->scratch, (size_t)h * w * widest);
        need_max(&nd->act, (size_t)h * w * b->spec.c_in);
        if (b->spec.kind == INCEPTION_B || b->spec.kind == INCEPTION_D) h = pool_out(h, 2), w = pool_out(w, 2);
    }
    need_max(&nd->act, (size_t)(h > 0 ? h : 0) * (w > 0 ? w : 0) * inception_block_out_channels(&b->spec));
    *oh = h, *ow = w;
    return h >= 1 && w >= 1;
}

// Output size of the model's blocks on h x w (0 if too small).
static int model_shape(const inception_model *m, int h, int w, int *oh, int *ow, ws_need *nd) {
    for (int i = 0; i < m->num_blocks; i++)
        if (!block_shape(&m->blocks[i], h, w, &h, &w, nd)) return 0;
    *oh = h, *ow = w;
    return 1;
}

// -----------------------------------------------------------------------------
// Loading

// A conv's BatchNorm as loaded; its bias slot becomes the folded conv bias.
typedef struct {
    float *gamma, *mean, *var;
} inc_bn;

// The tensor table: per conv its weight and BatchNorm (conv.weight into
// cv->w, bn.bias into cv->b, both rewritten in place by fold_conv), then
// fc.weight. fc.bias is not used (the logits are pool . fc.weight^T, see
// tools/convert_inception.py, which drops it) but allowed. One block alone
// is part of a file holding more (the golden tests): no unknown-tensor check.
static void inception_tensor_table(inception_model *m, msf_params *t, inc_bn bn[][MAX_CONVS],
                                   const char *names[][MAX_CONVS], const char *block_prefix) {
    msf_params_init(t, "an InceptionV3 network");
    t->allow_unknown = !m->whole;
    for (int i = 0; i < m->num_blocks; i++) {
        const char *pre = m->whole ? BLOCK_PREFIX[i] : block_prefix;
        for (int k = 0; k < m->blocks[i].num_convs; k++) {
            inc_conv *cv = &m->blocks[i].conv[k];
            const char *name = names[i][k];
            msf_params_add(t, &cv->w, 0, MSF_SHAPE(cv->c_out, cv->c_in, cv->kh, cv->kw), "%s%s.conv.weight", pre, name);
            msf_params_add(t, &bn[i][k].gamma, 0, MSF_SHAPE(cv->c_out), "%s%s.bn.weight", pre, name);
            msf_params_add(t, &cv->b, 0, MSF_SHAPE(cv->c_out), "%s%s.bn.bias", pre, name);
            msf_params_add(t, &bn[i][k].mean, 0, MSF_SHAPE(cv->c_out), "%s%s.bn.running_mean", pre, name);
            msf_params_add(t, &bn[i][k].var, 0, MSF_SHAPE(cv->c_out), "%s%s.bn.running_var", pre, name);
        }
    }
    if (m->whole) {
        msf_params_add(t, &m->fc, 0, MSF_SHAPE(m->num_classes, m->feat_dim), "fc.weight");
        msf_params_add(t, NULL, MSF_PARAM_SKIP | MSF_PARAM_OPTIONAL, MSF_SHAPE(m->num_classes), "fc.bias");
    }
}

// Fold BatchNorm into the conv, in place: w (c_out, c_in, kh, kw) becomes
// (c_out, kh, kw, c_in) times the BN scale, b (the BN's bias) the shift.
// tmp holds c_out * c_in * kh * kw floats.
static msf_status fold_conv(inc_conv *cv, const inc_bn *bn, const char *file, const char *name, float *tmp) {
    size_t K = (size_t)cv->c_in * cv->kh * cv->kw;
    memcpy(tmp, cv->w, (size_t)cv->c_out * K * sizeof *tmp);
    for (int co = 0; co < cv->c_out; co++) {
        double s = (double)bn->gamma[co] / sqrt((double)bn->var[co] + BN_EPS);
        double bias = (double)cv->b[co] - (double)bn->mean[co] * s;
        if (!isfinite(s) || !isfinite(bias))
            return msf_fail(MSF_ERR_NUMERIC,
                            "%s: %s.bn gives a non-finite scale or shift at channel %d "
                            "(weight %g, bias %g, running_mean %g, running_var %g)",
                            file, name, co, bn->gamma[co], cv->b[co], bn->mean[co], bn->var[co]);
        cv->b[co] = (float)bias;
        // (c_in, kh, kw) -> (kh, kw, c_in)
        for (int ci = 0; ci < cv->c_in; ci++)
            for (int k = 0; k < cv->kh * cv->kw; k++) {
                float v = tmp[((size_t)co * cv->c_in + ci) * cv->kh * cv->kw + k];
                cv->w[(size_t)co * K + (size_t)k * cv->c_in + ci] = (float)(v * s);
            }
    }
    return MSF_OK;
}

static msf_status load_model(inception_model **out, msf_h5_reader *wf, const char *group, int whole,
                             const inception_block_spec *specs, int num_blocks, const char *block_prefix,
                             int num_classes, int max_h, int max_w) {
    *out = NULL;
    if (max_h < 1 || max_w < 1)
        return msf_fail(MSF_ERR_INVALID, "inception: bad maximum input size %dx%d", max_h, max_w);
    inception_model *m = calloc(1, sizeof *m);
    if (!m) return msf_fail(MSF_ERR_NOMEM, "inception: out of memory");
    m->num_blocks = num_blocks;
    m->whole = whole;
    const char *names[INCEPTION_MAX_BLOCKS][MAX_CONVS];
    size_t tmp_floats = 0;
    for (int i = 0; i < num_blocks; i++) {
        inc_block *b = &m->blocks[i];
        b->spec = specs[i];
        for (int k = 0; k < num_widths(b->spec.kind); k++)
            if (b->spec.widths[k] < 1) {
                int bad = b->spec.widths[k];
                free(m);
                return msf_fail(MSF_ERR_INVALID, "inception: block %d has width %d", i, bad);
            }
        b->num_convs = block_convs(&b->spec, b->conv, names[i]);
        for (int k = 0; k < b->num_convs; k++) {
            const inc_conv *cv = &b->conv[k];
            need_max(&tmp_floats, (size_t)cv->c_out * cv->c_in * cv->kh * cv->kw);
        }
    }
    m->feat_dim = inception_block_out_channels(&m->blocks[num_blocks - 1].spec);
    m->num_classes = whole ? num_classes : 0;
    inc_bn bn[INCEPTION_MAX_BLOCKS][MAX_CONVS];
    msf_params table;
    inception_tensor_table(m, &table, bn, names, block_prefix);
    msf_status st = msf_params_alloc(&table, &m->params, NULL);
    if (st == MSF_OK) st = msf_params_load(&table, wf, group);
    msf_params_free(&table);
    float *tmp = st == MSF_OK ? malloc((tmp_floats ? tmp_floats : 1) * sizeof(float)) : NULL;
    if (st == MSF_OK && !tmp)
        st = msf_fail(MSF_ERR_NOMEM, "inception: out of memory folding BatchNorm (%zu floats)", tmp_floats);
    const char *g = group && *group ? group : "";
    const char *sep = *g && g[strlen(g) - 1] != '/' ? "/" : "";
    for (int i = 0; i < num_blocks && st == MSF_OK; i++) {
        inc_block *b = &m->blocks[i];
        for (int k = 0; k < b->num_convs && st == MSF_OK; k++) {
            char name[256];
            snprintf(name, sizeof name, "%s%s%s%s", g, sep, whole ? BLOCK_PREFIX[i] : block_prefix, names[i][k]);
            st = fold_conv(&b->conv[k], &bn[i][k], msf_h5_path(wf), name, tmp);
        }
    }
    free(tmp);
    if (st == MSF_OK) {
        ws_need nd = {0};
        int oh, ow;
        if (!model_shape(m, max_h, max_w, &oh, &ow, &nd))
            st = msf_fail(MSF_ERR_INVALID, "inception: maximum input %dx%d is too small (at least %dx%d)", max_h, max_w,
                          INCEPTION_MIN_SIZE, INCEPTION_MIN_SIZE);
        m->max_h = max_h, m->max_w = max_w;
        m->col16_floats = nd.col16, m->x16 = nd.x16;
        m->threads = omp_get_max_threads();
        m->act_floats = msf_align_up(nd.act * sizeof(float)) / sizeof(float);
        m->scratch_floats = msf_align_up(nd.scratch * sizeof(float)) / sizeof(float);
        m->col_floats = msf_align_up(nd.col * sizeof(float)) / sizeof(float);
        m->ws_floats = 2 * m->act_floats + 2 * m->scratch_floats + m->col_floats;
        if (st == MSF_OK) {
            m->ws = msf_aligned_alloc(m->ws_floats * m->threads * sizeof(float));
            if (!m->ws)
                st = msf_fail(MSF_ERR_NOMEM, "inception: out of memory for a %zu MB workspace",
                              m->ws_floats * m->threads * sizeof(float) >> 20);
        }
    }
    if (st != MSF_OK) {
        inception_free(m);
        return st;
    }
    *out = m;
    return MSF_OK;
}

msf_status inception_load(inception_model **out, msf_h5_reader *w, const char *group, const inception_config *c,
                          int max_h, int max_w) {
    if (c->num_blocks != INCEPTION_MAX_BLOCKS)
        return msf_fail(MSF_ERR_INVALID, "inception: a config has %d blocks, expected %d", c->num_blocks,
                        INCEPTION_MAX_BLOCKS);
    msf_status st = load_model(out, w, group, 1, c->blocks, c->num_blocks, NULL, c->num_classes, max_h, max_w);
    if (st == MSF_OK && (*out)->blocks[SPATIAL_BLOCK].spec.widths[0] < SPATIAL_CHANNELS) {
        inception_free(*out);
        *out = NULL;
        return msf_fail(MSF_ERR_INVALID, "inception: Mixed_6d.branch1x1 has fewer than %d channels", SPATIAL_CHANNELS);
    }
    return st;
}

msf_status inception_load_block(inception_model **out, msf_h5_reader *w, const char *prefix,
                                const inception_block_spec *s, int max_h, int max_w) {
    return load_model(out, w, NULL, 0, s, 1, prefix ? prefix : "", 0, max_h, max_w);
}

static void free_bf16(inception_model *m) {
    for (int i = 0; i < m->num_blocks; i++)
        for (int k = 0; k < m->blocks[i].num_convs; k++) {
            nn_bf16_linear_free(m->blocks[i].conv[k].w16);
            m->blocks[i].conv[k].w16 = NULL;
        }
    msf_aligned_free(m->col16);
    m->col16 = NULL;
    for (int t = 0; m->ws16 && t < m->threads; t++) msf_arena_free(&m->ws16[t]);
    free(m->ws16);
    m->ws16 = NULL;
    m->precision = NN_FP32;
}

msf_status inception_set_precision(inception_model *m, nn_precision p) {
    free_bf16(m);
    if (p == NN_FP32) return MSF_OK;
    msf_status s = MSF_OK;
    for (int i = 0; i < m->num_blocks && !s; i++)
        for (int k = 0; k < m->blocks[i].num_convs && !s; k++) {
            inc_conv *cv = &m->blocks[i].conv[k];
            s = nn_bf16_linear_create(&cv->w16, cv->w, NULL, cv->kh * cv->kw * cv->c_in, cv->c_out);
        }
    size_t col = msf_align_up((m->col16_floats ? m->col16_floats : 1) * sizeof(float));
    if (!s && !(m->col16 = msf_aligned_alloc(col * (size_t)m->threads)))
        s = msf_fail(MSF_ERR_NOMEM, "out of memory for %d bf16 im2col buffers of %zu MB", m->threads, col >> 20);
    if (!s && !(m->ws16 = calloc((size_t)m->threads, sizeof *m->ws16)))
        s = msf_fail(MSF_ERR_NOMEM, "inception: out of memory");
    for (int t = 0; t < m->threads && !s; t++)
        s = msf_arena_init(&m->ws16[t], nn_bf16_linear_workspace_bytes((int)m->x16, 1));
    if (s) {
        free_bf16(m);
        return msf_fail_context(s, "inception in bf16");
    }
    m->precision = p;
    return MSF_OK;
}

void inception_free(inception_model *m) {
    if (!m) return;
    free_bf16(m);
    msf_aligned_free(m->params);
    msf_aligned_free(m->ws);
    free(m);
}

size_t inception_workspace_bytes(const inception_model *m) { return m->ws_floats * m->threads * sizeof(float); }

// The NHWC kernels (convolution + ReLU, 3x3 pools) are nn/conv.h's.
typedef nn_nhwc_exec exec;

// -----------------------------------------------------------------------------
// Blocks on one image: x (h, w, c_in) -> y (oh, ow, c_out), s1/s2 scratch.

static void stem_forward(const exec *e, const inc_block *b, float *y, float *t, const float *x, int *h, int *w) {
    const inc_conv *cv = b->conv;
    int oh, ow;
    // x -> y -> t -> y -> (pool) t -> y -> t -> (pool) y
    nn_conv2d_nhwc_relu(e, &cv[0], y, cv[0].c_out, x, cv[0].c_in, *h, *w, &oh, &ow);
    nn_conv2d_nhwc_relu(e, &cv[1], t, cv[1].c_out, y, cv[1].c_in, oh, ow, &oh, &ow);
    nn_conv2d_nhwc_relu(e, &cv[2], y, cv[2].c_out, t, cv[2].c_in, oh, ow, &oh, &ow);
    nn_max_pool3_nhwc(e, t, cv[2].c_out, y, cv[2].c_out, oh, ow, cv[2].c_out, 2, 0);
    oh = pool_out(oh, 2), ow = pool_out(ow, 2);
    nn_conv2d_nhwc_relu(e, &cv[3], y, cv[3].c_out, t, cv[3].c_in, oh, ow, &oh, &ow);
    nn_conv2d_nhwc_relu(e, &cv[4], t, cv[4].c_out, y, cv[4].c_in, oh, ow, &oh, &ow);
    nn_max_pool3_nhwc(e, y, cv[4].c_out, t, cv[4].c_out, oh, ow, cv[4].c_out, 2, 0);
    *h = pool_out(oh, 2), *w = pool_out(ow, 2);
}

static void mixed_forward(const exec *e, const inc_block *b, float *y, const float *x, float *s1, float *s2, int *hp,
                          int *wp) {
    const inc_conv *cv = b->conv;
    const int *wd = b->spec.widths;
    int h = *hp, w = *wp, ci = b->spec.c_in, co = inception_block_out_channels(&b->spec), oh = h, ow = w, th, tw;
    switch (b->spec.kind) {
    case INCEPTION_A:  // [1x1 | 5x5 | 3x3dbl | pool]
        nn_conv2d_nhwc_relu(e, &cv[0], y, co, x, ci, h, w, &oh, &ow);
        nn_conv2d_nhwc_relu(e, &cv[1], s1, wd[1], x, ci, h, w, &th, &tw);
        nn_conv2d_nhwc_relu(e, &cv[2], y + wd[0], co, s1, wd[1], h, w, &th, &tw);
        nn_conv2d_nhwc_relu(e, &cv[3], s1, wd[3], x, ci, h, w, &th, &tw);
        nn_conv2d_nhwc_relu(e, &cv[4], s2, wd[4], s1, wd[3], h, w, &th, &tw);
        nn_conv2d_nhwc_relu(e, &cv[5], y + wd[0] + wd[2], co, s2, wd[4], h, w, &th, &tw);
        nn_avg_pool3_nhwc(e, s1, x, ci, h, w, ci);
        nn_conv2d_nhwc_relu(e, &cv[6], y + wd[0] + wd[2] + wd[4], co, s1, ci, h, w, &th, &tw);
        break;
    case INCEPTION_B:  // [3x3 s2 | 3x3dbl s2 | max pool s2]
        nn_conv2d_nhwc_relu(e, &cv[0], y, co, x, ci, h, w, &oh, &ow);
        nn_conv2d_nhwc_relu(e, &cv[1], s1, wd[1], x, ci, h, w, &th, &tw);
        nn_conv2d_nhwc_relu(e, &cv[2], s2, wd[2], s1, wd[1], h, w, &th, &tw);
        nn_conv2d_nhwc_relu(e, &cv[3], y + wd[0], co, s2, wd[2], h, w, &th, &tw);
        nn_max_pool3_nhwc(e, y + wd[0] + wd[2], co, x, ci, h, w, ci, 2, 0);
        break;
    case INCEPTION_C:  // [1x1 | 7x7 | 7x7dbl | pool]
        nn_conv2d_nhwc_relu(e, &cv[0], y, co, x, ci, h, w, &oh, &ow);
        nn_conv2d_nhwc_relu(e, &cv[1], s1, wd[1], x, ci, h, w, &th, &tw);
        nn_conv2d_nhwc_relu(e, &cv[2], s2, wd[1], s1, wd[1], h, w, &th, &tw);
        nn_conv2d_nhwc_relu(e, &cv[3], y + wd[0], co, s2, wd[1], h, w, &th, &tw);
        nn_conv2d_nhwc_relu(e, &cv[4], s1, wd[1], x, ci, h, w, &th, &tw);
        nn_conv2d_nhwc_relu(e, &cv[5], s2, wd[1], s1, wd[1], h, w, &th, &tw);
        nn_conv2d_nhwc_relu(e, &cv[6], s1, wd[1], s2, wd[1], h, w, &th, &tw);
        nn_conv2d_nhwc_relu(e, &cv[7], s2, wd[1], s1, wd[1], h, w, &th, &tw);
        nn_conv2d_nhwc_relu(e, &cv[8], y + wd[0] + wd[2], co, s2, wd[1], h, w, &th, &tw);
        nn_avg_pool3_nhwc(e, s1, x, ci, h, w, ci);
        nn_conv2d_nhwc_relu(e, &cv[9], y + wd[0] + 2 * wd[2], co, s1, ci, h, w, &th, &tw);
        break;
    case INCEPTION_D:  // [3x3 s2 | 7x7x3 s2 | max pool s2]
        nn_conv2d_nhwc_relu(e, &cv[0], s1, wd[0], x, ci, h, w, &th, &tw);
        nn_conv2d_nhwc_relu(e, &cv[1], y, co, s1, wd[0], h, w, &oh, &ow);
        nn_conv2d_nhwc_relu(e, &cv[2], s1, wd[2], x, ci, h, w, &th, &tw);
        nn_conv2d_nhwc_relu(e, &cv[3], s2, wd[3], s1, wd[2], h, w, &th, &tw);
        nn_conv2d_nhwc_relu(e, &cv[4], s1, wd[3], s2, wd[3], h, w, &th, &tw);
        nn_conv2d_nhwc_relu(e, &cv[5], y + wd[1], co, s1, wd[3], h, w, &th, &tw);
        nn_max_pool3_nhwc(e, y + wd[1] + wd[3], co, x, ci, h, w, ci, 2, 0);
        break;
    case INCEPTION_E1:
    case INCEPTION_E2: {  // [1x1 | 3x3 (1x3, 3x1) | 3x3dbl (1x3, 3x1) | pool]
        int o = wd[0];
        nn_conv2d_nhwc_relu(e, &cv[0], y, co, x, ci, h, w, &oh, &ow);
        nn_conv2d_nhwc_relu(e, &cv[1], s1, wd[1], x, ci, h, w, &th, &tw);
        nn_conv2d_nhwc_relu(e, &cv[2], y + o, co, s1, wd[1], h, w, &th, &tw);
        nn_conv2d_nhwc_relu(e, &cv[3], y + o + wd[2], co, s1, wd[1], h, w, &th, &tw);
        o += 2 * wd[2];
        nn_conv2d_nhwc_relu(e, &cv[4], s1, wd[3], x, ci, h, w, &th, &tw);
        nn_conv2d_nhwc_relu(e, &cv[5], s2, wd[4], s1, wd[3], h, w, &th, &tw);
        nn_conv2d_nhwc_relu(e, &cv[6], y + o, co, s2, wd[4], h, w, &th, &tw);
        nn_conv2d_nhwc_relu(e, &cv[7], y + o + wd[4], co, s2, wd[4], h, w, &th, &tw);
        o += 2 * wd[4];
        if (b->spec.kind == INCEPTION_E1) nn_avg_pool3_nhwc(e, s1, x, ci, h, w, ci);
        else nn_max_pool3_nhwc(e, s1, ci, x, ci, h, w, ci, 1, 1);
        nn_conv2d_nhwc_relu(e, &cv[8], y + o, co, s1, ci, h, w, &th, &tw);
        break;
    }
    case INCEPTION_STEM: break;
    }
    *hp = oh, *wp = ow;
}

// -----------------------------------------------------------------------------
// One image through the model

typedef struct {
    float *pool, *spatial, *logits;  // [feat_dim], [2023], [num_classes] or NULL
    float *y;                        // last block's output NCHW, or NULL
} image_out;

// Workspace `t` of the model: act0, act1, scratch0, scratch1, col.
static float *ws_part(const inception_model *m, int t, int part) {
    float *base = m->ws + (size_t)t * m->ws_floats;
    switch (part) {
    case 0: return base;
    case 1: return base + m->act_floats;
    case 2: return base + 2 * m->act_floats;
    case 3: return base + 2 * m->act_floats + m->scratch_floats;
    default: return base + 2 * m->act_floats + 2 * m->scratch_floats;
    }
}

static void image_forward(const inception_model *m, const exec *e, int t, const float *x, int h, int w,
                          const image_out *o) {
    float *cur = ws_part(m, t, 0), *next = ws_part(m, t, 1), *s1 = ws_part(m, t, 2), *s2 = ws_part(m, t, 3);
    int c = m->blocks[0].spec.c_in;
    // NCHW -> NHWC
    for (int k = 0; k < c; k++)
        for (size_t p = 0; p < (size_t)h * w; p++) cur[p * c + k] = x[(size_t)k * h * w + p];
    for (int i = 0; i < m->num_blocks; i++) {
        const inc_block *b = &m->blocks[i];
        if (b->spec.kind == INCEPTION_STEM) stem_forward(e, b, next, cur, cur, &h, &w);
        else mixed_forward(e, b, next, cur, s1, s2, &h, &w);
        float *tmp = cur;
        cur = next, next = tmp;
        c = inception_block_out_channels(&b->spec);
        if (m->whole && i == SPATIAL_BLOCK && o->spatial)
            for (int p = 0; p < SPATIAL_GRID * SPATIAL_GRID; p++)
                memcpy(o->spatial + (size_t)p * SPATIAL_CHANNELS, cur + (size_t)p * c,
                       SPATIAL_CHANNELS * sizeof(float));
    }
    size_t npix = (size_t)h * w;
    if (o->y)
        for (int k = 0; k < c; k++)
            for (size_t p = 0; p < npix; p++) o->y[(size_t)k * npix + p] = cur[p * c + k];
    if (!o->pool && !o->logits) return;
    float *pool = o->pool ? o->pool : next;  // (next is free now)
    memset(pool, 0, (size_t)c * sizeof(float));
    for (size_t p = 0; p < npix; p++)
        for (int k = 0; k < c; k++) pool[k] += cur[p * c + k];
    for (int k = 0; k < c; k++) pool[k] /= (float)npix;
    if (o->logits)
        for (int j = 0; j < m->num_classes; j++) {
            // Eight running sums in a fixed order (vectorisable without reassociation).
            const float *wr = m->fc + (size_t)j * c;
            float s[8] = {0, 0, 0, 0, 0, 0, 0, 0};
            int k = 0;
            for (; k + 8 <= c; k += 8)
                for (int l = 0; l < 8; l++) s[l] += pool[k + l] * wr[k + l];
            for (; k < c; k++) s[k % 8] += pool[k] * wr[k];
            o->logits[j] = ((s[0] + s[1]) + (s[2] + s[3])) + ((s[4] + s[5]) + (s[6] + s[7]));
        }
}

// -----------------------------------------------------------------------------
// Batches

// Where the images come from: float input, or uint8 images resized per image
// into a thread's buffer.
typedef struct {
    const float *x;  // [n, c_in, h, w], or NULL
    const uint8_t *images;
    int ih, iw, ic;
    msf_resize_mode mode;
    float *bufs;  // one [c_in, h, w] buffer per workspace
} batch_src;

static msf_status run_batch(inception_model *m, const batch_src *src, int n, int h, int w, float *pool, float *spatial,
                            float *logits, float *y, size_t y_floats) {
    int threads = omp_get_max_threads() < m->threads ? omp_get_max_threads() : m->threads;
    int c_in = m->blocks[0].spec.c_in;
    size_t in_floats = (size_t)c_in * h * w;
    float *cols[threads];
    for (int t = 0; t < threads; t++) cols[t] = ws_part(m, t, 4);
    msf_status err = MSF_OK, conv_err = MSF_OK;
    char msg[512] = "";
    // One image per thread when there are enough, else each image's loops
    // shared; in bf16 always the former, each product in its image's thread,
    // so that an image's bits depend neither on the batch nor on the threads.
    int inner = m->precision == NN_BF16 ? 0 : n < threads;
#pragma omp parallel for if (!inner) num_threads(threads) schedule(dynamic, 1)
    for (int i = 0; i < n; i++) {
        int t = inner ? 0 : omp_get_thread_num();
        exec e = {.inner = inner,
                  .threads = threads,
                  .col = inner ? cols : &cols[t],
                  .col16 = m->col16
                               ? m->col16 + (size_t)t * (msf_align_up(m->col16_floats * sizeof(float)) / sizeof(float))
                               : NULL,
                  .ws16 = m->ws16 ? &m->ws16[t] : NULL,
                  .err = &conv_err};
        const float *xi = src->x ? src->x + (size_t)i * in_floats : NULL;
        if (!xi) {
            float *buf = src->bufs + (size_t)t * in_floats;
            size_t isz = (size_t)src->ih * src->iw * src->ic;
            if (msf_resize_images(src->images + (size_t)i * isz, 1, src->ih, src->iw, src->ic, src->mode, buf, c_in, h,
                                  w) != MSF_OK) {
#pragma omp critical(inception_error)
                if (err == MSF_OK) {
                    err = MSF_ERR_INVALID;
                    snprintf(msg, sizeof msg, "%s", msf_error_message());
                }
                continue;
            }
            xi = buf;
        }
        image_out o = {.pool = pool ? pool + (size_t)i * m->feat_dim : NULL,
                       .spatial = spatial ? spatial + (size_t)i * INCEPTION_SPATIAL_DIM : NULL,
                       .logits = logits ? logits + (size_t)i * m->num_classes : NULL,
                       .y = y ? y + (size_t)i * y_floats : NULL};
        if (conv_err == MSF_OK) image_forward(m, &e, t, xi, h, w, &o);
    }
    if (err != MSF_OK) return msf_fail(err, "inception: preprocessing an image: %s", msg);
    if (conv_err != MSF_OK) return msf_fail_context(conv_err, "inception: a bf16 convolution");
    return MSF_OK;
}

static msf_status check_size(const inception_model *m, int n, int h, int w) {
    if (n < 0) return msf_fail(MSF_ERR_INVALID, "inception: %d images", n);
    if (h < INCEPTION_MIN_SIZE || w < INCEPTION_MIN_SIZE || h > m->max_h || w > m->max_w)
        return msf_fail(MSF_ERR_SHAPE,
                        "inception: input %dx%d (expected %dx%d up to the %dx%d the model was loaded for)", h, w,
                        INCEPTION_MIN_SIZE, INCEPTION_MIN_SIZE, m->max_h, m->max_w);
    return MSF_OK;
}

static msf_status check_features(const inception_model *m, int h, int w, const float *spatial) {
    if (!m->whole) return msf_fail(MSF_ERR_INVALID, "inception: a single block has no features (use inception_load)");
    if (spatial && (h != INCEPTION_SIZE || w != INCEPTION_SIZE))
        return msf_fail(MSF_ERR_SHAPE,
                        "inception: spatial features need %dx%d input (the 17x17 grid of Mixed_6d), "
                        "got %dx%d",
                        INCEPTION_SIZE, INCEPTION_SIZE, h, w);
    return MSF_OK;
}

msf_status inception_forward(inception_model *m, float *pool, float *spatial, float *logits, const float *x, int n,
                             int h, int w) {
    msf_status st = check_features(m, h, w, spatial);
    if (st == MSF_OK) st = check_size(m, n, h, w);
    if (st != MSF_OK) return st;
    size_t per = (size_t)m->blocks[0].spec.c_in * h * w;
    for (int i = 0; i < n; i++)
        for (size_t j = 0; j < per; j++)
            if (!isfinite(x[(size_t)i * per + j]))
                return msf_fail(MSF_ERR_NUMERIC, "inception: input image %d holds a NaN or Inf (element %zu)", i, j);
    batch_src src = {.x = x};
    return run_batch(m, &src, n, h, w, pool, spatial, logits, NULL, 0);
}

msf_status inception_forward_blocks(inception_model *m, float *y, int *c, int *oh, int *ow, const float *x, int n,
                                    int h, int w) {
    ws_need nd = {0};
    if (n < 0 || h < 1 || w < 1 || h > m->max_h || w > m->max_w || !model_shape(m, h, w, oh, ow, &nd))
        return msf_fail(MSF_ERR_SHAPE, "inception: input %dx%d is too small or larger than the %dx%d loaded for", h, w,
                        m->max_h, m->max_w);
    *c = inception_block_out_channels(&m->blocks[m->num_blocks - 1].spec);
    if (!y) return MSF_OK;
    batch_src src = {.x = x};
    return run_batch(m, &src, n, h, w, NULL, NULL, NULL, y, (size_t)*c * *oh * *ow);
}

// -----------------------------------------------------------------------------
// Feature-network backend

typedef struct {
    inception_model *m;
    float *bufs;  // resized images, one [3, 299, 299] per workspace
} inception_featnet;

static msf_status featnet_run(void *impl, const uint8_t *images, int n, int h, int w, int c, msf_resize_mode mode,
                              float *pool, float *spatial, float *logits) {
    inception_featnet *f = impl;
    batch_src src = {.images = images, .ih = h, .iw = w, .ic = c, .mode = mode, .bufs = f->bufs};
    return run_batch(f->m, &src, n, INCEPTION_SIZE, INCEPTION_SIZE, pool, spatial, logits, NULL, 0);
}

static msf_status featnet_set_precision(void *impl, nn_precision p) {
    return inception_set_precision(((inception_featnet *)impl)->m, p);
}

static void featnet_free(void *impl) {
    inception_featnet *f = impl;
    if (!f) return;
    inception_free(f->m);
    msf_aligned_free(f->bufs);
    free(f);
}

msf_status msf_inception_featnet_load(const char *path, msf_featnet **out) {
    *out = NULL;
    msf_h5_reader *w = NULL;
    msf_status st = msf_h5_open(&w, path);
    if (st != MSF_OK) return st;
    int64_t version = 0;
    st = msf_h5_get_attr_int(w, NULL, "format_version", &version);
    if (st == MSF_OK && version != 1)
        st = msf_fail(MSF_ERR_FORMAT, "%s: format_version %lld, expected 1", path, (long long)version);
    inception_config cfg;
    if (st == MSF_OK) st = inception_config_scaled(&cfg, 1, INCEPTION_NUM_CLASSES);
    inception_featnet *f = calloc(1, sizeof *f);
    msf_featnet *net = calloc(1, sizeof *net);
    if (st == MSF_OK && (!f || !net)) st = msf_fail(MSF_ERR_NOMEM, "inception: out of memory");
    if (st == MSF_OK) st = inception_load(&f->m, w, NULL, &cfg, INCEPTION_SIZE, INCEPTION_SIZE);
    msf_h5_close(w);
    if (st == MSF_OK) {
        f->bufs = msf_aligned_alloc((size_t)f->m->threads * 3 * INCEPTION_SIZE * INCEPTION_SIZE * sizeof(float));
        if (!f->bufs) st = msf_fail(MSF_ERR_NOMEM, "inception: out of memory for image buffers");
    }
    if (st != MSF_OK) {
        featnet_free(f);
        free(net);
        return msf_fail_context(st, "loading InceptionV3 from %s", path);
    }
    net->info = (msf_featnet_info){.kind = "inception",
                                   .in_c = 3,
                                   .in_h = INCEPTION_SIZE,
                                   .in_w = INCEPTION_SIZE,
                                   .pool_dim = INCEPTION_POOL_DIM,
                                   .spatial_dim = INCEPTION_SPATIAL_DIM,
                                   .logits_dim = INCEPTION_NUM_CLASSES,
                                   .num_classes = 1000};
    net->impl = f;
    net->run = featnet_run;
    net->free_impl = featnet_free;
    net->set_precision = featnet_set_precision;
    *out = net;
    return MSF_OK;
}
