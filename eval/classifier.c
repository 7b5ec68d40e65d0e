// classifier.c: the Fashion-MNIST feature network in C (see classifier.h),
// and its featnet backend.
#include "eval/classifier.h"

#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "core/arena.h"
#include "eval/featnet_impl.h"
#include "io/params.h"
#include "io/h5read.h"
#include "nn/nn.h"

const char *const msf_fmnist_class_names[MSF_FMNIST_CLASSES] = {
    "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"};

// Images per pass through the layers: bounds the activations (about 40 KB
// per image for the trained widths) while giving the convolutions enough
// blocks to share among threads. No result depends on it.
#define CHUNK 32
#define MAX_WIDTH 4096
#define HW0 MSF_CLASSIFIER_INPUT  // 28
#define HW1 (HW0 / 2)             // 14
#define HW2 (HW1 / 2)             // 7
#define HW3 (HW2 / 2)             // 3 (floor, as PyTorch's max_pool2d)

struct msf_classifier {
    msf_classifier_config config;
    float *conv1_w, *conv1_b;            // (c1, 1, 3, 3), (c1)
    float *conv2_w, *conv2_b;            // (c2, c1, 3, 3), (c2)
    float *conv3_w, *conv3_b;            // (c3, c2, 3, 3), (c3)
    float *fc1_w, *fc1_b;                // (F, 9 c3), (F)
    float *fc2_w, *fc2_b;                // (classes, F), (classes)
    float *params;                       // one allocation holding all of the above
    float *input;                        // (CHUNK, 1, 28, 28) for the featnet path
    msf_arena ws;                        // activations of one chunk + conv scratch
    nn_bf16_linear *conv16[3], *fc1_16;  // bf16 (msf_classifier_set_precision), else NULL
    float *col16;                        // bf16: one image's im2col, (9 c_in, 28 * 28) at most
    float *y16;                          // bf16: one image's conv output as (pixels, c_out)
};

// -----------------------------------------------------------------------------
// Loading

// Every tensor must be finite. Sub-groups (check/: the exporter's reference
// outputs, read by the tests) are not part of the model.
static void cls_tensor_table(msf_classifier *m, msf_params *t) {
    const msf_classifier_config *c = &m->config;
    msf_params_init(t, "the classifier");
    msf_params_add(t, &m->conv1_w, 0, MSF_SHAPE(c->conv1_channels, 1, 3, 3), "conv1.weight");
    msf_params_add(t, &m->conv1_b, 0, MSF_SHAPE(c->conv1_channels), "conv1.bias");
    msf_params_add(t, &m->conv2_w, 0, MSF_SHAPE(c->conv2_channels, c->conv1_channels, 3, 3), "conv2.weight");
    msf_params_add(t, &m->conv2_b, 0, MSF_SHAPE(c->conv2_channels), "conv2.bias");
    msf_params_add(t, &m->conv3_w, 0, MSF_SHAPE(c->conv3_channels, c->conv2_channels, 3, 3), "conv3.weight");
    msf_params_add(t, &m->conv3_b, 0, MSF_SHAPE(c->conv3_channels), "conv3.bias");
    msf_params_add(t, &m->fc1_w, 0, MSF_SHAPE(c->features, (int64_t)c->conv3_channels * HW3 * HW3), "fc1.weight");
    msf_params_add(t, &m->fc1_b, 0, MSF_SHAPE(c->features), "fc1.bias");
    msf_params_add(t, &m->fc2_w, 0, MSF_SHAPE(c->num_classes, c->features), "fc2.weight");
    msf_params_add(t, &m->fc2_b, 0, MSF_SHAPE(c->num_classes), "fc2.bias");
}

