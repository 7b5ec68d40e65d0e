// generator.h: sampling from a DiT or an MSF model: the one implementation of
// "sample a batch with these options, this seed, from this sample index, with
// these labels" that `msf sample` and `msf run` share. A generator owns the
// loaded model, its sampling options, the DiT's schedule and denoiser and the
// sampler's workspace.
//
// Sample i's noise is keyed by (seed, i, stage, step) (or replayed from a
// caller's noise function), so the samples do not depend on the batch size,
// on how a caller splits first..first+n-1 into calls, or on a base cache.
//
// Base cache (MSF): the generators of one run whose models share the base
// stage (the same base network, base sampling options, seed and labels; an
// ablation of the residual stage) draw each batch's base once.
// msf_sample_base followed by msf_sample_from_base gives msf_sample's bits
// and the key holds everything the base depends on, so the samples do not
// depend on the cache. The cache is an object: whoever runs the points (msf
// run) creates it, passes it to each generator and frees it at the end.
#ifndef MSF_MSF_GENERATOR_H
#define MSF_MSF_GENERATOR_H

#include <stddef.h>
#include <stdint.h>

#include "core/progress.h"
#include "core/status.h"
#include "diffusion/sampler.h"
#include "io/h5read.h"
#include "models/dit.h"
#include "msf/msf_model.h"

typedef struct msf_base_cache msf_base_cache;

// A cache holding at most max_floats floats of bases (bases over the cap are
// not kept); MSF_ERR_NOMEM when out of memory.
msf_status msf_base_cache_create(msf_base_cache **c, size_t max_floats);
// Free the cache and every base in it (NULL: nothing).
void msf_base_cache_free(msf_base_cache *c);

typedef struct {
    int num_stages;                         // entries of stage: 1 for a DiT, the model's levels for MSF
    diff_stage_opts stage[MSF_MAX_LEVELS];  // (steps copied: the caller's strings need not outlive the generator)
    uint64_t seed;
    int batch;           // samples per network call, 1..4096
    msf_noise_fn noise;  // replayed noise (DiT: stage 0); NULL: the Philox noise of seed
    void *noise_user;
    msf_base_cache *base_cache;  // MSF: bases shared with other generators; NULL: none
    nn_precision precision;      // of every network's linear layers (dit_set_precision); 0 = NN_FP32
} msf_generator_opts;

typedef struct {
    int is_msf;
    int channels, size, num_classes;  // of the samples: latents (C, size, size); labels 0..num_classes-1
    int base_side;                    // MSF: side of the base (stage 0); DiT: size
    int num_steps[MSF_MAX_LEVELS];    // spaced steps each stage takes
    msf_generator_opts opts;
    char *steps[MSF_MAX_LEVELS];  // copies of opts.stage[k].steps
    dit_model dit;                // a DiT
    diff_stage stage;             // its stage (options and schedule)
    diff_denoiser den;
    diff_sample_opts so;
    float *work;
    msf_model msf;        // an MSF model
    msf_sampler sampler;  // its stages and batch buffers
    uint64_t base_hash;   // MSF: the base network and its sampling options (the cache key)
} msf_generator;

// Load the model of `w` (group: NULL or "" = the file root; is_msf: an MSF
// model, else a DiT) for opts->batch samples per network call (twice the
// rows when a stage is guided), and prepare sampling with opts. Checks the
// stage count, guidance against a null class and a DiT's variance against its
// learned sigma; callers that word these checks for their users do so first.
msf_status msf_generator_open(msf_generator *g, msf_h5_reader *w, const char *group, int is_msf,
                              const msf_generator_opts *opts);
void msf_generator_free(msf_generator *g);

// Samples first..first+n-1 with the given labels (n), in batches of
// opts.batch: latents (n, C, size, size); for an MSF model also base
// (n, C, base_side, base_side) and residual (the finest level's detail,
// (n, C, size, size)) when not NULL (a DiT ignores them). progress reports the
// steps of each stage of each batch (may be NULL). *cached_seconds (may be
// NULL): the sampling time of the cached bases used, 0 when none.
msf_status msf_generator_sample(msf_generator *g, float *latents, float *base, float *residual, const int64_t *labels,
                                int64_t first, int n, const msf_progress *progress, double *cached_seconds);

// MSF stage by stage (MSF_ERR_INVALID for a DiT), in batches of opts.batch:
// msf_generator_sample_base followed by msf_generator_sample_from_base on its
// bases gives msf_generator_sample's bits.
//
// The base stage alone: bases (n, C, base_side, base_side) of samples
// first..first+n-1 (through the base cache when the generator has one).
msf_status msf_generator_sample_base(msf_generator *g, float *base, const int64_t *labels, int64_t first, int n,
                                     const msf_progress *progress, double *cached_seconds);
// The residual stage(s) on given bases (n, C, base_side, base_side): latents
// and, when not NULL, the finest level's residual (n, C, size, size).
msf_status msf_generator_sample_from_base(msf_generator *g, float *latents, const float *base, float *residual,
                                          const int64_t *labels, int64_t first, int n, const msf_progress *progress);
// No residual: latents = U(base) brought to full size through every level
// with zero residuals, exactly the condition the finest residual stage gets
// (what the base alone contributes).
msf_status msf_generator_upsample_base(msf_generator *g, float *latents, const float *base, int n);

// MSF_ERR_NUMERIC naming the first sample of x (n samples of numel values,
// the first numbered `first`) with a NaN or Inf: "sample I has a non-finite
// value (NaN/Inf from the model?)".
msf_status msf_check_finite(const float *x, int64_t n, size_t numel, int64_t first);

#endif
