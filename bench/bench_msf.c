// bench_msf.c: the cost of MSF vs DiT at ImageNet 256 sizes, random weights.
//
// DiT: DiT-XL/2 on 32x32x4 latents. MSF (s = 2, two levels): a DiT-XL/2 base
// on 16x16x4 and a DiT-B/2 residual on 32x32 with 8 channels in
// (noisy residual + U(base)) and 8 out. Both at 250 base steps, the residual
// at 25 and at 250, no guidance (guidance doubles every stage alike).
// Seconds per sample are measured per stage as the median forward time at
// batch 8 divided by 8, times the stage's steps (the sampler's own work per
// step is a few elementwise passes, below 1% here); FLOPs from dit_gflops.
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>

#include "cli/cli.h"
#include "core/rng.h"
#include "core/timer.h"
#include "models/dit.h"
#include "msf/msf_model.h"

#define BATCH 8
#define REPS 3

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

// Median seconds of one forward of `m` at BATCH rows.
static double forward_seconds(dit_model *m) {
    const dit_config *c = &m->config;
    size_t in = (size_t)BATCH * c->in_channels * c->input_size * c->input_size;
    size_t out = (size_t)BATCH * c->out_channels * c->input_size * c->input_size;
    float *x = malloc(in * sizeof *x), *y = malloc(out * sizeof *y), t[BATCH];
    int64_t labels[BATCH];
    msf_rng_key key = {.seed = 9};
    msf_rng_normal(x, in, key, 0);
    for (int i = 0; i < BATCH; i++) t[i] = (float)(100 * i + 37), labels[i] = i;
    double times[REPS];
    dit_forward(m, y, x, t, labels, BATCH);
    for (int r = 0; r < REPS; r++) {
        double t0 = msf_now();
        if (dit_forward(m, y, x, t, labels, BATCH)) {
            fprintf(stderr, "bench_msf: %s\n", msf_error_message());
            exit(1);
        }
        times[r] = msf_now() - t0;
    }
    free(x), free(y);
    qsort(times, REPS, sizeof times[0], cmp_double);
    return times[REPS / 2] / BATCH;
}

int main(int argc, char **argv) {
    (void)argc;
    cli_select_blas_kernel(argv);
    dit_config dit_cfg, base_cfg, res_cfg;
    if (dit_config_named(&dit_cfg, "DiT-XL/2", 32) || dit_config_named(&base_cfg, "DiT-XL/2", 16) ||
        dit_config_named(&res_cfg, "DiT-B/2", 32)) {
        fprintf(stderr, "bench_msf: %s\n", msf_error_message());
        return 1;
    }
    res_cfg.in_channels = 8;
    res_cfg.out_channels = 8;
    printf("bench_msf: %d threads; per-sample cost at batch %d, no guidance\n", omp_get_max_threads(), BATCH);
    printf("  DiT:  DiT-XL/2 on 32x32x4\n  MSF:  base DiT-XL/2 on 16x16x4 + residual DiT-B/2 on 32x32x(4+4) -> 8\n");

    dit_model dit;
    if (dit_init_random(&dit, &dit_cfg, 1, 0.02f, BATCH)) {
        fprintf(stderr, "bench_msf: %s\n", msf_error_message());
        return 1;
    }
    double t_dit = forward_seconds(&dit);
    dit_free(&dit);

    msf_model m;
    nn_pyramid_opts f = nn_pyramid_defaults();
    dit_config stages[2] = {base_cfg, res_cfg};
    if (msf_model_init_random(&m, &f, 4, 32, stages, 0.5f, 2, BATCH)) {
        fprintf(stderr, "bench_msf: %s\n", msf_error_message());
        return 1;
    }
    double t_base = forward_seconds(&m.stage[0]), t_res = forward_seconds(&m.stage[1]);
    double g_dit = dit_gflops(&dit_cfg), g_base = dit_gflops(&base_cfg), g_res = dit_gflops(&res_cfg);
    msf_model_free(&m);

    printf("\nper forward and sample: DiT %.3f s (%.2f GFLOPs), MSF base %.3f s (%.2f), residual %.3f s (%.2f)\n",
           t_dit, g_dit, t_base, g_base, t_res, g_res);
    printf("%-34s %12s %14s %12s %12s\n", "run (steps)", "s/sample", "GFLOPs/sample", "time ratio", "FLOP ratio");
    double s_dit = 250 * t_dit, f_dit = 250 * g_dit;
    printf("%-34s %12.1f %14.0f %12s %12s\n", "DiT-XL/2 (250)", s_dit, f_dit, "1.00x", "1.00x");
    int residual_steps[2] = {25, 250};
    for (int i = 0; i < 2; i++) {
        double s = 250 * t_base + residual_steps[i] * t_res, g = 250 * g_base + residual_steps[i] * g_res;
        char name[64];
        snprintf(name, sizeof name, "MSF (base 250, residual %d)", residual_steps[i]);
        printf("%-34s %12.1f %14.0f %11.2fx %11.2fx\n", name, s, g, s_dit / s, f_dit / g);
    }
    return 0;
}
