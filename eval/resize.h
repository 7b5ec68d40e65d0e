// resize.h: the image preprocessing in front of a feature network, in the
// three named modes of REFERENCE.md section 4 (ADM's is the default, because
// the DiT and MSF papers' numbers use it).
//
//   MSF_RESIZE_ADM      legacy TF1 bilinear (align_corners false, no half-pixel
//                       centres: src = i * in/out, y1 = min(y0 + 1, in - 1), no
//                       antialias) on float pixels in [0, 255], then (x-128)/128
//   MSF_RESIZE_PYTORCH  pytorch-fid: x/255, bilinear with half-pixel centres
//                       (src = (i + 0.5) * in/out - 0.5, clamped at 0), then 2x-1
//   MSF_RESIZE_CLEAN    clean-fid "clean": per-channel PIL bicubic with antialias
//                       on float32 to the output size, clip [0, 255], (x-128)/128
//
// Input: uint8 images NHWC [n, h, w, c] with c = 1 (grey, replicated to every
// output channel), 3 (RGB) or 4 (RGBA: alpha dropped). Output: float32 NCHW
// [n, out_c, out_h, out_w], out_c = 1 (grey input only) or 3. When the input
// already has the output size every mode is the identity resize followed by
// the mode's normalisation.
#ifndef MSF_EVAL_RESIZE_H
#define MSF_EVAL_RESIZE_H

#include <stdint.h>

#include "core/status.h"

typedef enum { MSF_RESIZE_ADM = 0, MSF_RESIZE_PYTORCH = 1, MSF_RESIZE_CLEAN = 2 } msf_resize_mode;

// "adm" | "pytorch" | "clean" -> mode (MSF_ERR_INVALID naming the choices).
msf_status msf_resize_mode_parse(const char *name, msf_resize_mode *out);
const char *msf_resize_mode_name(msf_resize_mode mode);

// Resize and normalise `n` images as described above (OpenMP over images;
// the same bits for any thread count).
msf_status msf_resize_images(const uint8_t *images, int n, int h, int w, int c, msf_resize_mode mode, float *out,
                             int out_c, int out_h, int out_w);

#endif
