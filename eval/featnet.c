// featnet.c: dispatch on the weight file's `model` attribute.
#include "eval/featnet.h"

#include <stdlib.h>
#include <string.h>

#include "eval/featnet_impl.h"
#include "io/h5read.h"

msf_status msf_featnet_load(const char *path, msf_featnet **out) {
    *out = NULL;
    msf_h5_reader *w = NULL;
    msf_status st = msf_h5_open(&w, path);
    if (st != MSF_OK) return st;
    char model[64] = "";
    st = msf_h5_get_attr_string(w, NULL, "model", model, sizeof model);
    msf_h5_close(w);
    if (st != MSF_OK)
        return msf_fail_context(st,
                                "%s: not a feature network (expected a root attribute model = inception or "
                                "fmnist_classifier)",
                                path);
    if (strcmp(model, "inception") == 0) return msf_inception_featnet_load(path, out);
    if (strcmp(model, "fmnist_classifier") == 0) return msf_classifier_featnet_load(path, out);
    return msf_fail(MSF_ERR_FORMAT, "%s: model = %s is not a feature network (expected inception or fmnist_classifier)",
                    path, model);
}

void msf_featnet_free(msf_featnet *net) {
    if (!net) return;
    if (net->free_impl) net->free_impl(net->impl);
    free(net);
}

const msf_featnet_info *msf_featnet_get_info(const msf_featnet *net) { return &net->info; }

msf_status msf_featnet_set_precision(msf_featnet *net, nn_precision p) {
    if (p != NN_FP32 && !net->set_precision)
        return msf_fail(MSF_ERR_INVALID, "the %s feature network has no %s path", net->info.kind, nn_precision_name(p));
    return net->set_precision ? net->set_precision(net->impl, p) : MSF_OK;
}

msf_status msf_featnet_run(msf_featnet *net, const uint8_t *images, int n, int h, int w, int c, msf_resize_mode mode,
                           float *pool, float *spatial, float *logits) {
    if (n < 0 || (n > 0 && (!images || h <= 0 || w <= 0)))
        return msf_fail(MSF_ERR_INVALID, "featnet: bad image batch (n %d, %dx%d)", n, h, w);
    if (c != 1 && c != 3 && c != 4)
        return msf_fail(MSF_ERR_SHAPE, "featnet: images have %d channels (expected 1, 3 or 4)", c);
    if (spatial && net->info.spatial_dim == 0)
        return msf_fail(MSF_ERR_INVALID, "featnet: %s has no spatial features", net->info.kind);
    if (n == 0) return MSF_OK;
    return net->run(net->impl, images, n, h, w, c, mode, pool, spatial, logits);
}
