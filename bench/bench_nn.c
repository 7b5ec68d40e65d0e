// bench_nn.c: nn_linear and nn_conv2d at DiT-XL/2 and InceptionV3 shapes
// against one raw OpenBLAS sgemm of the equivalent GEMM.
//
// For each shape: the median time of our operator, its GFLOP/s, the GFLOP/s
// of one cblas_sgemm of the same M x K x N (linear: M tokens, K in, N out;
// conv: M = c_out, K = c_in*kh*kw, N = n*out_h*out_w) called outside any
// OpenMP region so that OpenBLAS uses its own threading, and the ratio. The
// raw GEMM is an upper bound: it does no im2col and shares packed panels
// between threads, which our fixed, thread-count-independent split cannot.
#include <cblas.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "core/arena.h"
#include "core/rng.h"
#include "core/timer.h"
#include "nn/nn.h"

// The operator and its raw GEMM run alternately, so that both see the same
// load on a shared machine: after one warm-up each, enough pairs to fill about
// TARGET_SECONDS (between MIN_REPS and MAX_REPS). Reported: the median time of
// each, and the median over pairs of raw time / our time.
#define TARGET_SECONDS 1.5
#define MIN_REPS 3
#define MAX_REPS 21

typedef void (*bench_fn)(void *ctx);

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *v, int count) {
    qsort(v, (size_t)count, sizeof v[0], cmp_double);
    return v[count / 2];
}

static double seconds(bench_fn fn, void *ctx) {
    double t0 = msf_now();
    fn(ctx);
    return msf_now() - t0;
}

typedef struct {
    double ours, raw, ratio;  // median seconds, median seconds, median raw/ours
} timing;

static timing time_pair(bench_fn ours, void *ours_ctx, bench_fn raw, void *raw_ctx) {
    double once = seconds(ours, ours_ctx) + seconds(raw, raw_ctx);
    int reps = once > 0 ? (int)(TARGET_SECONDS / once) : MAX_REPS;
    reps = reps < MIN_REPS ? MIN_REPS : reps > MAX_REPS ? MAX_REPS : reps;
    double t_ours[MAX_REPS], t_raw[MAX_REPS], ratio[MAX_REPS];
    for (int i = 0; i < reps; i++) {
        t_ours[i] = seconds(ours, ours_ctx);
        t_raw[i] = seconds(raw, raw_ctx);
        ratio[i] = t_raw[i] / t_ours[i];
    }
    return (timing){median(t_ours, reps), median(t_raw, reps), median(ratio, reps)};
}

// Buffer of `count` normal values (64-byte aligned); exits on failure, as a benchmark may.
static float *random_buffer(size_t count, uint64_t seed) {
    float *p = msf_aligned_alloc(count * sizeof *p);
    msf_rng_key key = {.seed = seed};
    if (!p || msf_rng_normal(p, count, key, 0) != MSF_OK) {
        fprintf(stderr, "bench_nn: cannot allocate %zu floats\n", count);
        exit(1);
    }
    return p;
}

// -----------------------------------------------------------------------------
// The raw GEMM: C (M,N) = A (M,K) . B (K,N), all row-major.

typedef struct {
    int M, K, N;
    float *a, *b, *c;
} gemm_ctx;

static void run_gemm(void *p) {
    gemm_ctx *g = p;
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, g->M, g->N, g->K, 1.0f, g->a, g->K, g->b, g->N, 0.0f, g->c,
                g->N);
}

static gemm_ctx gemm_create(int M, int K, int N) {
    return (gemm_ctx){
        M, K, N, random_buffer((size_t)M * K, 1), random_buffer((size_t)K * N, 2), random_buffer((size_t)M * N, 3)};
}

static void gemm_free(gemm_ctx *g) { msf_aligned_free(g->a), msf_aligned_free(g->b), msf_aligned_free(g->c); }

static void print_row(const char *op, const char *shape, double flops, timing t) {
    printf("%-7s %-38s %9.2f %9.1f %13.1f %8.2f\n", op, shape, t.ours * 1e3, flops / t.ours * 1e-9,
           flops / t.raw * 1e-9, t.ratio);
}

// -----------------------------------------------------------------------------
// Linear

typedef struct {
    int M, K, N;
    float *x, *w, *b, *y;
} linear_ctx;

static void run_linear(void *p) {
    linear_ctx *l = p;
    nn_linear(l->y, l->x, l->w, l->b, l->M, l->K, l->N, NULL);
}

static void bench_linear(const char *name, int M, int K, int N) {
    linear_ctx l = {M,
                    K,
                    N,
                    random_buffer((size_t)M * K, 4),
                    random_buffer((size_t)N * K, 5),
                    random_buffer((size_t)N, 6),
                    random_buffer((size_t)M * N, 7)};
    gemm_ctx g = gemm_create(M, K, N);
    timing t = time_pair(run_linear, &l, run_gemm, &g);
    gemm_free(&g);
    msf_aligned_free(l.x), msf_aligned_free(l.w), msf_aligned_free(l.b), msf_aligned_free(l.y);
    char shape[96];
    snprintf(shape, sizeof shape, "%s %dx%d -> %d", name, M, K, N);
    print_row("linear", shape, 2.0 * M * K * N, t);
}

// -----------------------------------------------------------------------------
// Convolution

