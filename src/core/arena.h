// arena.h: 64-byte aligned allocation and a bump-pointer workspace arena.
//
// A model owns one arena sized at load; kernels that need scratch memory take
// it from the arena the caller passes and give it back with a mark/release
// pair, so no kernel calls malloc.
#ifndef MSF_CORE_ARENA_H
#define MSF_CORE_ARENA_H

#include <assert.h>
#include <stddef.h>

#include "core/status.h"

#define MSF_ALIGN 64

// 64-byte aligned allocation; NULL on failure (bytes 0 gives a valid pointer).
void *msf_aligned_alloc(size_t bytes);
void msf_aligned_free(void *p);

// Round up to a multiple of MSF_ALIGN.
static inline size_t msf_align_up(size_t bytes) { return (bytes + MSF_ALIGN - 1) & ~(size_t)(MSF_ALIGN - 1); }

typedef struct {
    unsigned char *base;
    size_t capacity;
    size_t used;
    size_t peak;  // high-water mark of `used`, for reporting workspace needs
} msf_arena;

msf_status msf_arena_init(msf_arena *a, size_t capacity);
void msf_arena_free(msf_arena *a);

// 64-byte aligned block of `bytes`, or NULL if the arena is too small
// (the error message then says how much was asked and how much was left).
void *msf_arena_alloc(msf_arena *a, size_t bytes);

// Save and restore the allocation point (LIFO scratch use inside a kernel).
static inline size_t msf_arena_mark(const msf_arena *a) { return a->used; }
// Release what was allocated since `mark` (marks are released innermost first).
static inline void msf_arena_release(msf_arena *a, size_t mark) {
    assert(mark <= a->used && "a mark released after an outer one");
    a->used = mark;
}

#endif
