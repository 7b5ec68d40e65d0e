// bench_dit.c: DiT-XL/2 forward at 256px (32x32x4 latents, random weights)
// at batch 2 and 8: time, effective GFLOP/s (2 FLOPs per multiply-add of
// dit_gflops), the GFLOP/s of a raw OpenBLAS sgemm at the MLP's shape, and
// the same forward in PyTorch (tools/bench/dit_torch.py, Debian's torch, the
// same weights through an HDF5 file, the same thread count) in the same run;
// then the same in bf16: msf's bf16 linear layers (dit_set_precision, oneDNN)
// beside PyTorch under torch.autocast("cpu", bfloat16), with the ISA oneDNN
// dispatched to (without oneDNN: fp32 only).
#include <cblas.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "core/arena.h"
#include "core/rng.h"
#include "core/timer.h"
#include "models/dit.h"

#define REPS 3

static double median3(double *t) {
    double a = t[0], b = t[1], c = t[2];
    return a > b ? (b > c ? b : (a > c ? c : a)) : (a > c ? a : (b > c ? c : b));
}

// GFLOP/s of one raw sgemm M x K x N with OpenBLAS's own threads.
static double raw_sgemm_gflops(int M, int K, int N) {
    float *a = msf_aligned_alloc((size_t)M * K * 4), *b = msf_aligned_alloc((size_t)N * K * 4);
    float *c = msf_aligned_alloc((size_t)M * N * 4);
    msf_rng_key key = {.seed = 1};
    msf_rng_uniform(a, (size_t)M * K, key, 0);
    msf_rng_uniform(b, (size_t)N * K, key, (size_t)M * K);
    double t[REPS];
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, M, N, K, 1.0f, a, K, b, K, 0.0f, c, N);
    for (int r = 0; r < REPS; r++) {
        double t0 = msf_now();
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, M, N, K, 1.0f, a, K, b, K, 0.0f, c, N);
        t[r] = msf_now() - t0;
    }
    msf_aligned_free(a), msf_aligned_free(b), msf_aligned_free(c);
    return 2.0 * M * K * N / median3(t) * 1e-9;
}

// Median of REPS timed forwards of batch n, after one warm-up; 1 on error.
static int time_forward(dit_model *m, float *out, const float *x, const float *t, const int64_t *y, int n,
                        double *seconds) {
    double times[REPS];
    for (int r = -1; r < REPS; r++) {
        double t0 = msf_now();
        if (dit_forward(m, out, x, t, y, n)) {
            fprintf(stderr, "bench_dit: %s\n", msf_error_message());
            return 1;
        }
        if (r >= 0) times[r] = msf_now() - t0;
    }
    *seconds = median3(times);
    return 0;
}

