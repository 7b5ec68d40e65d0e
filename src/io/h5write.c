// h5write.c: atomic HDF5 result files (built in memory, written to a
// temporary name, then renamed; see h5write.h).
#include "io/h5write.h"

#include <hdf5.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct msf_h5_writer {
    hid_t file;
    int fd;  // the temporary file
    char path[4096], tmp[4200];
};

// Set once an H5Fclose has failed (see msf_h5_shutdown).
static int close_failed;

static void close_file(msf_h5_writer *w) {
    if (w->file >= 0 && H5Fclose(w->file) < 0) close_failed = 1;
    w->file = -1;
}

msf_status msf_h5_create(msf_h5_writer **out, const char *path) {
    *out = NULL;
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    if (strlen(path) >= sizeof((msf_h5_writer *)0)->path)
        return msf_fail(MSF_ERR_INVALID, "path too long: %.80s...", path);
    msf_h5_writer *w = calloc(1, sizeof *w);
    if (!w) return msf_fail(MSF_ERR_NOMEM, "out of memory creating %s", path);
    snprintf(w->path, sizeof w->path, "%s", path);
    msf_status s = msf_outfile_temp_name(w->tmp, sizeof w->tmp, path);
    if (s || (s = msf_outfile_open(&w->fd, w->tmp, path))) {
        free(w);
        return s;
    }
    // The file lives in memory (core driver, no backing store), growing 1 MiB at a time.
    hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
    w->file = fapl < 0 || H5Pset_fapl_core(fapl, (size_t)1 << 20, 0) < 0
                  ? -1
                  : H5Fcreate(w->tmp, H5F_ACC_TRUNC, H5P_DEFAULT, fapl);
    if (fapl >= 0) H5Pclose(fapl);
    if (w->file < 0) {
        s = msf_fail(MSF_ERR_IO, "cannot create %s: HDF5 could not make an in-memory file", path);
        close(w->fd);
        unlink(w->tmp);
        free(w);
        return s;
    }
    *out = w;
    return MSF_OK;
}

static hid_t link_props(void) {
    hid_t lcpl = H5Pcreate(H5P_LINK_CREATE);
    H5Pset_create_intermediate_group(lcpl, 1);
    return lcpl;
}

static msf_status write_dataset(msf_h5_writer *w, const char *name, hid_t type, int ndim, const int64_t *shape,
                                const void *data) {
    hsize_t dims[8];
    for (int i = 0; i < ndim && i < 8; i++) dims[i] = (hsize_t)shape[i];
    hid_t space = H5Screate_simple(ndim, dims, NULL);
    hid_t lcpl = link_props();
    hid_t ds = H5Dcreate2(w->file, name, type, space, lcpl, H5P_DEFAULT, H5P_DEFAULT);
    herr_t rc = ds < 0 ? -1 : H5Dwrite(ds, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, data);
    if (ds >= 0) H5Dclose(ds);
    H5Pclose(lcpl);
    H5Sclose(space);
    if (rc < 0) return msf_fail(MSF_ERR_IO, "cannot write dataset '%s' to %s (out of memory?)", name, w->path);
    return MSF_OK;
}

msf_status msf_h5_write_f32(msf_h5_writer *w, const char *name, int ndim, const int64_t *shape, const float *data) {
    return write_dataset(w, name, H5T_NATIVE_FLOAT, ndim, shape, data);
}

msf_status msf_h5_write_i64(msf_h5_writer *w, const char *name, int ndim, const int64_t *shape, const int64_t *data) {
    return write_dataset(w, name, H5T_NATIVE_INT64, ndim, shape, data);
}

