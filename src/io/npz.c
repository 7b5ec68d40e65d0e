// npz.c: NumPy .npz reading and writing with libzip.
//
// .npy format 1.0 (numpy/lib/format.py): the magic "\x93NUMPY", version
// bytes 1 0, a little-endian uint16 header length, then an ASCII Python dict
// {'descr': '<f8', 'fortran_order': False, 'shape': (N, H, W, 3), } padded
// with spaces and a final newline so the data starts at a multiple of 64
// bytes; version 2.0 and 3.0 differ only in a uint32 header length.
// The streamed uint8 writer puts the array in a temporary .npy next to the
// target, then libzip stores it (uncompressed, as np.savez does) into a
// temporary zip, which is renamed onto the target. The float64 writer builds
// each member in memory and deflates it (as np.savez_compressed does).
#include "io/npz.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <zip.h>

// A fixed member time stamp (1980-01-01, the first DOS date) keeps the bytes
// of a file a function of its arrays alone.
#define NPZ_MTIME ((time_t)315532800)

static const struct {
    const char *descr, *name;
    size_t size;
} dtypes[] = {
    [MSF_NPY_U8] = {"|u1", "uint8", 1},
    [MSF_NPY_I64] = {"<i8", "int64", 8},
    [MSF_NPY_F32] = {"<f4", "float32", 4},
    [MSF_NPY_F64] = {"<f8", "float64", 8},
};

size_t msf_npy_dtype_size(msf_npy_dtype t) { return dtypes[t].size; }
const char *msf_npy_dtype_name(msf_npy_dtype t) { return dtypes[t].name; }

// -----------------------------------------------------------------------------
// .npy headers

static int64_t numel(int ndim, const int64_t *shape) {
    int64_t n = 1;
    for (int d = 0; d < ndim; d++) n *= shape[d];
    return n;
}

// Header (magic to newline) of a C-order array into buf; returns its length.
static size_t npy_header(char *buf, size_t size, msf_npy_dtype dtype, int ndim, const int64_t *shape) {
    char dict[512];
    int len = snprintf(dict, sizeof dict, "{'descr': '%s', 'fortran_order': False, 'shape': (", dtypes[dtype].descr);
    for (int d = 0; d < ndim; d++)
        len += snprintf(dict + len, sizeof dict - (size_t)len, "%lld%s", (long long)shape[d],
                        ndim == 1 || d < ndim - 1 ? ", " : "");
    len += snprintf(dict + len, sizeof dict - (size_t)len, "), }");
    size_t total = 10 + (size_t)len + 1;
    size_t padded = (total + 63) / 64 * 64;
    if (padded > size) return 0;
    memcpy(buf, "\x93NUMPY\x01\x00", 8);
    size_t hlen = padded - 10;
    buf[8] = (char)(hlen & 0xff), buf[9] = (char)(hlen >> 8);
    memcpy(buf + 10, dict, (size_t)len);
    memset(buf + 10 + len, ' ', padded - total);
    buf[padded - 1] = '\n';
    return padded;
}

