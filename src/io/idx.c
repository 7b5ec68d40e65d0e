// idx.c: IDX (MNIST / Fashion-MNIST) readers through zlib's gz* functions,
// which read gzip files and pass plain files through unchanged.
#include "io/idx.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "core/arena.h"

static const char *range_names[] = {"unit", "signed"};

const char *msf_byte_range_name(msf_byte_range r) { return range_names[r]; }

msf_status msf_byte_range_parse(const char *name, msf_byte_range *r) {
    for (int i = 0; i < 2; i++)
        if (!strcmp(name, range_names[i])) {
            *r = (msf_byte_range)i;
            return MSF_OK;
        }
    return msf_fail(MSF_ERR_INVALID, "unknown pixel range '%s' (expected unit for [0, 1] or signed for [-1, 1])", name);
}

msf_idx_opts msf_idx_defaults(void) {
    return (msf_idx_opts){.pad_to = 32, .rows = 28, .cols = 28, .range = MSF_BYTES_UNIT, .max_images = 0};
}

// -----------------------------------------------------------------------------

static msf_status open_gz(gzFile *out, const char *path) {
    errno = 0;
    gzFile f = gzopen(path, "rb");
    if (!f) return msf_fail(MSF_ERR_IO, "cannot open IDX file %s: %s", path, errno ? strerror(errno) : "out of memory");
    gzbuffer(f, 1 << 17);
    *out = f;
    return MSF_OK;
}

// Read up to `bytes` into dst; *done gets what was read (less at the end of
// the file). Fails only on corrupt gzip data.
static msf_status read_some(gzFile f, const char *path, void *dst, size_t bytes, size_t *done) {
    unsigned char *p = dst;
    *done = 0;
    while (*done < bytes) {
        size_t chunk = bytes - *done > (1u << 30) ? (1u << 30) : bytes - *done;
        int got = gzread(f, p + *done, (unsigned)chunk);
        if (got < 0) {
            int err;
            const char *msg = gzerror(f, &err);
            return msf_fail(MSF_ERR_FORMAT, "%s: corrupt gzip data (zlib: %s)", path, msg);
        }
        if (got == 0) break;
        *done += (size_t)got;
    }
    if (*done < bytes) {
        int err;
        const char *msg = gzerror(f, &err);
        if (err != Z_OK && err != Z_STREAM_END)
            return msf_fail(MSF_ERR_FORMAT, "%s: corrupt gzip data (zlib: %s)", path, msg);
    }
    return MSF_OK;
}

// Read exactly `bytes`; `what` names the part for a truncation message.
static msf_status read_exact(gzFile f, const char *path, void *dst, size_t bytes, const char *what) {
    size_t done = 0;
    msf_status s = read_some(f, path, dst, bytes, &done);
    if (s) return s;
    if (done < bytes)
        return msf_fail(MSF_ERR_FORMAT, "%s: truncated: %s needs %zu bytes, the file ends after %zu", path, what, bytes,
                        done);
    return MSF_OK;
}

// Header: magic check (ubyte, `ndim` dimensions) and the dimensions.
static msf_status read_header(gzFile f, const char *path, int ndim, const char *kind, uint32_t *dims) {
    unsigned char m[4];
    msf_status s = read_exact(f, path, m, 4, "the IDX header");
    if (s) return s;
    if (m[0] || m[1] || m[2] != 0x08 || m[3] != ndim)
        return msf_fail(MSF_ERR_FORMAT,
                        "%s: magic 0x%02x%02x%02x%02x is not an IDX file of %s (expected 0x000008%02x: unsigned "
                        "bytes, %d dimension%s)",
                        path, m[0], m[1], m[2], m[3], kind, ndim, ndim, ndim > 1 ? "s" : "");
    unsigned char d[12];
    if ((s = read_exact(f, path, d, (size_t)4 * ndim, "the IDX dimensions"))) return s;
    for (int i = 0; i < ndim; i++)
        dims[i] = (uint32_t)d[4 * i] << 24 | (uint32_t)d[4 * i + 1] << 16 | (uint32_t)d[4 * i + 2] << 8 | d[4 * i + 3];
    return MSF_OK;
}

// The header's sizes are not trusted: the payload is read into a buffer that
// grows with the data actually read (doubling, from 1 MiB), so a header that
// claims terabytes costs no more memory than the file holds and ends in a
// truncation error naming the header's count. A plain (uncompressed) file's
// size is also checked against the header before anything is read, and no
// payload may exceed MSF_IDX_MAX_BYTES.
static msf_status read_payload(gzFile f, const char *path, size_t bytes, const char *what, unsigned char **out) {
    *out = NULL;
    size_t cap = bytes < ((size_t)1 << 20) ? (bytes ? bytes : 1) : ((size_t)1 << 20), done = 0;
    unsigned char *buf = malloc(cap);
    if (!buf) return msf_fail(MSF_ERR_NOMEM, "%s: out of memory for %s", path, what);
    while (done < bytes) {
        size_t got = 0;
        msf_status s = read_some(f, path, buf + done, cap - done, &got);
        done += got;
        if (!s && done < cap)
            s = msf_fail(MSF_ERR_FORMAT, "%s: truncated or wrong header: %s need %zu bytes of data, the file has %zu",
                         path, what, bytes, done);
        if (!s && done < bytes) {
            size_t next = cap > bytes / 2 ? bytes : cap * 2;
            unsigned char *grown = realloc(buf, next);
            if (grown) buf = grown, cap = next;
            else s = msf_fail(MSF_ERR_NOMEM, "%s: out of memory for %s", path, what);
        }
        if (s) {
            free(buf);
            return s;
        }
    }
    *out = buf;
    return MSF_OK;
}

