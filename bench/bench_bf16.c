// bench_bf16.c: the bf16 linear layer (oneDNN matmul, src/nn/linear_bf16.c)
// against our float32 nn_linear at DiT-XL/2 shapes (batch 2 and 8: 512 and
// 2048 tokens of width 1152), run alternately so both see the same load on a
// shared machine; the median of each, GFLOP/s and the speed-up; and the ISA
// oneDNN dispatched to. Then the Fashion-MNIST demo DiT's shapes (width 128,
// 64 tokens, 500 rows of a guided batch of 250), where bf16 does not pay: K
// is too small for the bf16 kernels to beat OpenBLAS, and the input's
// conversion costs as much as a product. bench_dit times the whole bf16
// DiT-XL/2 forward.
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>

#include "cli/cli.h"
#include "core/arena.h"
#include "core/rng.h"
#include "core/timer.h"
#include "nn/linear_bf16.h"
#include "nn/nn.h"

#define REPS 9

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static float *random_buffer(size_t n, uint64_t seed) {
    float *x = msf_aligned_alloc(n * sizeof *x);
    msf_rng_key key = {.seed = seed};
    if (!x || msf_rng_normal(x, n, key, 0) != MSF_OK) {
        fprintf(stderr, "bench_bf16: out of memory\n");
        exit(1);
    }
    return x;
}

static void bench(const char *name, int M, int K, int N) {
    float *x = random_buffer((size_t)M * K, 1), *w = random_buffer((size_t)N * K, 2), *b = random_buffer(N, 3);
    float *y = random_buffer((size_t)M * N, 4);
    msf_arena ws;
    nn_bf16_linear *l;
    if (msf_arena_init(&ws, nn_linear_workspace_bytes(M, K, N)) || nn_bf16_linear_create(&l, w, b, K, N) ||
        nn_bf16_linear_run(l, y, x, M, NULL)) {
        fprintf(stderr, "bench_bf16: %s\n", msf_error_message());
        exit(1);
    }
    nn_linear(y, x, w, b, M, K, N, &ws);
    double t32[REPS], t16[REPS], ratio[REPS];
    for (int i = 0; i < REPS; i++) {
        double t0 = msf_now();
        nn_linear(y, x, w, b, M, K, N, &ws);
        double t1 = msf_now();
        if (nn_bf16_linear_run(l, y, x, M, NULL)) exit(1);
        double t2 = msf_now();
        t32[i] = t1 - t0, t16[i] = t2 - t1, ratio[i] = t32[i] / t16[i];
    }
    qsort(t32, REPS, sizeof t32[0], cmp_double);
    qsort(t16, REPS, sizeof t16[0], cmp_double);
    qsort(ratio, REPS, sizeof ratio[0], cmp_double);
    double flop = 2.0 * M * K * N;
    printf("%-9s %5d x %4d x %4d %9.2f %9.1f %9.2f %9.1f %8.2fx\n", name, M, K, N, t32[REPS / 2] * 1e3,
           flop / t32[REPS / 2] / 1e9, t16[REPS / 2] * 1e3, flop / t16[REPS / 2] / 1e9, ratio[REPS / 2]);
    nn_bf16_linear_free(l);
    msf_arena_free(&ws);
    msf_aligned_free(x), msf_aligned_free(w), msf_aligned_free(b), msf_aligned_free(y);
}

int main(int argc, char **argv) {
    (void)argc;
    cli_select_blas_kernel(argv);
    if (!nn_bf16_available()) {
        printf("bench_bf16: SKIP: this build has no oneDNN (libdnnl-dev)\n");
        return 0;
    }
    printf("bench_bf16: %d OpenMP threads; oneDNN ISA %s\n", omp_get_max_threads(), nn_bf16_isa());
    printf("%-9s %-19s %9s %9s %9s %9s %9s\n", "layer", "M x K x N", "fp32 ms", "GFLOP/s", "bf16 ms", "GFLOP/s",
           "speed-up");
    for (int batch = 2; batch <= 8; batch += 6) {
        int M = 256 * batch;
        bench("DiT qkv", M, 1152, 3456);
        bench("DiT proj", M, 1152, 1152);
        bench("DiT fc1", M, 1152, 4608);
        bench("DiT fc2", M, 4608, 1152);
    }
    bench("fmnist qkv", 500 * 64, 128, 384);
    bench("fmnist fc1", 500 * 64, 128, 512);
    bench("fmnist fc2", 500 * 64, 512, 128);
    return 0;
}
