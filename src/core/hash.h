// hash.h: FNV-1a 64, for content keys (config hashes, cache keys). Not a
// cryptographic hash; chain calls to hash several buffers.
#ifndef MSF_CORE_HASH_H
#define MSF_CORE_HASH_H

#include <stddef.h>
#include <stdint.h>

#define MSF_FNV1A_INIT 0xcbf29ce484222325ull

static inline uint64_t msf_fnv1a(uint64_t h, const void *data, size_t size) {
    const unsigned char *p = data;
    for (size_t i = 0; i < size; i++) h = (h ^ p[i]) * 0x100000001b3ull;
    return h;
}

#endif
