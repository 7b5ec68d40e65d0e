// h5read.c: the HDF5 reader: weight files (one dataset per state_dict tensor,
// config in attributes) and every other HDF5 file msf reads.
#include "io/h5read.h"

#include <errno.h>
#include <fcntl.h>
#include <hdf5.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/arena.h"
#include "core/tensor.h"

struct msf_h5_reader {
    char *path;
    hid_t file;
    int count, capacity;
    msf_h5_tensor *info;    // sorted by name
    msf_status bad_extent;  // set when a dataset's extent failed check_extent
};

// -----------------------------------------------------------------------------
// Helpers

// HDF5 prints its own error stack by default; the library must stay silent.
static void hdf5_quiet(void) { H5Eset_auto2(H5E_DEFAULT, NULL, NULL); }

static const char *dtype_name(hid_t type) {
    H5T_class_t cls = H5Tget_class(type);
    size_t size = H5Tget_size(type);
    if (cls == H5T_FLOAT) return size == 2 ? "float16" : size == 4 ? "float32" : size == 8 ? "float64" : "float";
    if (cls == H5T_INTEGER) {
        int is_signed = H5Tget_sign(type) == H5T_SGN_2;
        switch (size) {
        case 1: return is_signed ? "int8" : "uint8";
        case 2: return is_signed ? "int16" : "uint16";
        case 4: return is_signed ? "int32" : "uint32";
        case 8: return is_signed ? "int64" : "uint64";
        }
        return "int";
    }
    if (cls == H5T_ENUM) return "enum";
    if (cls == H5T_STRING) return "string";
    return "other";
}

static char *dup_string(const char *s) {
    size_t n = strlen(s) + 1;
    char *d = malloc(n);
    if (d) memcpy(d, s, n);
    return d;
}

// A dataset's extent against the size limit and against what the file
// stores for it, so that no caller allocates a buffer for an extent the file
// cannot hold: beyond 1 MiB, more than 65536 bytes per stored byte (deflate
// expands at most about 1032:1; the margin covers any filter chain on
// constant data) is a damaged or hostile file.
static msf_status check_extent(const char *path, const char *name, hid_t ds, hid_t type, int ndim,
                               const hsize_t *dims) {
    size_t n = 1, elem = H5Tget_size(type);
    for (int i = 0; i < ndim; i++)
        if (__builtin_mul_overflow(n, (size_t)dims[i], &n) || n > MSF_WEIGHTS_MAX_BYTES / (elem ? elem : 1))
            return msf_fail(MSF_ERR_SHAPE, "%s: tensor '%s': its extent is over the size limit (%s)", path, name,
                            MSF_WEIGHTS_MAX_BYTES_TEXT);
    double bytes = (double)n * (double)elem, stored = (double)H5Dget_storage_size(ds);
    if (bytes > (double)(1 << 20) && bytes > stored * 65536.0)
        return msf_fail(MSF_ERR_FORMAT,
                        "%s: tensor '%s': an extent of %zu elements from %.0f stored bytes (damaged file?)", path, name,
                        n, stored);
    return MSF_OK;
}

static herr_t collect_dataset(hid_t root, const char *name, const H5O_info_t *oinfo, void *data) {
    msf_h5_reader *w = data;
    if (oinfo->type != H5O_TYPE_DATASET) return 0;
    if (w->count == w->capacity) {
        int cap = w->capacity ? 2 * w->capacity : 64;
        msf_h5_tensor *grown = realloc(w->info, (size_t)cap * sizeof *grown);
        if (!grown) return -1;
        w->info = grown;
        w->capacity = cap;
    }
    msf_h5_tensor *t = &w->info[w->count];
    memset(t, 0, sizeof *t);
    hid_t ds = H5Dopen2(root, name, H5P_DEFAULT);
    if (ds < 0) return -1;
    hid_t space = H5Dget_space(ds);
    hid_t type = H5Dget_type(ds);
    int ndim = H5Sget_simple_extent_ndims(space);
    hsize_t dims[H5S_MAX_RANK];
    if (ndim < 0 || ndim > MSF_WEIGHTS_MAX_DIMS) ndim = -1;
    else H5Sget_simple_extent_dims(space, dims, NULL);
    if (ndim >= 0 && (w->bad_extent = check_extent(w->path, name, ds, type, ndim, dims))) ndim = -1;
    t->dtype = dtype_name(type);
    H5Tclose(type);
    H5Sclose(space);
    H5Dclose(ds);
    if (ndim < 0) return -1;
    t->ndim = ndim;
    for (int i = 0; i < ndim; i++) t->shape[i] = (int64_t)dims[i];
    t->name = dup_string(name);
    if (!t->name) return -1;
    w->count++;
    return 0;
}

