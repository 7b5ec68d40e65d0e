// runner_internal.h: what the runner's files share (not part of the
// library's interface; runner.h is). The runner is:
//   point.c          a point's samples: generator, decoder, checks before
//                    sampling, msf_run_point_generate
//   shards.c         a point's files: shards, merged images.npz and
//                    latents.h5, grid.png, and the checks before reuse
//   inputs.c         content hashes of the input files and their cache
//   point_results.c  metrics of a point and point.json
//   results.c        metrics.csv/json, table.md, plots, manifest.json
//   folder.c         the experiment folder: ownership check and --force
#ifndef MSF_RUN_RUNNER_INTERNAL_H
#define MSF_RUN_RUNNER_INTERNAL_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "run/runner.h"

// -----------------------------------------------------------------------------
// Files (shards.c)

msf_status run_make_dir(const char *path);
int run_exists(const char *path);
// v as 16 lowercase hex digits (buf: 17 chars).
void run_hex64(char *buf, uint64_t v);
// A damaged file that a resume would have reused: reported and removed, so
// that what it held is made again.
void run_drop_damaged(const char *path, const char *what);

// An existing shard of this point's samples: 1 if it holds samples
// first..first+n-1 of the same sample and model hashes, whole (its latents
// [n, C, H, H] and labels [n] read into `latents` and `labels` match its
// checksum; seconds set); 0 if absent, of another count, or damaged (then
// reported and removed); -1 (the error set) when made with another config or
// other weights.
int run_shard_check(const char *path, const msf_run_point *p, int64_t first, int n, int C, int H, float *latents,
                    int64_t *labels, double *seconds);
// Shard `path` of samples first..first+n-1 (latents [n, C, H, H], labels [n])
// drawn with `seed` in `seconds`.
msf_status run_shard_write(const char *path, const msf_run_point *p, int C, int H, uint64_t seed, const float *latents,
                           const int64_t *labels, int64_t first, int n, double seconds);
// n images [H, W, c] as arr_0 of `path`.
msf_status run_npz_write(const char *path, const uint8_t *pixels, int n, int H, int W, int c);

// A merged or shard images file that holds n images [H, W, c] (`pixels`:
// room for them all to read them through, or NULL to check the header only).
// 1 if so, else 0 with the reason in `why`. H = 0: any image shape.
int run_images_file_ok(const char *path, int64_t n, int H, int W, int c, uint8_t *pixels, char *why, size_t size);
// latents.h5 of a point: latents [N, C, H, H] and labels [N] (C = 0: any C,
// H) of this point's sample and model hashes. 1 if so, else 0 with the reason
// in `why`.
int run_latents_file_ok(const char *path, const msf_run_point *p, int64_t N, int C, int H, char *why, size_t size);
// images.npz (latents.h5) of `dir` from its `shards` shards of S samples.
msf_status run_merge_images(const char *dir, int shards, int64_t N, int S, int H, int W, int c);
msf_status run_merge_latents(const char *dir, const msf_run_point *p, int shards, int64_t N, int S, int C, int H);
// grid.png of `dir`: the first up to `count` images of `images` (an .npz of N
// images [H, W, c]), and grid.txt, its legend: each image's class, from the
// point p's shards (or arr_1 of its samples file), named where known.
msf_status run_write_grid(const char *dir, const msf_run_point *p, const char *images, int64_t N, int count, int H,
                          int W, int c);

// -----------------------------------------------------------------------------
// Numbers (point_results.c, results.c)

// The numbers of point.json and metrics.json: key and offset of a double in
// msf_point_result.
typedef struct {
    const char *key;
    size_t offset;
} run_point_number_field;
#define RUN_NUM_POINT_NUMBERS 9
extern const run_point_number_field *const run_point_numbers;  // [RUN_NUM_POINT_NUMBERS]
static inline double *run_point_number(msf_point_result *r, size_t i) {
    return (double *)((char *)r + run_point_numbers[i].offset);
}

// The metrics, as file names and columns know them.
#define RUN_NUM_METRICS 6
extern const char *const *const run_metric_names;  // [RUN_NUM_METRICS]

// A number for JSON (null for NaN).
void run_json_num(FILE *f, double v);

#endif