// Parse the dict of a header: dtype, C order, shape. Returns 0 or -1 with `why` set.
static int npy_parse(const char *dict, msf_npy_dtype *dtype, int *ndim, int64_t *shape, const char **why) {
    const char *d = strstr(dict, "'descr'");
    if (!d || !(d = strchr(d + 7, '\''))) return *why = "no 'descr' entry", -1;
    if (!strncmp(d, "'|u1'", 5) || !strncmp(d, "'<u1'", 5) || !strncmp(d, "'>u1'", 5) || !strncmp(d, "'u1'", 4))
        *dtype = MSF_NPY_U8;
    else if (!strncmp(d, "'<i8'", 5)) *dtype = MSF_NPY_I64;
    else if (!strncmp(d, "'<f4'", 5)) *dtype = MSF_NPY_F32;
    else if (!strncmp(d, "'<f8'", 5)) *dtype = MSF_NPY_F64;
    else return *why = "unsupported dtype (expected uint8, or little-endian int64, float32 or float64)", -1;
    const char *f = strstr(dict, "'fortran_order'");
    if (!f) return *why = "no 'fortran_order' entry", -1;
    f += strlen("'fortran_order'");
    while (*f == ' ' || *f == ':') f++;
    if (strncmp(f, "False", 5)) return *why = "the array is in Fortran order", -1;
    const char *s = strstr(dict, "'shape'");
    if (!s || !(s = strchr(s, '('))) return *why = "no 'shape' entry", -1;
    *ndim = 0;
    for (s++;;) {
        while (*s == ' ' || *s == ',') s++;
        if (*s == ')') break;
        char *end;
        long long v = strtoll(s, &end, 10);
        if (end == s || v < 0 || *ndim >= MSF_NPY_MAX_DIMS) return *why = "unreadable shape", -1;
        shape[(*ndim)++] = v;
        s = end;
    }
    // The element count times 8 bytes may not overflow or pass the limit (the
    // zip entry's real size is checked against it after parsing).
    int64_t n = 1;
    for (int k = 0; k < *ndim; k++)
        if (__builtin_mul_overflow(n, shape[k], &n) || n > MSF_NPY_MAX_BYTES / 8)
            return *why = "shape over the size limit (" MSF_NPY_MAX_BYTES_TEXT ")", -1;
    return 0;
}

// -----------------------------------------------------------------------------
// Shared writer pieces

// malloc'd "<a><b>".
static char *concat(const char *a, const char *b) {
    size_t n = strlen(a) + strlen(b) + 1;
    char *s = malloc(n);
    if (s) snprintf(s, n, "%s%s", a, b);
    return s;
}

// malloc'd "<path>.tmp-<pid><suffix>", a temporary name next to path.
static char *temp_name(const char *path, const char *suffix) {
    char tail[64];
    snprintf(tail, sizeof tail, ".tmp-%ld%s", (long)getpid(), suffix);
    return concat(path, tail);
}

static msf_status npz_zip_create(zip_t **za, const char *path) {
    int err = 0;
    *za = zip_open(path, ZIP_CREATE | ZIP_TRUNCATE, &err);
    if (*za) return MSF_OK;
    zip_error_t ze;
    zip_error_init_with_code(&ze, err);
    msf_status s = msf_fail(MSF_ERR_IO, "cannot create %s: %s", path, zip_error_strerror(&ze));
    zip_error_fini(&ze);
    return s;
}

// Add member `entry` from `src` (taken over) with the given compression.
static int npz_zip_add(zip_t *za, const char *entry, zip_source_t *src, zip_int32_t method) {
    zip_int64_t idx = src ? zip_file_add(za, entry, src, ZIP_FL_ENC_UTF_8) : -1;
    if (idx < 0 && src) zip_source_free(src);
    return idx < 0 || zip_set_file_compression(za, (zip_uint64_t)idx, method, 0) < 0 ||
                   zip_file_set_mtime(za, (zip_uint64_t)idx, NPZ_MTIME, 0) < 0
               ? -1
               : 0;
}

// -----------------------------------------------------------------------------
// Streamed uint8 writer

struct msf_npz_writer {
    char *path, *tmp_npy, *tmp_zip, *entry;
    FILE *npy;
    uint64_t expected, written;
};

static void writer_free(msf_npz_writer *w) {
    free(w->path), free(w->tmp_npy), free(w->tmp_zip), free(w->entry);
    free(w);
}

