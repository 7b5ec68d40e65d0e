// experiment.h: an experiment file (experiments/*.yaml) as a list of grid
// points, each a fully resolved run config.
//
// File layout (every key is checked against the schema in experiment.c;
// configs/README.md documents it):
//   experiment: NAME          results go to RESULTS_DIR/NAME/ (NAME: letters,
//                             digits, '-', '_', '.'; not starting with '.')
//   description: TEXT
//   defaults: {RUN KEYS}      laid under every run
//   runs:                     one or more runs
//     - name: NAME
//       model: {use: ../configs/models/x.yaml, ...}
//       sampler: {...}        (MSF: base_from FILE|real, residual sample|none)
//       samples: PATH.npz     instead of model and sampler: evaluate a given batch
//       evaluator: {...}      optional: metrics
//       spectrum: {...}       optional: spectra of the latents
//       reproduces: {...}     optional: which reported row(s) this run reproduces
//       sweep: {sampler.residual_steps: [1, 2, 5], sampler.cfg_scale: [1.0, 1.5]}
// A sweep expands into the grid of all combinations (the first key varies
// slowest); each combination is a point named "RUN,leaf=value,...".
#ifndef MSF_RUN_EXPERIMENT_H
#define MSF_RUN_EXPERIMENT_H

#include <stdint.h>

#include "config/config.h"
#include "core/status.h"
#include "msf/msf_model.h"

#define MSF_RUN_MAX_POINTS 4096
// Counts of a point, capped at load (a bad value is an error naming file:line
// in --dry-run and in a run alike) as the CLI caps them: num_samples as `msf
// sample --num`, batch and evaluator.batch as `--batch`, grid as `msf decode
// --grid`; seed >= 0, spectrum.max as `msf spectrum --max`.
#define MSF_RUN_MAX_SAMPLES 100000000
#define MSF_RUN_MAX_BATCH 4096
#define MSF_RUN_MAX_SHARD (1 << 20)
#define MSF_RUN_MAX_GRID 256

// The schema of an experiment file's top level, and of one run (after
// `defaults` are laid under it) with each key's default and its msf sample
// option (schema.c).
extern const config_field msf_experiment_schema[];
extern const config_field msf_run_schema[];

// A run's value at a dotted path of msf_run_schema, else the schema's default
// (absent without one: NULL, 0, NAN, false). The path must be in the schema.
const char *msf_run_str(const config_node *run, const char *path);
int64_t msf_run_int(const config_node *run, const char *path);
double msf_run_num(const config_node *run, const char *path);
int msf_run_bool(const config_node *run, const char *path);
// The schema's default at a path (NULL: none); msf sample's defaults.
const char *msf_run_default(const char *path);
// The schema as a table (msf run --keys): key, type, default, option, doc.
void msf_run_print_keys(FILE *f);

typedef struct {
    char name[232];  // "RUN" or "RUN,leaf=value,..." (a directory name)
    char run[64];
    char sweep[160];       // "leaf=value,..." or ""
    config_node *config;   // the resolved run config of this point (owned)
    uint64_t hash;         // config_hash of config
    uint64_t sample_hash;  // of what decides the samples: model, sampler, seed
    // Of the contents of the files the config names (msf_run_point_hash_inputs):
    // a changed weight file makes earlier shards and point.json stale even
    // though the config text, and so both hashes above, are unchanged.
    uint64_t model_hash;   // model.weights, model.vae, samples, sampler.base_from (a file, or with `real` the
                           // reference): what decides the samples besides the config
    uint64_t inputs_hash;  // model_hash, evaluator.featnet and evaluator.reference: what decides the numbers
} msf_run_point;

typedef struct {
    char *path;  // the experiment file
    char name[64];
    config_node *root;  // the file with `use:` resolved
    int num_points;
    msf_run_point *points;
} msf_experiment;

// The arithmetic of the point's networks: model.precision, "fp32" when
// absent (and for a point without a model).
const char *msf_run_point_precision(const msf_run_point *p);
// The feature network's: evaluator.precision, "fp32" when absent.
const char *msf_run_point_eval_precision(const msf_run_point *p);

// Parse, resolve `use:`, validate and expand every run's sweep, then check
// each point's counts (the limits above), respacings, residual_start and
// spectrum.factorize. Errors name file:line and the key.
msf_status msf_experiment_load(msf_experiment *e, const char *path);
void msf_experiment_free(msf_experiment *e);

// Sampling options of a point: stage options as msf_sample takes them
// (a DiT has one stage), the label mode and the stage count.
typedef struct {
    int num_stages;
    diff_stage_opts stage[MSF_MAX_LEVELS];
    char steps[MSF_MAX_LEVELS][64];  // storage for stage[k].steps
    diff_label_mode labels;
    int variance_given;  // DiT: sampler.variance was set
} msf_run_sampling;

// The sampling options of point p for a model of `num_stages` stages whose
// stage k learns sigma when learn_sigma[k].
msf_status msf_run_sampling_make(msf_run_sampling *o, const msf_run_point *p, int num_stages, const int *learn_sigma);

// What makes a point's images: "dit" or "msf" (model.kind), or "samples" (a
// given sample batch, no model).
const char *msf_run_point_kind(const msf_run_point *p);

// Files a point needs that are missing: calls fn(user, path, what, how) for
// each (how: the config's hint on obtaining it, or NULL); returns the count.
typedef void (*msf_missing_fn)(void *user, const char *path, const char *what, const char *how);
int msf_run_point_missing(const msf_run_point *p, msf_missing_fn fn, void *user);

// Stage configs of a point's model: from the weight file when it exists,
// else from model.arch / residual_arch / input_size / channels / scale /
// levels. Fills m->stage[k].config, m->num_stages, m->size, m->channels.
msf_status msf_run_point_arch(msf_model *m, const msf_run_point *p);
// GFLOPs per sample of a point (msf_sample_gflops over the stages it samples:
// not the base stage with sampler.base_from, not the residual stages with
// sampler.residual: none); NaN for given samples.
msf_status msf_run_point_gflops(double *gflops, const msf_run_point *p);

#endif
