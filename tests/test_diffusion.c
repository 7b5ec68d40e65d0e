// test_diffusion.c: respacing and schedule constants against the check values
// of shared REFERENCE.md section 2 (read off DiT's code) and against DiT's
// numpy code (golden respacing cases of tools/golden/gen_dit.py); msf's
// "SPEC@T" respacings; where a loop starts and from what; x0 clamping; keyed
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

// "SPEC@T": DiT's space_timesteps(T, SPEC), the lists printed by DiT's own
// function (diffusion/respace.py at ed81ce2) on a T-step range.
START_TEST(test_respacing_below) {
    static const struct {
        const char *spec;
        int n;
        int64_t want[5];
    } good[] = {
        {"5@500", 5, {0, 125, 250, 374, 499}},  {"2@250", 2, {0, 249}}, {"ddim5@500", 5, {0, 100, 200, 300, 400}},
        {"5@1000", 5, {0, 250, 500, 749, 999}}, {"1@500", 1, {0}},      {"3@3", 3, {0, 1, 2}}};
    for (size_t c = 0; c < sizeof good / sizeof good[0]; c++) {
        int64_t *t;
        int n;
        ck_assert_msg(diff_space_timesteps(1000, good[c].spec, &t, &n) == MSF_OK, "%s: %s", good[c].spec,
                      msf_error_message());
        ck_assert_int_eq(n, good[c].n);
        for (int i = 0; i < n; i++) ck_assert_int_eq(t[i], good[c].want[i]);
        free(t);
    }
    // "N@1000" is "N", constants included.
    diff_schedule a, b;
    ck_assert_int_eq(diff_schedule_create(&a, 1000, "250@1000", DIFF_VAR_LEARNED_RANGE), MSF_OK);
    ck_assert_int_eq(diff_schedule_create(&b, 1000, "250", DIFF_VAR_LEARNED_RANGE), MSF_OK);
    ck_assert_int_eq(a.num_steps, b.num_steps);
    ck_assert(memcmp(a.timestep_map, b.timestep_map, 250 * sizeof *a.timestep_map) == 0);
    ck_assert(memcmp(a.betas, b.betas, 10 * 250 * sizeof *a.betas) == 0);
    diff_schedule_free(&a);
    diff_schedule_free(&b);
    // The spaced process of "2@250" jumps from abar(249) to 1: b'_1 = 1 - abar(249) / abar(0).
    ck_assert_int_eq(diff_schedule_create(&a, 1000, "2@250", DIFF_VAR_LEARNED_RANGE), MSF_OK);
    double abar = 1.0;
    for (int t = 0; t < 250; t++) abar *= 1.0 - (1e-4 + t * (0.02 - 1e-4) / 999);
    expect_rel(a.alphas_cumprod[1], abar, 1e-12, "abar of 2@250 at 249");
    expect_rel(a.betas[1], 1.0 - abar / (1.0 - 1e-4), 1e-12, "b'1 of 2@250");
    diff_schedule_free(&a);

    static const struct {
        const char *spec, *want;
    } bad[] = {{"600@500",
                "respacing '600@500' (over steps 0..499): respacing '600': cannot divide section of 500 "
                "steps into 600"},
               {"5@1001", "respacing '5@1001': expected SPEC@T with T an integer in 1..1000"},
               {"5@0", "T an integer in 1..1000 (SPEC spaced over original steps 0..T-1), got T = '0'"},
               {"0@500", "respacing '0' keeps no steps"},
               {"5@", "got T = ''"},
               {"5@50x", "got T = '50x'"},
               {"5@-1", "got T = '-1'"},
               {"5@500@100", "got T = '500@100'"},
               {"@500", "expected step counts"},
               {"x@500", "expected step counts"},
               {"ddim300@500", "cannot create exactly 300 steps"}};
    for (size_t c = 0; c < sizeof bad / sizeof bad[0]; c++) {
        int64_t *t;
        int n;
        ck_assert_int_eq(diff_space_timesteps(1000, bad[c].spec, &t, &n), MSF_ERR_INVALID);
        ck_assert_msg(strstr(msf_error_message(), bad[c].want), "%s: got '%s', want '%s'", bad[c].spec,
                      msf_error_message(), bad[c].want);
        ck_assert_ptr_null(t);
    }
}
END_TEST

// A denoiser that records the first x and t it sees and predicts eps = `eps`.
typedef struct {
    float first_x[8], first_t, eps;
    int calls;
} probe;

static msf_status probe_fn(void *user, float *out, const float *x, const float *t, const int64_t *y, int m,
                           int64_t first) {
    (void)y, (void)first;
    probe *p = user;
    if (!p->calls++) {
        memcpy(p->first_x, x, 8 * sizeof *x);
        p->first_t = t[0];
    }
    for (int i = 0; i < m * 8; i++) out[i] = p->eps;
    return MSF_OK;
}

