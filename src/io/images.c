// images.c: PNG files (libpng); .npz batches are in npz.c.
#include "io/images.h"

#include "io/outfile.h"

#include <dirent.h>
#include <errno.h>
#include <png.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
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
    // The header's size against a stated limit and against the file: deflate
    // expands at most about 1032:1, so W x H pixels need at least
    // W x H / 1032 bytes of compressed data (one byte per pixel and row,
    // the leanest PNG) before any buffer is allocated.
    struct stat st;
    long long file_bytes = stat(path, &st) == 0 ? (long long)st.st_size : -1;
    if (img.width > MSF_PNG_MAX_SIDE || img.height > MSF_PNG_MAX_SIDE) {
        png_image_free(&img);
        return msf_fail(MSF_ERR_SHAPE, "%s: PNG header gives %ux%u pixels (sides up to %d accepted)", path, img.width,
                        img.height, MSF_PNG_MAX_SIDE);
    }
    if (file_bytes >= 0 && (double)img.width * img.height > (double)file_bytes * 1100.0) {
        png_image_free(&img);
        return msf_fail(MSF_ERR_FORMAT, "%s: PNG header gives %ux%u pixels, more than its %lld bytes can hold", path,
                        img.width, img.height, file_bytes);
    }
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