static msf_status read_config(msf_classifier_config *c, const msf_h5_reader *w) {
    const char *path = msf_h5_path(w);
    char model[64] = "";
    msf_status s = msf_h5_get_attr_string(w, NULL, "model", model, sizeof model);
    if (s)
        return msf_fail_context(MSF_ERR_FORMAT,
                                "%s is not a classifier weight file (made by "
                                "tools/train_classifier.py)",
                                path);
    if (strcmp(model, "fmnist_classifier") != 0)
        return msf_fail(MSF_ERR_FORMAT, "%s holds a '%s' model, expected 'fmnist_classifier'", path, model);
    int64_t input_size = 0;
    if ((s = msf_h5_get_attr_int(w, NULL, "input_size", &input_size))) return s;
    if (input_size != HW0)
        return msf_fail(MSF_ERR_FORMAT, "%s: input_size %lld, expected %d", path, (long long)input_size, HW0);
    static const char *names[] = {"conv1_channels", "conv2_channels", "conv3_channels", "features", "num_classes"};
    int *dst[] = {&c->conv1_channels, &c->conv2_channels, &c->conv3_channels, &c->features, &c->num_classes};
    for (int i = 0; i < 5; i++) {
        int64_t v = 0;
        if ((s = msf_h5_get_attr_int(w, NULL, names[i], &v))) return s;
        if (v < 1 || v > MAX_WIDTH)
            return msf_fail(MSF_ERR_FORMAT, "%s: attribute %s = %lld, expected 1 to %d", path, names[i], (long long)v,
                            MAX_WIDTH);
        *dst[i] = (int)v;
    }
    return MSF_OK;
}

static msf_status load_tensors(msf_classifier *m, msf_h5_reader *w) {
    msf_params table;
    cls_tensor_table(m, &table);
    msf_status s = msf_params_alloc(&table, &m->params, NULL);
    if (!s) s = msf_params_load(&table, w, NULL);
    msf_params_free(&table);
    return s;
}

// -----------------------------------------------------------------------------
// Workspace: one chunk's activations, then the convolutions' scratch.

typedef struct {
    float *a1, *p1, *a2, *p2, *a3, *p3, *feat;
} cls_acts;

static nn_conv2d_shape conv_shape(int c_in, int c_out, int hw) {
    return (nn_conv2d_shape){.n = CHUNK,
                             .c_in = c_in,
                             .h = hw,
                             .w = hw,
                             .c_out = c_out,
                             .kh = 3,
                             .kw = 3,
                             .stride_h = 1,
                             .stride_w = 1,
                             .pad_top = 1,
                             .pad_bottom = 1,
                             .pad_left = 1,
                             .pad_right = 1};
}

// Float counts of the activation buffers, in cls_acts order.
static void act_sizes(const msf_classifier_config *c, size_t sizes[7]) {
    sizes[0] = (size_t)c->conv1_channels * HW0 * HW0;
    sizes[1] = (size_t)c->conv1_channels * HW1 * HW1;
    sizes[2] = (size_t)c->conv2_channels * HW1 * HW1;
    sizes[3] = (size_t)c->conv2_channels * HW2 * HW2;
    sizes[4] = (size_t)c->conv3_channels * HW2 * HW2;
    sizes[5] = (size_t)c->conv3_channels * HW3 * HW3;
    sizes[6] = (size_t)c->features;
}

static size_t workspace_bytes(const msf_classifier_config *c) {
    size_t sizes[7], total = 0;
    act_sizes(c, sizes);
    for (int i = 0; i < 7; i++) total += msf_align_up(sizes[i] * CHUNK * sizeof(float));
    nn_conv2d_shape s[3] = {conv_shape(1, c->conv1_channels, HW0),
                            conv_shape(c->conv1_channels, c->conv2_channels, HW1),
                            conv_shape(c->conv2_channels, c->conv3_channels, HW2)};
    size_t conv = 0;
    for (int i = 0; i < 3; i++) {
        size_t b = nn_conv2d_workspace_bytes(&s[i]);
        conv = b > conv ? b : conv;
    }
    return total + conv;
}

// The conv scratch grows with omp_get_max_threads(), which may have risen since load.
static msf_status ensure_workspace(msf_classifier *m) {
    size_t need = workspace_bytes(&m->config);
    if (m->ws.base && m->ws.capacity >= need) return MSF_OK;
    msf_arena_free(&m->ws);
    msf_status s = msf_arena_init(&m->ws, need);
    if (s) return msf_fail_context(s, "classifier workspace");
    return MSF_OK;
}

static cls_acts take_acts(msf_classifier *m) {
    size_t sizes[7];
    act_sizes(&m->config, sizes);
    float *p[7];
    for (int i = 0; i < 7; i++) p[i] = msf_arena_alloc(&m->ws, sizes[i] * CHUNK * sizeof(float));
    return (cls_acts){p[0], p[1], p[2], p[3], p[4], p[5], p[6]};
}

// -----------------------------------------------------------------------------
// Forward

// y (n, c, hw/2, hw/2) = max_pool2d(relu(x), 2) with x (n, c, hw, hw); x is overwritten.
static void relu_pool(float *y, float *x, int n, int c, int hw) {
    nn_relu(x, x, (size_t)n * c * hw * hw);
    nn_pool2d_shape p = {.n = n, .c = c, .h = hw, .w = hw, .kh = 2, .kw = 2, .stride_h = 2, .stride_w = 2};
    nn_max_pool2d(y, x, &p);
}