// Open (creating if needed) the object that carries an attribute.
static hid_t open_object(msf_h5_writer *w, const char *obj) {
    if (!obj || !*obj) return H5Oopen(w->file, "/", H5P_DEFAULT);
    if (H5Lexists(w->file, obj, H5P_DEFAULT) <= 0) {
        hid_t lcpl = link_props();
        hid_t g = H5Gcreate2(w->file, obj, lcpl, H5P_DEFAULT, H5P_DEFAULT);
        H5Pclose(lcpl);
        if (g < 0) return -1;
        H5Gclose(g);
    }
    return H5Oopen(w->file, obj, H5P_DEFAULT);
}

static msf_status write_attr(msf_h5_writer *w, const char *obj, const char *name, hid_t type, const void *value) {
    hid_t o = open_object(w, obj);
    hid_t space = H5Screate(H5S_SCALAR);
    if (o >= 0 && H5Aexists(o, name) > 0) H5Adelete(o, name);
    hid_t a = o < 0 ? -1 : H5Acreate2(o, name, type, space, H5P_DEFAULT, H5P_DEFAULT);
    herr_t rc = a < 0 ? -1 : H5Awrite(a, type, value);
    if (a >= 0) H5Aclose(a);
    H5Sclose(space);
    if (o >= 0) H5Oclose(o);
    if (rc < 0) return msf_fail(MSF_ERR_IO, "cannot write attribute '%s' to %s", name, w->path);
    return MSF_OK;
}

msf_status msf_h5_attr_int(msf_h5_writer *w, const char *obj, const char *name, int64_t value) {
    return write_attr(w, obj, name, H5T_NATIVE_INT64, &value);
}

msf_status msf_h5_attr_double(msf_h5_writer *w, const char *obj, const char *name, double value) {
    return write_attr(w, obj, name, H5T_NATIVE_DOUBLE, &value);
}

msf_status msf_h5_attr_string(msf_h5_writer *w, const char *obj, const char *name, const char *value) {
    // Variable-length UTF-8, as h5py writes str attributes.
    hid_t type = H5Tcopy(H5T_C_S1);
    H5Tset_size(type, H5T_VARIABLE);
    H5Tset_cset(type, H5T_CSET_UTF8);
    msf_status s = write_attr(w, obj, name, type, &value);
    H5Tclose(type);
    return s;
}

msf_status msf_h5_finish(msf_h5_writer *w, msf_staged_file *st) {
    msf_status s = MSF_OK;
    void *image = NULL;
    ssize_t n = -1;
    if (H5Fflush(w->file, H5F_SCOPE_LOCAL) < 0 || (n = H5Fget_file_image(w->file, NULL, 0)) < 0)
        s = msf_fail(MSF_ERR_IO, "cannot finish writing %s: HDF5 could not flush its in-memory image", w->path);
    else if (!(image = malloc(n ? (size_t)n : 1)))
        s = msf_fail(MSF_ERR_NOMEM, "out of memory for the %lld-byte image of %s", (long long)n, w->path);
    else if (H5Fget_file_image(w->file, image, (size_t)n) != n)
        s = msf_fail(MSF_ERR_IO, "cannot finish writing %s: HDF5 could not copy its in-memory image", w->path);
    // Closing an in-memory file writes nothing to disk; free its memory
    // before the image goes out.
    close_file(w);
    if (!s) s = msf_outfile_write(w->fd, image, (size_t)n, w->path);
    free(image);
    msf_status c = msf_outfile_close(w->fd, w->path);
    if (!s) s = c;
    if (s) unlink(w->tmp);
    else if (st) msf_staged_set(st, w->path, w->tmp);
    free(w);
    return s;
}

msf_status msf_h5_commit(msf_h5_writer *w) {
    msf_staged_file st;
    msf_status s = msf_h5_finish(w, &st);
    return s ? s : msf_outfile_rename(st.tmp, st.path);
}

void msf_h5_abort(msf_h5_writer *w) {
    if (!w) return;
    close_file(w);
    close(w->fd);
    unlink(w->tmp);
    free(w);
}

void msf_h5_dont_atexit(void) { H5dont_atexit(); }

void msf_h5_shutdown(void) {
    if (!close_failed) H5close();
}
