// h5write.h: writing result files in HDF5, atomically.
//
// A writer creates "<path>.tmp-<pid>" and only msf_h5_commit renames it to
// <path>; msf_h5_abort (or any failure) removes it, so a reader never sees a
// half-written result.
#ifndef MSF_IO_H5WRITE_H
#define MSF_IO_H5WRITE_H

#include <stdint.h>

#include "core/status.h"

typedef struct msf_h5_writer msf_h5_writer;

msf_status msf_h5_create(msf_h5_writer **out, const char *path);
// Datasets named by path (intermediate groups are created).
msf_status msf_h5_write_f32(msf_h5_writer *w, const char *name, int ndim, const int64_t *shape, const float *data);
msf_status msf_h5_write_i64(msf_h5_writer *w, const char *name, int ndim, const int64_t *shape, const int64_t *data);
// Attributes on the object at `obj` (NULL or "" = root; a group is created if needed).
msf_status msf_h5_attr_int(msf_h5_writer *w, const char *obj, const char *name, int64_t value);
msf_status msf_h5_attr_double(msf_h5_writer *w, const char *obj, const char *name, double value);
msf_status msf_h5_attr_string(msf_h5_writer *w, const char *obj, const char *name, const char *value);
// Close and rename into place; the writer is freed either way.
msf_status msf_h5_commit(msf_h5_writer *w);
// Close and delete the temporary file; the writer is freed.
void msf_h5_abort(msf_h5_writer *w);

#endif