// y (n, N) = x (n, K) w^T + b, row by row (the same bits for any n).
static void linear_rows(float *y, const float *x, const float *w, const float *b, int n, int K, int N) {
#pragma omp parallel for schedule(static)
    for (int i = 0; i < n; i++) nn_linear_ref(y + (size_t)i * N, x + (size_t)i * K, w, b, 1, K, N);
}

// bf16: y (n, c_out, hw, hw) = conv3x3(x (n, c_in, hw, hw)) + b, padding 1,
// one product per image: y_i^T (hw*hw, c_out) = col_i^T (hw*hw, 9 c_in) W^T,
// with col_i (9 c_in, hw*hw) the image's im2col (rows in W's (c_in, 3, 3)
// order), read transposed while rounding to bf16; y_i^T is written densely
// and transposed (oneDNN's fast kernels want a dense (pixels, c_out) output).
static msf_status conv_bf16(msf_classifier *m, nn_bf16_linear *l, float *y, const float *x, int n, int c_in, int c_out,
                            int hw) {
    const int P = hw * hw;
    for (int i = 0; i < n; i++) {
        const float *xi = x + (size_t)i * c_in * P;
        nn_conv2d_shape one = conv_shape(1, c_out, hw);  // one input channel's 9 rows of col
#pragma omp parallel for schedule(static)
        for (int ci = 0; ci < c_in; ci++)
            nn_im2col_rows(m->col16 + (size_t)ci * 9 * P, xi + (size_t)ci * P, &one, 0, hw);
        msf_status s = nn_bf16_linear_run_strided(l, m->y16, c_out, 1, m->col16, 1, P, P, NULL);
        if (s) return s;
        float *yi = y + (size_t)i * c_out * P;
#pragma omp parallel for schedule(static)
        for (int co = 0; co < c_out; co++)
            for (int p = 0; p < P; p++) yi[(size_t)co * P + p] = m->y16[(size_t)p * c_out + co];
    }
    return MSF_OK;
}

// One chunk of n <= CHUNK images; acts from the arena, conv scratch after them.
static msf_status forward_chunk(msf_classifier *m, const cls_acts *a, float *features, float *logits, const float *x,
                                int n) {
    const msf_classifier_config *c = &m->config;
    nn_conv2d_shape s1 = conv_shape(1, c->conv1_channels, HW0),
                    s2 = conv_shape(c->conv1_channels, c->conv2_channels, HW1),
                    s3 = conv_shape(c->conv2_channels, c->conv3_channels, HW2);
    s1.n = s2.n = s3.n = n;
    msf_status s;
    if (m->conv16[0]) {
        const int F = c->features, flat = c->conv3_channels * HW3 * HW3;
        if ((s = conv_bf16(m, m->conv16[0], a->a1, x, n, 1, c->conv1_channels, HW0))) return s;
        relu_pool(a->p1, a->a1, n, c->conv1_channels, HW0);
        if ((s = conv_bf16(m, m->conv16[1], a->a2, a->p1, n, c->conv1_channels, c->conv2_channels, HW1))) return s;
        relu_pool(a->p2, a->a2, n, c->conv2_channels, HW1);
        if ((s = conv_bf16(m, m->conv16[2], a->a3, a->p2, n, c->conv2_channels, c->conv3_channels, HW2))) return s;
        relu_pool(a->p3, a->a3, n, c->conv3_channels, HW2);
        for (int i = 0; i < n && !s; i++)  // row by row: an image's features do not depend on n
            s = nn_bf16_linear_run(m->fc1_16, a->feat + (size_t)i * F, a->p3 + (size_t)i * flat, 1, NULL);
        if (s) return s;
        nn_relu(a->feat, a->feat, (size_t)n * F);
        if (features) memcpy(features, a->feat, (size_t)n * F * sizeof(float));
        if (logits) linear_rows(logits, a->feat, m->fc2_w, m->fc2_b, n, F, c->num_classes);
        return MSF_OK;
    }
    if ((s = nn_conv2d(a->a1, x, m->conv1_w, m->conv1_b, &s1, &m->ws))) return s;
    relu_pool(a->p1, a->a1, n, c->conv1_channels, HW0);
    if ((s = nn_conv2d(a->a2, a->p1, m->conv2_w, m->conv2_b, &s2, &m->ws))) return s;
    relu_pool(a->p2, a->a2, n, c->conv2_channels, HW1);
    if ((s = nn_conv2d(a->a3, a->p2, m->conv3_w, m->conv3_b, &s3, &m->ws))) return s;
    relu_pool(a->p3, a->a3, n, c->conv3_channels, HW2);
    int flat = c->conv3_channels * HW3 * HW3;
    linear_rows(a->feat, a->p3, m->fc1_w, m->fc1_b, n, flat, c->features);
    nn_relu(a->feat, a->feat, (size_t)n * c->features);
    if (features) memcpy(features, a->feat, (size_t)n * c->features * sizeof(float));
    if (logits) linear_rows(logits, a->feat, m->fc2_w, m->fc2_b, n, c->features, c->num_classes);
    return MSF_OK;
}

