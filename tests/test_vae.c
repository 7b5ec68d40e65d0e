// test_vae.c: the SD VAE against the PyTorch reference (tools/reference/vae.py,
// goldens by tools/golden/gen_vae.py): decoder floats and uint8 pixels,
// encoder moments and latents (posterior mean and keyed samples), the same
// bits for any thread count and batch split, the pixel conversions, the
// loader's errors and the numerical checks. Under make check-full the same
// suite runs on the full kl-f8 architecture.
#include <check.h>
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "core/rng.h"
#include "io/h5write.h"
#include "models/vae.h"
#include "testutil.h"

#define GOLDEN "vae_tiny.h5"
// The error tests name tensors of the tiny model: they always read the
// committed file, also under make check-full.
#define TINY "tests/golden/vae_tiny.h5"

typedef struct {
    float *data;
    size_t n;
    int64_t shape[8];
} golden;

static msf_h5_reader *tiny_open(void) {
    msf_h5_reader *g = NULL;
    if (msf_h5_open(&g, TINY) != MSF_OK) ck_abort_msg("cannot open %s: %s", TINY, msf_error_message());
    return g;
}

static golden load(msf_h5_reader *g, const char *name) {
    golden t;
    int nd;
    t.data = tu_golden_load(g, name, &t.n, &nd, t.shape);
    return t;
}

static void load_model(vae_model *m, msf_h5_reader *g, int parts, int H, int W) {
    ck_assert_msg(vae_load(m, g, "vae", parts, H, W) == MSF_OK, "%s", msf_error_message());
}

// Decoded pixels vs the reference's: at most one level apart, on at most
// `fraction` of them. Prints the measured share (for reports).
static int pixels_close(const char *what, const uint8_t *got, const float *want, size_t n, double fraction) {
    size_t differ = 0, worse = 0;
    for (size_t i = 0; i < n; i++) {
        int d = abs((int)got[i] - (int)want[i]);
        differ += d != 0;
        worse += d > 1;
    }
    printf("%s: %zu of %zu pixels differ (%.4f%%), %zu by more than 1 level\n", what, differ, n, 100.0 * differ / n,
           worse);
    int ok = worse == 0 && differ <= fraction * n;
    if (!ok) fprintf(stderr, "FAIL %s: pixel criterion (<= 1 level on <= %.3f%%) not met\n", what, 100 * fraction);
    return ok;
}

// -----------------------------------------------------------------------------

static void check_decoder(msf_h5_reader *g, const char *group, double tol, double fraction) {
    char name[64];
    snprintf(name, sizeof name, "%s/z", group);
    golden z = load(g, name);
    snprintf(name, sizeof name, "%s/x", group);
    golden x = load(g, name);
    snprintf(name, sizeof name, "%s/pixels", group);
    golden px = load(g, name);
    int n = (int)z.shape[0], h = (int)z.shape[2], w = (int)z.shape[3];
    vae_model m;
    load_model(&m, g, VAE_DECODER, (int)x.shape[2], (int)x.shape[3]);
    ck_assert_int_eq(m.config.latent_channels, (int)z.shape[1]);
    float *got = malloc(x.n * sizeof *got);
    uint8_t *pixels = malloc(px.n);
    ck_assert_msg(vae_decode(&m, pixels, got, z.data, n, h, w, 0) == MSF_OK, "%s", msf_error_message());
    tu_cmp c = tu_compare(got, x.data, x.n);
    printf("%s: decoder (%d levels, top %d channels, %dx%d latents): rel %.3e, NMSE %.3e\n", group, m.config.num_levels,
           m.config.block_out[m.config.num_levels - 1], h, w, c.rel, c.nmse);
    ck_assert(tu_expect_close(group, got, x.data, x.n, tol));
    ck_assert(pixels_close(group, pixels, px.data, px.n, fraction));

    // The raw decoder on z / scaling_factor gives the same floats, and pixels
    // without the float output too.
    float *scaled = malloc(z.n * sizeof *scaled), *raw = malloc(x.n * sizeof *raw);
    for (size_t i = 0; i < z.n; i++) scaled[i] = z.data[i] / (float)m.config.scaling_factor;
    ck_assert_int_eq(vae_decoder_forward(&m, raw, scaled, n, h, w), MSF_OK);
    ck_assert(memcmp(raw, got, x.n * sizeof *raw) == 0);
    uint8_t *pixels2 = malloc(px.n);
    ck_assert_int_eq(vae_decode(&m, pixels2, NULL, z.data, n, h, w, 0), MSF_OK);
    ck_assert(memcmp(pixels, pixels2, px.n) == 0);
    printf("%s: decoder workspace peak %.1f MB of %.1f MB, weights %.1f MB\n", group, m.ws.peak / 1048576.0,
           m.ws.capacity / 1048576.0, m.num_params * 4 / 1048576.0);
    ck_assert_uint_le(m.ws.peak, m.ws.capacity);
    free(scaled), free(raw), free(pixels2);
    free(got), free(pixels), free(z.data), free(x.data), free(px.data);
    vae_free(&m);
}

