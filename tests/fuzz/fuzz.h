// fuzz.h: shared pieces of the fuzz targets (tests/fuzz/fuzz_*.c).
//
// Each target is a libFuzzer entry point, LLVMFuzzerTestOneInput, that hands
// the input bytes to one of the harness's file readers. The readers take
// paths, so the bytes go to a temporary file first. The same sources build
// two ways: with clang's -fsanitize=fuzzer for `make fuzz` (libFuzzer's own
// main), and with tests/fuzz/replay.c's main for `make test`, which replays
// the committed seed corpus and regression inputs (tests/fuzz/corpus/NAME,
// tests/fuzz/regressions/NAME) through the target, under the sanitizers in
// `make test SANITIZE=1`. A target must not crash, leak, hit undefined
// behaviour or allocate beyond libFuzzer's memory limit on any input; a
// reader's error status is a normal outcome.
#ifndef MSF_TESTS_FUZZ_H
#define MSF_TESTS_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/status.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

// Write the input to a new temporary file whose name ends in `suffix` (the
// readers pick formats by extension); the path goes to buf. 0 on success.
static inline int fuzz_write_temp(char *buf, size_t len, const char *suffix, const uint8_t *data, size_t size) {
    const char *dir = getenv("TMPDIR");
    snprintf(buf, len, "%s/msf-fuzz-XXXXXX%s", dir && *dir ? dir : "/tmp", suffix);
    int fd = mkstemps(buf, (int)strlen(suffix));
    if (fd < 0) return -1;
    size_t done = 0;
    while (done < size) {
        ssize_t w = write(fd, data + done, size - done);
        if (w <= 0) break;
        done += (size_t)w;
    }
    close(fd);
    if (done < size) {
        unlink(buf);
        return -1;
    }
    return 0;
}

// The library reports through a log callback; the fuzzers keep quiet.
static inline void fuzz_quiet(void) { msf_set_log_callback(NULL, NULL); }

#endif
