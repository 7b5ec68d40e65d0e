// tensor.c: float32 tensor views.
#include "core/tensor.h"

#include <stdio.h>

msf_tensor msf_tensor_view(float *data, int ndim, const int64_t *shape) {
    msf_tensor t = {.data = data, .ndim = ndim};
    for (int i = 0; i < MSF_MAX_DIMS; i++) t.shape[i] = i < ndim ? shape[i] : 1;
    return t;
}

msf_tensor msf_tensor_4d(float *data, int64_t n, int64_t c, int64_t h, int64_t w) {
    int64_t s[4] = {n, c, h, w};
    return msf_tensor_view(data, 4, s);
}

size_t msf_tensor_numel(const msf_tensor *t) {
    size_t n = 1;
    for (int i = 0; i < t->ndim; i++) n *= (size_t)t->shape[i];
    return n;
}

int msf_tensor_same_shape(const msf_tensor *a, const msf_tensor *b) {
    if (a->ndim != b->ndim) return 0;
    for (int i = 0; i < a->ndim; i++)
        if (a->shape[i] != b->shape[i]) return 0;
    return 1;
}

char *msf_shape_str(char *buf, size_t size, int ndim, const int64_t *shape) {
    size_t off = 0;
    off += (size_t)snprintf(buf + off, size > off ? size - off : 0, "[");
    for (int i = 0; i < ndim; i++)
        off += (size_t)snprintf(buf + off, size > off ? size - off : 0, "%s%lld", i ? ", " : "", (long long)shape[i]);
    snprintf(buf + off, size > off ? size - off : 0, "]");
    return buf;
}
