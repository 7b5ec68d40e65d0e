// inception.h: InceptionV3 as pytorch-fid's FIDInceptionV3, the feature
// network of the FID / sFID / IS / precision-recall metrics (ADM's evaluator
// runs the same TF graph, inception-2015-12-05, whose weights pytorch-fid
// ported to PyTorch).
//
// Architecture (tools/reference/inception.py has it in PyTorch). Every conv
// is a BasicConv2d: conv without bias -> BatchNorm (eps 1e-3) -> ReLU.
//   stem       Conv2d_1a_3x3 s2, Conv2d_2a_3x3, Conv2d_2b_3x3 p1, max pool 3 s2,
//              Conv2d_3b_1x1, Conv2d_4a_3x3, max pool 3 s2
//   A          Mixed_5b/5c/5d: [1x1 | 1x1, 5x5 | 1x1, 3x3, 3x3 | avg pool 3 s1 p1
//              excluding padding, 1x1]
//   B          Mixed_6a: [3x3 s2 | 1x1, 3x3, 3x3 s2 | max pool 3 s2]
//   C          Mixed_6b..6e: [1x1 | 1x1, 1x7, 7x1 | 1x1, 7x1, 1x7, 7x1, 1x7 |
//              avg pool excluding padding, 1x1]
//   D          Mixed_7a: [1x1, 3x3 s2 | 1x1, 1x7, 7x1, 3x3 s2 | max pool 3 s2]
//   E1, E2     Mixed_7b / 7c: [1x1 | 1x1, (1x3, 3x1) | 1x1, 3x3, (1x3, 3x1) |
//              pool, 1x1]; E1 pools by average excluding padding, E2 by MAX
//              (pytorch-fid's FIDInceptionE_2, as the TF graph does)
//   pool_3     global average -> [2048]; logits [1008] = pool_3 . fc.weight^T
//              (no bias: ADM's softmax input)
//   spatial    [2023]: Mixed_6d.branch1x1 after BN and ReLU (ADM's
//              mixed_6/conv:0), NHWC [17, 17, 192], first 7 channels,
//              flattened (h * 17 + w) * 7 + c. In the TF graph every conv
//              layer is the node chain <name>/Conv2D, <name>/batchnorm,
//              <name>/CheckNumerics, <name>/control_dependency and <name>,
//              and the next layer reads <name>: the node named mixed_6/conv
//              is the ReLU, so the features are post-ReLU.
//
// Computation: activations are NHWC inside, one image at a time; every conv
// is one sgemm per block of output pixels of one image (the block sizes
// depend only on the layer's shapes), writing its branch's channel slice of
// the block output directly (no concatenation copies); 1x1 convs multiply the
// input in place, the others go through an NHWC im2col. BatchNorm is folded
// into the conv at load, in float64 then rounded to float32: w' = w g/s,
// b' = beta - mean g/s with s = sqrt(var + 1e-3). That changes the rounding
// (one rounding of w g/s instead of rounding conv(x, w) and then the BN
// arithmetic), not the function: it moves results by a few float32 ulps,
// well inside the 1e-5 tolerance against the float64 reference.
//
// Threads: with at least as many images as threads, each thread runs whole
// images (its own workspace); otherwise the images run one after the other
// with each layer's pixel blocks shared out. Both give the same bits: every
// output element is computed by one sgemm call (single-threaded) whose shape
// depends only on the layer, so results do not depend on the thread count
// or on how a batch is split into calls.
#ifndef MSF_EVAL_INCEPTION_H
#define MSF_EVAL_INCEPTION_H

#include <stddef.h>

#include "core/status.h"
#include "io/h5read.h"
#include "nn/linear_bf16.h"

#define INCEPTION_POOL_DIM 2048
#define INCEPTION_SPATIAL_DIM 2023  // 17 * 17 * 7
#define INCEPTION_NUM_CLASSES 1008
#define INCEPTION_MIN_SIZE 75  // smaller inputs leave Mixed_7a with no output pixel
#define INCEPTION_SIZE 299     // the input size of the metrics (spatial needs it)

typedef enum {
    INCEPTION_STEM = 0,
    INCEPTION_A,
    INCEPTION_B,
    INCEPTION_C,
    INCEPTION_D,
    INCEPTION_E1,
    INCEPTION_E2,
} inception_block_kind;

