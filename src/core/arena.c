// arena.c: aligned allocation and the workspace arena.
#include "core/arena.h"

#include <assert.h>
#include <stdint.h>
#include <stdlib.h>

void *msf_aligned_alloc(size_t bytes) {
    void *p = NULL;
    if (posix_memalign(&p, MSF_ALIGN, msf_align_up(bytes ? bytes : 1)) != 0) return NULL;
    return p;
}

void msf_aligned_free(void *p) { free(p); }

msf_status msf_arena_init(msf_arena *a, size_t capacity) {
    a->capacity = msf_align_up(capacity);
    a->used = 0;
    a->peak = 0;
    a->base = msf_aligned_alloc(a->capacity);
    if (!a->base) {
        a->capacity = 0;
        return msf_fail(MSF_ERR_NOMEM, "cannot allocate a workspace of %zu bytes", capacity);
    }
    return MSF_OK;
}

void msf_arena_free(msf_arena *a) {
    msf_aligned_free(a->base);
    a->base = NULL;
    a->capacity = a->used = a->peak = 0;
}

void *msf_arena_alloc(msf_arena *a, size_t bytes) {
    size_t need = msf_align_up(bytes);
    if (!a->base || need > a->capacity - a->used) {
        msf_fail(MSF_ERR_NOMEM, "workspace too small: %zu bytes requested, %zu of %zu free", bytes,
                 a->capacity - a->used, a->capacity);
        return NULL;
    }
    void *p = a->base + a->used;
    a->used += need;
    assert(a->used <= a->capacity && ((uintptr_t)p & (MSF_ALIGN - 1)) == 0);
    if (a->used > a->peak) a->peak = a->used;
    return p;
}