static int info_cmp(const void *a, const void *b) {
    return strcmp(((const msf_h5_tensor *)a)->name, ((const msf_h5_tensor *)b)->name);
}

// -----------------------------------------------------------------------------
// Open / close

msf_status msf_h5_open(msf_h5_reader **out, const char *path) { return msf_h5_open_as(out, path, "weight file"); }

static msf_status probe_in_child(const char *path, const char *kind);
static msf_status open_parse(msf_h5_reader **out, const char *path);

msf_status msf_h5_open_as(msf_h5_reader **out, const char *path, const char *kind) {
    *out = NULL;
    hdf5_quiet();
    FILE *f = fopen(path, "rb");
    if (!f) return msf_fail(MSF_ERR_IO, "cannot open %s %s: %s", kind, path, strerror(errno));
    fclose(f);
    if (H5Fis_hdf5(path) <= 0) {
        if (!strcmp(kind, "weight file"))
            return msf_fail(MSF_ERR_FORMAT,
                            "%s is not an HDF5 file (expected an msf weight file, see `msf info --help`)", path);
        return msf_fail(MSF_ERR_FORMAT, "%s is not an HDF5 file (expected a %s)", path, kind);
    }
    msf_status probe = probe_in_child(path, kind);
    return probe ? probe : open_parse(out, path);
}

// What msf_h5_open_as does after its checks, in the parent and first in
// the probing child.
static msf_status open_parse(msf_h5_reader **out, const char *path) {
    *out = NULL;
    hid_t file = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    if (file < 0) return msf_fail(MSF_ERR_FORMAT, "cannot read HDF5 file %s (truncated or corrupt?)", path);
    msf_h5_reader *w = calloc(1, sizeof *w);
    if (!w) {
        H5Fclose(file);
        return msf_fail(MSF_ERR_NOMEM, "out of memory opening %s", path);
    }
    w->file = file;
    w->path = dup_string(path);
    if (!w->path || H5Ovisit(file, H5_INDEX_NAME, H5_ITER_INC, collect_dataset, w) < 0) {
        msf_status bad = w->bad_extent;  // its message is set
        msf_h5_close(w);
        if (bad) return bad;
        return msf_fail(MSF_ERR_FORMAT, "cannot list the tensors of %s (corrupt HDF5 file?)", path);
    }
    if (w->count > 1) qsort(w->info, (size_t)w->count, sizeof *w->info, info_cmp);
    *out = w;
    return MSF_OK;
}

void msf_h5_close(msf_h5_reader *w) {
    if (!w) return;
    for (int i = 0; i < w->count; i++) free((char *)w->info[i].name);
    free(w->info);
    if (w->file >= 0) H5Fclose(w->file);
    free(w->path);
    free(w);
}

const char *msf_h5_path(const msf_h5_reader *w) { return w->path; }
int msf_h5_count(const msf_h5_reader *w) { return w->count; }

const msf_h5_tensor *msf_h5_tensor_at(const msf_h5_reader *w, int index) {
    return index >= 0 && index < w->count ? &w->info[index] : NULL;
}

