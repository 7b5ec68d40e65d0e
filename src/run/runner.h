// runner.h: running one grid point of an experiment, resumably, and writing
// the experiment's results folder (point.c, shards.c, inputs.c,
// point_results.c, results.c, folder.c; runner_internal.h says which does
// what).
//
// A point's folder (RESULTS/EXPERIMENT/points/POINT/):
//   shards/shard_NNNNN.h5   latents [n, C, H, W], labels [n] and attributes
//                           (sample hash, model hash, first index, count,
//                           seconds, checksum of latents and labels) of
//                           samples first..first+n-1
//   shards/shard_NNNNN.npz  their images, arr_0 uint8 [n, H, W, c]
//   images.npz              all images (an ADM sample batch)
//   latents.h5              all latents (written when spectra are configured;
//                           attributes sample hash, model hash, count, checksum)
//   spectrum/               their spectrum report (msf_run_point_spectrum)
//   grid.png                the first images as one grid
//   point.json              the point's numbers; written last: a point with
//                           point.json of its config hash and inputs hash
//                           (the contents of the weight, feature network and
//                           reference files) is done
// Every file is written under a temporary name and renamed when complete, so
// a run killed at any moment leaves only complete files; the next run reuses
// every shard whose sample and model hashes match and computes the rest (a
// shard of other weights is an error: --force starts over). What a resume
// reuses is checked first: a shard is read whole against its shape, count
// and checksum, a shard's images and images.npz against their shape,
// latents.h5 against its shape, count and hashes (also for a finished
// point); a damaged one is reported (a warning naming it), removed and made
// again: a shard is sampled again, merged files merged again. Sample i's
// noise and label depend only on (seed, i), so the final numbers equal those
// of an uninterrupted run, bit for bit.
#ifndef MSF_RUN_RUNNER_H
#define MSF_RUN_RUNNER_H

#include <stdint.h>

#include "core/dist.h"
#include "core/progress.h"
#include "core/status.h"
#include "eval/spectrum_report.h"
#include "msf/generator.h"
#include "run/experiment.h"

// The numbers of one point; NaN where not computed.
typedef struct {
    int64_t num_samples;
    double fid, sfid, is, precision, recall, class_consistency;
    double gflops_per_sample;
    double seconds_per_sample;         // sampling (latents), summed over shards
    double decode_seconds_per_sample;  // VAE decode or pixel conversion, NaN when every shard was decoded before
    int shards_total, shards_reused;
    int img_h, img_w, img_c;
    char failed[320];  // "" when the point completed; else why it failed (its numbers are NaN)
} msf_point_result;

// What a run would find wrong with p before sampling, without sampling: input
// files that exist but cannot be read, the weights' architecture against
// model.kind, the sampler (respacing, guidance without a null class, variance
// against learned sigma), the VAE against the model's channels, and the
// spectrum's factorisation against the latent size. Checks needing a missing
// file are skipped (msf_run_point_missing lists those). --dry-run and a run
// call it for every point before anything is written.
msf_status msf_run_point_check(const msf_run_point *p);

// Remove files named "*.tmp-*" (left by a killed writer) from `dir`; the
// caller holds the experiment's lock.
msf_status msf_run_clean_temporaries(const char *dir);

// The base cache a run gives its MSF points (msf/generator.h): at most this
// many floats (256 MiB) of bases.
#define MSF_RUN_BASE_CACHE_FLOATS ((size_t)64 << 20)

// Sample (or reuse) every shard, decode each to images, then write
// images.npz, grid.png and, when `want_latents`, latents.h5 in `dir`. A point
// of given samples (`samples`) is not sampled: its batch is checked and its
// grid.png drawn; the metrics read it where it is.
// Fills everything in r but the metrics. `bases` (NULL: none): the run's base
// cache, which MSF points sharing a base stage draw each base from once; the
// time a cached base took is added to every point that reuses it, so seconds
// per sample stay those of the whole two-stage sampler.
// Under MPI (`dist`; NULL: one process) every rank calls it: shard k is
// sampled, decoded and written by rank k mod size (msf_dist_owner), rank 0
// alone makes the folders, merges and draws the grid, shows the progress
// (the shards on disk, of all ranks) and gets r; the status is the job's
// (msf_dist_agree). The samples do not depend on the rank count.
msf_status msf_run_point_generate(msf_point_result *r, const msf_run_point *p, const char *dir, int want_latents,
                                  msf_base_cache *bases, const msf_dist *dist, const msf_progress *progress);

