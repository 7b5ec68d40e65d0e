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

// An image grid as torchvision's save_image lays it out: `cols` images a
// row, 2-pixel black gaps between them and around them.
typedef struct {
    uint8_t *canvas;  // (gh, gw, 3)
    int count, cols, rows, h, w, gh, gw;
} msf_png_grid;

// A black canvas for the first min(n, max_count) images of h x w, `cols` a
// row (at most count; 0: ceil(sqrt(count))).
msf_status msf_png_grid_init(msf_png_grid *g, int64_t n, int max_count, int cols, int h, int w);
// Paste image i, pixels (h, w, c): the first 3 channels as RGB, or with
// fewer than 3 the first as gray; an image past the grid's count is skipped.
void msf_png_grid_paste(msf_png_grid *g, int64_t i, const uint8_t *img, int c);
// The grid as an RGB PNG (msf_png_write_rgb).
msf_status msf_png_grid_write(const msf_png_grid *g, const char *path);
void msf_png_grid_free(msf_png_grid *g);
// The legend of a grid PNG: the text file `path` (written atomically) says,
// row by row as the grid shows them, the class of each image: its index
// labels[i] and, where names is not NULL and the index is below num_names,
// names[index]. `about` (one line, or NULL) says where the labels and names
// come from; grid_name is the grid's file name, for the header.
msf_status msf_png_grid_write_legend(const msf_png_grid *g, const char *path, const char *grid_name,
                                     const int64_t *labels, const char *const *names, int num_names, const char *about);
// The legend's path for a grid at grid_path: its .png (any case) replaced by
// .txt, or .txt appended ("grid.png" -> "grid.txt").
void msf_png_grid_legend_path(char *dst, size_t size, const char *grid_path);

// The names of the *.png files (case-insensitive suffix) in directory `dir`,
// sorted bytewise: *names is an array of *count malloc'd strings (free with
// msf_png_list_free). MSF_ERR_NOT_FOUND if there are none.
msf_status msf_png_list(const char *dir, char ***names, int *count);
void msf_png_list_free(char **names, int count);

#endif
