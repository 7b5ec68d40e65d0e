// test_diffusion.c: respacing and schedule constants against the check values
// of shared REFERENCE.md section 2 (read off DiT's code) and against DiT's
// numpy code (golden respacing cases of tools/golden/gen_dit.py); keyed
// sampler noise and labels.
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/rng.h"
#include "diffusion/diffusion.h"
#include "diffusion/sampler.h"
#include "testutil.h"

static void expect_rel(double got, double want, double tol, const char *what) {
    double rel = fabs(got - want) / fmax(fabs(want), 1e-300);
    ck_assert_msg(rel <= tol || fabs(got - want) <= tol, "%s: got %.12g want %.12g (rel %.2e)", what, got, want, rel);
}

START_TEST(test_reference_check_values) {
    diff_schedule s;
    ck_assert_int_eq(diff_schedule_create(&s, 1000, "250", DIFF_VAR_LEARNED_RANGE), MSF_OK);
    ck_assert_int_eq(s.num_steps, 250);
    int64_t head[] = {0, 4, 8};
    for (int i = 0; i < 3; i++) ck_assert_int_eq(s.timestep_map[i], head[i]);
    ck_assert_int_eq(s.timestep_map[41], 164);
    ck_assert_int_eq(s.timestep_map[42], 169);
    ck_assert_int_eq(s.timestep_map[248], 995);
    ck_assert_int_eq(s.timestep_map[249], 999);
    expect_rel(s.betas[0], 1.0e-4, 1e-9, "b'0");
    expect_rel(s.posterior_log_variance_clipped[0], -9.36462816, 1e-8, "min_log 0");
    expect_rel(s.log_betas[0], -9.21034037, 1e-8, "max_log 0");
    expect_rel(s.posterior_mean_coef1[0], 1.0, 1e-12, "coef1 0");
    ck_assert(s.posterior_mean_coef2[0] == 0.0);
    expect_rel(s.betas[1], 5.9906556448e-4, 1e-9, "b'1");
    expect_rel(s.alphas_cumprod[1], 0.99930099434, 1e-10, "abar 1");
    expect_rel(s.log_betas[1], -7.42013951, 1e-8, "max_log 1");
    expect_rel(s.betas[249], 7.7519344992e-2, 1e-9, "b'249");
    expect_rel(s.alphas_cumprod[249], 4.0358297654e-5, 1e-9, "abar 249");
    expect_rel(s.posterior_log_variance_clipped[249], -2.55723115, 1e-8, "min_log 249");
    expect_rel(s.log_betas[249], -2.55722776, 1e-8, "max_log 249");
    diff_schedule_free(&s);
}
END_TEST

START_TEST(test_respacing_specs) {
    int64_t *t;
    int n;
    ck_assert_int_eq(diff_space_timesteps(1000, "ddim50", &t, &n), MSF_OK);
    ck_assert_int_eq(n, 50);
    for (int i = 0; i < n; i++) ck_assert_int_eq(t[i], 20 * i);
    free(t);
    ck_assert_int_eq(diff_space_timesteps(1000, "10,15,20", &t, &n), MSF_OK);
    ck_assert_int_eq(n, 45);
    // Sections of 334, 333, 333 steps: the first ends at 333, the second starts at 334.
    ck_assert_int_eq(t[0], 0);
    ck_assert_int_eq(t[9], 333);
    ck_assert_int_eq(t[10], 334);
    ck_assert_int_eq(t[24], 666);
    ck_assert_int_eq(t[25], 667);
    ck_assert_int_eq(t[44], 999);
    free(t);
    ck_assert_int_eq(diff_space_timesteps(1000, "1000", &t, &n), MSF_OK);
    ck_assert_int_eq(n, 1000);
    ck_assert_int_eq(t[999], 999);
    free(t);

    ck_assert_int_eq(diff_space_timesteps(1000, "2000", &t, &n), MSF_ERR_INVALID);
    ck_assert_ptr_nonnull(strstr(msf_error_message(), "cannot divide section of 1000 steps into 2000"));
    ck_assert_int_eq(diff_space_timesteps(1000, "25x", &t, &n), MSF_ERR_INVALID);
    ck_assert_int_eq(diff_space_timesteps(1000, "", &t, &n), MSF_ERR_INVALID);
    ck_assert_int_eq(diff_space_timesteps(1000, "10,,5", &t, &n), MSF_ERR_INVALID);
    ck_assert_int_eq(diff_space_timesteps(1000, "ddim", &t, &n), MSF_ERR_INVALID);
    ck_assert_int_eq(diff_space_timesteps(1000, "ddim999", &t, &n), MSF_ERR_INVALID);
    ck_assert_ptr_nonnull(strstr(msf_error_message(), "integer stride"));
    ck_assert_ptr_null(t);
}
END_TEST

