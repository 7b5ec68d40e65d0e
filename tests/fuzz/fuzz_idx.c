// fuzz_idx.c: the IDX readers (src/io/idx.c) on arbitrary bytes, plain and
// as the gzip the Fashion-MNIST files come in: images (raw and padded to
// float) and labels.
#include <stdlib.h>
#include <zlib.h>

#include "core/arena.h"
#include "fuzz.h"
#include "io/idx.h"

static void read_all(const char *path) {
    uint8_t *u8;
    int64_t n;
    int h, w;
    if (msf_idx_read_u8(path, 0, &u8, &n, &h, &w) == MSF_OK) free(u8);
    msf_idx_opts o = msf_idx_defaults();
    o.rows = o.cols = 0, o.pad_to = 0, o.max_images = 64;
    float *x;
    if (msf_idx_read_images(path, &o, &x, &n, &h, &w) == MSF_OK) msf_aligned_free(x);
    int64_t *labels;
    if (msf_idx_read_labels(path, 0, &labels, &n) == MSF_OK) free(labels);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    fuzz_quiet();
    char path[4096];
    if (fuzz_write_temp(path, sizeof path, "-idx3-ubyte", data, size)) return 0;
    read_all(path);
    // The same bytes gzip-compressed (the first input byte picks the level).
    gzFile f = gzopen(path, size && data[0] & 1 ? "wb1" : "wb9");
    if (f) {
        if (size) gzwrite(f, data, (unsigned)size);
        gzclose(f);
        read_all(path);
    }
    unlink(path);
    return 0;
}
