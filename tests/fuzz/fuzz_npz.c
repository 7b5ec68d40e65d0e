// fuzz_npz.c: the .npz reader (src/io/npz.c) on arbitrary bytes: open arr_0
// and read it whole in pieces, as msf features reads an image batch; load
// "mu" as float64, as msf evaluate loads FID statistics.
#include <stdlib.h>

#include "fuzz.h"
#include "io/npz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    fuzz_quiet();
    char path[4096];
    if (fuzz_write_temp(path, sizeof path, ".npz", data, size)) return 0;
    msf_npz_reader *r;
    if (msf_npz_open(&r, path, "arr_0") == MSF_OK) {
        size_t left = msf_npy_dtype_size(msf_npz_dtype(r));
        for (int d = 0; d < msf_npz_ndim(r); d++) left *= (size_t)msf_npz_shape(r)[d];
        unsigned char buf[65536];
        while (left) {
            size_t n = left < sizeof buf ? left : sizeof buf;
            if (msf_npz_read(r, buf, n)) break;
            left -= n;
        }
        msf_npz_close(r);
    }
    double *x = NULL;
    int ndim;
    int64_t shape[MSF_NPY_MAX_DIMS];
    if (msf_npz_load_f64(path, "mu", &x, &ndim, shape) == MSF_OK) free(x);
    unlink(path);
    return 0;
}