// Every spaced constant equals DiT's numpy float64 value (golden cases).
START_TEST(test_schedule_vs_golden) {
    msf_weights *g = tu_golden_open("dit_tiny.h5");
    static const char *names[] = {"betas", "log_betas", "alphas_cumprod", "alphas_cumprod_prev", "posterior_variance",
                                  "posterior_log_variance_clipped", "posterior_mean_coef1", "posterior_mean_coef2",
                                  "sqrt_recip_alphas_cumprod", "sqrt_recipm1_alphas_cumprod"};
    // All five of tools/golden/gen_dit.py (in the small and the full file).
    int cases = tu_golden_cases(g, "respacing", "timestep_map");
    ck_assert_int_eq(cases, 5);
    for (int c = 0; c < cases; c++) {
        char obj[64], name[128], spec[64];
        snprintf(obj, sizeof obj, "respacing/case%d", c);
        snprintf(name, sizeof name, "%s/timestep_map", obj);
        ck_assert_int_eq(msf_weights_attr_string(g, obj, "spec", spec, sizeof spec), MSF_OK);
        diff_schedule s;
        ck_assert_msg(diff_schedule_create(&s, 1000, spec, DIFF_VAR_LEARNED_RANGE) == MSF_OK, "%s",
                      msf_error_message());
        size_t n;
        float *map = tu_golden_load(g, name, &n, NULL, NULL);
        ck_assert_int_eq((int)n, s.num_steps);
        for (size_t i = 0; i < n; i++) ck_assert_int_eq((int64_t)map[i], s.timestep_map[i]);
        free(map);
        double *arrays[] = {s.betas, s.log_betas, s.alphas_cumprod, s.alphas_cumprod_prev, s.posterior_variance,
                            s.posterior_log_variance_clipped, s.posterior_mean_coef1, s.posterior_mean_coef2,
                            s.sqrt_recip_alphas_cumprod, s.sqrt_recipm1_alphas_cumprod};
        for (int a = 0; a < 10; a++) {
            snprintf(name, sizeof name, "%s/%s", obj, names[a]);
            // float64 against float64: only libm's last-bit differences allowed.
            size_t m;
            double *want = tu_golden_load_f64(g, name, &m);
            ck_assert_int_eq((int)m, s.num_steps);
            for (size_t i = 0; i < m; i++) {
                double rel = fabs(arrays[a][i] - want[i]) / fmax(fabs(want[i]), 1e-300);
                ck_assert_msg(rel <= 1e-13 || arrays[a][i] == want[i], "spec %s %s[%zu]: got %.17g want %.17g", spec,
                              names[a], i, arrays[a][i], want[i]);
            }
            free(want);
        }
        diff_schedule_free(&s);
    }
    msf_weights_close(g);
}
END_TEST

START_TEST(test_noise_and_labels_keyed) {
    enum { NUMEL = 37 };
    float a[3 * NUMEL], b[NUMEL];
    ck_assert_int_eq(msf_diffusion_noise(5, 0, 7, 10, 3, NUMEL, a), MSF_OK);
    ck_assert_int_eq(msf_diffusion_noise(5, 0, 7, 11, 1, NUMEL, b), MSF_OK);
    ck_assert(memcmp(a + NUMEL, b, sizeof b) == 0);
    msf_rng_key key = {.seed = 5, .stream = 12, .substream = msf_rng_substream(0, 8)};
    ck_assert_int_eq(msf_rng_normal(b, NUMEL, key, 0), MSF_OK);
    ck_assert(memcmp(a + 2 * NUMEL, b, sizeof b) == 0);
    ck_assert_int_eq(msf_diffusion_noise(5, 1, 7, 11, 1, NUMEL, b), MSF_OK);  // another stage
    ck_assert(memcmp(a + NUMEL, b, sizeof b) != 0);

    int64_t l1[20], l2[5];
    ck_assert_int_eq(diff_sample_labels(l1, DIFF_LABELS_UNIFORM, 3, 0, 20, 10), MSF_OK);
    ck_assert_int_eq(diff_sample_labels(l2, DIFF_LABELS_UNIFORM, 3, 7, 5, 10), MSF_OK);
    ck_assert(memcmp(l1 + 7, l2, sizeof l2) == 0);
    int distinct = 0, seen[10] = {0};
    for (int i = 0; i < 20; i++) {
        ck_assert(l1[i] >= 0 && l1[i] < 10);
        distinct += !seen[l1[i]]++;
    }
    ck_assert_int_ge(distinct, 5);
    ck_assert_int_eq(diff_sample_labels(l1, DIFF_LABELS_BALANCED, 3, 8, 4, 10), MSF_OK);
    ck_assert_int_eq(l1[0], 8);
    ck_assert_int_eq(l1[2], 0);
}
END_TEST

int main(void) {
    Suite *s = suite_create("diffusion");
    TCase *tc = tcase_create("diffusion");
    tcase_add_test(tc, test_reference_check_values);
    tcase_add_test(tc, test_respacing_specs);
    tcase_add_test(tc, test_schedule_vs_golden);
    tcase_add_test(tc, test_noise_and_labels_keyed);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
