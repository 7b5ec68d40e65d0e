// image_input.h: 8-bit images for the frequency diagnostics, as float32
// NCHW: a folder of PNG files, or a NumPy .npz batch as ADM's evaluation suite
// writes them (array arr_0, uint8 [N, H, W, C]). The file formats are read
// by src/io/images.h; this adds the batch layout and the pixel mapping.
//
// Both give (N, C, H, W) in a new 64-byte aligned buffer (free with
// msf_aligned_free), each byte mapped by msf_byte_value (src/io/idx.h): p/255
// or p/127.5 - 1. Errors name the file.
#ifndef MSF_EVAL_IMAGE_INPUT_H
#define MSF_EVAL_IMAGE_INPUT_H

#include <stdint.h>

#include "core/status.h"
#include "io/idx.h"

typedef struct {
    msf_byte_range range;
    int64_t max_images;  // 0 = all
} msf_image_input_opts;

// Every *.png in `dir` (not recursive), in byte order of the file names, as
// RGB (C = 3): gray and palette images are expanded to RGB, alpha is
// composited onto black (msf_png_read_rgb). All files must share the size of
// the first (MSF_ERR_SHAPE naming the odd one).
msf_status msf_png_folder_read(const char *dir, const msf_image_input_opts *o, float **out, int64_t *n, int *c, int *h,
                               int *w);

// Array `name` ("arr_0" if NULL) of an .npz file: uint8 [N, H, W, C] (channels
// last, as ADM; C <= 4) or [N, H, W] (one channel).
msf_status msf_npz_read_images(const char *path, const char *name, const msf_image_input_opts *o, float **out,
                               int64_t *n, int *c, int *h, int *w);

#endif
