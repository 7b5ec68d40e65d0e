// idx.h: reading IDX files (the MNIST / Fashion-MNIST format), gzip-compressed
// or plain, with zlib.
//
// An IDX file is a 4-byte magic (0, 0, data type, number of dimensions), the
// dimensions as big-endian uint32, then the data in row-major order. Images
// are type 0x08 (unsigned byte) with 3 dimensions (count, rows, cols): magic
// 0x00000803; labels are 1-D: 0x00000801.
//
// Images become float32 (n, 1, H, W) with pixel p mapped to p / 255 in [0, 1]
// (MSF_BYTES_UNIT, the default) or p / 127.5 - 1 in [-1, 1]
// (MSF_BYTES_SIGNED). With pad_to = 32 the 28x28 Fashion-MNIST images are
// centred on a 32x32 background (2 pixels of value 0, i.e. 0.0 or -1.0, on
// each side; a power-of-two side that factorises twice by 2 or once by 4);
// pad_to = 0 keeps the file's size.
//
// Errors name the file: MSF_ERR_IO when it cannot be opened, MSF_ERR_FORMAT
// for corrupt gzip data, a wrong magic or a file shorter than its header
// says, MSF_ERR_SHAPE for images of an unexpected size or a payload over
// MSF_IDX_MAX_BYTES. Header sizes are never trusted for an allocation: memory
// grows with the data actually read.
#ifndef MSF_IO_IDX_H
#define MSF_IO_IDX_H

#include <stdint.h>

#include "core/status.h"

// The largest payload (images x rows x cols bytes) a reader accepts: 16 GiB,
// far above any IDX dataset (Fashion-MNIST's training set is 47 MB).
#define MSF_IDX_MAX_BYTES ((size_t)1 << 34)

typedef enum {
    MSF_BYTES_UNIT = 0,    // p / 255
    MSF_BYTES_SIGNED = 1,  // p / 127.5 - 1
} msf_byte_range;

const char *msf_byte_range_name(msf_byte_range r);
msf_status msf_byte_range_parse(const char *name, msf_byte_range *r);  // "unit" or "signed"
// One 8-bit value in the range (the same expression the readers use).
static inline float msf_byte_value(unsigned v, msf_byte_range r) {
    return r == MSF_BYTES_SIGNED ? (float)v / 127.5f - 1.0f : (float)v / 255.0f;
}

typedef struct {
    int pad_to;      // 0: keep; else the output side (>= rows and cols of the file)
    int rows, cols;  // expected image size; 0 = any
    msf_byte_range range;
    int64_t max_images;  // read at most this many (0 = all)
} msf_idx_opts;

// Fashion-MNIST defaults: pad to 32, expect 28x28, unit range, all images.
msf_idx_opts msf_idx_defaults(void);

// Images of an IDX3 ubyte file into a new 64-byte aligned buffer *out
// (n, 1, h, w) (free with msf_aligned_free); *n, *h, *w get the sizes.
msf_status msf_idx_read_images(const char *path, const msf_idx_opts *o, float **out, int64_t *n, int *h, int *w);

// The raw bytes of an IDX3 ubyte file: (n, h, w) uint8 in a new malloc'd
// buffer, at most `max` images (0 = all).
msf_status msf_idx_read_u8(const char *path, int64_t max, uint8_t **out, int64_t *n, int *h, int *w);

// Labels of an IDX1 ubyte file into a new malloc'd buffer (at most `max`, 0 = all).
msf_status msf_idx_read_labels(const char *path, int64_t max, int64_t **out, int64_t *n);

#endif