msf_status msf_classifier_forward(msf_classifier *m, float *features, float *logits, const float *x, int n) {
    if (n < 0) return msf_fail(MSF_ERR_INVALID, "classifier: negative batch %d", n);
    msf_status s = ensure_workspace(m);
    if (s) return s;
    size_t mark = msf_arena_mark(&m->ws);
    cls_acts a = take_acts(m);
    const msf_classifier_config *c = &m->config;
    for (int i = 0; i < n && !s; i += CHUNK) {
        int k = n - i < CHUNK ? n - i : CHUNK;
        s = forward_chunk(m, &a, features ? features + (size_t)i * c->features : NULL,
                          logits ? logits + (size_t)i * c->num_classes : NULL, x + (size_t)i * HW0 * HW0, k);
    }
    msf_arena_release(&m->ws, mark);
    return s ? msf_fail_context(s, "classifier forward") : MSF_OK;
}

// -----------------------------------------------------------------------------
// Input

msf_status msf_classifier_input(float *x, const uint8_t *images, int n, int h, int w, int c) {
    if (c != 1 && c != 3 && c != 4)
        return msf_fail(MSF_ERR_SHAPE, "classifier input: images have %d channels (expected 1, 3 or 4)", c);
    int off;
    if (h == 32 && w == 32) off = 2;
    else if (h == HW0 && w == HW0) off = 0;
    else
        return msf_fail(MSF_ERR_SHAPE,
                        "classifier input: images are %dx%d (expected 28x28 Fashion-MNIST, or 32x32 "
                        "padded by 2, centre-cropped)",
                        h, w);
    for (int i = 0; i < n; i++) {
        const uint8_t *img = images + (size_t)i * h * w * c;
        for (int y = 0; y < HW0; y++) {
            for (int xx = 0; xx < HW0; xx++) {
                const uint8_t *p = img + ((size_t)(y + off) * w + xx + off) * c;
                if (c > 1 && (p[1] != p[0] || p[2] != p[0]))
                    return msf_fail(MSF_ERR_INVALID,
                                    "classifier input: image %d is in colour (RGB %u,%u,%u at "
                                    "row %d, column %d); the Fashion-MNIST classifier takes grey "
                                    "images (R = G = B)",
                                    i, p[0], p[1], p[2], y + off, xx + off);
                x[((size_t)i * HW0 + y) * HW0 + xx] = (float)p[0] / 127.5f - 1.0f;
            }
        }
    }
    return MSF_OK;
}

// -----------------------------------------------------------------------------
// Lifetime

msf_status msf_classifier_load(const char *path, msf_classifier **out) {
    *out = NULL;
    msf_classifier *m = calloc(1, sizeof *m);
    if (!m) return msf_fail(MSF_ERR_NOMEM, "out of memory loading %s", path);
    msf_h5_reader *w = NULL;
    msf_status s = msf_h5_open(&w, path);
    if (!s) s = read_config(&m->config, w);
    if (!s) s = load_tensors(m, w);
    msf_h5_close(w);
    if (!s) {
        m->input = msf_aligned_alloc((size_t)CHUNK * HW0 * HW0 * sizeof(float));
        if (!m->input) s = msf_fail(MSF_ERR_NOMEM, "out of memory loading %s", path);
    }
    if (!s) s = ensure_workspace(m);
    if (s) {
        msf_classifier_free(m);
        return msf_fail_context(s, "loading classifier");
    }
    *out = m;
    return MSF_OK;
}