const msf_h5_tensor *msf_h5_find(const msf_h5_reader *w, const char *name) {
    msf_h5_tensor key = {.name = name};
    return bsearch(&key, w->info, (size_t)w->count, sizeof key, info_cmp);
}

// -----------------------------------------------------------------------------
// Tensors

static msf_status check_tensor(msf_h5_reader *w, const char *name, int ndim, const int64_t *shape,
                               msf_h5_tensor **found) {
    msf_h5_tensor *t = (msf_h5_tensor *)msf_h5_find(w, name);
    if (!t) return msf_fail(MSF_ERR_NOT_FOUND, "tensor '%s' not found in %s", name, w->path);
    int ok = t->ndim == ndim;
    for (int i = 0; ok && i < ndim; i++) ok = shape[i] < 0 || shape[i] == t->shape[i];
    if (!ok) {
        char got[128], want[128];
        return msf_fail(MSF_ERR_SHAPE, "tensor '%s' in %s has shape %s, expected %s", name, w->path,
                        msf_shape_str(got, sizeof got, t->ndim, t->shape),
                        msf_shape_str(want, sizeof want, ndim, shape));
    }
    *found = t;
    return MSF_OK;
}

static msf_status read_dataset(msf_h5_reader *w, msf_h5_tensor *t, hid_t memtype, void *dst) {
    hid_t ds = H5Dopen2(w->file, t->name, H5P_DEFAULT);
    herr_t rc = ds < 0 ? -1 : H5Dread(ds, memtype, H5S_ALL, H5S_ALL, H5P_DEFAULT, dst);
    if (ds >= 0) H5Dclose(ds);
    if (rc < 0) return msf_fail(MSF_ERR_FORMAT, "cannot read tensor '%s' (%s) from %s", t->name, t->dtype, w->path);
    t->used = 1;
    return MSF_OK;
}

// A number tensor of the given shape, converted by HDF5 to memtype.
static msf_status read_numbers(msf_h5_reader *w, const char *name, int ndim, const int64_t *shape, hid_t memtype,
                               void *dst) {
    msf_h5_tensor *t;
    msf_status s = check_tensor(w, name, ndim, shape, &t);
    if (s) return s;
    if (strncmp(t->dtype, "float", 5) && strncmp(t->dtype, "int", 3) && strncmp(t->dtype, "uint", 4))
        return msf_fail(MSF_ERR_SHAPE, "tensor '%s' in %s has dtype %s, expected a number type", name, w->path,
                        t->dtype);
    return read_dataset(w, t, memtype, dst);
}

msf_status msf_h5_read(msf_h5_reader *w, const char *name, float *dst, int ndim, const int64_t *shape) {
    return read_numbers(w, name, ndim, shape, H5T_NATIVE_FLOAT, dst);
}

msf_status msf_h5_read_f64(msf_h5_reader *w, const char *name, double *dst, int ndim, const int64_t *shape) {
    return read_numbers(w, name, ndim, shape, H5T_NATIVE_DOUBLE, dst);
}

msf_status msf_h5_load(msf_h5_reader *w, const char *name, int ndim, const int64_t *shape, float **out) {
    *out = NULL;
    msf_h5_tensor *t;
    msf_status s = check_tensor(w, name, ndim, shape, &t);
    if (s) return s;
    size_t n = 1;  // checked against the limit and the stored bytes at open
    for (int i = 0; i < t->ndim; i++) n *= (size_t)t->shape[i];
    float *buf = msf_aligned_alloc(n * sizeof *buf);
    if (!buf) return msf_fail(MSF_ERR_NOMEM, "out of memory loading tensor '%s' from %s", name, w->path);
    s = msf_h5_read(w, name, buf, ndim, shape);
    if (s) {
        msf_aligned_free(buf);
        return s;
    }
    *out = buf;
    return MSF_OK;
}

