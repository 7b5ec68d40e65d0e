// h5read.h: the HDF5 reader (msf_h5_reader; its writer is io/h5write.h):
// weight files, and every other HDF5 file msf reads (latents, features,
// noise, golden files).
//
// A weight file holds one dataset per tensor, named exactly as its PyTorch
// state_dict key ("blocks.0.attn.qkv.weight"; groups such as "base/" may
// prefix the names of a multi-model file), plus attributes holding the model
// configuration. The same reader serves the golden test files.
//
// Every error names the file and the tensor or attribute, and for shape
// errors the expected and the actual shape.
#ifndef MSF_IO_H5READ_H
#define MSF_IO_H5READ_H

#include <stddef.h>
#include <stdint.h>

#include "core/status.h"

#define MSF_WEIGHTS_MAX_DIMS 8
// The largest tensor msf_h5_load accepts (its extent is checked against
// this and against the bytes the file stores for it before any allocation).
#define MSF_WEIGHTS_MAX_BYTES ((size_t)1 << 38)
#define MSF_WEIGHTS_MAX_BYTES_TEXT "256 GiB"

typedef struct msf_h5_reader msf_h5_reader;

typedef struct {
    const char *name;  // full path without the leading '/'
    int ndim;
    int64_t shape[MSF_WEIGHTS_MAX_DIMS];
    const char *dtype;  // "float32", "float64", "float16", "int64", "uint8", ...
    int used;           // set once the tensor has been read
} msf_h5_tensor;

// Open for reading. MSF_ERR_IO if the file is missing or unreadable,
// MSF_ERR_FORMAT if it is not an HDF5 file or a dataset's extent is over
// MSF_WEIGHTS_MAX_BYTES or beyond what the file stores for it.
msf_status msf_h5_open(msf_h5_reader **out, const char *path);
// The same for an HDF5 file that holds data rather than a model: `kind`
// names it in messages ("noise file", "latents file", "features file").
msf_status msf_h5_open_as(msf_h5_reader **out, const char *path, const char *kind);
void msf_h5_close(msf_h5_reader *w);
const char *msf_h5_path(const msf_h5_reader *w);

// Tensors, sorted by name.
int msf_h5_count(const msf_h5_reader *w);
const msf_h5_tensor *msf_h5_tensor_at(const msf_h5_reader *w, int index);
const msf_h5_tensor *msf_h5_find(const msf_h5_reader *w, const char *name);  // NULL if absent

// Read tensor `name` as float32 into dst, checking its shape against
// (ndim, shape); a -1 in `shape` accepts any size in that dimension.
// Integer and other float datasets are converted. MSF_ERR_NOT_FOUND if
// absent, MSF_ERR_SHAPE if the shape differs.
msf_status msf_h5_read(msf_h5_reader *w, const char *name, float *dst, int ndim, const int64_t *shape);
// As msf_h5_read into a new 64-byte aligned buffer (free with msf_aligned_free).
msf_status msf_h5_load(msf_h5_reader *w, const char *name, int ndim, const int64_t *shape, float **out);
// As msf_h5_read in float64 (statistics, schedules: no rounding to float32).
msf_status msf_h5_read_f64(msf_h5_reader *w, const char *name, double *dst, int ndim, const int64_t *shape);
// The same for int64 data (labels, timesteps); float datasets are rejected.
msf_status msf_h5_read_i64(msf_h5_reader *w, const char *name, int64_t *dst, int ndim, const int64_t *shape);

// Names of tensors never read, logged at warning level; returns their number.
int msf_h5_report_unused(const msf_h5_reader *w);

// Attributes of the object at `obj` (NULL or "" for the file root).
// MSF_ERR_NOT_FOUND if absent, MSF_ERR_FORMAT if of another type.
msf_status msf_h5_get_attr_int(const msf_h5_reader *w, const char *obj, const char *name, int64_t *out);
msf_status msf_h5_get_attr_double(const msf_h5_reader *w, const char *obj, const char *name, double *out);
msf_status msf_h5_get_attr_string(const msf_h5_reader *w, const char *obj, const char *name, char *buf, size_t size);

// Attributes of `obj` (NULL or "" = root) for display: calls fn(user, name,
// value-as-text) for each, sorted by name.
typedef void (*msf_attr_visit_fn)(void *user, const char *name, const char *value);
msf_status msf_h5_visit_attrs(const msf_h5_reader *w, const char *obj, msf_attr_visit_fn fn, void *user);

#endif