msf_status msf_npz_create_u8(msf_npz_writer **out, const char *path, const char *name, int ndim, const int64_t *shape) {
    *out = NULL;
    if (ndim < 1 || ndim > MSF_NPY_MAX_DIMS || numel(ndim, shape) < 0)
        return msf_fail(MSF_ERR_INVALID, "%s: array '%s' needs 1 to %d dimensions", path, name, MSF_NPY_MAX_DIMS);
    msf_npz_writer *w = calloc(1, sizeof *w);
    if (!w) return msf_fail(MSF_ERR_NOMEM, "out of memory");
    w->path = concat(path, "");
    w->tmp_npy = temp_name(path, ".npy");
    w->tmp_zip = temp_name(path, "");
    w->entry = concat(name, ".npy");
    if (!w->path || !w->tmp_npy || !w->tmp_zip || !w->entry) {
        writer_free(w);
        return msf_fail(MSF_ERR_NOMEM, "out of memory");
    }
    w->npy = fopen(w->tmp_npy, "wb");
    if (!w->npy) {
        msf_status s =
            msf_fail(MSF_ERR_IO, "cannot create %s: %s (temporary file %s)", path, strerror(errno), w->tmp_npy);
        writer_free(w);
        return s;
    }
    char header[1024];
    size_t len = npy_header(header, sizeof header, MSF_NPY_U8, ndim, shape);
    if (!len || fwrite(header, 1, len, w->npy) != len) {
        msf_status s = msf_fail(MSF_ERR_IO, "cannot write %s: %s", path, strerror(errno));
        msf_npz_abort(w);
        return s;
    }
    w->expected = (uint64_t)numel(ndim, shape);
    *out = w;
    return MSF_OK;
}

msf_status msf_npz_append(msf_npz_writer *w, const void *data, size_t bytes) {
    if (w->written + bytes > w->expected)
        return msf_fail(MSF_ERR_INVALID, "%s: %llu bytes appended to an array of %llu", w->path,
                        (unsigned long long)(w->written + bytes), (unsigned long long)w->expected);
    if (fwrite(data, 1, bytes, w->npy) != bytes)
        return msf_fail(MSF_ERR_IO, "cannot write %s: %s", w->path, strerror(errno));
    w->written += bytes;
    return MSF_OK;
}

msf_status msf_npz_commit(msf_npz_writer *w) {
    msf_status s = MSF_OK;
    if (w->written != w->expected)
        s = msf_fail(MSF_ERR_INVALID, "%s: %llu of the array's %llu bytes written", w->path,
                     (unsigned long long)w->written, (unsigned long long)w->expected);
    FILE *f = w->npy;
    w->npy = NULL;
    // fflush first: its errno is that of the failed write (fclose's may not be).
    if (fflush(f) != 0 && !s) s = msf_fail(MSF_ERR_IO, "cannot write %s: %s", w->path, strerror(errno));
    if (fclose(f) != 0 && !s) s = msf_fail(MSF_ERR_IO, "cannot write %s: %s", w->path, strerror(errno));
    zip_t *za = NULL;
    if (!s) s = npz_zip_create(&za, w->tmp_zip);
    if (!s && (npz_zip_add(za, w->entry, zip_source_file(za, w->tmp_npy, 0, -1), ZIP_CM_STORE) || zip_close(za) < 0)) {
        s = msf_fail(MSF_ERR_IO, "cannot write %s: %s", w->path, zip_strerror(za));
        zip_discard(za);
    }
    if (!s && rename(w->tmp_zip, w->path) != 0)
        s = msf_fail(MSF_ERR_IO, "cannot rename %s to %s: %s", w->tmp_zip, w->path, strerror(errno));
    if (s) unlink(w->tmp_zip);
    unlink(w->tmp_npy);
    writer_free(w);
    return s;
}

void msf_npz_abort(msf_npz_writer *w) {
    if (!w) return;
    if (w->npy) fclose(w->npy);
    unlink(w->tmp_npy);
    unlink(w->tmp_zip);
    writer_free(w);
}

// -----------------------------------------------------------------------------
// Whole float64 arrays, deflated

