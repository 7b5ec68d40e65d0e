// fast_exp.h: the one fast float32 exp of the codebase (softmax, SiLU, GELU,
// the fused GroupNorm + SiLU), private to src/nn.
//
// libm's expf is a call per element; this form vectorises: x = n ln2 + r with
// n = round(x log2 e) by adding and subtracting 1.5 * 2^23, ln2 split in two
// (Cody-Waite) so r is exact, exp(r) by its degree-6 Taylor polynomial
// (|r| <= ln2/2: truncation 0.7 ulp), 2^n built in the exponent bits. Uses
// only +, *, conversions and bit moves: needs -ffp-contract=off and no
// -ffast-math (both hold), and then every instruction set gives the same bits.
#ifndef MSF_NN_FAST_EXP_H
#define MSF_NN_FAST_EXP_H

#include <stdint.h>
#include <string.h>

// exp(c) for c already in [-88, 88.3] (2^n a normal float, or 0 for n = -127
// at the very bottom); outside that range the result is garbage. Callers that
// clamp in a loop of their own (GCC vectorises neither a division nor a
// conversion after a clamp in the same loop) use this directly.
static inline float nn_exp_poly(float c) {
    const float log2e = 1.44269504088896341f, ln2_hi = 0.693359375f, ln2_lo = -2.12194440e-4f;
    const float shifter = 12582912.0f;  // 1.5 * 2^23
    float n = (c * log2e + shifter) - shifter;
    float r = (c - n * ln2_hi) - n * ln2_lo;
    float p = 1.0f + r * (1.0f + r * (0.5f + r * (1.66666672e-1f +
                                                  r * (4.16666679e-2f + r * (8.33333377e-3f + r * 1.38888892e-3f)))));
    // A NaN never reaches the float-to-int conversion (undefined behaviour in
    // C; issue 20): its exponent is taken as 0 (a select, which vectorises),
    // and the result is NaN through r and p. Finite inputs keep their bits;
    // the arithmetic is unsigned so nothing can overflow.
    float ni = n == n ? n : 0.0f;
    uint32_t bits = (uint32_t)((int32_t)ni + 127) * (1u << 23);
    float scale;
    memcpy(&scale, &bits, sizeof scale);
    return p * scale;
}

// exp(x) for any x: inputs are clamped to [-87.3, 88.3] so that 2^n stays
// normal: below, the result is 1.2e-38 instead of a denormal or 0; above,
// 2.4e38 instead of inf. NaN stays NaN.
static inline float nn_fast_expf(float x) {
    float c = x < -87.3f ? -87.3f : (x > 88.3f ? 88.3f : x);
    float y = nn_exp_poly(c);
    return x != x ? x : y;
}

// The exp-heavy loops are compiled for AVX-512, AVX2 and baseline x86-64 and
// picked at load time (GCC function multiversioning); every version gives the
// same bits (see above).
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && !defined(__SANITIZE_ADDRESS__)
#define NN_MULTIVERSION __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define NN_MULTIVERSION
#endif

#endif