msf_status msf_h5_read_i64(msf_h5_reader *w, const char *name, int64_t *dst, int ndim, const int64_t *shape) {
    msf_h5_tensor *t;
    msf_status s = check_tensor(w, name, ndim, shape, &t);
    if (s) return s;
    if (strncmp(t->dtype, "int", 3) && strncmp(t->dtype, "uint", 4))
        return msf_fail(MSF_ERR_SHAPE, "tensor '%s' in %s has dtype %s, expected an integer type", name, w->path,
                        t->dtype);
    return read_dataset(w, t, H5T_NATIVE_INT64, dst);
}

int msf_h5_report_unused(const msf_h5_reader *w) {
    int unused = 0;
    for (int i = 0; i < w->count; i++) {
        if (w->info[i].used) continue;
        msf_log(MSF_LOG_WARN, "%s: tensor '%s' was not used", w->path, w->info[i].name);
        unused++;
    }
    return unused;
}

// -----------------------------------------------------------------------------
// Attributes

static const char *obj_path(const char *obj) { return obj && *obj ? obj : "."; }

static msf_status open_attr(const msf_h5_reader *w, const char *obj, const char *name, hid_t *attr) {
    htri_t exists = H5Aexists_by_name(w->file, obj_path(obj), name, H5P_DEFAULT);
    if (exists <= 0)
        return msf_fail(MSF_ERR_NOT_FOUND, "attribute '%s' not found on %s in %s", name, obj && *obj ? obj : "/",
                        w->path);
    *attr = H5Aopen_by_name(w->file, obj_path(obj), name, H5P_DEFAULT, H5P_DEFAULT);
    if (*attr < 0) return msf_fail(MSF_ERR_FORMAT, "cannot open attribute '%s' in %s", name, w->path);
    return MSF_OK;
}

// Number of elements of an attribute's dataspace (1 for a scalar).
static hssize_t attr_count(hid_t attr) {
    hid_t space = H5Aget_space(attr);
    hssize_t n = H5Sget_simple_extent_npoints(space);
    H5Sclose(space);
    return n;
}

// Read a numeric attribute of `n` elements as int64 or double; h5py's bools are
// enums over int8, read through their base type.
static herr_t read_numeric(hid_t attr, hid_t type, int as_double, void *dst) {
    H5T_class_t cls = H5Tget_class(type);
    if (cls == H5T_ENUM) {
        // Read the raw enum values, then convert the base integers in place
        // (H5Tconvert needs a buffer the size of the destination type).
        hssize_t n = attr_count(attr);
        unsigned char *buf = calloc((size_t)n, 8);
        if (!buf) return -1;
        hid_t base = H5Tget_super(type);
        herr_t rc = H5Aread(attr, type, buf);
        if (rc >= 0)
            rc = H5Tconvert(base, as_double ? H5T_NATIVE_DOUBLE : H5T_NATIVE_INT64, (size_t)n, buf, NULL, H5P_DEFAULT);
        if (rc >= 0) memcpy(dst, buf, (size_t)n * 8);
        H5Tclose(base);
        free(buf);
        return rc;
    }
    return H5Aread(attr, as_double ? H5T_NATIVE_DOUBLE : H5T_NATIVE_INT64, dst);
}

static msf_status attr_scalar(const msf_h5_reader *w, const char *obj, const char *name, int as_double, void *out) {
    hid_t attr = -1;
    msf_status s = open_attr(w, obj, name, &attr);
    if (s) return s;
    hid_t type = H5Aget_type(attr);
    H5T_class_t cls = H5Tget_class(type);
    int numeric = cls == H5T_INTEGER || cls == H5T_ENUM || (as_double && cls == H5T_FLOAT);
    herr_t rc = -1;
    if (numeric && attr_count(attr) == 1) rc = read_numeric(attr, type, as_double, out);
    H5Tclose(type);
    H5Aclose(attr);
    if (rc < 0)
        return msf_fail(MSF_ERR_FORMAT, "attribute '%s' in %s is not a single %s", name, w->path,
                        as_double ? "number" : "integer");
    return MSF_OK;
}