// A plain file's real size against the header's (a gzip file's is known only
// by reading it: read_payload bounds that case).
static msf_status check_plain_size(gzFile f, const char *path, size_t header_bytes, size_t bytes, const char *what) {
    if (!gzdirect(f)) return MSF_OK;
    FILE *raw = fopen(path, "rb");
    if (!raw) return MSF_OK;  // opened once already; the read will report problems
    long long size = -1;
    if (fseek(raw, 0, SEEK_END) == 0) size = ftell(raw);
    fclose(raw);
    if (size >= 0 && (unsigned long long)size < header_bytes + bytes)
        return msf_fail(MSF_ERR_FORMAT, "%s: truncated or wrong header: %s need %zu bytes of data, the file has %lld",
                        path, what, bytes, size - (long long)header_bytes);
    return MSF_OK;
}

msf_status msf_idx_read_u8(const char *path, int64_t max, uint8_t **out, int64_t *n, int *h, int *w) {
    *out = NULL;
    gzFile f = NULL;
    msf_status s = open_gz(&f, path);
    if (s) return s;
    uint32_t dims[3] = {0};
    uint8_t *raw = NULL;
    if ((s = read_header(f, path, 3, "images", dims))) goto done;
    int64_t count = dims[0];
    int rows = (int)dims[1], cols = (int)dims[2];
    if (rows < 1 || cols < 1 || rows > 65536 || cols > 65536 || count < 1) {
        s = msf_fail(MSF_ERR_SHAPE,
                     "%s: header gives %lld images of %ux%u (expected at least one image, sides 1..65536)", path,
                     (long long)count, dims[1], dims[2]);
        goto done;
    }
    if (max > 0 && max < count) count = max;
    size_t bytes = (size_t)rows * cols * (size_t)count;
    if (bytes > MSF_IDX_MAX_BYTES) {
        s = msf_fail(MSF_ERR_SHAPE, "%s: header gives %lld images of %dx%d (%zu bytes), over the limit of %llu bytes",
                     path, (long long)count, rows, cols, bytes, (unsigned long long)MSF_IDX_MAX_BYTES);
        goto done;
    }
    char what[96];
    snprintf(what, sizeof what, "%lld images of %dx%d", (long long)count, rows, cols);
    if ((s = check_plain_size(f, path, 16, bytes, what))) goto done;
    if ((s = read_payload(f, path, bytes, what, &raw))) goto done;
    *out = raw, *n = count, *h = rows, *w = cols;
    raw = NULL;
done:
    free(raw);
    gzclose(f);
    return s;
}

msf_status msf_idx_read_images(const char *path, const msf_idx_opts *o, float **out, int64_t *n, int *h, int *w) {
    *out = NULL;
    uint8_t *raw = NULL;
    int64_t count = 0;
    int rows = 0, cols = 0;
    msf_status s = msf_idx_read_u8(path, o->max_images, &raw, &count, &rows, &cols);
    if (s) return s;
    float *img = NULL;
    if ((o->rows && rows != o->rows) || (o->cols && cols != o->cols)) {
        s = msf_fail(MSF_ERR_SHAPE, "%s: images are %dx%d, expected %dx%d", path, rows, cols, o->rows, o->cols);
        goto done;
    }
    int side_h = o->pad_to ? o->pad_to : rows, side_w = o->pad_to ? o->pad_to : cols;
    if (side_h < rows || side_w < cols) {
        s = msf_fail(MSF_ERR_SHAPE, "%s: images are %dx%d, larger than the padded size %d", path, rows, cols,
                     o->pad_to);
        goto done;
    }
    size_t pixels = (size_t)rows * cols, plane = (size_t)side_h * side_w;
    img = msf_aligned_alloc(plane * (size_t)count * sizeof *img);
    if (!img) {
        s = msf_fail(MSF_ERR_NOMEM, "%s: out of memory for %lld images", path, (long long)count);
        goto done;
    }
    float background = msf_byte_value(0, o->range);
    int top = (side_h - rows) / 2, left = (side_w - cols) / 2;
    for (int64_t i = 0; i < count; i++) {
        float *dst = img + (size_t)i * plane;
        const uint8_t *src = raw + (size_t)i * pixels;
        for (size_t k = 0; k < plane; k++) dst[k] = background;
        for (int y = 0; y < rows; y++)
            for (int x = 0; x < cols; x++)
                dst[(size_t)(y + top) * side_w + x + left] = msf_byte_value(src[(size_t)y * cols + x], o->range);
    }
    *out = img, *n = count, *h = side_h, *w = side_w;
    img = NULL;
done:
    free(raw);
    msf_aligned_free(img);
    return s;
}

msf_status msf_idx_read_labels(const char *path, int64_t max, int64_t **out, int64_t *n) {
    *out = NULL;
    gzFile f = NULL;
    msf_status s = open_gz(&f, path);
    if (s) return s;
    uint32_t dims[1] = {0};
    unsigned char *raw = NULL;
    int64_t *labels = NULL;
    if ((s = read_header(f, path, 1, "labels", dims))) goto done;
    int64_t count = dims[0];
    if (max > 0 && max < count) count = max;
    char what[64];
    snprintf(what, sizeof what, "%lld labels", (long long)count);
    if ((s = check_plain_size(f, path, 8, (size_t)count, what))) goto done;
    if ((s = read_payload(f, path, (size_t)count, what, &raw))) goto done;
    labels = malloc((count ? (size_t)count : 1) * sizeof *labels);
    if (!labels) {
        s = msf_fail(MSF_ERR_NOMEM, "%s: out of memory for %lld labels", path, (long long)count);
        goto done;
    }
    for (int64_t i = 0; i < count; i++) labels[i] = raw[i];
    *out = labels, *n = count;
    labels = NULL;
done:
    free(raw), free(labels);
    gzclose(f);
    return s;
}
