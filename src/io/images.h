// images.h: image files: PNG here, and (through io/npz.h, included for the
// callers that read and write both) NumPy .npz batches as the ADM evaluator
// reads them (arr_0 uint8 [N, H, W, 3]).
#ifndef MSF_IO_IMAGES_H
#define MSF_IO_IMAGES_H

#include <stddef.h>
#include <stdint.h>

#include "core/status.h"
#include "io/npz.h"

// -----------------------------------------------------------------------------
// PNG

// Write an 8-bit RGB PNG from pixels (h, w, 3) (row-major, interleaved).
msf_status msf_png_write_rgb(const char *path, const uint8_t *pixels, int h, int w);
// Read a PNG as 8-bit RGB (h, w, 3) into a malloc'd buffer, decoded as PIL's
// Image.open(path).convert("RGB") decodes it (what pytorch-fid and clean-fid
// compute features of): no gamma or colour-profile conversion, alpha and
// tRNS dropped, palettes looked up, 1/2/4-bit grey scaled to 0..255, 16-bit
// colour and grey+alpha reduced to their high byte, 16-bit grey clipped to
// 255 (PIL's mode "I"). Sides over MSF_PNG_MAX_SIDE, or more pixels than the
// file's compressed bytes can hold, are refused before any allocation.
#define MSF_PNG_MAX_SIDE 16384
msf_status msf_png_read_rgb(const char *path, uint8_t **pixels, int *h, int *w);

// The names of the *.png files (case-insensitive suffix) in directory `dir`,
// sorted bytewise: *names is an array of *count malloc'd strings (free with
// msf_png_list_free). MSF_ERR_NOT_FOUND if there are none.
msf_status msf_png_list(const char *dir, char ***names, int *count);
void msf_png_list_free(char **names, int count);

#endif