int main(int argc, char **argv) {
    (void)argc;
    cli_select_blas_kernel(argv);
    int threads = omp_get_max_threads();
    const int batches[2] = {2, 8};
    dit_config cfg;
    dit_model m;
    if (dit_config_named(&cfg, "DiT-XL/2", 32) || dit_init_random(&m, &cfg, 0, 0.02f, 8)) {
        fprintf(stderr, "bench_dit: %s\n", msf_error_message());
        return 1;
    }
    double gflop = dit_gflops(&cfg) * 2;  // FLOPs, not multiply-adds
    printf(
        "bench_dit: DiT-XL/2, 32x32x4 latents, %.1f GFLOP (2 x %.2f GMAC) per sample, %d threads, OpenBLAS core %s\n",
        gflop, gflop / 2, threads, openblas_get_corename());

    double c_sec[2], raw[2], bf_sec[2] = {0, 0};
    size_t numel = 4 * 32 * 32;
    float *x = malloc(8 * numel * sizeof *x), *out = malloc(8 * 2 * numel * sizeof *out);
    float t[8];
    int64_t y[8];
    msf_rng_key key = {.seed = 3};
    msf_rng_normal(x, 8 * numel, key, 0);
    for (int i = 0; i < 8; i++) t[i] = (float)(i * 111), y[i] = i * 97;
    for (int b = 0; b < 2; b++) {
        if (time_forward(&m, out, x, t, y, batches[b], &c_sec[b])) return 1;
        raw[b] = raw_sgemm_gflops(batches[b] * 256, 1152, 4608);
    }
    if (nn_bf16_available()) {
        if (dit_set_precision(&m, NN_BF16)) {
            fprintf(stderr, "bench_dit: %s\n", msf_error_message());
            return 1;
        }
        for (int b = 0; b < 2; b++)
            if (time_forward(&m, out, x, t, y, batches[b], &bf_sec[b])) return 1;
        dit_set_precision(&m, NN_FP32);
    }
    free(x), free(out);

    // The same weights for PyTorch.
    char dir[] = "/tmp/msf_bench_XXXXXX", path[64], cmd[512];
    double torch_sec[2] = {0, 0}, torch_bf[2] = {0, 0};
    if (mkdtemp(dir)) {
        snprintf(path, sizeof path, "%s/dit_xl2.h5", dir);
        if (dit_save(&m, path, "bench_dit: random weights, seed 0, scale 0.02") == MSF_OK) {
            for (int bf = 0; bf < 1 + nn_bf16_available(); bf++) {
                snprintf(
                    cmd, sizeof cmd,
                    "/usr/bin/python3 tools/bench/dit_torch.py --weights %s --batches 2,8 --threads %d --reps %d%s",
                    path, threads, REPS, bf ? " --bf16" : "");
                FILE *p = popen(cmd, "r");
                char line[256];
                int batch;
                double sec;
                while (p && fgets(line, sizeof line, p))
                    if (sscanf(line, bf ? "batch %d bf16_seconds %lf" : "batch %d seconds %lf", &batch, &sec) == 2)
                        for (int b = 0; b < 2; b++)
                            if (batch == batches[b]) (bf ? torch_bf : torch_sec)[b] = sec;
                if (p) pclose(p);
            }
        } else {
            fprintf(stderr, "bench_dit: %s\n", msf_error_message());
        }
        unlink(path);
        rmdir(dir);
    }
    dit_free(&m);

    printf("%5s %10s %9s %14s %9s %10s %12s\n", "batch", "s/forward", "GFLOP/s", "sgemm GFLOP/s", "of sgemm", "torch s",
           "torch/ours");
    for (int b = 0; b < 2; b++) {
        double gfs = gflop * batches[b] / c_sec[b];
        printf("%5d %10.3f %9.1f %14.1f %8.0f%%", batches[b], c_sec[b], gfs, raw[b], 100 * gfs / raw[b]);
        if (torch_sec[b] > 0) printf(" %10.3f %11.2fx\n", torch_sec[b], torch_sec[b] / c_sec[b]);
        else printf(" %10s %12s\n", "n/a", "(no torch)");
    }
    if (!nn_bf16_available()) {
        printf("bf16: this build has no oneDNN (make deps && make)\n");
        return 0;
    }
    printf("bf16 (oneDNN ISA %s): linear layers and attention in bf16, as msf sample --precision bf16\n",
           nn_bf16_isa());
    printf("%5s %10s %10s %12s %14s %16s\n", "batch", "fp32 s", "bf16 s", "bf16/fp32", "torch bf16 s",
           "torch bf16/ours");
    for (int b = 0; b < 2; b++) {
        printf("%5d %10.3f %10.3f %11.2fx", batches[b], c_sec[b], bf_sec[b], c_sec[b] / bf_sec[b]);
        if (torch_bf[b] > 0) printf(" %14.3f %15.2fx\n", torch_bf[b], torch_bf[b] / bf_sec[b]);
        else printf(" %14s %16s\n", "n/a", "(no torch)");
    }
    return 0;
}
