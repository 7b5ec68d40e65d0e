// images.c: PNG files (libpng); .npz batches are in npz.c.
#include "io/images.h"

#include "io/outfile.h"
#include "io/textfile.h"

#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <png.h>
#include <setjmp.h>
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

// libpng reports errors by longjmp; the handler keeps the message.
typedef struct {
    jmp_buf jump;
    char message[200];
} png_read_ctx;

static void png_read_error(png_structp png, png_const_charp msg) {
    png_read_ctx *c = png_get_error_ptr(png);
    snprintf(c->message, sizeof c->message, "%s", msg);
    longjmp(c->jump, 1);
}

static void png_read_warning(png_structp png, png_const_charp msg) { (void)png, (void)msg; }

// The decoding follows what PIL (9.4, Debian 12) gives for
// Image.open(path).convert("RGB"), the way pytorch-fid and clean-fid read a
// PNG: no gamma, sRGB or ICC conversion; alpha and tRNS dropped (not
// blended); palettes looked up; 1/2/4-bit grey scaled to 0..255 (x255, x85,
// x17); 16-bit colour and grey+alpha keep the high byte; 16-bit grey alone
// (PIL's mode "I") is clipped to 255.
msf_status msf_png_read_rgb(const char *path, uint8_t **pixels, int *h, int *w) {
    *pixels = NULL;
    FILE *f = fopen(path, "rb");
    if (!f) return msf_fail(MSF_ERR_IO, "cannot open %s: %s", path, strerror(errno));
    struct stat st;
    long long file_bytes = fstat(fileno(f), &st) == 0 ? (long long)st.st_size : -1;
    unsigned char sig[8];
    if (fread(sig, 1, 8, f) != 8 || png_sig_cmp(sig, 0, 8)) {
        fclose(f);
        return msf_fail(MSF_ERR_FORMAT, "cannot read %s as PNG: Not a PNG file", path);
    }
    png_read_ctx ctx = {.message = ""};
    png_structp png = png_create_read_struct(PNG_LIBPNG_VER_STRING, &ctx, png_read_error, png_read_warning);
    png_infop info = png ? png_create_info_struct(png) : NULL;
    uint8_t *volatile rgb = NULL;
    uint8_t *volatile raw = NULL;
    png_bytep *volatile rows = NULL;
    msf_status status = MSF_OK;
    if (!png || !info) {
        status = msf_fail(MSF_ERR_NOMEM, "out of memory reading %s", path);
        goto done;
    }
    if (setjmp(ctx.jump)) {
        status = msf_fail(MSF_ERR_FORMAT, "cannot read %s as PNG: %s", path, ctx.message);
        goto done;
    }
    png_init_io(png, f);
    png_set_sig_bytes(png, 8);
    png_read_info(png, info);
    png_uint_32 width = png_get_image_width(png, info), height = png_get_image_height(png, info);
    int depth = png_get_bit_depth(png, info), type = png_get_color_type(png, info);
    // The header's size against a stated limit and against the file: deflate
    // expands at most about 1032:1, so W x H pixels need at least
    // W x H / 1032 bytes of compressed data (one byte per pixel and row,
    // the leanest PNG) before any buffer is allocated.
    if (width > MSF_PNG_MAX_SIDE || height > MSF_PNG_MAX_SIDE) {
        status = msf_fail(MSF_ERR_SHAPE, "%s: PNG header gives %ux%u pixels (sides up to %d accepted)", path,
                          (unsigned)width, (unsigned)height, MSF_PNG_MAX_SIDE);
        goto done;
    }
    if (file_bytes >= 0 && (double)width * height > (double)file_bytes * 1100.0) {
        status = msf_fail(MSF_ERR_FORMAT, "%s: PNG header gives %ux%u pixels, more than its %lld bytes can hold", path,
                          (unsigned)width, (unsigned)height, file_bytes);
        goto done;
    }
    int grey16 = type == PNG_COLOR_TYPE_GRAY && depth == 16;  // PIL's mode "I": clipped below
    if (type == PNG_COLOR_TYPE_PALETTE) png_set_palette_to_rgb(png);
    if (type == PNG_COLOR_TYPE_GRAY && depth < 8) png_set_expand_gray_1_2_4_to_8(png);
    if (depth == 16 && !grey16) png_set_strip_16(png);
    png_set_strip_alpha(png);  // also the alpha a palette's or grey's tRNS expands to
    png_set_interlace_handling(png);
    png_read_update_info(png, info);
    int channels = png_get_channels(png, info);
    size_t row_bytes = png_get_rowbytes(png, info);
    if ((channels != 1 && channels != 3) || row_bytes != (size_t)width * channels * (grey16 ? 2 : 1)) {
        status = msf_fail(MSF_ERR_FORMAT, "cannot read %s as PNG: unexpected layout (%d channels, %zu bytes a row)",
                          path, channels, row_bytes);
        goto done;
    }
    size_t raw_bytes = row_bytes * height, rgb_bytes = (size_t)width * height * 3;
    raw = malloc(raw_bytes > 0 ? raw_bytes : 1);
    rows = malloc((height > 0 ? height : 1) * sizeof *rows);
    rgb = malloc(rgb_bytes > 0 ? rgb_bytes : 1);
    if (!raw || !rows || !rgb) {
        status = msf_fail(MSF_ERR_NOMEM, "out of memory for %s (%ux%u)", path, (unsigned)width, (unsigned)height);
        goto done;
    }
    for (png_uint_32 y = 0; y < height; y++) rows[y] = raw + (size_t)y * row_bytes;
    png_read_image(png, rows);
    png_read_end(png, NULL);
    size_t n = (size_t)width * height;
    for (size_t i = 0; i < n; i++) {
        if (channels == 3) {
            memcpy(rgb + 3 * i, raw + 3 * i, 3);
        } else {
            unsigned v = grey16 ? (unsigned)raw[2 * i] << 8 | raw[2 * i + 1] : raw[i];
            rgb[3 * i] = rgb[3 * i + 1] = rgb[3 * i + 2] = (uint8_t)(v > 255 ? 255 : v);
        }
    }
    *pixels = rgb;
    rgb = NULL;
    *h = (int)height;
    *w = (int)width;
done:
    png_destroy_read_struct(png ? &png : NULL, info ? &info : NULL, NULL);
    free(raw);
    free(rows);
    free(rgb);
    fclose(f);
    return status;
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

msf_status msf_png_grid_write_legend(const msf_png_grid *g, const char *path, const char *grid_name,
                                     const int64_t *labels, const char *const *names, int num_names,
                                     const char *about) {
    msf_text_file t;
    msf_status s = msf_text_create(&t, path);
    if (s) return s;
    fprintf(t.f, "# %s: the class of each of its %d images, row by row from the top, left to right\n", grid_name,
            g->count);
    fprintf(t.f, "# (%d row%s of %d; image i of the grid is sample i): class index%s\n", g->rows,
            g->rows == 1 ? "" : "s", g->cols, names ? " and name" : "");
    if (about) fprintf(t.f, "# %s\n", about);
    for (int r = 0; r < g->rows; r++) {
        fprintf(t.f, "row %d:", r + 1);
        for (int c = 0; c < g->cols && r * g->cols + c < g->count; c++) {
            int64_t y = labels[r * g->cols + c];
            fprintf(t.f, "%s %lld", c ? " |" : "", (long long)y);
            if (names && y >= 0 && y < num_names) fprintf(t.f, " %s", names[y]);
        }
        fputc('\n', t.f);
    }
    return msf_text_commit(&t);
}

void msf_png_grid_legend_path(char *dst, size_t size, const char *grid_path) {
    size_t n = strlen(grid_path);
    if (n > 4 && !strcasecmp(grid_path + n - 4, ".png")) snprintf(dst, size, "%.*s.txt", (int)(n - 4), grid_path);
    else snprintf(dst, size, "%s.txt", grid_path);
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