START_TEST(test_decoder) {
    msf_h5_reader *g = tu_golden_open(GOLDEN);
    double tol = tu_golden_double(g, NULL, "tolerance"), fraction = tu_golden_double(g, NULL, "pixel_fraction");
    check_decoder(g, "dec", tol, fraction);
    if (!tu_golden_full()) check_decoder(g, "dec_odd", tol, fraction);  // odd sizes: not in the full-size file
    msf_h5_close(g);
}
END_TEST

START_TEST(test_encoder) {
    msf_h5_reader *g = tu_golden_open(GOLDEN);
    double tol = tu_golden_double(g, NULL, "tolerance");
    golden px = load(g, "enc/pixels"), mom = load(g, "enc/moments"), lat = load(g, "enc/latents");
    int n = (int)px.shape[0], H = (int)px.shape[1], W = (int)px.shape[2];
    vae_model m;
    load_model(&m, g, VAE_ENCODER, H, W);
    uint8_t *pixels = malloc(px.n);
    for (size_t i = 0; i < px.n; i++) pixels[i] = (uint8_t)px.data[i];
    size_t xs = (size_t)3 * H * W;
    float *x = malloc(n * xs * sizeof *x), *got = malloc(mom.n * sizeof *got), *latents = malloc(lat.n * sizeof *x);
    for (int i = 0; i < n; i++) vae_float_from_pixels(x + i * xs, pixels + i * xs, 3, H, W);
    ck_assert_msg(vae_encoder_forward(&m, got, x, n, H, W) == MSF_OK, "%s", msf_error_message());
    tu_cmp c = tu_compare(got, mom.data, mom.n);
    printf("encoder (%dx%d images): moments rel %.3e, NMSE %.3e\n", H, W, c.rel, c.nmse);
    ck_assert(tu_expect_close("encoder moments", got, mom.data, mom.n, tol));
    ck_assert_msg(vae_encode(&m, latents, pixels, n, H, W, VAE_POSTERIOR_MEAN, 0, 0) == MSF_OK, "%s",
                  msf_error_message());
    ck_assert(tu_expect_close("encoded latents (posterior mean)", latents, lat.data, lat.n, tol));

    // Samples: (mean + exp(clamp(logvar)/2) eps) * scaling_factor with eps the
    // Philox stream of the image's global index; the same whatever the batch.
    float *sample = malloc(lat.n * sizeof *sample), *want = malloc(lat.n * sizeof *want);
    ck_assert_int_eq(vae_encode(&m, sample, pixels, n, H, W, VAE_POSTERIOR_SAMPLE, 42, 10), MSF_OK);
    size_t zs = lat.n / n;
    for (int i = 0; i < n; i++) {
        float *eps = want + i * zs;
        ck_assert_int_eq(msf_rng_normal(eps, zs, (msf_rng_key){.seed = 42, .stream = (uint64_t)(10 + i)}, 0), MSF_OK);
        for (size_t e = 0; e < zs; e++) {
            double logvar = mom.data[i * 2 * zs + zs + e];
            logvar = logvar < -30 ? -30 : (logvar > 20 ? 20 : logvar);
            eps[e] = (float)((mom.data[i * 2 * zs + e] + exp(0.5 * logvar) * eps[e]) * m.config.scaling_factor);
        }
    }
    ck_assert(tu_expect_close("encoded latents (posterior sample)", sample, want, lat.n, tol));
    if (n >= 2) {
        float *one = malloc(zs * sizeof *one);
        ck_assert_int_eq(vae_encode(&m, one, pixels + xs, 1, H, W, VAE_POSTERIOR_SAMPLE, 42, 11), MSF_OK);
        ck_assert_msg(memcmp(one, sample + zs, zs * sizeof *one) == 0, "sample of image 11 depends on the batch");
        ck_assert_int_eq(vae_encode(&m, one, pixels + xs, 1, H, W, VAE_POSTERIOR_SAMPLE, 43, 11), MSF_OK);
        ck_assert_msg(memcmp(one, sample + zs, zs * sizeof *one) != 0, "seed 43 gives seed 42's sample");
        free(one);
    }
    free(sample), free(want), free(x), free(got), free(latents), free(pixels);
    free(px.data), free(mom.data), free(lat.data);
    vae_free(&m);
    msf_h5_close(g);
}
END_TEST

