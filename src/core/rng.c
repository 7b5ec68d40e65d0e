// rng.c: Philox4x32-10 and the uniform / normal float32 streams built on it.
#include "core/rng.h"

#include <math.h>

// Multipliers and Weyl key increments of Philox4x32 (Random123).
#define PHILOX_M0 0xD2511F53u
#define PHILOX_M1 0xCD9E8D57u
#define PHILOX_W0 0x9E3779B9u
#define PHILOX_W1 0xBB67AE85u

static inline uint32_t mulhilo(uint32_t a, uint32_t b, uint32_t *hi) {
    uint64_t p = (uint64_t)a * b;
    *hi = (uint32_t)(p >> 32);
    return (uint32_t)p;
}

void msf_philox4x32_10(uint32_t out[4], const uint32_t ctr[4], const uint32_t key[2]) {
    uint32_t c0 = ctr[0], c1 = ctr[1], c2 = ctr[2], c3 = ctr[3];
    uint32_t k0 = key[0], k1 = key[1];
    for (int round = 0; round < 10; round++) {
        uint32_t hi0, hi1;
        uint32_t lo0 = mulhilo(PHILOX_M0, c0, &hi0);
        uint32_t lo1 = mulhilo(PHILOX_M1, c2, &hi1);
        c0 = hi1 ^ c1 ^ k0;
        c1 = lo1;
        c2 = hi0 ^ c3 ^ k1;
        c3 = lo0;
        k0 += PHILOX_W0;
        k1 += PHILOX_W1;
    }
    out[0] = c0;
    out[1] = c1;
    out[2] = c2;
    out[3] = c3;
}

// -----------------------------------------------------------------------------

#define RNG_MAX_ELEMENT (UINT64_C(1) << 34)

static void block_words(uint32_t out[4], const msf_rng_key *k, uint64_t block) {
    uint32_t key[2] = {(uint32_t)k->seed, (uint32_t)(k->seed >> 32)};
    uint32_t ctr[4] = {(uint32_t)block, k->substream, (uint32_t)k->stream, (uint32_t)(k->stream >> 32)};
    msf_philox4x32_10(out, ctr, key);
}

static msf_status check_range(size_t count, uint64_t first) {
    if (first > RNG_MAX_ELEMENT || count > RNG_MAX_ELEMENT - first)
        return msf_fail(MSF_ERR_INVALID, "random elements [%llu, %llu) exceed the 2^34 elements of one stream",
                        (unsigned long long)first, (unsigned long long)(first + count));
    return MSF_OK;
}

msf_status msf_rng_uniform(float *out, size_t count, msf_rng_key key, uint64_t first) {
    msf_status s = check_range(count, first);
    if (s) return s;
    uint32_t w[4];
    uint64_t cached = UINT64_MAX;
    for (size_t i = 0; i < count; i++) {
        uint64_t e = first + i;
        if (e / 4 != cached) {
            cached = e / 4;
            block_words(w, &key, cached);
        }
        out[i] = (float)(w[e % 4] >> 8) * 0x1p-24f;
    }
    return MSF_OK;
}

static void normal_block(float out[4], const msf_rng_key *k, uint64_t block) {
    uint32_t w[4];
    block_words(w, k, block);
    const double two_pi = 6.283185307179586476925286766559;
    for (int pair = 0; pair < 2; pair++) {
        double u0 = ((double)w[2 * pair] + 0.5) * 0x1p-32;
        double u1 = ((double)w[2 * pair + 1] + 0.5) * 0x1p-32;
        double r = sqrt(-2.0 * log(u0));
        out[2 * pair] = (float)(r * cos(two_pi * u1));
        out[2 * pair + 1] = (float)(r * sin(two_pi * u1));
    }
}

msf_status msf_rng_normal(float *out, size_t count, msf_rng_key key, uint64_t first) {
    msf_status s = check_range(count, first);
    if (s) return s;
    float v[4];
    uint64_t cached = UINT64_MAX;
    for (size_t i = 0; i < count; i++) {
        uint64_t e = first + i;
        if (e / 4 != cached) {
            cached = e / 4;
            normal_block(v, &key, cached);
        }
        out[i] = v[e % 4];
    }
    return MSF_OK;
}
