// featnet_impl.h: what a feature network backend provides (private to eval/).
#ifndef MSF_EVAL_FEATNET_IMPL_H
#define MSF_EVAL_FEATNET_IMPL_H

#include "eval/featnet.h"

struct msf_featnet {
    msf_featnet_info info;
    void *impl;
    msf_status (*run)(void *impl, const uint8_t *images, int n, int h, int w, int c, msf_resize_mode mode, float *pool,
                      float *spatial, float *logits);
    void (*free_impl)(void *impl);
    msf_status (*set_precision)(void *impl, nn_precision p);  // NULL: fp32 only
};

// Backends (eval/inception.c, eval/classifier.c): fill *out (allocated with
// malloc) from an opened weight file.
msf_status msf_inception_featnet_load(const char *path, msf_featnet **out);
msf_status msf_classifier_featnet_load(const char *path, msf_featnet **out);

#endif
