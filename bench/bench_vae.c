// bench_vae.c: the SD VAE (kl-f8, random weights): decode of one 32x32 latent
// (a 256x256 image) and one 64x64 latent (512x512), encode of one 256x256
// image; time, effective GFLOP/s (2 FLOPs per multiply-add of the direct
// convolutions and the attention), the workspace peak at 512 (the arena's
// high-water mark + the decoder's weights), and the same passes in PyTorch
// (tools/bench/vae_torch.py: Debian's torch, the same weights and inputs
// through HDF5 files, the same thread count) in the same run, with the
// difference of the results (rel, and the share of uint8 pixels that differ).
// The 512 decode is timed once (tens of seconds on 2 cores); the others are
// the median of 3 runs after a warm-up. Then the decode at 256 in bf16:
// ours (vae_set_precision: the convolutions through oneDNN) beside PyTorch
// under torch.autocast("cpu", bfloat16), with its error against our fp32.
#include <cblas.h>
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "core/rng.h"
#include "core/timer.h"
#include "io/h5write.h"
#include "io/h5read.h"
#include "models/vae.h"

#define REPS 3

static double median3(double *t) {
    double a = t[0], b = t[1], c = t[2];
    return a > b ? (b > c ? b : (a > c ? c : a)) : (a > c ? a : (b > c ? c : b));
}

// Multiply-adds (billions) of the direct convolutions and attention of one pass.
static double conv_gmac(int cin, int cout, int k, double hw) { return (double)cin * cout * k * k * hw * 1e-9; }

static double resnet_gmac(int in, int out, double hw) {
    return conv_gmac(in, out, 3, hw) + conv_gmac(out, out, 3, hw) + (in != out ? conv_gmac(in, out, 1, hw) : 0);
}

static double mid_gmac(int c, double hw) {
    return 2 * resnet_gmac(c, c, hw) + (4.0 * c * c * hw + 2 * hw * hw * c) * 1e-9;
}

static double decoder_gmac(const vae_config *c, int h, int w) {
    int L = c->num_levels, top = c->block_out[L - 1], in = top;
    double hw = (double)h * w, g = conv_gmac(c->latent_channels, c->latent_channels, 1, hw);
    g += conv_gmac(c->latent_channels, top, 3, hw) + mid_gmac(top, hw);
    for (int i = 0; i < L; i++) {
        int out = c->block_out[L - 1 - i];
        for (int j = 0; j <= c->layers_per_block; j++) g += resnet_gmac(j ? out : in, out, hw);
        if (i < L - 1) hw *= 4, g += conv_gmac(out, out, 3, hw);
        in = out;
    }
    return g + conv_gmac(c->block_out[0], c->out_channels, 3, hw);
}

static double encoder_gmac(const vae_config *c, int H, int W) {
    int L = c->num_levels, top = c->block_out[L - 1], z = c->latent_channels;
    double hw = (double)H * W, g = conv_gmac(c->in_channels, c->block_out[0], 3, hw);
    for (int i = 0; i < L; i++) {
        for (int j = 0; j < c->layers_per_block; j++)
            g += resnet_gmac(j ? c->block_out[i] : c->block_out[i ? i - 1 : 0], c->block_out[i], hw);
        if (i < L - 1) hw /= 4, g += conv_gmac(c->block_out[i], c->block_out[i], 3, hw);
    }
    return g + mid_gmac(top, hw) + conv_gmac(top, 2 * z, 3, hw) + conv_gmac(2 * z, 2 * z, 1, hw);
}

static void die(const char *what) {
    fprintf(stderr, "bench_vae: %s: %s\n", what, msf_error_message());
    exit(1);
}

// rel = max |a - b| / max |b|; *pixels = share of uint8 pixels (DiT's
// conversion of images in [-1, 1]) that differ, *worst the largest difference.
static double compare(const float *a, const float *b, size_t n, int is_image, double *pixels, int *worst) {
    double err = 0, ref = 0;
    size_t differ = 0;
    *worst = 0;
    for (size_t i = 0; i < n; i++) {
        err = fmax(err, fabs((double)a[i] - b[i]));
        ref = fmax(ref, fabs((double)b[i]));
        if (is_image) {
            uint8_t pa, pb;
            vae_pixels_from_float(&pa, a + i, 1, 1, 1);
            vae_pixels_from_float(&pb, b + i, 1, 1, 1);
            differ += pa != pb;
            if (abs(pa - pb) > *worst) *worst = abs(pa - pb);
        }
    }
    *pixels = (double)differ / (double)n;
    return err / ref;
}