msf_status msf_h5_get_attr_int(const msf_h5_reader *w, const char *obj, const char *name, int64_t *out) {
    return attr_scalar(w, obj, name, 0, out);
}

msf_status msf_h5_get_attr_double(const msf_h5_reader *w, const char *obj, const char *name, double *out) {
    return attr_scalar(w, obj, name, 1, out);
}

// Read a string attribute (variable-length as h5py writes them, or fixed-length).
static herr_t read_string(hid_t attr, hid_t type, char *buf, size_t size) {
    if (size == 0) return -1;
    buf[0] = '\0';
    if (H5Tis_variable_str(type) > 0) {
        char *s = NULL;
        hid_t mem = H5Tcopy(H5T_C_S1);
        H5Tset_size(mem, H5T_VARIABLE);
        H5Tset_cset(mem, H5Tget_cset(type));
        herr_t rc = H5Aread(attr, mem, &s);
        if (rc >= 0 && s) snprintf(buf, size, "%s", s);
        if (s) H5free_memory(s);
        H5Tclose(mem);
        return rc;
    }
    size_t len = H5Tget_size(type);
    char *tmp = calloc(len + 1, 1);
    if (!tmp) return -1;
    herr_t rc = H5Aread(attr, type, tmp);
    if (rc >= 0) snprintf(buf, size, "%s", tmp);
    free(tmp);
    return rc;
}

msf_status msf_h5_get_attr_string(const msf_h5_reader *w, const char *obj, const char *name, char *buf, size_t size) {
    hid_t attr = -1;
    msf_status s = open_attr(w, obj, name, &attr);
    if (s) return s;
    hid_t type = H5Aget_type(attr);
    herr_t rc = H5Tget_class(type) == H5T_STRING && attr_count(attr) == 1 ? read_string(attr, type, buf, size) : -1;
    H5Tclose(type);
    H5Aclose(attr);
    if (rc < 0) return msf_fail(MSF_ERR_FORMAT, "attribute '%s' in %s is not a string", name, w->path);
    return MSF_OK;
}

// -----------------------------------------------------------------------------
// Display

typedef struct {
    msf_attr_visit_fn fn;
    void *user;
    int failed;  // values that could not be read (shown as "" or <unreadable>)
} visit_ctx;

static herr_t visit_attr(hid_t loc, const char *name, const H5A_info_t *ainfo, void *data) {
    visit_ctx *ctx = data;
    char value[512] = "";
    hid_t attr = H5Aopen(loc, name, H5P_DEFAULT);
    if (attr < 0) return -1;
    hid_t type = H5Aget_type(attr);
    H5T_class_t cls = H5Tget_class(type);
    hssize_t n = attr_count(attr);
    if (cls == H5T_STRING && n == 1) {
        if (read_string(attr, type, value, sizeof value) < 0) ctx->failed++;
    } else if ((cls == H5T_INTEGER || cls == H5T_FLOAT || cls == H5T_ENUM) && n >= 1) {
        int as_double = cls == H5T_FLOAT;
        void *vals = malloc((size_t)n * 8);
        if (vals && read_numeric(attr, type, as_double, vals) >= 0) {
            size_t off = 0;
            if (n > 1) off += (size_t)snprintf(value + off, sizeof value - off, "[");
            for (hssize_t i = 0; i < n && off < sizeof value - 32; i++) {
                if (i) off += (size_t)snprintf(value + off, sizeof value - off, ", ");
                if (as_double) off += (size_t)snprintf(value + off, sizeof value - off, "%.10g", ((double *)vals)[i]);
                else off += (size_t)snprintf(value + off, sizeof value - off, "%lld", (long long)((int64_t *)vals)[i]);
            }
            if (n > 1) snprintf(value + off, sizeof value - off, "]");
        } else {
            ctx->failed++;
            snprintf(value, sizeof value, "<unreadable %s>", dtype_name(type));
        }
        free(vals);
    } else {
        snprintf(value, sizeof value, "<%s>", dtype_name(type));
    }
    H5Tclose(type);
    H5Aclose(attr);
    ctx->fn(ctx->user, name, value);
    return 0;
}

