// fuzz_png.c: the PNG reader (src/io/images.c, libpng's simplified API) on
// arbitrary bytes, as msf features reads a folder of PNGs.
#include <stdlib.h>

#include "fuzz.h"
#include "io/images.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    fuzz_quiet();
    char path[4096];
    if (fuzz_write_temp(path, sizeof path, ".png", data, size)) return 0;
    uint8_t *px;
    int h, w;
    if (msf_png_read_rgb(path, &px, &h, &w) == MSF_OK) free(px);
    unlink(path);
    return 0;
}