int main(int argc, char **argv) {
    (void)argc;
    cli_select_blas_kernel(argv);
    int threads = omp_get_max_threads();
    vae_config cfg = vae_config_sd();
    vae_model both, dec512;
    if (vae_init_random(&both, &cfg, 0, VAE_BOTH, 256, 256)) die("random VAE");
    printf("bench_vae: SD VAE (kl-f8, random weights), %d threads, OpenBLAS core %s\n", threads,
           openblas_get_corename());

    const char *names[3] = {"decode 256", "decode 512", "encode 256"};
    double gmac[3] = {decoder_gmac(&cfg, 32, 32), decoder_gmac(&cfg, 64, 64), encoder_gmac(&cfg, 256, 256)};
    double sec[3] = {0, 0, 0}, times[REPS], sec16 = 0, rel16 = 0;
    size_t n256 = (size_t)3 * 256 * 256, n512 = (size_t)3 * 512 * 512;
    float *z256 = malloc(4 * 32 * 32 * sizeof(float)), *z512 = malloc(4 * 64 * 64 * sizeof(float));
    float *x256 = malloc(n256 * sizeof(float)), *dec256 = malloc(n256 * sizeof(float));
    float *dec512_out = malloc(n512 * sizeof(float)), *mom = malloc(8 * 32 * 32 * sizeof(float));
    msf_rng_normal(z256, 4 * 32 * 32, (msf_rng_key){.seed = 1}, 0);
    msf_rng_normal(z512, 4 * 64 * 64, (msf_rng_key){.seed = 2}, 0);
    msf_rng_uniform(x256, n256, (msf_rng_key){.seed = 3}, 0);
    for (size_t i = 0; i < n256; i++) x256[i] = 2 * x256[i] - 1;

    if (vae_decoder_forward(&both, dec256, z256, 1, 32, 32)) die("decode 256");
    for (int r = 0; r < REPS; r++) {
        double t0 = msf_now();
        if (vae_decoder_forward(&both, dec256, z256, 1, 32, 32)) die("decode 256");
        times[r] = msf_now() - t0;
    }
    sec[0] = median3(times);
    if (vae_encoder_forward(&both, mom, x256, 1, 256, 256)) die("encode 256");
    for (int r = 0; r < REPS; r++) {
        double t0 = msf_now();
        if (vae_encoder_forward(&both, mom, x256, 1, 256, 256)) die("encode 256");
        times[r] = msf_now() - t0;
    }
    sec[2] = median3(times);
    if (nn_bf16_available()) {
        float *d16 = malloc(n256 * sizeof *d16);
        if (vae_set_precision(&both, NN_BF16) || vae_decoder_forward(&both, d16, z256, 1, 32, 32)) die("bf16 decode");
        for (int r = 0; r < REPS; r++) {
            double t0 = msf_now();
            if (vae_decoder_forward(&both, d16, z256, 1, 32, 32)) die("bf16 decode 256");
            times[r] = msf_now() - t0;
        }
        sec16 = median3(times);
        double share;
        int worst;
        rel16 = compare(d16, dec256, n256, 0, &share, &worst);
        if (vae_set_precision(&both, NN_FP32)) die("fp32 VAE");
        free(d16);
    }

    // 512: a decoder-only model sized for 512 x 512 with the same decoder
    // weights (each tensor is keyed by its index in the table of both halves).
    if (vae_init_random(&dec512, &cfg, 0, VAE_DECODER, 512, 512)) die("random VAE decoder");
    double t0 = msf_now();
    if (vae_decoder_forward(&dec512, dec512_out, z512, 1, 64, 64)) die("decode 512");
    sec[1] = msf_now() - t0;
    double peak = dec512.ws.peak / 1048576.0, weights = dec512.num_params * 4.0 / 1048576.0;
    printf("decode 512: workspace peak %.0f MB (arena %.0f MB) + decoder weights %.0f MB = %.0f MB\n", peak,
           dec512.ws.capacity / 1048576.0, weights, peak + weights);
    vae_free(&dec512);

    // The same weights and inputs for PyTorch.
    char dir[] = "/tmp/msf_bench_vae_XXXXXX", wpath[64], ipath[64], opath[64], cmd[512];
    double torch_sec[3] = {0, 0, 0}, torch16 = 0;
    char torch16_failed[160] = "";
    float *ref[3] = {NULL, NULL, NULL};
    if (mkdtemp(dir)) {
        snprintf(wpath, sizeof wpath, "%s/vae.h5", dir);
        snprintf(ipath, sizeof ipath, "%s/in.h5", dir);
        snprintf(opath, sizeof opath, "%s/out.h5", dir);
        msf_h5_writer *w = NULL;
        int64_t s256[4] = {1, 4, 32, 32}, s512[4] = {1, 4, 64, 64}, sx[4] = {1, 3, 256, 256};
        if (vae_save(&both, wpath, "bench_vae: random weights, seed 0") || msf_h5_create(&w, ipath) ||
            msf_h5_write_f32(w, "z256", 4, s256, z256) || msf_h5_write_f32(w, "z512", 4, s512, z512) ||
            msf_h5_write_f32(w, "x256", 4, sx, x256) || msf_h5_commit(w)) {
            fprintf(stderr, "bench_vae: %s\n", msf_error_message());
        } else {
            snprintf(cmd, sizeof cmd,
                     "/usr/bin/python3 tools/bench/vae_torch.py --weights %s --inputs %s --outputs %s --threads %d "
                     "--reps %d",
                     wpath, ipath, opath, threads, REPS);
            FILE *p = popen(cmd, "r");
            char line[256], kind[16];
            int size;
            double s;
            while (p && fgets(line, sizeof line, p))
                if (sscanf(line, "decode 256 bf16_seconds %lf", &s) == 1) torch16 = s;
                else if (!strncmp(line, "decode 256 bf16_failed ", 23))
                    snprintf(torch16_failed, sizeof torch16_failed, "%.150s", line + 23);
                else if (sscanf(line, "%15s %d seconds %lf", kind, &size, &s) == 3)
                    for (int i = 0; i < 3; i++) {
                        char name[32];
                        snprintf(name, sizeof name, "%s %d", kind, size);
                        if (!strcmp(name, names[i])) torch_sec[i] = s;
                    }
            msf_h5_reader *o = NULL;
            if (p && pclose(p) == 0 && msf_h5_open(&o, opath) == MSF_OK) {
                int64_t d2[4] = {1, 3, 256, 256}, d5[4] = {1, 3, 512, 512}, e2[4] = {1, 4, 32, 32};
                if (msf_h5_load(o, "dec256", 4, d2, &ref[0]) || msf_h5_load(o, "dec512", 4, d5, &ref[1]) ||
                    msf_h5_load(o, "enc256", 4, e2, &ref[2]))
                    fprintf(stderr, "bench_vae: %s\n", msf_error_message());
                msf_h5_close(o);
            }
        }
        unlink(wpath), unlink(ipath), unlink(opath);
        rmdir(dir);
    }
    vae_free(&both);

    printf("%-11s %7s %9s %9s %9s %11s %10s %14s\n", "case", "GMAC", "seconds", "GFLOP/s", "torch s", "torch/ours",
           "rel", "pixels differ");
    const float *ours[3] = {dec256, dec512_out, mom};
    size_t count[3] = {n256, n512, 4 * 32 * 32};
    for (int i = 0; i < 3; i++) {
        printf("%-11s %7.1f %9.3f %9.1f", names[i], gmac[i], sec[i], 2 * gmac[i] / sec[i]);
        if (torch_sec[i] > 0) printf(" %9.3f %10.2fx", torch_sec[i], torch_sec[i] / sec[i]);
        else printf(" %9s %11s", "n/a", "(no torch)");
        if (ref[i]) {
            double share;
            int worst;
            double rel = compare(ours[i], ref[i], count[i], i < 2, &share, &worst);
            printf(" %10.2e", rel);
            if (i < 2) printf("   %.4f%% (max %d)", 100 * share, worst);
        }
        printf("\n");
    }
    if (nn_bf16_available()) {
        printf("%-11s %7.1f %9.3f %9.1f", "decode bf16", gmac[0], sec16, 2 * gmac[0] / sec16);
        if (torch16 > 0) printf(" %9.3f %10.2fx", torch16, torch16 / sec16);
        else printf(" %9s %11s", "n/a", "(no torch)");
        printf(" %10.2e   (vs our fp32; %.2fx our fp32; oneDNN ISA %s)\n", rel16, sec[0] / sec16, nn_bf16_isa());
        if (*torch16_failed) printf("torch bf16 (autocast) failed: %s", torch16_failed);
    } else {
        printf("bf16: this build has no oneDNN (make deps && make)\n");
    }
    for (int i = 0; i < 3; i++) msf_aligned_free(ref[i]);
    free(z256), free(z512), free(x256), free(dec256), free(dec512_out), free(mom);
    return 0;
}