// -----------------------------------------------------------------------------
// Same bits for 1, 2 and 3 threads (full-size models: a crop of the latents).

START_TEST(test_threads) {
    msf_h5_reader *g = tu_golden_open(GOLDEN);
    golden z = load(g, "dec/z"), px = load(g, "enc/pixels");
    int saved = omp_get_max_threads();
    omp_set_num_threads(3);  // the workspace is sized for the most threads used
    vae_config cfg;
    ck_assert_int_eq(vae_config_read(&cfg, g, "vae"), MSF_OK);
    int big = cfg.block_out[cfg.num_levels - 1] > 64, f = vae_factor(&cfg);
    int side = (int)(z.shape[2] * f > px.shape[1] ? z.shape[2] * f : px.shape[1]);
    side = side > z.shape[3] * f ? side : (int)z.shape[3] * f;
    side = side > px.shape[2] ? side : (int)px.shape[2];
    vae_model m;
    load_model(&m, g, VAE_BOTH, big ? 64 : side, big ? 64 : side);
    int h = big ? 8 : (int)z.shape[2], w = big ? 8 : (int)z.shape[3];
    int H = big ? 64 : (int)px.shape[1], W = big ? 64 : (int)px.shape[2];
    size_t zs = (size_t)4 * h * w, xs = (size_t)3 * h * f * w * f, ls = (size_t)4 * (H / f) * (W / f);
    float *zc = malloc(zs * sizeof *zc), *ref = malloc(xs * sizeof *ref), *x = malloc(xs * sizeof *x);
    for (int c = 0; c < 4; c++)
        for (int i = 0; i < h; i++)
            memcpy(zc + ((size_t)c * h + i) * w, z.data + ((size_t)c * z.shape[2] + i) * z.shape[3], w * sizeof *zc);
    uint8_t *img = malloc((size_t)3 * H * W), *pix = malloc(xs);
    for (int i = 0; i < H; i++)
        for (int j = 0; j < 3 * W; j++)
            img[((size_t)i * W) * 3 + j] = (uint8_t)px.data[((size_t)i * px.shape[2]) * 3 + j];
    float *lref = malloc(ls * sizeof *lref), *l = malloc(ls * sizeof *l);
    omp_set_num_threads(1);
    ck_assert_int_eq(vae_decode(&m, pix, ref, zc, 1, h, w, 0), MSF_OK);
    ck_assert_int_eq(vae_encode(&m, lref, img, 1, H, W, VAE_POSTERIOR_SAMPLE, 5, 0), MSF_OK);
    for (int threads = 2; threads <= 3; threads++) {
        omp_set_num_threads(threads);
        ck_assert_msg(vae_decode(&m, pix, x, zc, 1, h, w, 0) == MSF_OK, "%s", msf_error_message());
        ck_assert_msg(memcmp(x, ref, xs * sizeof *x) == 0, "decoder: %d threads give other bits (rel %.3g)", threads,
                      tu_compare(x, ref, xs).rel);
        ck_assert_int_eq(vae_encode(&m, l, img, 1, H, W, VAE_POSTERIOR_SAMPLE, 5, 0), MSF_OK);
        ck_assert_msg(memcmp(l, lref, ls * sizeof *l) == 0, "encoder: %d threads give other bits", threads);
    }
    omp_set_num_threads(saved);
    free(zc), free(ref), free(x), free(img), free(pix), free(lref), free(l), free(z.data), free(px.data);
    vae_free(&m);
    msf_h5_close(g);
}
END_TEST

