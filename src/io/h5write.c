// h5write.c: atomic HDF5 result files (write to a temporary name, then rename).
#include "io/h5write.h"

#include <hdf5.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct msf_h5_writer {
    hid_t file;
    char *path, *tmp;
};

msf_status msf_h5_create(msf_h5_writer **out, const char *path) {
    *out = NULL;
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    msf_h5_writer *w = calloc(1, sizeof *w);
    size_t n = strlen(path) + 32;
    if (w) w->path = strdup(path);
    if (w) w->tmp = malloc(n);
    if (!w || !w->path || !w->tmp) {
        if (w) free(w->path), free(w->tmp);
        free(w);
        return msf_fail(MSF_ERR_NOMEM, "out of memory creating %s", path);
    }
    snprintf(w->tmp, n, "%s.tmp-%ld", path, (long)getpid());
    w->file = H5Fcreate(w->tmp, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    if (w->file < 0) {
        msf_status s = msf_fail(MSF_ERR_IO, "cannot create %s (does its directory exist and is it writable?)", path);
        free(w->path), free(w->tmp), free(w);
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
    if (rc < 0) return msf_fail(MSF_ERR_IO, "cannot write dataset '%s' to %s (disk full?)", name, w->path);
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

static void writer_free(msf_h5_writer *w) {
    free(w->path);
    free(w->tmp);
    free(w);
}

msf_status msf_h5_commit(msf_h5_writer *w) {
    msf_status s = MSF_OK;
    if (H5Fclose(w->file) < 0) s = msf_fail(MSF_ERR_IO, "cannot finish writing %s", w->path);
    else if (rename(w->tmp, w->path) != 0) s = msf_fail(MSF_ERR_IO, "cannot rename %s to %s", w->tmp, w->path);
    if (s) unlink(w->tmp);
    writer_free(w);
    return s;
}

void msf_h5_abort(msf_h5_writer *w) {
    if (!w) return;
    H5Fclose(w->file);
    unlink(w->tmp);
    writer_free(w);
}
