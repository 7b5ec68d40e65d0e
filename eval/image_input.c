// image_input.c: PNG folders and .npz batches (read by src/io/images.c) as
// float32 NCHW for the frequency diagnostics.
#include "eval/image_input.h"

#include <stdio.h>
#include <stdlib.h>

#include "core/arena.h"
#include "io/images.h"

// Interleaved bytes (h*w, c) of one image -> planes (c, h*w) of floats.
static void bytes_to_planes(float *dst, const uint8_t *src, int c, size_t plane, msf_byte_range range) {
    for (int ch = 0; ch < c; ch++)
        for (size_t k = 0; k < plane; k++) dst[(size_t)ch * plane + k] = msf_byte_value(src[k * c + ch], range);
}

msf_status msf_png_folder_read(const char *dir, const msf_image_input_opts *o, float **out, int64_t *n, int *c, int *h,
                               int *w) {
    *out = NULL;
    char **names;
    int count;
    msf_status s = msf_png_list(dir, &names, &count);
    if (s) return s;
    int use = o->max_images > 0 && o->max_images < count ? (int)o->max_images : count;
    float *img = NULL;
    uint8_t *pix = NULL;
    int h0 = 0, w0 = 0;
    char path[4096];
    for (int i = 0; i < use && !s; i++) {
        int hi, wi;
        snprintf(path, sizeof path, "%s/%s", dir, names[i]);
        if ((s = msf_png_read_rgb(path, &pix, &hi, &wi))) break;
        if (i == 0) {
            h0 = hi, w0 = wi;
            img = msf_aligned_alloc((size_t)use * 3 * hi * wi * sizeof *img);
            if (!img) s = msf_fail(MSF_ERR_NOMEM, "out of memory for %d images of %dx%d from %s", use, hi, wi, dir);
        } else if (hi != h0 || wi != w0) {
            s = msf_fail(MSF_ERR_SHAPE, "%s is %dx%d, expected %dx%d like %s/%s", path, hi, wi, h0, w0, dir, names[0]);
        }
        if (!s) bytes_to_planes(img + (size_t)i * 3 * h0 * w0, pix, 3, (size_t)h0 * w0, o->range);
        free(pix);
        pix = NULL;
    }
    msf_png_list_free(names, count);
    if (s) {
        msf_aligned_free(img);
        return s;
    }
    *out = img, *n = use, *c = 3, *h = h0, *w = w0;
    return MSF_OK;
}

msf_status msf_npz_read_images(const char *path, const char *name, const msf_image_input_opts *o, float **out,
                               int64_t *n, int *c, int *h, int *w) {
    *out = NULL;
    if (!name) name = "arr_0";
    msf_npz_reader *r;
    msf_status s = msf_npz_open_u8(&r, path, name);
    if (s) return s;
    int ndim = msf_npz_ndim(r);
    const int64_t *shape = msf_npz_shape(r);
    if ((ndim != 3 && ndim != 4) || shape[0] < 1 || shape[1] < 1 || shape[2] < 1 ||
        (ndim == 4 && (shape[3] < 1 || shape[3] > 4))) {
        msf_npz_close(r);
        return msf_fail(MSF_ERR_SHAPE, "%s: array '%s' must be uint8 [N, H, W, C] (C <= 4) or [N, H, W]", path, name);
    }
    int64_t count = o->max_images > 0 && o->max_images < shape[0] ? o->max_images : shape[0];
    int hh = (int)shape[1], ww = (int)shape[2], cc = ndim == 4 ? (int)shape[3] : 1;
    size_t plane = (size_t)hh * ww, per = plane * cc;
    float *img = msf_aligned_alloc((size_t)count * per * sizeof *img);
    uint8_t *buf = malloc(per);
    if (!img || !buf)
        s = msf_fail(MSF_ERR_NOMEM, "%s: out of memory for %lld images of %dx%dx%d", path, (long long)count, hh, ww,
                     cc);
    // One image at a time: the reader streams, so large batches need only the floats.
    for (int64_t i = 0; i < count && !s; i++)
        if (!(s = msf_npz_read(r, buf, per))) bytes_to_planes(img + (size_t)i * per, buf, cc, plane, o->range);
    msf_npz_close(r);
    free(buf);
    if (s) {
        msf_aligned_free(img);
        return s;
    }
    *out = img, *n = count, *c = cc, *h = hh, *w = ww;
    return MSF_OK;
}