// The evaluator stage: features of images.npz and of evaluator.reference by
// evaluator.featnet, then every metric they allow (msf_evaluate); the labels
// the samples were drawn with come from the shards (class consistency).
// Under MPI every rank calls it: the features of batch b (evaluator.batch
// images, as one process batches them) are computed by rank b mod size and
// gathered on rank 0, which alone computes the statistics and metrics, in
// float64 in the order of one process: the numbers do not depend on the rank
// count. r is filled on rank 0; the status is the job's.
msf_status msf_run_point_metrics(msf_point_result *r, const msf_run_point *p, const char *dir, const msf_dist *dist,
                                 const msf_progress *progress);

// The spectrum stage: the spectrum report (eval/spectrum_report.h) of the
// latents.h5 in `dir`, written to dir/spectrum/ with plots, titled by the
// point's name, with the factorisation spectrum.factorize (default s=2,
// area, bilinear) of the first spectrum.max latents (default all); spectrum.h5
// records it as the equivalent `msf spectrum` command. *r: for a summary.
msf_status msf_run_point_spectrum(msf_spectrum_report *r, const msf_run_point *p, const char *dir,
                                  const msf_progress *progress);

// The content hashes of input files a run has read, per path with the file's
// size and mtime (the last 16 paths), so a point grid that names one weight
// file many times reads it once. The run creates it and frees it at its end.
typedef struct msf_run_input_cache msf_run_input_cache;
msf_status msf_run_input_cache_create(msf_run_input_cache **c);
void msf_run_input_cache_free(msf_run_input_cache *c);

// Hash the contents of the files p's config names (model.weights, model.vae,
// samples, sampler.base_from (with `real`: evaluator.reference),
// evaluator.featnet, evaluator.reference; through `cache`, or reading every
// file when NULL) into p->model_hash and p->inputs_hash. Call before
// msf_run_point_load_done and msf_run_point_generate.
msf_status msf_run_point_hash_inputs(msf_run_point *p, msf_run_input_cache *cache);

// point.json of `dir` if it exists and was written for p's config hash and
// input files: 1 and r filled; 0 if absent or stale. A point.json without an
// inputs hash (written before msf hashed its inputs) is reused with a warning.
int msf_run_point_load_done(msf_point_result *r, const msf_run_point *p, const char *dir);
// The same, changing nothing: a stale or damaged point is 0 and stays as it
// is (msf run --only reads the points it does not run this way).
int msf_run_point_peek_done(msf_point_result *r, const msf_run_point *p, const char *dir);
// Write point.json (atomically).
msf_status msf_run_point_write_done(const msf_point_result *r, const msf_run_point *p, const char *dir);
// A point that failed: its numbers NaN (its GFLOPs kept when known), the
// reason in r->failed; the results writers list it as failed.
void msf_run_point_mark_failed(msf_point_result *r, const msf_run_point *p, const char *why);

// Experiment-level files in `dir` (RESULTS/EXPERIMENT) of the points of e
// (those with results: msf run --only passes the points run now or before):
// metrics.json,
// metrics.csv, table.md, plots.gp (gnuplot: metric vs residual steps, metric
// vs GFLOPs; run it in `dir`) and manifest.json. `argv_line` is the command
// line, `started`/`ended` ISO 8601 times.
typedef struct {
    const char *command;
    const char *started, *ended;
    int resumed;  // some shards or points came from an earlier run
    int threads, processes;
    const char *not_run;  // the points of the experiment left out of the results (msf run --only), or NULL
} msf_run_info;
msf_status msf_run_write_results(const char *dir, const msf_experiment *e, const msf_point_result *results,
                                 const msf_run_info *info);
// manifest.json alone: a run writes it (info->ended NULL: "ended": null) when
// it starts in a folder without one, so the folder is known as msf run's
// from its first file on.
msf_status msf_run_write_manifest(const char *dir, const msf_experiment *e, const msf_run_info *info);

// The experiment's folder `dir` (RESULTS/EXPERIMENT) is msf run's: absent,
// empty or holding manifest.json. Otherwise MSF_ERR_INVALID: a run neither
// writes into nor deletes a folder it did not make.
msf_status msf_run_check_folder(const char *dir);
// --force: after msf_run_check_folder, delete what msf run writes in `dir`:
// points/, metrics, table, plots and their data, manifest.json (last). Other
// files (a hand-written FINDINGS.md) stay, with a note in the log; `dir` stays.
msf_status msf_run_remove_results(const char *dir);
// --force --only: the folder of one point (points/POINT) alone.
msf_status msf_run_remove_point(const char *dir, const char *point);

#endif