msf_status msf_h5_visit_attrs(const msf_h5_reader *w, const char *obj, msf_attr_visit_fn fn, void *user) {
    visit_ctx ctx = {fn, user, 0};
    hsize_t idx = 0;
    if (H5Aiterate_by_name(w->file, obj_path(obj), H5_INDEX_NAME, H5_ITER_INC, &idx, visit_attr, &ctx, H5P_DEFAULT) < 0)
        return msf_fail(MSF_ERR_FORMAT, "cannot list the attributes of %s in %s", obj && *obj ? obj : "/", w->path);
    return MSF_OK;
}

// -----------------------------------------------------------------------------
// Parsing in a child process first
//
// libhdf5 (1.10.8 in Debian 12) is not hardened against damaged or crafted
// files: fuzzing finds heap overflows, wild reads, endless loops and
// terabyte allocations in its attribute and object-header code
// (tests/fuzz/known-crashes). So a forked child parses each file first, in
// the order msf itself does: the open and listing of msf_h5_open, then
// every attribute of the root and of every object, read as msf_h5_get_attr_*
// and msf info read them, then every chunked (filtered) dataset in slabs.
// It runs under limits (CPU time, and address space in builds without a
// sanitizer) and reports its status and message through a pipe; msf parses
// the file itself only when the child parsed it without an error. A child
// killed by a signal, a limit or a sanitizer becomes an error naming the
// file. Left to the parent: reads of contiguous datasets (bounded copies of
// raw bytes checked against the file's size) and what libhdf5 does silently
// wrong without crashing, which only a sanitizer build sees (in the child).

void __sanitizer_set_death_callback(void (*callback)(void)) __attribute__((weak));

// CPU seconds the child may take: 20 plus 1 per 64 MiB of file (chunked
// data is read and decoded); a corrupt file that loops ends as an error.
static long probe_cpu_seconds(const char *path) {
    struct stat st;
    return 20 + (stat(path, &st) == 0 ? (long)(st.st_size >> 26) : 0);
}
#if defined(__SANITIZE_ADDRESS__)
#define PROBE_UNDER_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define PROBE_UNDER_ASAN 1
#endif
#endif
#ifndef PROBE_UNDER_ASAN
#define PROBE_UNDER_ASAN 0  // ASan reserves terabytes of address space: no RLIMIT_AS under it
#endif
#define PROBE_EXTRA_ADDRESS_SPACE ((rlim_t)4 << 30)

typedef struct {
    const char *path;
    msf_status status;  // the first failure, its message set
} probe_ctx;

static void probe_fail(probe_ctx *p, msf_status s) {
    if (!p->status) p->status = s;
}

static void probe_value(void *user, const char *name, const char *value) { (void)user, (void)name, (void)value; }

