// fuzz_h5.c: the HDF5 reader (src/io/h5read.c) on arbitrary bytes: open,
// list the tensors, load each (float and int64) and visit the attributes,
// as msf info, msf evaluate (features files) and the model loaders do.
// msf_h5_open_as lets a forked child parse the file first; a fault of
// libhdf5 there (ASan's report is silenced in the child, its libFuzzer death
// callback removed) comes back as an error, which this target survives. A
// fault in this process, after a clean probe, is a finding
// (tests/fuzz/known-crashes/README.md).
#include <stdlib.h>

#include "core/arena.h"
#include "fuzz.h"
#include "io/h5read.h"

static void visit(void *user, const char *name, const char *value) { (void)user, (void)name, (void)value; }

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    fuzz_quiet();
    char path[4096];
    if (fuzz_write_temp(path, sizeof path, ".h5", data, size)) return 0;
    msf_h5_reader *w;
    if (msf_h5_open_as(&w, path, "fuzz input") == MSF_OK) {
        for (int i = 0; i < msf_h5_count(w) && i < 64; i++) {
            const msf_h5_tensor *t = msf_h5_tensor_at(w, i);
            // msf_h5_open bounds an extent by the bytes the file stores
            // (65536 per byte; tests/cli_bad_input.sh); within that bound a
            // few-kB input may still ask for gigabytes, which libFuzzer's
            // malloc limit would report. Loads here stop at 16 Mi elements.
            double elems = 1;
            for (int d = 0; d < t->ndim; d++) elems *= (double)t->shape[d];
            if (elems > (double)(1 << 24)) continue;
            float *x;
            if (msf_h5_load(w, t->name, t->ndim, t->shape, &x) == MSF_OK) msf_aligned_free(x);
        }
        msf_h5_visit_attrs(w, NULL, visit, NULL);
        char buf[256];
        msf_h5_get_attr_string(w, NULL, "model", buf, sizeof buf);
        msf_h5_close(w);
    }
    unlink(path);
    return 0;
}
