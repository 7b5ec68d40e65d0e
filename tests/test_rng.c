// test_rng.c: Philox4x32-10 known answers (Random123 kat_vectors) and the
// properties the samplers rely on: values are a pure function of
// (seed, stream, substream, element), normals have the right moments.
#include <check.h>
#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "core/rng.h"
#include "testutil.h"

// From Random123's tests/kat_vectors: counter[4], key[2] -> output[4].
static const uint32_t kat[3][10] = {
    {0x00000000, 0x00000000, 0x00000000, 0x00000000, 0x00000000, 0x00000000,  //
     0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8},
    {0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff,  //
     0x408f276d, 0x41c83b0e, 0xa20bc7c6, 0x6d5451fd},
    {0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344, 0xa4093822, 0x299f31d0,  //
     0xd16cfe09, 0x94fdcceb, 0x5001e420, 0x24126ea1},
};

START_TEST(test_philox_known_answers) {
    for (int i = 0; i < 3; i++) {
        uint32_t out[4];
        msf_philox4x32_10(out, kat[i], kat[i] + 4);
        for (int j = 0; j < 4; j++)
            ck_assert_msg(out[j] == kat[i][6 + j], "vector %d word %d: got %08x want %08x", i, j, out[j],
                          kat[i][6 + j]);
    }
}
END_TEST

START_TEST(test_key_layout) {
    // Element e of (seed, stream, substream) is word e%4 of Philox at counter
    // (e/4, substream, stream lo, stream hi) and key (seed lo, seed hi).
    msf_rng_key k = {.seed = 0x0123456789abcdefULL, .stream = 0xfedcba9876543210ULL, .substream = 77};
    float u[8];
    ck_assert_int_eq(msf_rng_uniform(u, 8, k, 4), MSF_OK);
    uint32_t ctr[4] = {1, 77, 0x76543210, 0xfedcba98}, key[2] = {0x89abcdef, 0x01234567}, w[4];
    msf_philox4x32_10(w, ctr, key);
    for (int j = 0; j < 4; j++) ck_assert(u[j] == (float)(w[j] >> 8) * 0x1p-24f);
}
END_TEST

START_TEST(test_pure_function_of_index) {
    // Any split of a range into calls gives the same values (batching, threads).
    msf_rng_key k = {.seed = 42, .stream = 3, .substream = msf_rng_substream(1, 249)};
    enum { N = 1003 };
    float whole[N], parts[N];
    ck_assert_int_eq(msf_rng_normal(whole, N, k, 5), MSF_OK);
    size_t cuts[] = {0, 1, 2, 7, 64, 500, 501, N};
    for (int c = 0; c + 1 < (int)(sizeof cuts / sizeof *cuts); c++)
        ck_assert_int_eq(msf_rng_normal(parts + cuts[c], cuts[c + 1] - cuts[c], k, 5 + cuts[c]), MSF_OK);
    ck_assert(memcmp(whole, parts, sizeof whole) == 0);

    // The same under OpenMP with any thread count.
    for (int threads = 1; threads <= 3; threads++) {
        float par[N];
        omp_set_num_threads(threads);
#pragma omp parallel for schedule(dynamic, 1)
        for (int i = 0; i < N; i++) msf_rng_normal(par + i, 1, k, 5 + (uint64_t)i);
        ck_assert(memcmp(whole, par, sizeof whole) == 0);
    }

    // Different seeds, streams and substreams give different values.
    float other[N];
    msf_rng_key k2 = k;
    k2.stream = 4;
    msf_rng_normal(other, N, k2, 5);
    ck_assert(memcmp(whole, other, sizeof whole) != 0);
    k2 = k;
    k2.substream = msf_rng_substream(1, 248);
    msf_rng_normal(other, N, k2, 5);
    ck_assert(memcmp(whole, other, sizeof whole) != 0);
    k2 = k;
    k2.seed = 43;
    msf_rng_normal(other, N, k2, 5);
    ck_assert(memcmp(whole, other, sizeof whole) != 0);
}
END_TEST

START_TEST(test_normal_moments) {
    enum { N = 1 << 20 };
    float *x = malloc(N * sizeof *x);
    ck_assert_ptr_nonnull(x);
    msf_rng_key k = {.seed = 2024, .stream = 0, .substream = 0};
    ck_assert_int_eq(msf_rng_normal(x, N, k, 0), MSF_OK);
    double m1 = 0, m2 = 0, m3 = 0, m4 = 0, below1 = 0;
    for (int i = 0; i < N; i++) {
        double v = x[i];
        ck_assert(isfinite(v));
        m1 += v;
        m2 += v * v;
        m3 += v * v * v;
        m4 += v * v * v * v;
        below1 += v < 1.0;
    }
    m1 /= N, m2 /= N, m3 /= N, m4 /= N, below1 /= N;
    // Standard errors at N = 2^20: mean 0.001, E x^2 0.0014, E x^3 0.0024, E x^4 0.0099.
    ck_assert_msg(fabs(m1) < 0.005, "mean %g", m1);
    ck_assert_msg(fabs(m2 - 1) < 0.007, "E x^2 %g", m2);
    ck_assert_msg(fabs(m3) < 0.012, "E x^3 %g", m3);
    ck_assert_msg(fabs(m4 - 3) < 0.05, "E x^4 %g", m4);
    ck_assert_msg(fabs(below1 - 0.841344746) < 0.002, "P(x<1) %g", below1);  // Phi(1)
    free(x);
}
END_TEST

START_TEST(test_uniform_range_and_moments) {
    enum { N = 1 << 18 };
    float *u = malloc(N * sizeof *u);
    ck_assert_ptr_nonnull(u);
    msf_rng_key k = {.seed = 7, .stream = 1, .substream = 2};
    ck_assert_int_eq(msf_rng_uniform(u, N, k, 0), MSF_OK);
    double m = 0, v = 0;
    for (int i = 0; i < N; i++) {
        ck_assert(u[i] >= 0.0f && u[i] < 1.0f);
        m += u[i];
        v += (u[i] - 0.5) * (u[i] - 0.5);
    }
    m /= N, v /= N;
    ck_assert_msg(fabs(m - 0.5) < 0.003, "mean %g", m);
    ck_assert_msg(fabs(v - 1.0 / 12) < 0.002, "var %g", v);
    free(u);
}
END_TEST

START_TEST(test_range_limit) {
    float x[4];
    msf_rng_key k = {0};
    ck_assert_int_eq(msf_rng_normal(x, 4, k, (1ULL << 34) - 2), MSF_ERR_INVALID);
    ck_assert_ptr_nonnull(strstr(msf_error_message(), "2^34"));
    ck_assert_int_eq(msf_rng_normal(x, 2, k, (1ULL << 34) - 2), MSF_OK);
}
END_TEST

int main(void) {
    Suite *s = suite_create("rng");
    TCase *tc = tcase_create("philox");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_philox_known_answers);
    tcase_add_test(tc, test_key_layout);
    tcase_add_test(tc, test_pure_function_of_index);
    tcase_add_test(tc, test_normal_moments);
    tcase_add_test(tc, test_uniform_range_and_moments);
    tcase_add_test(tc, test_range_limit);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
