// evaluate.h: from evaluation inputs (image batches, PNG folders, feature
// files, statistics files) to the metrics of ADM's evaluator and more; the
// layer under `msf features|stats|evaluate` and the experiment runner.
//
// Inputs, recognised by their contents:
//   directory           a PNG folder (every *.png, byte order of names)
//   X.npz with arr_0    uint8 images [N, H, W, C] (C = 1, 3, 4) or [N, H, W];
//                       arr_1 int [N] = class labels if present (as
//                       guided-diffusion's sampler writes them); mu, sigma
//                       (+ mu_s, sigma_s) stored statistics, which are then
//                       used for FID/sFID (ADM's reference batches)
//   *idx3-ubyte[.gz]    IDX images [N, H, W] (MNIST, Fashion-MNIST; gzip or
//                       plain); labels from the *labels-idx1-ubyte[.gz] file
//                       beside it when present
//   X.npz without arr_0 statistics only (mu, sigma [+ mu_s, sigma_s]):
//                       pytorch-fid's and our `msf stats` files; FID/sFID only
//   X.h5 with pool_3    a features file written by msf_features_write_h5
//   X.h5 with latents   `msf sample` output: images from X.npz beside it,
//                       labels from X.h5
// Images need a feature network; features and statistics do not.
#ifndef MSF_EVAL_EVALUATE_H
#define MSF_EVAL_EVALUATE_H

#include <stdint.h>

#include "core/dist.h"
#include "core/progress.h"
#include "core/status.h"
#include "eval/featnet.h"
#include "eval/metrics.h"

// -----------------------------------------------------------------------------
// Features

typedef struct {
    int64_t n;
    int pool_dim, spatial_dim, logits_dim;  // 0 = absent
    float *pool, *spatial, *logits;         // [n, dim], malloc'd (NULL when absent)
    int64_t *labels;                        // [n] conditioning labels, or NULL
    char network[32];                       // featnet kind ("inception", ...)
    char resize[16];                        // resize mode name
} msf_feature_set;

void msf_feature_set_free(msf_feature_set *f);

// Features of the images of `path` (an image input above) by `net` in
// batches of `batch` images; or, if `path` is a features file, its contents
// (net may then be NULL). MSF_ERR_INVALID if images need a network and net is
// NULL; MSF_ERR_SHAPE on unusable image shapes. Labels are checked as they
// are read (before any feature is computed): an integer array (.npz arr_1
// uint8 or int64; IDX; HDF5 integers) with every label in [0, classes), where
// classes = the network's logits (a features file's logits dimension; no
// upper bound without logits); else MSF_ERR_INVALID naming the file, the
// label and its sample.
msf_status msf_features_from_input(msf_feature_set *out, const char *path, msf_featnet *net, msf_resize_mode mode,
                                   int batch, const msf_progress *progress);

// The class labels an image input stores for its n images (an .npz's arr_1;
// the IDX labels file beside X-images-idx3-ubyte[.gz]; a PNG folder has
// none), checked as above against `classes` (0: only not negative); *out
// (malloc'd) is NULL when there are none.
msf_status msf_image_input_labels(const char *path, int64_t n, int classes, int64_t **out);

// HDF5 features file: datasets pool_3 [n, pool_dim], spatial [n, spatial_dim]
// and logits [n, logits_dim] where present, labels [n] if known; root
// attributes network, resize, source, count. Written atomically.
msf_status msf_features_write_h5(const char *path, const msf_feature_set *f, const char *source);
msf_status msf_features_read_h5(msf_feature_set *out, const char *path);

// -----------------------------------------------------------------------------
// Statistics

typedef struct {
    msf_fid_stats pool;     // mu, sigma
    msf_fid_stats spatial;  // mu_s, sigma_s (dim 0 when absent)
} msf_ref_stats;