// Read dataset `ds` (chunked) in slabs along its first dimension, as the
// number type msf would convert it to.
static void probe_read_chunked(probe_ctx *p, const char *name, hid_t ds, hid_t type, int ndim, const hsize_t *dims) {
    H5T_class_t cls = H5Tget_class(type);
    if (cls != H5T_FLOAT && cls != H5T_INTEGER && cls != H5T_ENUM) return;
    hid_t mem_type = cls == H5T_FLOAT ? H5T_NATIVE_DOUBLE : H5T_NATIVE_INT64;
    size_t row = 1;
    for (int i = 1; i < ndim; i++) row *= (size_t)dims[i];
    hsize_t rows = ndim ? dims[0] : 1, step = row >= (1u << 21) ? 1 : (1u << 21) / (row ? row : 1);
    if (!row || !rows) return;
    double *buf = malloc((size_t)(step < rows ? step : rows) * row * 8);
    hid_t fspace = H5Dget_space(ds);
    herr_t rc = buf && fspace >= 0 ? 0 : -1;
    for (hsize_t r0 = 0; rc >= 0 && r0 < rows; r0 += step) {
        hsize_t n = rows - r0 < step ? rows - r0 : step;
        hsize_t start[H5S_MAX_RANK] = {0}, count[H5S_MAX_RANK];
        for (int i = 0; i < ndim; i++) count[i] = dims[i];
        start[0] = r0, count[0] = n;
        hsize_t mdims[1] = {n * row};
        hid_t mspace = H5Screate_simple(1, mdims, NULL);
        rc = ndim ? H5Sselect_hyperslab(fspace, H5S_SELECT_SET, start, NULL, count, NULL) : 0;
        if (rc >= 0) rc = H5Dread(ds, mem_type, mspace, ndim ? fspace : H5S_ALL, H5P_DEFAULT, buf);
        H5Sclose(mspace);
    }
    if (rc < 0) probe_fail(p, msf_fail(MSF_ERR_FORMAT, "cannot read tensor '%s' from %s", name, p->path));
    if (fspace >= 0) H5Sclose(fspace);
    free(buf);
}

static herr_t probe_attrs(hid_t root, const char *name, const H5O_info_t *oinfo, void *data) {
    probe_ctx *p = data;
    (void)oinfo;
    visit_ctx ctx = {probe_value, NULL, 0};
    hsize_t idx = 0;
    if (H5Aiterate_by_name(root, name, H5_INDEX_NAME, H5_ITER_INC, &idx, visit_attr, &ctx, H5P_DEFAULT) < 0 ||
        ctx.failed)
        probe_fail(p, msf_fail(MSF_ERR_FORMAT, "cannot read the attributes of %s in %s", name, p->path));
    return 0;
}

static herr_t probe_data(hid_t root, const char *name, const H5O_info_t *oinfo, void *data) {
    probe_ctx *p = data;
    if (oinfo->type != H5O_TYPE_DATASET) return 0;
    hid_t ds = H5Dopen2(root, name, H5P_DEFAULT);
    if (ds < 0) {
        probe_fail(p, msf_fail(MSF_ERR_FORMAT, "cannot open tensor '%s' in %s", name, p->path));
        return 0;
    }
    hid_t space = H5Dget_space(ds), type = H5Dget_type(ds), dcpl = H5Dget_create_plist(ds);
    int ndim = space < 0 ? -1 : H5Sget_simple_extent_ndims(space);
    hsize_t dims[H5S_MAX_RANK];
    if (ndim >= 0 && ndim <= MSF_WEIGHTS_MAX_DIMS && type >= 0 && dcpl >= 0 &&
        H5Sget_simple_extent_dims(space, dims, NULL) >= 0 && H5Pget_layout(dcpl) == H5D_CHUNKED)
        probe_read_chunked(p, name, ds, type, ndim, dims);  // (the extent was checked by the listing)
    if (dcpl >= 0) H5Pclose(dcpl);
    if (type >= 0) H5Tclose(type);
    if (space >= 0) H5Sclose(space);
    H5Dclose(ds);
    return 0;
}

// The child's parse: the status of the first failure, its message set.
static msf_status probe_parse(const char *path) {
    msf_h5_reader *w;
    msf_status s = open_parse(&w, path);
    if (s) return s;
    probe_ctx p = {path, MSF_OK};
    probe_attrs(w->file, ".", NULL, &p);  // the root first, as msf info and the loaders read it
    if (!p.status && H5Ovisit(w->file, H5_INDEX_NAME, H5_ITER_INC, probe_attrs, &p) < 0)
        probe_fail(&p, msf_fail(MSF_ERR_FORMAT, "cannot list the objects of %s", path));
    if (!p.status && H5Ovisit(w->file, H5_INDEX_NAME, H5_ITER_INC, probe_data, &p) < 0)
        probe_fail(&p, msf_fail(MSF_ERR_FORMAT, "cannot list the objects of %s", path));
    return p.status;
}

