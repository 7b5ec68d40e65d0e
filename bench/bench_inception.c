// bench_inception.c: InceptionV3 feature throughput (images/s) on a batch of
// 50 uint8 256x256 images, resize included: ours with ADM preprocessing
// (TF1 bilinear to 299, (x-128)/128) and pool_3 + spatial + logits; PyTorch
// (tools/bench/inception_torch.py, Debian's torch) with pytorch-fid's
// preprocessing and the same outputs, on the same random weights through an
// HDF5 file, with the same thread count, in the same run. Then both in bf16:
// ours (inception_set_precision: the convolutions through oneDNN) and PyTorch
// under torch.autocast("cpu", bfloat16), with the pool_3 features' relative
// error against our fp32 ones (these random weights, these random images).
#include <cblas.h>
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "cli/cli.h"
#include "core/rng.h"
#include "core/timer.h"
#include "eval/featnet_impl.h"
#include "eval/inception.h"

#define BATCH 50
#define SIZE 256

// Seconds PyTorch reports for `batch` images (bf16: under autocast), or 0 if it could not run.
static double torch_seconds(const char *weights, int threads, int bf16) {
    char cmd[512], line[256];
    snprintf(cmd, sizeof cmd,
             "/usr/bin/python3 tools/bench/inception_torch.py --weights %s --threads %d --batch %d --batches 1 "
             "--size %d%s",
             weights, threads, BATCH, SIZE, bf16 ? " --bf16" : "");
    FILE *p = popen(cmd, "r");
    double sec = 0;
    int n;
    while (p && fgets(line, sizeof line, p))
        if (sscanf(line, bf16 ? "images %d bf16_seconds %lf" : "images %d seconds %lf", &n, &sec) != 2) sec = 0;
    if (p) pclose(p);
    return sec;
}

int main(int argc, char **argv) {
    (void)argc;
    cli_select_blas_kernel(argv);
    int threads = omp_get_max_threads();
    char dir[] = "/tmp/msf_bench_XXXXXX", path[64], cmd[256];
    if (!mkdtemp(dir)) return perror("bench_inception: mkdtemp"), 1;
    snprintf(path, sizeof path, "%s/inception.h5", dir);
    snprintf(cmd, sizeof cmd, "/usr/bin/python3 tools/bench/inception_torch.py --make %s", path);
    msf_featnet *net = NULL;
    if (system(cmd) != 0 || msf_inception_featnet_load(path, &net) != MSF_OK) {
        fprintf(stderr, "bench_inception: no weights (needs /usr/bin/python3 with torch and h5py): %s\n",
                msf_error_message());
        unlink(path), rmdir(dir);
        return 1;
    }
    printf(
        "bench_inception: InceptionV3, %d uint8 %dx%d images -> 299, pool+spatial+logits, %d threads, "
        "OpenBLAS core %s\n",
        BATCH, SIZE, SIZE, threads, openblas_get_corename());

    size_t isz = (size_t)SIZE * SIZE * 3;
    uint8_t *images = malloc(BATCH * isz);
    float *u = malloc(BATCH * isz * sizeof *u);
    msf_rng_key key = {.seed = 5};
    msf_rng_uniform(u, BATCH * isz, key, 0);
    for (size_t i = 0; i < BATCH * isz; i++) images[i] = (uint8_t)(u[i] * 255.99f);
    float *pool = malloc(BATCH * 2048 * sizeof *pool), *spatial = malloc(BATCH * 2023 * sizeof *spatial);
    float *logits = malloc(BATCH * 1008 * sizeof *logits);
    // Warm-up on a few images, then the batch.
    msf_status st = net->run(net->impl, images, threads, SIZE, SIZE, 3, MSF_RESIZE_ADM, pool, spatial, logits);
    double t0 = msf_now();
    if (st == MSF_OK) st = net->run(net->impl, images, BATCH, SIZE, SIZE, 3, MSF_RESIZE_ADM, pool, spatial, logits);
    double ours = msf_now() - t0, ours16 = 0, rel = 0;
    if (st != MSF_OK) {
        fprintf(stderr, "bench_inception: %s\n", msf_error_message());
        return 1;
    }
    if (nn_bf16_available()) {
        float *pool16 = malloc(BATCH * 2048 * sizeof *pool16);
        st = msf_featnet_set_precision(net, NN_BF16);
        if (st == MSF_OK)
            st = net->run(net->impl, images, threads, SIZE, SIZE, 3, MSF_RESIZE_ADM, pool16, spatial, logits);
        t0 = msf_now();
        if (st == MSF_OK)
            st = net->run(net->impl, images, BATCH, SIZE, SIZE, 3, MSF_RESIZE_ADM, pool16, spatial, logits);
        ours16 = msf_now() - t0;
        if (st != MSF_OK) {
            fprintf(stderr, "bench_inception: %s\n", msf_error_message());
            return 1;
        }
        double err = 0, ref = 0;
        for (size_t i = 0; i < BATCH * 2048; i++) {
            double d = fabs((double)pool16[i] - pool[i]);
            err = d > err ? d : err;
            ref = fabs(pool[i]) > ref ? fabs(pool[i]) : ref;
        }
        rel = ref > 0 ? err / ref : err;
        free(pool16);
    }
    net->free_impl(net->impl);
    free(net);
    free(images), free(u), free(pool), free(spatial), free(logits);

    double torch = torch_seconds(path, threads, 0), torch16 = nn_bf16_available() ? torch_seconds(path, threads, 1) : 0;
    unlink(path), rmdir(dir);
    printf("%12s %10s %10s %12s\n", "", "seconds", "images/s", "torch/ours");
    printf("%12s %10.2f %10.2f\n", "ours (ADM)", ours, BATCH / ours);
    if (torch > 0) printf("%12s %10.2f %10.2f %11.2fx\n", "torch", torch, BATCH / torch, torch / ours);
    else printf("%12s %10s %10s %12s\n", "torch", "n/a", "", "(no torch)");
    if (!nn_bf16_available()) {
        printf("bf16: this build has no oneDNN (make deps && make)\n");
        return 0;
    }
    printf("%12s %10.2f %10.2f %11.2fx  (%.2fx our fp32; oneDNN ISA %s; pool_3 rel %.2e vs fp32)\n", "ours bf16",
           ours16, BATCH / ours16, torch16 > 0 ? torch16 / ours16 : 0.0, ours / ours16, nn_bf16_isa(), rel);
    if (torch16 > 0) printf("%12s %10.2f %10.2f\n", "torch bf16", torch16, BATCH / torch16);
    return 0;
}
