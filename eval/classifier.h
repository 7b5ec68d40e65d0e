// classifier.h: the Fashion-MNIST feature network, a small CNN trained by
// tools/train_classifier.py (PyTorch reference: tools/reference/classifier.py).
// Its penultimate features take the place of Inception's pool_3 in FID,
// precision/recall and KID on Fashion-MNIST; its logits give an IS-like
// score and class consistency (eval/featnet.h, kind "fmnist_classifier").
//
// Network, widths (c1, c2, c3, F, classes) read from the file (the trained
// model: 16, 32, 64, 128, 10):
//   x [n, 1, 28, 28] -> conv1 3x3 pad 1 -> ReLU -> max pool 2 -> [n, c1, 14, 14]
//     -> conv2 -> ReLU -> pool -> [n, c2, 7, 7] -> conv3 -> ReLU -> pool -> [n, c3, 3, 3]
//     -> flatten (channel-major) -> fc1 -> ReLU = features [n, F] -> fc2 = logits [n, classes]
//
// Input (msf_classifier_input): uint8 NHWC images; 32x32 (the demo models'
// 28x28 padded by 2 on each side) are centre-cropped to 28x28, 28x28 used as
// is, other sizes rejected (MSF_ERR_SHAPE). c = 1 is grey; c = 3 or 4 is
// accepted only if R = G = B at every pixel of the crop (alpha dropped), else
// MSF_ERR_INVALID: the network knows only grey Fashion-MNIST. Pixel p becomes
// p / 127.5f - 1 (float32). There is no resizing, so the featnet resize mode
// is ignored: every mode would be the identity here and only the final
// normalisation would differ, and the classifier must see exactly the
// normalisation it was trained with.
//
// Determinism: each image's results are the same bits whatever the thread
// count and however a set is split into calls (the convolutions run per
// image with shape-only blocking; the linear layers use the row-by-row
// reference kernel, whose result for a row does not depend on the batch).
// A model is not safe to use from two threads at once (one workspace).
#ifndef MSF_EVAL_CLASSIFIER_H
#define MSF_EVAL_CLASSIFIER_H

#include <stdint.h>

#include "core/status.h"
#include "nn/linear_bf16.h"

#define MSF_CLASSIFIER_INPUT 28

// Fashion-MNIST's ten class names, by label ("T-shirt/top", ..., "Ankle
// boot"), the classes this network and the demo models know.
#define MSF_FMNIST_CLASSES 10
extern const char *const msf_fmnist_class_names[MSF_FMNIST_CLASSES];

typedef struct {
    int conv1_channels, conv2_channels, conv3_channels;
    int features;  // penultimate width F
    int num_classes;
} msf_classifier_config;

typedef struct msf_classifier msf_classifier;

// Load a weight file with root attribute model = "fmnist_classifier" (written
// by tools/train_classifier.py). Every tensor's shape is checked against the
// file's config attributes; a missing, mis-shaped, non-finite or unknown
// tensor (sub-groups such as check/ are not the model's) is an error naming it.
msf_status msf_classifier_load(const char *path, msf_classifier **out);
void msf_classifier_free(msf_classifier *m);
const msf_classifier_config *msf_classifier_get_config(const msf_classifier *m);
// fp32 (the default, exact) or bf16: the three convolutions (one im2col
// product per image) and fc1 (row by row) take bf16 inputs and weights and
// sum in fp32 through oneDNN; pools, ReLU and fc2 (the logits) stay fp32.
// The features of an image do not depend on the batch or the thread count.
msf_status msf_classifier_set_precision(msf_classifier *m, nn_precision p);

// x [n, 1, 28, 28] from uint8 images [n, h, w, c] as described above.
msf_status msf_classifier_input(float *x, const uint8_t *images, int n, int h, int w, int c);

// features [n, F] and logits [n, classes] (either may be NULL) of x [n, 1, 28, 28].
msf_status msf_classifier_forward(msf_classifier *m, float *features, float *logits, const float *x, int n);

#endif