msf_status msf_npz_write_f64(const char *path, const msf_npz_f64_array *arrays, int count) {
    for (int i = 0; i < count; i++)
        if (arrays[i].ndim < 0 || arrays[i].ndim > MSF_NPY_MAX_DIMS || numel(arrays[i].ndim, arrays[i].shape) < 0 ||
            !arrays[i].name || strlen(arrays[i].name) > 200)
            return msf_fail(MSF_ERR_INVALID, "%s: array %d has a bad name or shape", path, i);
    char *tmp = temp_name(path, "");
    if (!tmp) return msf_fail(MSF_ERR_NOMEM, "out of memory");
    zip_t *za = NULL;
    msf_status s = npz_zip_create(&za, tmp);
    for (int i = 0; i < count && !s; i++) {
        const msf_npz_f64_array *a = &arrays[i];
        char header[1024], entry[256];
        size_t hlen = npy_header(header, sizeof header, MSF_NPY_F64, a->ndim, a->shape);
        size_t bytes = (size_t)numel(a->ndim, a->shape) * sizeof(double);
        unsigned char *buf = hlen ? malloc(hlen + bytes) : NULL;
        if (!buf) {
            s = msf_fail(MSF_ERR_NOMEM, "%s: no memory for array '%s' (%zu bytes)", path, a->name, bytes);
            break;
        }
        memcpy(buf, header, hlen);
        if (bytes) memcpy(buf + hlen, a->data, bytes);
        snprintf(entry, sizeof entry, "%s.npy", a->name);
        // libzip frees buf when the source is freed (freep = 1).
        zip_source_t *src = zip_source_buffer(za, buf, hlen + bytes, 1);
        if (!src) free(buf);
        if (npz_zip_add(za, entry, src, ZIP_CM_DEFLATE))
            s = msf_fail(MSF_ERR_IO, "cannot write %s: %s", path, zip_strerror(za));
    }
    if (!s && zip_close(za) < 0) s = msf_fail(MSF_ERR_IO, "cannot write %s: %s", path, zip_strerror(za));
    if (s && za) zip_discard(za);
    if (!s && rename(tmp, path) != 0)
        s = msf_fail(MSF_ERR_IO, "cannot rename %s to %s: %s", tmp, path, strerror(errno));
    if (s) unlink(tmp);
    free(tmp);
    return s;
}

// -----------------------------------------------------------------------------
// Reader

struct msf_npz_reader {
    char *path;
    zip_t *za;
    zip_file_t *file;
    msf_npy_dtype dtype;
    int ndim;
    int64_t shape[MSF_NPY_MAX_DIMS];
    uint64_t remaining;
};

static msf_status read_exact(msf_npz_reader *r, void *dst, size_t bytes, const char *what) {
    unsigned char *p = dst;
    while (bytes > 0) {
        zip_int64_t got = zip_fread(r->file, p, bytes);
        if (got <= 0)
            return msf_fail(MSF_ERR_FORMAT, "%s: %s ends early%s%s", r->path, what, got < 0 ? ": " : "",
                            got < 0 ? zip_file_strerror(r->file) : "");
        p += got, bytes -= (size_t)got;
    }
    return MSF_OK;
}

static msf_status open_zip(zip_t **za, const char *path) {
    *za = NULL;
    if (access(path, R_OK) != 0) return msf_fail(MSF_ERR_IO, "cannot open %s: %s", path, strerror(errno));
    int err = 0;
    *za = zip_open(path, ZIP_RDONLY, &err);
    if (*za) return MSF_OK;
    zip_error_t ze;
    zip_error_init_with_code(&ze, err);
    msf_status s = msf_fail(err == ZIP_ER_NOZIP || err == ZIP_ER_INCONS ? MSF_ERR_FORMAT : MSF_ERR_IO,
                            "cannot read %s as .npz: %s", path, zip_error_strerror(&ze));
    zip_error_fini(&ze);
    return s;
}