typedef struct {
    nn_conv2d_shape s;
    float *x, *w, *b, *y;
    msf_arena ws;
} conv_ctx;

static void run_conv(void *p) {
    conv_ctx *c = p;
    if (nn_conv2d(c->y, c->x, c->w, c->b, &c->s, &c->ws) != MSF_OK) {
        fprintf(stderr, "bench_nn: conv2d failed: %s\n", msf_error_message());
        exit(1);
    }
}

static void bench_conv(const char *name, nn_conv2d_shape s) {
    int oh = nn_conv2d_out_h(&s), ow = nn_conv2d_out_w(&s);
    int M = s.c_out, K = s.c_in * s.kh * s.kw, N = s.n * oh * ow;
    conv_ctx c = {s,
                  random_buffer((size_t)s.n * s.c_in * s.h * s.w, 8),
                  random_buffer((size_t)M * K, 9),
                  random_buffer((size_t)M, 10),
                  random_buffer((size_t)M * N, 11),
                  {0}};
    if (msf_arena_init(&c.ws, nn_conv2d_workspace_bytes(&s)) != MSF_OK) {
        fprintf(stderr, "bench_nn: %s\n", msf_error_message());
        exit(1);
    }
    gemm_ctx g = gemm_create(M, K, N);
    timing t = time_pair(run_conv, &c, run_gemm, &g);
    gemm_free(&g);
    msf_arena_free(&c.ws);
    msf_aligned_free(c.x), msf_aligned_free(c.w), msf_aligned_free(c.b), msf_aligned_free(c.y);
    char shape[96];
    snprintf(shape, sizeof shape, "%s n%d %d->%d %dx%d %dx%d", name, s.n, s.c_in, s.c_out, s.kh, s.kw, oh, ow);
    print_row("conv2d", shape, 2.0 * M * K * N, t);
}

// -----------------------------------------------------------------------------
// Why the raw GEMM's threading is not ours: one sgemm at a DiT shape, run
// with OpenBLAS's own threads at 1 and at the OpenMP thread count. Where the
// two differ in any bit (measured: the Haswell and Zen kernels, which round a
// row by its slot in the micro-tile; not SkylakeX, Cooperlake, Sandybridge or
// Prescott), handing the threading to OpenBLAS would break the rule that a
// result does not depend on the thread count. OPENBLAS_CORETYPE=Haswell shows it
// on an AVX-512 machine.

static void blas_thread_check(int M, int K, int N) {
    int threads = omp_get_max_threads();
    float *a = random_buffer((size_t)M * K, 12), *b = random_buffer((size_t)N * K, 13);
    float *c1 = random_buffer((size_t)M * N, 14), *cn = random_buffer((size_t)M * N, 15);
    openblas_set_num_threads(1);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, M, N, K, 1.0f, a, K, b, K, 0.0f, c1, N);
    openblas_set_num_threads(threads);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, M, N, K, 1.0f, a, K, b, K, 0.0f, cn, N);
    size_t differ = 0;
    for (size_t i = 0; i < (size_t)M * N; i++) differ += memcmp(&c1[i], &cn[i], sizeof(float)) != 0;
    printf("OpenBLAS-threaded sgemm %dx%dx%d, 1 vs %d threads: %zu of %zu elements differ (%s)\n", M, K, N, threads,
           differ, (size_t)M * N, differ ? "thread-count dependent" : "identical");
    msf_aligned_free(a), msf_aligned_free(b), msf_aligned_free(c1), msf_aligned_free(cn);
}

// -----------------------------------------------------------------------------

int main(int argc, char **argv) {
    (void)argc;
    cli_select_blas_kernel(argv);
    printf("bench_nn: %d OpenMP threads; OpenBLAS %s (core %s)\n", omp_get_max_threads(), openblas_get_config(),
           openblas_get_corename());
    printf("%-7s %-38s %9s %9s %13s %8s\n", "op", "shape", "ms", "GFLOP/s", "sgemm GFLOP/s", "ours/raw");

    // DiT-XL/2: 2 x 256 tokens of width 1152.
    bench_linear("DiT qkv", 512, 1152, 3456);
    bench_linear("DiT fc1", 512, 1152, 4608);
    bench_linear("DiT fc2", 512, 4608, 1152);
    blas_thread_check(520, 1152, 4608);

    // InceptionV3 (batch 4; Mixed_6 at batch 16), {n, c_in, h, w, c_out, kh, kw, stride, pad t/b/l/r}.
    bench_conv("Conv2d_2a", (nn_conv2d_shape){4, 32, 149, 149, 32, 3, 3, 1, 1, 0, 0, 0, 0});
    bench_conv("Conv2d_2b", (nn_conv2d_shape){4, 32, 147, 147, 64, 3, 3, 1, 1, 1, 1, 1, 1});
    bench_conv("Conv2d_3b", (nn_conv2d_shape){4, 64, 73, 73, 80, 1, 1, 1, 1, 0, 0, 0, 0});
    bench_conv("Conv2d_4a", (nn_conv2d_shape){4, 80, 73, 73, 192, 3, 3, 1, 1, 0, 0, 0, 0});
    bench_conv("Mixed_6b 1x7", (nn_conv2d_shape){16, 128, 17, 17, 128, 1, 7, 1, 1, 0, 0, 3, 3});
    return 0;
}