void msf_ref_stats_free(msf_ref_stats *s);
msf_status msf_ref_stats_from_features(msf_ref_stats *out, const msf_feature_set *f);
// mu/sigma (and mu_s/sigma_s if present) of an .npz; *found = 0 (and
// MSF_OK) when it holds no mu. Shapes are checked, and each pair by
// msf_fid_stats_check (finite, sigma symmetric and positive semi-definite
// within round-off); errors name the file and the pair.
msf_status msf_ref_stats_read_npz(msf_ref_stats *out, const char *path, int *found);
// np.savez_compressed-style float64 mu, sigma (+ mu_s, sigma_s), readable by
// numpy, ADM's evaluator (as statistics of a batch) and pytorch-fid.
msf_status msf_ref_stats_write_npz(const char *path, const msf_ref_stats *s);

// -----------------------------------------------------------------------------
// Evaluation

// One side of an evaluation: features when the input has them (or images and
// a network), statistics always (stored ones win, as in ADM).
typedef struct {
    int has_features;
    msf_feature_set features;
    msf_ref_stats stats;
} msf_eval_input;

// What an evaluation input holds, found from its names and headers without
// reading its data: the options of the feature network (--net, --resize,
// --batch, --precision) act only on inputs with images.
typedef enum {
    MSF_INPUT_IMAGES,        // images only (a PNG folder, an IDX file, an .npz arr_0, sampler output): needs a network
    MSF_INPUT_IMAGES_STATS,  // an ADM reference batch: images and stored statistics; the network is optional
    MSF_INPUT_FEATURES,      // a features file (msf features)
    MSF_INPUT_STATS,         // statistics only (msf stats, pytorch-fid)
} msf_eval_input_kind;

// The kind of `path`; MSF_ERR_IO/FORMAT (message naming the file) when it is
// none of them.
msf_status msf_eval_input_kind_of(const char *path, msf_eval_input_kind *kind);
// Whether an input of this kind, loaded with (has_net) or without a network,
// gives features (KID, precision/recall, IS need them) and uses the network.
int msf_eval_input_uses_net(msf_eval_input_kind kind);
int msf_eval_input_has_features(msf_eval_input_kind kind, int has_net);

msf_status msf_eval_input_load(msf_eval_input *out, const char *path, msf_featnet *net, msf_resize_mode mode, int batch,
                               const msf_progress *progress);
// The same for the ranks of a job (msf run under MPI), called by every rank:
// feature batch b (of `batch` images) is computed by rank b mod size and sent
// to every rank, so each feature is computed as one process computes it;
// the statistics are computed on rank 0 only (the other ranks' are empty).
msf_status msf_eval_input_load_dist(msf_eval_input *out, const char *path, msf_featnet *net, msf_resize_mode mode,
                                    int batch, const msf_dist *dist, const msf_progress *progress);
void msf_eval_input_free(msf_eval_input *in);

enum {
    MSF_METRIC_FID = 1 << 0,
    MSF_METRIC_SFID = 1 << 1,
    MSF_METRIC_IS = 1 << 2,
    MSF_METRIC_PR = 1 << 3,
    MSF_METRIC_KID = 1 << 4,
    MSF_METRIC_CLASS = 1 << 5,
};

typedef struct {
    int is_split;  // Inception Score split size (ADM: 5000)
    int pr_k;      // precision/recall neighbourhood (ADM: 3)
    int kid;       // compute KID (slow: 100 subsets of 1000 in float64)
    msf_kid_opts kid_opts;
} msf_eval_opts;

// ADM's defaults: split 5000, k 3, no KID (clean-fid's 100 x 1000, seed 0 when on).
msf_eval_opts msf_eval_opts_default(void);

typedef struct {
    unsigned present;  // MSF_METRIC_* bits of the values computed
    double fid, sfid, inception_score, precision, recall, kid, class_consistency;
    // Why each absent metric is absent (for the CLI), "" when present.
    char why_missing[6][96];
} msf_metrics;

// Every metric the two inputs allow: FID (statistics), sFID (spatial
// statistics on both sides), IS (sample logits with a 1008- or class-sized
// head), precision/recall and KID (pool features on both sides), class
// consistency (sample logits and labels). MSF_ERR_SHAPE on mismatched
// dimensions.
msf_status msf_evaluate(msf_metrics *out, const msf_eval_input *ref, const msf_eval_input *sample,
                        const msf_eval_opts *o);

#endif