// -----------------------------------------------------------------------------

START_TEST(test_pixel_conversions) {
    // 127.5 x + 128 in float32, clamped, truncated: -1 -> 0.5 -> 0; 1 -> 255.5 -> 255.
    float x[8] = {-1.0f, 1.0f, 0.0f, -0.004f, 0.996f, -1.5f, 3.0f, 0.5f};
    uint8_t want[8] = {0, 255, 128, 127, 254, 0, 255, 191}, got[8];
    // Planar (8 channels, 1 pixel) in, interleaved out.
    vae_pixels_from_float(got, x, 8, 1, 1);
    for (int i = 0; i < 8; i++) ck_assert_msg(got[i] == want[i], "x %g -> %d, want %d", x[i], got[i], want[i]);
    uint8_t p[6] = {0, 255, 128, 1, 254, 127};
    float f[6];
    vae_float_from_pixels(f, p, 3, 1, 2);  // 2 pixels of 3 channels -> planar
    ck_assert(f[0] == -1.0f && f[2] == 1.0f && f[4] == (128.0f / 255.0f - 0.5f) / 0.5f);
    ck_assert(f[1] == (1.0f / 255.0f - 0.5f) / 0.5f && f[3] == (254.0f / 255.0f - 0.5f) / 0.5f);

    // The SD config and the 2 GiB budget at 512x512.
    vae_config c = vae_config_sd();
    ck_assert_int_eq(vae_factor(&c), 8);
    size_t dec = vae_workspace_bytes(&c, VAE_DECODER, 512, 512), enc = vae_workspace_bytes(&c, VAE_ENCODER, 512, 512);
    printf("SD VAE workspace at 512x512 (%d threads): decoder %.0f MB, encoder %.0f MB\n", omp_get_max_threads(),
           dec / 1048576.0, enc / 1048576.0);
    ck_assert(dec > 0 && dec < ((size_t)2 << 30) && enc < ((size_t)2 << 30));
    ck_assert_uint_ge(vae_workspace_bytes(&c, VAE_DECODER, 512, 512), vae_workspace_bytes(&c, VAE_DECODER, 256, 256));
}
END_TEST

// -----------------------------------------------------------------------------
// Loader and runtime errors: copy the tiny model with one change.

typedef enum { COPY_AS_IS, DROP, RESHAPE, EXTRA, BAD_CHANNELS, BAD_GROUPS } copy_mode;

static void copy_model(const char *dst, copy_mode mode, const char *victim) {
    msf_h5_reader *g = tiny_open();
    msf_h5_writer *w;
    ck_assert_int_eq(msf_h5_create(&w, dst), MSF_OK);
    static const char *ints[] = {"in_channels", "out_channels", "latent_channels", "layers_per_block"};
    for (int i = 0; i < 4; i++)
        ck_assert_int_eq(msf_h5_attr_int(w, NULL, ints[i], tu_golden_int(g, "vae", ints[i])), 0);
    ck_assert_int_eq(msf_h5_attr_int(w, NULL, "norm_num_groups", mode == BAD_GROUPS ? 7 : 8), MSF_OK);
    char chans[64];
    ck_assert_int_eq(msf_h5_get_attr_string(g, "vae", "block_out_channels", chans, sizeof chans), MSF_OK);
    ck_assert_int_eq(msf_h5_attr_string(w, NULL, "block_out_channels", mode == BAD_CHANNELS ? "16,32,32" : chans), 0);
    ck_assert_int_eq(msf_h5_attr_double(w, NULL, "scaling_factor", 0.18215), MSF_OK);
    ck_assert_int_eq(msf_h5_attr_string(w, NULL, "model", "vae"), MSF_OK);
    for (int i = 0; i < msf_h5_count(g); i++) {
        const msf_h5_tensor *t = msf_h5_tensor_at(g, i);
        if (strncmp(t->name, "vae/", 4)) continue;
        const char *key = t->name + 4;
        if (mode == DROP && !strcmp(key, victim)) continue;
        size_t n;
        int nd;
        int64_t shape[8];
        float *data = tu_golden_load(g, t->name, &n, &nd, shape);
        if (mode == RESHAPE && !strcmp(key, victim)) shape[0] = 1, shape[1] = (int64_t)n, nd = 2;
        ck_assert_int_eq(msf_h5_write_f32(w, key, nd, shape, data), MSF_OK);
        if (mode == EXTRA && !strcmp(key, victim))
            ck_assert_int_eq(msf_h5_write_f32(w, "decoder.up_blocks.1.resnets.3.conv1.bias", nd, shape, data), 0);
        free(data);
    }
    ck_assert_int_eq(msf_h5_commit(w), MSF_OK);
    msf_h5_close(g);
}

