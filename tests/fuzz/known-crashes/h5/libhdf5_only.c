// libhdf5_only.c: reproduces the crash of hdf5-attr-iterate-segv with
// libhdf5 alone (Debian 12's 1.10.8), none of msf's code: list the datasets
// (H5Ovisit + H5Dopen2), then iterate the root's attributes opening each
// (H5Aiterate_by_name + H5Aopen). It ends in SIGSEGV inside H5A__close
// (H5A__attr_release_table). Build and run:
//   cc $(pkg-config --cflags hdf5-serial) libhdf5_only.c -o h5crash $(pkg-config --libs hdf5-serial)
//   ./h5crash hdf5-attr-iterate-segv
#include <hdf5.h>
#include <stdio.h>
static herr_t cb(hid_t loc, const char *name, const H5A_info_t *info, void *op) {
    hid_t a = H5Aopen(loc, name, H5P_DEFAULT);
    if (a < 0) return -1;
    hid_t t = H5Aget_type(a);
    hid_t s = H5Aget_space(a);
    printf("attr %s class %d n %lld\n", name, (int)H5Tget_class(t), (long long)H5Sget_simple_extent_npoints(s));
    H5Sclose(s);
    H5Tclose(t);
    H5Aclose(a);
    return 0;
}
static herr_t ds(hid_t root, const char *name, const H5O_info_t *oi, void *d) {
    if (oi->type == H5O_TYPE_DATASET) {
        hid_t x = H5Dopen2(root, name, H5P_DEFAULT);
        printf("ds %s %lld\n", name, (long long)x);
        if (x >= 0) H5Dclose(x);
    }
    return 0;
}
int main(int c, char **v) {
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    hid_t f = H5Fopen(v[1], H5F_ACC_RDONLY, H5P_DEFAULT);
    if (f < 0) return 2;
    printf("visit %d\n", (int)H5Ovisit(f, H5_INDEX_NAME, H5_ITER_INC, ds, NULL));
    hsize_t idx = 0;
    printf("iter %d\n", (int)H5Aiterate_by_name(f, ".", H5_INDEX_NAME, H5_ITER_INC, &idx, cb, NULL, H5P_DEFAULT));
    H5Fclose(f);
    return 0;
}
