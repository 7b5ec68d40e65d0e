// images.h: image batches on disk: NumPy .npz files as the ADM evaluator
// reads them (a zip of .npy arrays; sample batches hold arr_0 uint8
// [N, H, W, 3]), and PNG files.
//
// Both .npz directions stream: a writer takes the array in pieces (a batch
// of decoded images at a time) and a reader hands it out in pieces, so a
// 50,000-image batch never has to fit in memory. Every file is written under
// a temporary name in the destination directory and renamed into place when
// complete; on failure nothing is left behind.
#ifndef MSF_IO_IMAGES_H
#define MSF_IO_IMAGES_H

#include <stddef.h>
#include <stdint.h>

#include "core/status.h"

#define MSF_NPY_MAX_DIMS 8

// -----------------------------------------------------------------------------
// .npz writing: one uint8 array per file (what np.savez(path, arr_0=a) makes,
// entries stored uncompressed as np.savez stores them).

typedef struct msf_npz_writer msf_npz_writer;

// Start `path` holding uint8 array `name` (e.g. "arr_0", stored as
// "arr_0.npy") of the given shape (C order); its bytes follow through
// msf_npz_append, in order.
msf_status msf_npz_create_u8(msf_npz_writer **out, const char *path, const char *name, int ndim,
                             const int64_t *shape);
msf_status msf_npz_append(msf_npz_writer *w, const void *data, size_t bytes);
// Check that exactly the array's bytes came, write the zip and rename it into
// place; the writer is freed either way.
msf_status msf_npz_commit(msf_npz_writer *w);
// Delete the temporary files; the writer is freed. NULL is a no-op.
void msf_npz_abort(msf_npz_writer *w);

// -----------------------------------------------------------------------------
// .npz reading: one uint8 array, handed out in order.

typedef struct msf_npz_reader msf_npz_reader;

// Open array `name` ("arr_0") of `path`. MSF_ERR_IO if the file cannot be
// read, MSF_ERR_FORMAT if it is not a zip, MSF_ERR_NOT_FOUND if the array is
// absent (the message lists the arrays present), MSF_ERR_SHAPE if it is not
// uint8 in C order.
msf_status msf_npz_open_u8(msf_npz_reader **out, const char *path, const char *name);
int msf_npz_ndim(const msf_npz_reader *r);
const int64_t *msf_npz_shape(const msf_npz_reader *r);
// The next `bytes` bytes of the array (MSF_ERR_FORMAT if the file ends first).
msf_status msf_npz_read(msf_npz_reader *r, void *dst, size_t bytes);
void msf_npz_close(msf_npz_reader *r);

// -----------------------------------------------------------------------------
// PNG

// Write an 8-bit RGB PNG from pixels (h, w, 3) (row-major, interleaved).
msf_status msf_png_write_rgb(const char *path, const uint8_t *pixels, int h, int w);
// Read a PNG as 8-bit RGB (h, w, 3) into a malloc'd buffer. 8-bit RGB files
// are read exactly; grey and palette images are expanded; an alpha channel
// is composited onto black (libpng's simplified reader).
msf_status msf_png_read_rgb(const char *path, uint8_t **pixels, int *h, int *w);

// The names of the *.png files (case-insensitive suffix) in directory `dir`,
// sorted bytewise: *names is an array of *count malloc'd strings (free with
// msf_png_list_free). MSF_ERR_NOT_FOUND if there are none.
msf_status msf_png_list(const char *dir, char ***names, int *count);
void msf_png_list_free(char **names, int count);

#endif