static msf_status try_load(const char *path, int parts) {
    msf_h5_reader *w;
    ck_assert_int_eq(msf_h5_open(&w, path), MSF_OK);
    vae_model m;
    msf_status s = vae_load(&m, w, NULL, parts, 64, 64);
    if (!s) vae_free(&m);
    msf_h5_close(w);
    return s;
}

#define EXPECT_MSG(text) \
    ck_assert_msg(strstr(msf_error_message(), text), "message '%s' lacks '%s'", msf_error_message(), text)

START_TEST(test_loader_errors) {
    char path[] = "/tmp/msf_vae_XXXXXX";
    int fd = mkstemp(path);
    ck_assert_int_ge(fd, 0);
    close(fd);
    copy_model(path, COPY_AS_IS, NULL);
    ck_assert_msg(try_load(path, VAE_BOTH) == MSF_OK, "%s", msf_error_message());

    // A tensor of the half not loaded is still checked.
    copy_model(path, DROP, "encoder.mid_block.attentions.0.to_k.bias");
    ck_assert_int_eq(try_load(path, VAE_DECODER), MSF_ERR_NOT_FOUND);
    EXPECT_MSG("tensor 'encoder.mid_block.attentions.0.to_k.bias' not found");
    ck_assert_int_eq(try_load(path, VAE_ENCODER), MSF_ERR_NOT_FOUND);
    EXPECT_MSG("tensor 'encoder.mid_block.attentions.0.to_k.bias' not found");

    copy_model(path, RESHAPE, "decoder.up_blocks.1.resnets.0.conv_shortcut.weight");
    ck_assert_int_eq(try_load(path, VAE_DECODER), MSF_ERR_SHAPE);
    EXPECT_MSG("tensor 'decoder.up_blocks.1.resnets.0.conv_shortcut.weight'");
    EXPECT_MSG("expected [16, 32, 1, 1]");
    ck_assert_int_eq(try_load(path, VAE_ENCODER), MSF_ERR_SHAPE);
    EXPECT_MSG("has shape [1, 512], expected [16, 32, 1, 1]");

    copy_model(path, EXTRA, "decoder.up_blocks.1.resnets.2.conv1.bias");
    ck_assert_int_eq(try_load(path, VAE_BOTH), MSF_ERR_FORMAT);
    EXPECT_MSG("decoder.up_blocks.1.resnets.3.conv1.bias");

    copy_model(path, BAD_CHANNELS, NULL);
    ck_assert_int_eq(try_load(path, VAE_DECODER), MSF_ERR_NOT_FOUND);
    EXPECT_MSG("tensor 'encoder.down_blocks.1.downsamplers.0.conv.weight' not found");

    copy_model(path, BAD_GROUPS, NULL);
    ck_assert_int_eq(try_load(path, VAE_DECODER), MSF_ERR_FORMAT);
    EXPECT_MSG("norm_num_groups 7");

    msf_h5_reader *w;
    ck_assert_int_eq(msf_h5_open(&w, "tests/golden/dit_tiny.h5"), MSF_OK);
    vae_model m;
    ck_assert_int_eq(vae_load(&m, w, "sigma", VAE_DECODER, 64, 64), MSF_ERR_FORMAT);
    EXPECT_MSG("holds a 'dit' model, expected 'vae'");
    msf_h5_close(w);
    unlink(path);
}
END_TEST

