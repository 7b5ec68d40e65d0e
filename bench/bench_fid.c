// bench_fid.c: FID between two 2048-d statistics (random SPD covariances, as
// Inception's pool_3 gives) by our eigenvalue route, and by scipy.linalg.sqrtm
// as ADM's evaluator and pytorch-fid compute it (tools/bench/fid_scipy.py) on
// the same statistics in the same run. Target: ours under 2 s.
#include <cblas.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "core/rng.h"
#include "core/timer.h"
#include "eval/evaluate.h"

#define DIM 2048

char *openblas_get_corename(void);

// Statistics of `rows` random correlated rows (seeded): a singular-free SPD sigma.
static int random_stats(msf_fid_stats *s, uint64_t seed, float scale) {
    int rows = 3 * DIM;
    float *x = malloc((size_t)rows * DIM * sizeof(float)), *mix = malloc((size_t)DIM * DIM * sizeof(float));
    float *y = malloc((size_t)rows * DIM * sizeof(float));
    msf_rng_key k1 = {seed, 0, 0}, k2 = {seed, 1, 0};
    if (!x || !mix || !y || msf_rng_normal(x, (size_t)rows * DIM, k1, 0) ||
        msf_rng_normal(mix, (size_t)DIM * DIM, k2, 0))
        return -1;
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, rows, DIM, DIM, scale / 45.0f, x, DIM, mix, DIM, 0.0f, y,
                DIM);
    int r = msf_fid_stats_compute(s, y, rows, DIM, "bench") != MSF_OK;
    free(x), free(mix), free(y);
    return r;
}

int main(int argc, char **argv) {
    (void)argc;
    cli_select_blas_kernel(argv);
    printf("bench_fid: FID of two %d-d statistics, %d threads, OpenBLAS core %s\n", DIM, omp_get_max_threads(),
           openblas_get_corename());
    msf_fid_stats a, b;
    if (random_stats(&a, 1, 1.0f) || random_stats(&b, 2, 1.2f)) {
        fprintf(stderr, "bench_fid: %s\n", msf_error_message());
        return 1;
    }
    double fid = 0, t0 = msf_now();
    if (msf_fid_from_stats(&fid, &a, &b)) {
        fprintf(stderr, "bench_fid: %s\n", msf_error_message());
        return 1;
    }
    double ours = msf_now() - t0;

    char dir[] = "/tmp/bench_fid_XXXXXX", pa[64], pb[64], cmd[256];
    double scipy_s = -1, scipy_fid = 0;
    if (mkdtemp(dir)) {
        snprintf(pa, sizeof pa, "%s/a.npz", dir), snprintf(pb, sizeof pb, "%s/b.npz", dir);
        msf_ref_stats ra = {.pool = a}, rb = {.pool = b};
        if (msf_ref_stats_write_npz(pa, &ra) || msf_ref_stats_write_npz(pb, &rb)) {
            fprintf(stderr, "bench_fid: %s\n", msf_error_message());
        } else {
            snprintf(cmd, sizeof cmd, "/usr/bin/python3 tools/bench/fid_scipy.py %s %s", pa, pb);
            FILE *p = popen(cmd, "r");
            char line[256];
            while (p && fgets(line, sizeof line, p)) sscanf(line, "scipy seconds %lf fid %lf", &scipy_s, &scipy_fid);
            if (p) pclose(p);
        }
        unlink(pa), unlink(pb), rmdir(dir);
    }
    printf("%-22s %10s %22s\n", "method", "seconds", "FID");
    printf("%-22s %10.3f %22.12f\n", "ours (eigenvalues)", ours, fid);
    if (scipy_s >= 0)
        printf("%-22s %10.3f %22.12f   (ours %.1fx faster, rel diff %.1e)\n", "scipy.linalg.sqrtm", scipy_s, scipy_fid,
               scipy_s / ours, (fid - scipy_fid) / scipy_fid);
    else printf("scipy.linalg.sqrtm: not run (needs /usr/bin/python3 with numpy and scipy)\n");
    printf("target: ours under 2 s: %s\n", ours < 2.0 ? "met" : "NOT met");
    msf_fid_stats_free(&a), msf_fid_stats_free(&b);
    return 0;
}
