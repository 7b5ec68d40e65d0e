// npz.h: NumPy .npz files (a zip of .npy arrays), as ADM's evaluator,
// pytorch-fid and np.savez / np.savez_compressed read and write them.
//
// Reading: one array at a time, handed out in pieces (a 50,000-image batch
// never has to fit in memory), from stored or deflated zip members; dtypes
// uint8, little-endian int64, float32 and float64 in C order; .npy versions
// 1.0 to 3.0. Writing: a streamed uint8 array stored uncompressed (what
// np.savez makes of an image batch), or whole float64 arrays deflated (what
// np.savez_compressed makes of FID statistics). Every file is written under a
// temporary name in the destination directory and renamed into place when
// complete; on failure nothing is left behind.
#ifndef MSF_IO_NPZ_H
#define MSF_IO_NPZ_H

#include <stddef.h>
#include <stdint.h>

#include "core/status.h"

#define MSF_NPY_MAX_DIMS 8
// The largest array a reader accepts (its header's shape is refused beyond it,
// before any allocation; its real size must match the zip entry's).
#define MSF_NPY_MAX_BYTES ((int64_t)1 << 38)
#define MSF_NPY_MAX_BYTES_TEXT "256 GiB"

typedef enum { MSF_NPY_U8 = 0, MSF_NPY_I64 = 1, MSF_NPY_F32 = 2, MSF_NPY_F64 = 3 } msf_npy_dtype;

// Bytes per element, and NumPy's name ("uint8", "int64", "float32", "float64").
size_t msf_npy_dtype_size(msf_npy_dtype t);
const char *msf_npy_dtype_name(msf_npy_dtype t);

// -----------------------------------------------------------------------------
// Writing a streamed uint8 array (np.savez(path, arr_0=a): member stored).

typedef struct msf_npz_writer msf_npz_writer;

// Start `path` holding uint8 array `name` (e.g. "arr_0", stored as
// "arr_0.npy") of the given shape (C order); its bytes follow through
// msf_npz_append, in order.
msf_status msf_npz_create_u8(msf_npz_writer **out, const char *path, const char *name, int ndim, const int64_t *shape);
msf_status msf_npz_append(msf_npz_writer *w, const void *data, size_t bytes);
// Check that exactly the array's bytes came, write the zip and rename it into
// place; the writer is freed either way.
msf_status msf_npz_commit(msf_npz_writer *w);
// Delete the temporary files; the writer is freed. NULL is a no-op.
void msf_npz_abort(msf_npz_writer *w);

// -----------------------------------------------------------------------------
// Writing whole float64 arrays, deflated (np.savez_compressed(path, **arrays)).

typedef struct {
    const char *name;  // "mu" -> member "mu.npy"
    int ndim;          // 0 (a scalar) to MSF_NPY_MAX_DIMS
    int64_t shape[MSF_NPY_MAX_DIMS];
    const double *data;  // C order
} msf_npz_f64_array;

msf_status msf_npz_write_f64(const char *path, const msf_npz_f64_array *arrays, int count);

// -----------------------------------------------------------------------------
// Reading

typedef struct msf_npz_reader msf_npz_reader;

// Open array `name` ("arr_0") of `path`. MSF_ERR_IO if the file cannot be
// read, MSF_ERR_FORMAT if it is not a zip or the member is not a well-formed
// .npy, MSF_ERR_NOT_FOUND if the array is absent (the message lists the arrays
// present), MSF_ERR_SHAPE if its dtype is not one of msf_npy_dtype
// (little-endian) or it is in Fortran order.
msf_status msf_npz_open(msf_npz_reader **out, const char *path, const char *name);
// The same, and MSF_ERR_SHAPE unless the array is uint8.
msf_status msf_npz_open_u8(msf_npz_reader **out, const char *path, const char *name);
msf_npy_dtype msf_npz_dtype(const msf_npz_reader *r);
int msf_npz_ndim(const msf_npz_reader *r);
const int64_t *msf_npz_shape(const msf_npz_reader *r);
// The next `bytes` bytes of the array (MSF_ERR_FORMAT if the file ends first).
msf_status msf_npz_read(msf_npz_reader *r, void *dst, size_t bytes);
void msf_npz_close(msf_npz_reader *r);

// A whole array converted to float64 (int64 beyond 2^53 is rejected) in a
// malloc'd buffer; shape gets ndim <= MSF_NPY_MAX_DIMS entries. Errors as
// msf_npz_open, and MSF_ERR_NUMERIC naming the first NaN or Inf.
msf_status msf_npz_load_f64(const char *path, const char *name, double **out, int *ndim, int64_t *shape);

// Whether `path` (a readable .npz) holds array `name`.
msf_status msf_npz_contains(const char *path, const char *name, int *present);

#endif
