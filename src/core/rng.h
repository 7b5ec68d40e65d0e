// rng.h: counter-based random numbers (Philox4x32-10, Salmon et al. 2011,
// as in Random123).
//
// Every value is a pure function of (seed, stream, substream, element index):
// no state is carried from one call to the next, so sampling noise does not
// depend on batch size, thread count, process count or call order. The
// samplers key noise as stream = global sample index, substream = (stage,
// step) and element = position in the sample's tensor.
//
// Mapping onto Philox: key = (seed low 32 bits, seed high 32 bits);
// counter = (element / 4, substream, stream low, stream high). One Philox
// block gives four 32-bit words, i.e. four consecutive elements.
#ifndef MSF_CORE_RNG_H
#define MSF_CORE_RNG_H

#include <stddef.h>
#include <stdint.h>

#include "core/status.h"

// The Philox4x32 block function with 10 rounds: out = philox(ctr, key).
void msf_philox4x32_10(uint32_t out[4], const uint32_t ctr[4], const uint32_t key[2]);

typedef struct {
    uint64_t seed;
    uint64_t stream;
    uint32_t substream;
} msf_rng_key;

// Elements [first, first + count) of the keyed sequence. Element indices must
// stay below 2^34 (the block index is one 32-bit counter word); larger
// requests return MSF_ERR_INVALID.
//
// Uniform: word >> 8 scaled by 2^-24, a float32 in [0, 1) on a 2^-24 grid.
msf_status msf_rng_uniform(float *out, size_t count, msf_rng_key key, uint64_t first);
// Standard normal by Box-Muller in double precision, rounded to float32:
// words (w0, w1) of a block give elements 0 and 1 as r cos(2 pi u1) and
// r sin(2 pi u1) with r = sqrt(-2 ln u0), u = (w + 0.5) 2^-32 in (0, 1);
// words (w2, w3) give elements 2 and 3 the same way.
msf_status msf_rng_normal(float *out, size_t count, msf_rng_key key, uint64_t first);

// Substream number of a sampler step: stage in the top 8 bits, step below.
static inline uint32_t msf_rng_substream(uint32_t stage, uint32_t step) { return (stage << 24) | (step & 0xFFFFFFu); }

#endif