#define INCEPTION_MAX_WIDTHS 6
#define INCEPTION_MAX_BLOCKS 12

// A block: its kind, input channels and branch widths, in this order
// (FIDInceptionV3's values in brackets):
//   STEM  Conv2d_1a, 2a, 2b, 3b, 4a out channels       [32, 32, 64, 80, 192]
//   A     1x1, 5x5_1, 5x5_2, 3x3dbl_1, 3x3dbl_2/3, pool  [64, 48, 64, 64, 96, 32|64|64]
//   B     3x3, 3x3dbl_1, 3x3dbl_2/3                    [384, 64, 96]
//   C     1x1, 7x7 (channels_7x7), 7x7_3 and 7x7dbl_5, pool  [192, 128|160|160|192, 192, 192]
//   D     3x3_1, 3x3_2, 7x7x3_1, 7x7x3_2/3/4           [192, 320, 192, 192]
//   E1/E2 1x1, 3x3_1, 3x3_2a/2b, 3x3dbl_1, 3x3dbl_2/3a/3b, pool  [320, 384, 384, 448, 384, 192]
typedef struct {
    inception_block_kind kind;
    int c_in;
    int widths[INCEPTION_MAX_WIDTHS];
} inception_block_spec;

// Output channels of a block.
int inception_block_out_channels(const inception_block_spec *s);

// A whole network: stem, Mixed_5b .. Mixed_7c, fc (num_classes x the last
// block's channels).
typedef struct {
    int num_blocks;
    inception_block_spec blocks[INCEPTION_MAX_BLOCKS];
    int num_classes;
} inception_config;

// pytorch-fid's FIDInceptionV3 (divisor 1, 1008 classes); divisor 16 (every
// width / 16) and fewer classes give the small network of the golden tests.
msf_status inception_config_scaled(inception_config *c, int divisor, int num_classes);

typedef struct inception_model inception_model;

// Load a network of config c from the tensors under `group` (NULL or "" =
// root) of w, named by pytorch-fid's state_dict keys ("Conv2d_1a_3x3.conv.
// weight", "Mixed_5b.branch1x1.bn.running_mean", "fc.weight"; BatchNorm's
// weight, bias, running_mean, running_var), checking every shape against c
// (the error names the tensor, got vs expected); conv and fc weights must be
// finite, and any other tensor of the group is refused (fc.bias, unused, is
// allowed; sub-groups are not the network's). The workspace fits inputs up
// to max_h x max_w with the current omp_get_max_threads().
msf_status inception_load(inception_model **out, msf_h5_reader *w, const char *group, const inception_config *c,
                          int max_h, int max_w);
// One block alone (tests): tensors `prefix` + the block module's own keys
// ("branch1x1.conv.weight"; the stem's are "Conv2d_1a_3x3.conv.weight", ...).
msf_status inception_load_block(inception_model **out, msf_h5_reader *w, const char *prefix,
                                const inception_block_spec *s, int max_h, int max_w);
void inception_free(inception_model *m);
// The arithmetic of the convolutions: fp32 (the default, exact) or bf16 (the
// BatchNorm-folded weights converted to bf16 once, here; each im2col block
// rounded to bf16; fp32 accumulation through oneDNN; bias, ReLU, pools and
// the fc layer in fp32). In bf16 the images of a batch run one after another,
// each conv on all threads. MSF_ERR_INVALID without oneDNN.
msf_status inception_set_precision(inception_model *m, nn_precision p);

// Features of n images x [n, 3, h, w] (float32 NCHW, already normalised to
// [-1, 1]; h, w >= 75): pool [n, pool dim], spatial [n, 2023], logits
// [n, num_classes]; each may be NULL. spatial needs 299 x 299 input (the
// 17 x 17 grid of Mixed_6d). MSF_ERR_NUMERIC naming the image if x holds a
// NaN or Inf. A model from inception_load_block is refused.
msf_status inception_forward(inception_model *m, float *pool, float *spatial, float *logits, const float *x, int n,
                             int h, int w);

// The last block's output y [n, c, oh, ow] (NCHW) for input x [n, c_in, h, w];
// y may be NULL to only get the shape (tests).
msf_status inception_forward_blocks(inception_model *m, float *y, int *c, int *oh, int *ow, const float *x, int n,
                                    int h, int w);

// Workspace bytes the model holds (for reports).
size_t inception_workspace_bytes(const inception_model *m);

#endif
