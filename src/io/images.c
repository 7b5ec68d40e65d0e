// images.c: PNG files (libpng); .npz batches are in npz.c.
#include "io/images.h"

#include "io/outfile.h"

#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <png.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

// -----------------------------------------------------------------------------
// PNG

// The PNG is encoded in memory, then written through io/outfile.h (a
// temporary file, every write and the close checked, renamed into place).
msf_status msf_png_write_rgb(const char *path, const uint8_t *pixels, int h, int w) {
    png_image img;
    memset(&img, 0, sizeof img);
    img.version = PNG_IMAGE_VERSION;
    img.width = (png_uint_32)w;
    img.height = (png_uint_32)h;
    img.format = PNG_FORMAT_RGB;
    png_alloc_size_t size = 0;
    void *buf = NULL;
    msf_status s = MSF_OK;
    if (!png_image_write_to_memory(&img, NULL, &size, 0, pixels, 3 * w, NULL))
        s = msf_fail(MSF_ERR_IO, "cannot encode %s as PNG: %s", path, img.message);
    else if (!(buf = malloc(size ? size : 1)))
        s = msf_fail(MSF_ERR_NOMEM, "out of memory encoding %s (%dx%d)", path, w, h);
    else if (!png_image_write_to_memory(&img, buf, &size, 0, pixels, 3 * w, NULL))
        s = msf_fail(MSF_ERR_IO, "cannot encode %s as PNG: %s", path, img.message);
    png_image_free(&img);
    if (!s) s = msf_outfile_write_file(path, buf, (size_t)size);
    free(buf);
    return s;
}

msf_status msf_png_read_rgb(const char *path, uint8_t **pixels, int *h, int *w) {
    *pixels = NULL;
    if (access(path, R_OK) != 0) return msf_fail(MSF_ERR_IO, "cannot open %s: %s", path, strerror(errno));
    png_image img;
    memset(&img, 0, sizeof img);
    img.version = PNG_IMAGE_VERSION;
    if (!png_image_begin_read_from_file(&img, path))
        return msf_fail(MSF_ERR_FORMAT, "cannot read %s as PNG: %s", path, img.message);
    img.format = PNG_FORMAT_RGB;
    size_t bytes = PNG_IMAGE_SIZE(img);
    uint8_t *buf = malloc(bytes ? bytes : 1);
    if (!buf) {
        png_image_free(&img);
        return msf_fail(MSF_ERR_NOMEM, "out of memory for %s (%ux%u)", path, img.width, img.height);
    }
    png_color black = {0, 0, 0};
    if (!png_image_finish_read(&img, &black, buf, 0, NULL)) {
        free(buf);
        msf_status s = msf_fail(MSF_ERR_FORMAT, "cannot read %s as PNG: %s", path, img.message);
        png_image_free(&img);
        return s;
    }
    *pixels = buf;
    *h = (int)img.height;
    *w = (int)img.width;
    png_image_free(&img);
    return MSF_OK;
}

// -----------------------------------------------------------------------------
// Grids

msf_status msf_png_grid_init(msf_png_grid *g, int64_t n, int max_count, int cols, int h, int w) {
    memset(g, 0, sizeof *g);
    g->count = n < max_count ? (int)n : max_count;
    if (g->count < 1) g->count = 1;
    g->cols = cols > 0 ? (cols < g->count ? cols : g->count) : (int)ceil(sqrt((double)g->count));
    g->rows = (g->count + g->cols - 1) / g->cols;
    g->h = h, g->w = w;
    g->gh = 2 + g->rows * (h + 2), g->gw = 2 + g->cols * (w + 2);
    g->canvas = calloc((size_t)g->gh * g->gw * 3, 1);
    if (!g->canvas) return msf_fail(MSF_ERR_NOMEM, "out of memory for a %dx%d grid", g->gh, g->gw);
    return MSF_OK;
}

void msf_png_grid_paste(msf_png_grid *g, int64_t i, const uint8_t *img, int c) {
    if (i >= g->count) return;
    int y0 = 2 + (int)(i / g->cols) * (g->h + 2), x0 = 2 + (int)(i % g->cols) * (g->w + 2);
    for (int y = 0; y < g->h; y++) {
        uint8_t *row = g->canvas + ((size_t)(y0 + y) * g->gw + x0) * 3;
        const uint8_t *src = img + (size_t)y * g->w * c;
        if (c == 3) memcpy(row, src, (size_t)g->w * 3);
        else
            for (int x = 0; x < g->w; x++)
                for (int ch = 0; ch < 3; ch++) row[3 * x + ch] = src[(size_t)x * c + (c < 3 ? 0 : ch)];
    }
}

msf_status msf_png_grid_write(const msf_png_grid *g, const char *path) {
    return msf_png_write_rgb(path, g->canvas, g->gh, g->gw);
}

void msf_png_grid_free(msf_png_grid *g) {
    free(g->canvas);
    g->canvas = NULL;
}

// -----------------------------------------------------------------------------
// Folders

static int name_cmp(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

msf_status msf_png_list(const char *dir, char ***names, int *count) {
    *names = NULL, *count = 0;
    DIR *d = opendir(dir);
    if (!d) return msf_fail(MSF_ERR_IO, "cannot open directory %s: %s", dir, strerror(errno));
    char **list = NULL;
    int n = 0, cap = 0;
    msf_status s = MSF_OK;
    struct dirent *e;
    while (!s && (e = readdir(d))) {
        size_t len = strlen(e->d_name);
        if (len < 5 || strcasecmp(e->d_name + len - 4, ".png") || e->d_name[0] == '.') continue;
        if (n == cap) {
            cap = cap ? 2 * cap : 64;
            char **grown = realloc(list, (size_t)cap * sizeof *list);
            if (!grown) {
                s = msf_fail(MSF_ERR_NOMEM, "out of memory listing %s", dir);
                break;
            }
            list = grown;
        }
        if (!(list[n] = strdup(e->d_name))) s = msf_fail(MSF_ERR_NOMEM, "out of memory listing %s", dir);
        else n++;
    }
    closedir(d);
    if (!s && n == 0) s = msf_fail(MSF_ERR_NOT_FOUND, "no .png files in %s", dir);
    if (s) {
        msf_png_list_free(list, n);
        return s;
    }
    qsort(list, (size_t)n, sizeof *list, name_cmp);
    *names = list, *count = n;
    return MSF_OK;
}

void msf_png_list_free(char **names, int count) {
    for (int i = 0; i < count; i++) free(names[i]);
    free(names);
}