msf_status msf_npz_contains(const char *path, const char *name, int *present) {
    *present = 0;
    zip_t *za;
    msf_status s = open_zip(&za, path);
    if (s) return s;
    char entry[256];
    snprintf(entry, sizeof entry, "%s.npy", name);
    *present = zip_name_locate(za, entry, 0) >= 0;
    zip_discard(za);
    return MSF_OK;
}

msf_status msf_npz_open(msf_npz_reader **out, const char *path, const char *name) {
    *out = NULL;
    msf_npz_reader *r = calloc(1, sizeof *r);
    if (!r || !(r->path = strdup(path))) {
        free(r);
        return msf_fail(MSF_ERR_NOMEM, "out of memory");
    }
    msf_status s = open_zip(&r->za, path);
    if (s) {
        msf_npz_close(r);
        return s;
    }
    char entry[256];
    snprintf(entry, sizeof entry, "%s.npy", name);
    zip_int64_t idx = zip_name_locate(r->za, entry, 0);
    if (idx < 0) {
        char list[512] = "";
        zip_int64_t n = zip_get_num_entries(r->za, 0);
        for (zip_int64_t i = 0; i < n && strlen(list) < sizeof list - 64; i++)
            snprintf(list + strlen(list), sizeof list - strlen(list), "%s%s", i ? ", " : "",
                     zip_get_name(r->za, (zip_uint64_t)i, 0));
        s = msf_fail(MSF_ERR_NOT_FOUND, "%s has no array '%s' (it holds: %s)", path, name, *list ? list : "nothing");
        msf_npz_close(r);
        return s;
    }
    zip_stat_t st;
    r->file = zip_fopen_index(r->za, (zip_uint64_t)idx, 0);
    if (!r->file || zip_stat_index(r->za, (zip_uint64_t)idx, 0, &st) < 0) {
        s = msf_fail(MSF_ERR_FORMAT, "%s: cannot read entry %s: %s", path, entry, zip_strerror(r->za));
        msf_npz_close(r);
        return s;
    }
    unsigned char pre[12];
    s = read_exact(r, pre, 10, entry);
    if (!s && memcmp(pre, "\x93NUMPY", 6))
        s = msf_fail(MSF_ERR_FORMAT, "%s: %s is not a .npy array (bad magic)", path, entry);
    uint64_t hlen = 0, hsize = 10;
    if (!s) {
        if (pre[6] == 1) {
            hlen = pre[8] | (uint64_t)pre[9] << 8;
        } else if (pre[6] == 2 || pre[6] == 3) {
            s = read_exact(r, pre + 10, 2, entry);
            hlen = pre[8] | (uint64_t)pre[9] << 8 | (uint64_t)pre[10] << 16 | (uint64_t)pre[11] << 24;
            hsize = 12;
        } else {
            s = msf_fail(MSF_ERR_FORMAT, "%s: %s has .npy version %d.%d (expected 1.0 to 3.0)", path, entry, pre[6],
                         pre[7]);
        }
    }
    if (!s && hlen > 65536)
        s = msf_fail(MSF_ERR_FORMAT, "%s: %s has a %llu-byte header", path, entry, (unsigned long long)hlen);
    char *dict = s ? NULL : calloc(hlen + 1, 1);
    if (!s && !dict) s = msf_fail(MSF_ERR_NOMEM, "out of memory");
    if (!s) s = read_exact(r, dict, hlen, entry);
    const char *why = NULL;
    for (size_t i = s ? 0 : hlen; i > 0 && (dict[i - 1] == ' ' || dict[i - 1] == '\n'); i--) dict[i - 1] = '\0';
    if (!s && npy_parse(dict, &r->dtype, &r->ndim, r->shape, &why))
        s = msf_fail(MSF_ERR_SHAPE, "%s: array '%s': %s (header %s)", path, name, why, dict);
    free(dict);
    if (!s) {
        r->remaining = (uint64_t)numel(r->ndim, r->shape) * dtypes[r->dtype].size;
        if (st.valid & ZIP_STAT_SIZE && st.size != hsize + hlen + r->remaining)
            s = msf_fail(MSF_ERR_FORMAT, "%s: %s holds %llu bytes, its header says %llu", path, entry,
                         (unsigned long long)st.size, (unsigned long long)(hsize + hlen + r->remaining));
    }
    if (s) {
        msf_npz_close(r);
        return s;
    }
    *out = r;
    return MSF_OK;
}

