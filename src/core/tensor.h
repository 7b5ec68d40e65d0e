// tensor.h: a float32 view of up to 4 dimensions (row-major, contiguous).
//
// A view never owns its data; whoever allocated `data` frees it.
#ifndef MSF_CORE_TENSOR_H
#define MSF_CORE_TENSOR_H

#include <stddef.h>
#include <stdint.h>

#define MSF_MAX_DIMS 4

typedef struct {
    float *data;
    int ndim;
    int64_t shape[MSF_MAX_DIMS];
} msf_tensor;

// View of `data` with the given shape (ndim 1..4); unused dims are set to 1.
msf_tensor msf_tensor_view(float *data, int ndim, const int64_t *shape);
msf_tensor msf_tensor_4d(float *data, int64_t n, int64_t c, int64_t h, int64_t w);

size_t msf_tensor_numel(const msf_tensor *t);
int msf_tensor_same_shape(const msf_tensor *a, const msf_tensor *b);

// "[2, 3, 4]" into buf; returns buf.
char *msf_shape_str(char *buf, size_t size, int ndim, const int64_t *shape);

#endif