static void probe_limits(const char *path) {
    rlim_t seconds = (rlim_t)probe_cpu_seconds(path);
    struct rlimit no_core = {0, 0}, cpu = {seconds, seconds + 5};
    setrlimit(RLIMIT_CORE, &no_core);
    setrlimit(RLIMIT_CPU, &cpu);
#if !PROBE_UNDER_ASAN
    // The address space in use (/proc/self/statm: pages) plus a margin: a
    // corrupt length that asks for gigabytes fails in the child.
    FILE *f = fopen("/proc/self/statm", "r");
    unsigned long long pages = 0;
    if (f && fscanf(f, "%llu", &pages) == 1) {
        rlim_t limit = (rlim_t)pages * (rlim_t)sysconf(_SC_PAGESIZE) + PROBE_EXTRA_ADDRESS_SPACE;
        struct rlimit as = {limit, limit};
        setrlimit(RLIMIT_AS, &as);
    }
    if (f) fclose(f);
#endif
}

static msf_status probe_in_child(const char *path, const char *kind) {
    int fd[2];
    if (pipe(fd) < 0)
        return msf_fail(MSF_ERR_IO, "%s: cannot make a pipe to parse it in a child: %s", path, strerror(errno));
    fflush(NULL);  // nothing buffered is written twice
    pid_t pid = fork();
    if (pid < 0) {
        close(fd[0]), close(fd[1]);
        return msf_fail(MSF_ERR_IO, "%s: cannot fork to parse it in a child process: %s", path, strerror(errno));
    }
    if (pid == 0) {
        // The child: silent (a sanitizer's report of libhdf5's fault is not
        // msf's), no fuzzer artifacts, no atexit handlers or stdio flushes.
        close(fd[0]);
        if (__sanitizer_set_death_callback) __sanitizer_set_death_callback(NULL);
        int null = open("/dev/null", O_WRONLY);
        if (null >= 0) dup2(null, 2);
        probe_limits(path);
        msf_status s = probe_parse(path);
        char msg[1024];
        int32_t code = (int32_t)s;
        snprintf(msg, sizeof msg, "%s", s ? msf_error_message() : "");
        if (write(fd[1], &code, sizeof code) != (ssize_t)sizeof code || write(fd[1], msg, strlen(msg) + 1) < 0)
            _exit(2);
        _exit(0);
    }
    close(fd[1]);
    char buf[1024 + sizeof(int32_t)];
    size_t got = 0;
    for (;;) {
        ssize_t r = read(fd[0], buf + got, sizeof buf - 1 - got);
        if (r > 0 && (got += (size_t)r) < sizeof buf - 1) continue;
        if (r < 0 && errno == EINTR) continue;
        break;
    }
    close(fd[0]);
    buf[got] = '\0';
    int status;
    while (waitpid(pid, &status, 0) < 0)
        if (errno != EINTR)
            return msf_fail(MSF_ERR_IO, "%s: waiting for the child that parses it: %s", path, strerror(errno));
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0 && got >= sizeof(int32_t)) {
        int32_t code;
        memcpy(&code, buf, sizeof code);
        if (code == MSF_OK) return MSF_OK;
        return msf_fail((msf_status)code, "%s", buf + sizeof code);
    }
    char how[96];
    if (WIFSIGNALED(status) && WTERMSIG(status) == SIGXCPU)
        snprintf(how, sizeof how, "it ran past %ld s of CPU time", probe_cpu_seconds(path));
    else if (WIFSIGNALED(status))
        snprintf(how, sizeof how, "signal %d, %s", WTERMSIG(status), strsignal(WTERMSIG(status)));
    else snprintf(how, sizeof how, "exit status %d", WEXITSTATUS(status));
    return msf_fail(
        MSF_ERR_FORMAT,
        "%s: the HDF5 library crashed or hung parsing this %s (%s, in a child process): the file is damaged or "
        "crafted; msf did not use it",
        path, kind, how);
}
