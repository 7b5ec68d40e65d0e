// blas_select.c: run on OpenBLAS's best kernel for this CPU.
//
// Debian's OpenBLAS 0.3.21 picks its kernel from the CPU model number and
// falls back to its slowest x86-64 kernel (Prescott, SSE3) for models it does
// not know, such as recent Xeons -- 4-5x slower sgemm here. The kernel can
// only be chosen before the library initialises, through OPENBLAS_CORETYPE,
// so when OpenBLAS fell back although the CPU (and the OS) support AVX2 or
// AVX-512, the program re-executes itself once with the variable set.
// Setting OPENBLAS_CORETYPE yourself, or MSF_BLAS_AUTO=0, turns this off.
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"

char *openblas_get_corename(void);

static const char *preferred_core(void) {
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512dq") &&
        __builtin_cpu_supports("avx512vl"))
        return "SkylakeX";
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return "Haswell";
    return NULL;
}

void cli_select_blas_kernel(char **argv) {
    const char *auto_flag = getenv("MSF_BLAS_AUTO");
    if (getenv("OPENBLAS_CORETYPE") || (auto_flag && !strcmp(auto_flag, "0"))) return;
    static const char *fallbacks[] = {"Prescott", "Core2", "Penryn", "Dunnington", "Nehalem", "Sandybridge"};
    const char *core = openblas_get_corename(), *want = preferred_core();
    int fell_back = 0;
    for (size_t i = 0; core && i < sizeof fallbacks / sizeof fallbacks[0]; i++)
        fell_back |= !strcmp(core, fallbacks[i]);
    if (!fell_back || !want) return;
    if (setenv("OPENBLAS_CORETYPE", want, 1) == 0) execv("/proc/self/exe", argv);
    unsetenv("OPENBLAS_CORETYPE");  // exec failed: carry on with the fallback kernel
}