msf_status msf_npz_open_u8(msf_npz_reader **out, const char *path, const char *name) {
    msf_status s = msf_npz_open(out, path, name);
    if (s || (*out)->dtype == MSF_NPY_U8) return s;
    s = msf_fail(MSF_ERR_SHAPE, "%s: array '%s': the array is not uint8 (it is %s)", path, name,
                 dtypes[(*out)->dtype].name);
    msf_npz_close(*out);
    *out = NULL;
    return s;
}

msf_npy_dtype msf_npz_dtype(const msf_npz_reader *r) { return r->dtype; }
int msf_npz_ndim(const msf_npz_reader *r) { return r->ndim; }
const int64_t *msf_npz_shape(const msf_npz_reader *r) { return r->shape; }

msf_status msf_npz_read(msf_npz_reader *r, void *dst, size_t bytes) {
    if (bytes > r->remaining)
        return msf_fail(MSF_ERR_INVALID, "%s: reading %zu bytes, %llu left in the array", r->path, bytes,
                        (unsigned long long)r->remaining);
    msf_status s = read_exact(r, dst, bytes, "the array");
    if (!s) r->remaining -= bytes;
    return s;
}

void msf_npz_close(msf_npz_reader *r) {
    if (!r) return;
    if (r->file) zip_fclose(r->file);
    if (r->za) zip_discard(r->za);
    free(r->path);
    free(r);
}

msf_status msf_npz_load_f64(const char *path, const char *name, double **out, int *ndim, int64_t *shape) {
    *out = NULL;
    msf_npz_reader *r;
    msf_status s = msf_npz_open(&r, path, name);
    if (s) return s;
    int64_t n = numel(r->ndim, r->shape);
    size_t es = dtypes[r->dtype].size;
    double *x = malloc((size_t)(n ? n : 1) * sizeof(double));
    if (!x) {
        msf_npz_close(r);
        return msf_fail(MSF_ERR_NOMEM, "%s: no memory for array '%s' (%lld values)", path, name, (long long)n);
    }
    // Read into the tail of x and widen front to back: element i's source
    // bytes lie at or after its destination.
    unsigned char *raw = (unsigned char *)x + (size_t)n * (sizeof(double) - es);
    s = msf_npz_read(r, raw, (size_t)n * es);
    for (int64_t i = 0; i < n && !s; i++) {
        double v;
        switch (r->dtype) {
        case MSF_NPY_U8: v = raw[i]; break;
        case MSF_NPY_I64: {
            int64_t t;
            memcpy(&t, raw + i * 8, 8);
            if (t > (INT64_C(1) << 53) || t < -(INT64_C(1) << 53))
                s = msf_fail(MSF_ERR_SHAPE, "%s: array '%s' element %lld = %lld is too large for float64", path, name,
                             (long long)i, (long long)t);
            v = (double)t;
            break;
        }
        case MSF_NPY_F32: {
            float t;
            memcpy(&t, raw + i * 4, 4);
            v = t;
            break;
        }
        default: memcpy(&v, raw + i * 8, 8); break;
        }
        if (!s && !isfinite(v))
            s = msf_fail(MSF_ERR_NUMERIC, "%s: array '%s' element %lld is %g", path, name, (long long)i, v);
        x[i] = v;
    }
    if (!s) {
        *ndim = r->ndim;
        memcpy(shape, r->shape, sizeof r->shape);
        *out = x;
    } else {
        free(x);
    }
    msf_npz_close(r);
    return s;
}
