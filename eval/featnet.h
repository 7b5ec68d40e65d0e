// featnet.h: the feature network behind the FID-style metrics.
//
// Two networks implement it: InceptionV3 as pytorch-fid's FIDInceptionV3
// (eval/inception.h; model attribute "inception") for ADM's evaluator, and a
// small Fashion-MNIST classifier (eval/classifier.h; model attribute
// "fmnist_classifier") for the real small-scale reproduction. Both take uint8
// images and give, per image:
//   pool    [pool_dim]    features for FID / precision / recall / KID
//                         (Inception pool_3, 2048; classifier penultimate)
//   spatial [spatial_dim] features for sFID (Inception: Mixed_6d.branch1x1,
//                         NHWC, first 7 channels, 2023; 0 = none)
//   logits  [logits_dim]  class logits for the Inception Score (Inception:
//                         pool_3 . fc.weight^T, 1008, no bias; classifier: its
//                         class logits, also used for class consistency)
#ifndef MSF_EVAL_FEATNET_H
#define MSF_EVAL_FEATNET_H

#include <stdint.h>

#include "core/status.h"
#include "eval/resize.h"
#include "nn/linear_bf16.h"

typedef struct msf_featnet msf_featnet;

typedef struct {
    char kind[32];         // "inception" | "fmnist_classifier"
    int in_c, in_h, in_w;  // the network's input (after resizing)
    int pool_dim;
    int spatial_dim;  // 0 when the network has no spatial features
    int logits_dim;
    int num_classes;  // classes a sampler's labels refer to (classifier: 10; inception: 1000, logits 1008)
} msf_featnet_info;

// Open a weight file and dispatch on its root attribute `model`.
msf_status msf_featnet_load(const char *path, msf_featnet **out);
void msf_featnet_free(msf_featnet *net);
// fp32 (the default) or bf16 products (inception_set_precision,
// classifier_set_precision); MSF_ERR_INVALID for bf16 without oneDNN.
msf_status msf_featnet_set_precision(msf_featnet *net, nn_precision p);
const msf_featnet_info *msf_featnet_get_info(const msf_featnet *net);

// Features of n uint8 images NHWC [n, h, w, c] (c = 1, 3 or 4), preprocessed
// with `mode` (the classifier ignores the mode and uses its own fixed
// preprocessing, see classifier.h). Each output may be NULL (not computed if
// nothing needs it): pool [n, pool_dim], spatial [n, spatial_dim], logits
// [n, logits_dim]. Bits do not depend on the thread count or on how a set of
// images is split into calls.
msf_status msf_featnet_run(msf_featnet *net, const uint8_t *images, int n, int h, int w, int c, msf_resize_mode mode,
                           float *pool, float *spatial, float *logits);

#endif