static void free_bf16(msf_classifier *m) {
    for (int i = 0; i < 3; i++) nn_bf16_linear_free(m->conv16[i]), m->conv16[i] = NULL;
    nn_bf16_linear_free(m->fc1_16), m->fc1_16 = NULL;
    free(m->col16), m->col16 = NULL;
    free(m->y16), m->y16 = NULL;
}

msf_status msf_classifier_set_precision(msf_classifier *m, nn_precision p) {
    free_bf16(m);
    if (p == NN_FP32) return MSF_OK;
    const msf_classifier_config *c = &m->config;
    const int cin[3] = {1, c->conv1_channels, c->conv2_channels},
              cout[3] = {c->conv1_channels, c->conv2_channels, c->conv3_channels}, hw[3] = {HW0, HW1, HW2};
    float *w[3] = {m->conv1_w, m->conv2_w, m->conv3_w}, *b[3] = {m->conv1_b, m->conv2_b, m->conv3_b};
    size_t col = 0, out = 0;
    msf_status s = MSF_OK;
    for (int i = 0; i < 3 && !s; i++) {
        s = nn_bf16_linear_create(&m->conv16[i], w[i], b[i], 9 * cin[i], cout[i]);
        size_t need = (size_t)9 * cin[i] * hw[i] * hw[i], y = (size_t)cout[i] * hw[i] * hw[i];
        col = need > col ? need : col;
        out = y > out ? y : out;
    }
    if (!s) s = nn_bf16_linear_create(&m->fc1_16, m->fc1_w, m->fc1_b, c->conv3_channels * HW3 * HW3, c->features);
    if (!s && (!(m->col16 = malloc(col * sizeof *m->col16)) || !(m->y16 = malloc(out * sizeof *m->y16))))
        s = msf_fail(MSF_ERR_NOMEM, "out of memory for the classifier's bf16 im2col");
    if (s) free_bf16(m);
    return s ? msf_fail_context(s, "classifier in bf16") : MSF_OK;
}

void msf_classifier_free(msf_classifier *m) {
    if (!m) return;
    free_bf16(m);
    msf_aligned_free(m->params);
    msf_aligned_free(m->input);
    msf_arena_free(&m->ws);
    free(m);
}

const msf_classifier_config *msf_classifier_get_config(const msf_classifier *m) { return &m->config; }

// -----------------------------------------------------------------------------
// Featnet backend: pool = features, logits = logits, no spatial features.

static msf_status featnet_run(void *impl, const uint8_t *images, int n, int h, int w, int c, msf_resize_mode mode,
                              float *pool, float *spatial, float *logits) {
    msf_classifier *m = impl;
    const msf_classifier_config *cfg = &m->config;
    size_t img_bytes = (size_t)h * w * c;
    for (int i = 0; i < n; i += CHUNK) {
        int k = n - i < CHUNK ? n - i : CHUNK;
        msf_status s = msf_classifier_input(m->input, images + (size_t)i * img_bytes, k, h, w, c);
        // The caller names the images of the call; a chunk of it is named only when there are several.
        if (s) return k < n ? msf_fail_context(s, "chunk %d..%d of the call", i, i + k - 1) : s;
        s = msf_classifier_forward(m, pool ? pool + (size_t)i * cfg->features : NULL,
                                   logits ? logits + (size_t)i * cfg->num_classes : NULL, m->input, k);
        if (s) return s;
    }
    return MSF_OK;
}

static void featnet_free_impl(void *impl) { msf_classifier_free(impl); }
static msf_status featnet_set_precision(void *impl, nn_precision p) { return msf_classifier_set_precision(impl, p); }

msf_status msf_classifier_featnet_load(const char *path, msf_featnet **out) {
    *out = NULL;
    msf_classifier *m = NULL;
    msf_status s = msf_classifier_load(path, &m);
    if (s) return s;
    msf_featnet *net = calloc(1, sizeof *net);
    if (!net) {
        msf_classifier_free(m);
        return msf_fail(MSF_ERR_NOMEM, "out of memory loading %s", path);
    }
    msf_featnet_info *info = &net->info;
    strcpy(info->kind, "fmnist_classifier");
    info->in_c = 1, info->in_h = HW0, info->in_w = HW0;
    info->pool_dim = m->config.features;
    info->spatial_dim = 0;
    info->logits_dim = m->config.num_classes;
    info->num_classes = m->config.num_classes;
    net->impl = m;
    net->run = featnet_run;
    net->free_impl = featnet_free_impl;
    net->set_precision = featnet_set_precision;
    *out = net;
    return MSF_OK;
}