// Every loop starts at its largest step kept, from x_T itself: the forward
// marginal of a zero-mean unit-variance target has unit variance (the
// truncated start once used sqrt(1 - abar) x_T).
START_TEST(test_start_and_clip) {
    expect_rel(diff_start_scale(0.52, 1.0), 1.0, 1e-15, "scale, v = 1");
    expect_rel(diff_start_scale(0.52, 0.0), sqrt(0.48), 1e-15, "scale, v = 0");
    expect_rel(diff_start_scale(0.52, 4.0), sqrt(0.52 * 4 + 0.48), 1e-15, "scale, v = 4");
    static const struct {
        const char *steps;
        int start_t, k0, t0;
    } cases[] = {
        {"10", 0, 9, 999}, {"10", 300, 2, 222}, {"5@500", 0, 4, 499}, {"5@500", 200, 1, 125}, {"ddim5@500", 0, 4, 400}};
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        diff_stage_opts o = {
            .steps = cases[c].steps, .var = DIFF_VAR_FIXED_SMALL, .cfg_scale = 1.0f, .start_t = cases[c].start_t};
        diff_stage st;
        ck_assert_int_eq(diff_stage_init(&st, &o), MSF_OK);
        ck_assert_int_eq(st.num_steps, cases[c].k0 + 1);
        probe p = {.eps = 0.0f};
        diff_denoiser d = {.fn = probe_fn, .user = &p, .channels = 2, .out_channels = 2, .height = 2, .width = 2};
        diff_sample_opts so = {.seed = 11};
        float x[8], x_T[8], *work = malloc(diff_sample_workspace_floats(&d, 1, 0) * sizeof *work);
        ck_assert_int_eq(diff_sample(&st, &d, &so, x, (const int64_t[]){0}, 4, 1, work), MSF_OK);
        ck_assert_int_eq(msf_diffusion_noise(11, 0, -1, 4, 1, 8, x_T), MSF_OK);
        ck_assert_msg(memcmp(p.first_x, x_T, sizeof x_T) == 0, "%s from %d: the first x is not x_T", cases[c].steps,
                      cases[c].start_t);
        ck_assert_int_eq((int)p.first_t, cases[c].t0);
        ck_assert_int_eq(p.calls, cases[c].k0 + 1);
        free(work);
        diff_stage_free(&st);
    }
    diff_stage_opts o = {.steps = "5@500", .start_t = 100};
    diff_stage st;
    ck_assert_int_eq(diff_stage_init(&st, &o), MSF_OK);  // keeps step 0 only
    ck_assert_int_eq(st.num_steps, 1);
    diff_stage_free(&st);

    // clip_x0: at k = 0 the step returns x0 itself, clamped to [-1, 1].
    diff_schedule s;
    ck_assert_int_eq(diff_schedule_create(&s, 1000, "10", DIFF_VAR_FIXED_SMALL), MSF_OK);
    float xs[4] = {0.5f, -0.5f, 0.5f, 0.0f}, eps[4] = {-100.0f, 100.0f, 0.0f, 0.0f}, z[4] = {0};
    float free_x[4], clip_x[4];
    memcpy(free_x, xs, sizeof xs), memcpy(clip_x, xs, sizeof xs);
    diff_p_sample(&s, 0, 0, free_x, eps, z, 1, 4, 4, 1);
    diff_p_sample(&s, 0, 1, clip_x, eps, z, 1, 4, 4, 1);
    ck_assert(free_x[0] > 1.0f && free_x[1] < -1.0f);
    ck_assert(clip_x[0] == 1.0f && clip_x[1] == -1.0f);
    ck_assert(clip_x[2] == free_x[2] && clip_x[3] == 0.0f);
    // DDIM re-derives eps from the clamped x0: at k = 0 (abar_prev = 1) it lands on x0.
    memcpy(clip_x, xs, sizeof xs);
    diff_ddim_sample(&s, 0, 0.0f, 1, clip_x, eps, z, 1, 4, 4, 1);
    ck_assert(fabsf(clip_x[0] - 1.0f) < 1e-6f && fabsf(clip_x[1] + 1.0f) < 1e-6f);
    diff_schedule_free(&s);
}
END_TEST

// Every spaced constant equals DiT's numpy float64 value (golden cases).
START_TEST(test_schedule_vs_golden) {
    msf_h5_reader *g = tu_golden_open("dit_tiny.h5");
    static const char *names[] = {"betas",
                                  "log_betas",
                                  "alphas_cumprod",
                                  "alphas_cumprod_prev",
                                  "posterior_variance",
                                  "posterior_log_variance_clipped",
                                  "posterior_mean_coef1",
                                  "posterior_mean_coef2",
                                  "sqrt_recip_alphas_cumprod",
                                  "sqrt_recipm1_alphas_cumprod"};
    // All eight of tools/golden/gen_dit.py (in the small and the full file), "5@500",
    // "2@250" and "ddim5@500" among them.
    int cases = tu_golden_cases(g, "respacing", "timestep_map");
    ck_assert_int_eq(cases, 8);
    for (int c = 0; c < cases; c++) {
        char obj[64], name[128], spec[64];
        snprintf(obj, sizeof obj, "respacing/case%d", c);
        snprintf(name, sizeof name, "%s/timestep_map", obj);
        ck_assert_int_eq(msf_h5_get_attr_string(g, obj, "spec", spec, sizeof spec), MSF_OK);
        diff_schedule s;
        ck_assert_msg(diff_schedule_create(&s, 1000, spec, DIFF_VAR_LEARNED_RANGE) == MSF_OK, "%s",
                      msf_error_message());
        size_t n;
        float *map = tu_golden_load(g, name, &n, NULL, NULL);
        ck_assert_int_eq((int)n, s.num_steps);
        for (size_t i = 0; i < n; i++) ck_assert_int_eq((int64_t)map[i], s.timestep_map[i]);
        free(map);
        double *arrays[] = {s.betas,
                            s.log_betas,
                            s.alphas_cumprod,
                            s.alphas_cumprod_prev,
                            s.posterior_variance,
                            s.posterior_log_variance_clipped,
                            s.posterior_mean_coef1,
                            s.posterior_mean_coef2,
                            s.sqrt_recip_alphas_cumprod,
                            s.sqrt_recipm1_alphas_cumprod};
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
    msf_h5_close(g);
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
    tcase_add_test(tc, test_respacing_below);
    tcase_add_test(tc, test_start_and_clip);
    tcase_add_test(tc, test_schedule_vs_golden);
    tcase_add_test(tc, test_noise_and_labels_keyed);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