START_TEST(test_runtime_errors) {
    msf_h5_reader *g = tiny_open();
    vae_model m;
    load_model(&m, g, VAE_DECODER, 32, 32);
    int f = vae_factor(&m.config);
    size_t zs = (size_t)4 * (32 / f) * (32 / f);
    float *z = calloc(2 * zs, sizeof *z), *x = malloc((size_t)2 * 3 * 64 * 64 * sizeof *x);
    uint8_t *pix = malloc((size_t)2 * 3 * 64 * 64);
    ck_assert_int_eq(vae_decode(&m, pix, x, z, 2, 32 / f, 32 / f, 0), MSF_OK);
    ck_assert_int_eq(vae_decode(&m, pix, x, z, 1, 64 / f, 32 / f, 0), MSF_ERR_INVALID);
    EXPECT_MSG("image size 64x32 exceeds the 32x32");
    ck_assert_int_eq(vae_encode(&m, z, pix, 1, 32, 32, VAE_POSTERIOR_MEAN, 0, 0), MSF_ERR_INVALID);
    EXPECT_MSG("VAE encoder: not loaded");

    z[zs + 5] = NAN;  // latent 1 of a batch starting at global index 7
    ck_assert_int_eq(vae_decode(&m, pix, x, z, 2, 32 / f, 32 / f, 7), MSF_ERR_NUMERIC);
    EXPECT_MSG("latent 8 holds a non-finite value");
    z[zs + 5] = 0;
    m.dec.conv_out_b[1] = INFINITY;  // a broken weight: the output is checked too
    ck_assert_int_eq(vae_decode(&m, pix, NULL, z, 2, 32 / f, 32 / f, 7), MSF_ERR_NUMERIC);
    EXPECT_MSG("decoded image 7 holds a non-finite value");
    EXPECT_MSG("at channel 1");
    vae_free(&m);

    ck_assert_int_eq(vae_load(&m, g, "vae", VAE_DECODER, 31, 32), MSF_ERR_INVALID);
    EXPECT_MSG("image size 31x32 must be a positive multiple of 2");
    free(z), free(x), free(pix);
    msf_h5_close(g);
}
END_TEST

START_TEST(test_save_and_random) {
    msf_h5_reader *g = tiny_open();
    vae_model m, back;
    load_model(&m, g, VAE_BOTH, 16, 16);
    char path[] = "/tmp/msf_vae_save_XXXXXX";
    int fd = mkstemp(path);
    ck_assert_int_ge(fd, 0);
    close(fd);
    ck_assert_int_eq(vae_save(&m, path, "test"), MSF_OK);
    msf_h5_reader *w;
    ck_assert_int_eq(msf_h5_open(&w, path), MSF_OK);
    ck_assert_msg(vae_load(&back, w, NULL, VAE_BOTH, 16, 16) == MSF_OK, "%s", msf_error_message());
    ck_assert_uint_eq(back.num_params, m.num_params);
    ck_assert(memcmp(back.params, m.params, m.num_params * sizeof(float)) == 0);
    vae_free(&back);
    msf_h5_close(w);
    unlink(path);

    vae_model r1, r2;
    ck_assert_int_eq(vae_init_random(&r1, &m.config, 3, VAE_BOTH, 16, 16), MSF_OK);
    ck_assert_int_eq(vae_init_random(&r2, &m.config, 3, VAE_BOTH, 16, 16), MSF_OK);
    ck_assert(memcmp(r1.params, r2.params, r1.num_params * sizeof(float)) == 0);
    ck_assert_int_eq(vae_save(&r1, path, "random"), MSF_OK);
    unlink(path);
    vae_free(&r2);
    ck_assert_int_eq(vae_init_random(&r2, &m.config, 3, VAE_DECODER, 16, 16), MSF_OK);
    ck_assert_int_eq(vae_save(&r2, path, "half"), MSF_ERR_INVALID);
    vae_free(&r1), vae_free(&r2), vae_free(&m);
    msf_h5_close(g);
}
END_TEST

int main(int argc, char **argv) {
    (void)argc;
    // The full-size check (make check-full) runs ~4x faster on the right kernel.
    cli_select_blas_kernel(argv);
    Suite *s = suite_create("vae");
    TCase *tc = tcase_create("vae");
    tcase_set_timeout(tc, 600);
    tcase_add_test(tc, test_decoder);
    tcase_add_test(tc, test_encoder);
    tcase_add_test(tc, test_threads);
    tcase_add_test(tc, test_pixel_conversions);
    tcase_add_test(tc, test_loader_errors);
    tcase_add_test(tc, test_runtime_errors);
    tcase_add_test(tc, test_save_and_random);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
