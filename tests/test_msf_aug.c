// test_msf_aug.c: MSF's conditioning augmentation against the PyTorch
// reference (tools/golden/gen_msf_aug.py -> tests/golden/msf_cond_aug.h5): the
// noise schedule abar(s), the residual DiT's level embedder, two-stage
// trajectories with a noised condition (replayed noise, the condition's noise
// at "step -2"), and the errors a mismatched model and option give.
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "msf/msf_model.h"
#include "testutil.h"

#define GOLDEN "msf_cond_aug.h5"

START_TEST(test_abar) {
    msf_h5_reader *g = tu_golden_open(GOLDEN);
    size_t n;
    double *want = tu_golden_load_f64(g, "abar", &n);
    ck_assert_int_eq((int)n, 1001);
    for (int s = 0; s <= 1000; s++) {
        double got = diff_linear_abar(s);
        ck_assert_msg(fabs(got - want[s]) <= 1e-15 * want[s], "abar(%d) = %.17g, reference %.17g", s, got, want[s]);
    }
    ck_assert(diff_linear_abar(0) == 1.0);
    free(want);
    msf_h5_close(g);
}
END_TEST

START_TEST(test_forward_with_level) {
    msf_h5_reader *g = tu_golden_open(GOLDEN);
    double tol = tu_golden_double(g, NULL, "tolerance");
    msf_model m;
    ck_assert_msg(msf_model_load(&m, g, "model", 4) == MSF_OK, "%s", msf_error_message());
    ck_assert(!m.stage[0].config.cond_aug && m.stage[1].config.cond_aug);
    size_t nx, nt, no;
    float *x = tu_golden_load(g, "io/x", &nx, NULL, NULL), *t = tu_golden_load(g, "io/t", &nt, NULL, NULL);
    float *yf = tu_golden_load(g, "io/y", NULL, NULL, NULL), *aug = tu_golden_load(g, "io/aug", NULL, NULL, NULL);
    float *want = tu_golden_load(g, "io/out", &no, NULL, NULL), *out = malloc(no * sizeof *out);
    int64_t y[4];
    for (size_t i = 0; i < nt; i++) y[i] = (int64_t)yf[i];
    ck_assert_int_eq(dit_forward_aug(&m.stage[1], out, x, t, y, aug, (int)nt), MSF_OK);
    ck_assert(tu_expect_close("residual forward with levels", out, want, no, tol));
    // The level must be given to a cond_aug network, and only to one.
    ck_assert_int_eq(dit_forward(&m.stage[1], out, x, t, y, (int)nt), MSF_ERR_INVALID);
    ck_assert_ptr_nonnull(strstr(msf_error_message(), "conditioning augmentation"));
    ck_assert_int_eq(dit_forward_aug(&m.stage[0], out, x, t, y, aug, 1), MSF_ERR_INVALID);
    // The level embedder is counted in the forward cost.
    dit_config plain = m.stage[1].config;
    plain.cond_aug = 0;
    double extra = (dit_gflops(&m.stage[1].config) - dit_gflops(&plain)) * 1e9;
    ck_assert_msg(fabs(extra - (64.0 * 256 + 64.0 * 64)) < 1e-3, "level MLP counted as %g FLOPs", extra);
    free(x), free(t), free(yf), free(aug), free(want), free(out);
    msf_model_free(&m);
    msf_h5_close(g);
}
END_TEST

START_TEST(test_trajectories) {
    msf_h5_reader *g = tu_golden_open(GOLDEN);
    double tol = tu_golden_double(g, NULL, "traj_tolerance");
    msf_model m;
    ck_assert_msg(msf_model_load(&m, g, "model", 4) == MSF_OK, "%s", msf_error_message());
    int cases = tu_golden_cases(g, "traj", "out");
    ck_assert_int_eq(cases, 3);  // gen_msf_aug.py's CASES
    int noised = 0;
    for (int i = 0; i < cases; i++) {
        char obj[32], name[96], steps[2][16];
        snprintf(obj, sizeof obj, "traj/case%d", i);
        diff_stage_opts o[2] = {{0}};
        tu_stage_opts(g, obj, "base", &o[0], steps[0]);
        tu_stage_opts(g, obj, "residual", &o[1], steps[1]);
        int64_t level;
        ck_assert_int_eq(msf_h5_get_attr_int(g, obj, "residual_cond_noise", &level), MSF_OK);
        o[1].cond_noise = (int)level;
        noised += level > 0;
        tu_msf_replay r = {0};
        static const char *stage_names[2] = {"base", "residual"};
        float *bufs[5] = {0};
        for (int k = 0; k < 2; k++) {
            size_t nx, nz;
            int64_t zshape[8];
            snprintf(name, sizeof name, "%s/%s_x_T", obj, stage_names[k]);
            bufs[2 * k] = tu_golden_load(g, name, &nx, NULL, NULL);
            snprintf(name, sizeof name, "%s/%s_noise", obj, stage_names[k]);
            bufs[2 * k + 1] = tu_golden_load(g, name, &nz, NULL, zshape);
            r.x_T[k] = bufs[2 * k];
            r.z[k] = bufs[2 * k + 1];
            r.rows[k] = (int)zshape[1];
            r.numel[k] = nx / 2;
        }
        if (level > 0) {
            snprintf(name, sizeof name, "%s/residual_cond_eps", obj);
            r.cond_eps = bufs[4] = tu_golden_load(g, name, NULL, NULL, NULL);
        }
        size_t nout, nbase;
        snprintf(name, sizeof name, "%s/labels", obj);
        float *lf = tu_golden_load(g, name, NULL, NULL, NULL);
        int64_t labels[2] = {(int64_t)lf[0], (int64_t)lf[1]};
        snprintf(name, sizeof name, "%s/out", obj);
        float *want = tu_golden_load(g, name, &nout, NULL, NULL);
        snprintf(name, sizeof name, "%s/base_out", obj);
        float *want_base = tu_golden_load(g, name, &nbase, NULL, NULL);
        float *z = malloc(nout * sizeof *z), *base = malloc(nbase * sizeof *base);
        msf_sampler sp;
        ck_assert_msg(msf_sampler_init(&sp, &m, o, 2) == MSF_OK, "%s", msf_error_message());
        ck_assert_msg(msf_sample(&m, &sp, 0, tu_msf_replay_noise, &r, z, base, NULL, labels, 0, 2, NULL) == MSF_OK,
                      "%s", msf_error_message());
        if (level > 0) {  // the network saw the noised condition
            snprintf(name, sizeof name, "%s/cond_in", obj);
            float *want_in = tu_golden_load(g, name, NULL, NULL, NULL);
            char what[64];
            snprintf(what, sizeof what, "%s noised condition", obj);
            ck_assert(tu_expect_close(what, sp.cond_in, want_in, nout, tol));
            free(want_in);
        }
        msf_sampler_free(&sp);
        char what[96];
        snprintf(what, sizeof what, "%s base", obj);
        ck_assert(tu_expect_close(what, base, want_base, nbase, tol));
        snprintf(what, sizeof what, "%s z (s = %lld)", obj, (long long)level);
        ck_assert(tu_expect_close(what, z, want, nout, tol));
        for (int b = 0; b < 5; b++) free(bufs[b]);
        free(lf), free(want), free(want_base), free(z), free(base);
    }
    ck_assert_int_ge(noised, 2);
    msf_model_free(&m);
    msf_h5_close(g);
}
END_TEST

// A noised condition with Philox noise: deterministic, and different from the
// clean condition's sample; levels outside 0..1000 and levels on a model
// trained without augmentation are refused.
START_TEST(test_options_and_philox) {
    msf_h5_reader *g = tu_golden_open(GOLDEN);
    msf_model m;
    ck_assert_msg(msf_model_load(&m, g, "model", 3) == MSF_OK, "%s", msf_error_message());
    const size_t numel = 3 * 4 * 8 * 8;
    float *a = malloc(numel * sizeof *a), *b = malloc(numel * sizeof *b), *c = malloc(numel * sizeof *c);
    int64_t labels[3] = {1, 2, 3};
    diff_stage_opts o[2] = {{.steps = "3", .cfg_scale = 1}, {.steps = "3", .cfg_scale = 1, .cond_noise = 100}};
    msf_sampler sp;
    ck_assert_msg(msf_sampler_init(&sp, &m, o, 3) == MSF_OK, "%s", msf_error_message());
    ck_assert_int_eq(msf_sample(&m, &sp, 7, NULL, NULL, a, NULL, NULL, labels, 0, 3, NULL), MSF_OK);
    ck_assert_int_eq(msf_sample(&m, &sp, 7, NULL, NULL, b, NULL, NULL, labels, 0, 3, NULL), MSF_OK);
    msf_sampler_free(&sp);
    ck_assert(!memcmp(a, b, numel * sizeof *a));
    o[1].cond_noise = 0;
    ck_assert_int_eq(msf_sampler_init(&sp, &m, o, 3), MSF_OK);
    ck_assert_int_eq(msf_sample(&m, &sp, 7, NULL, NULL, c, NULL, NULL, labels, 0, 3, NULL), MSF_OK);
    msf_sampler_free(&sp);
    ck_assert(memcmp(a, c, numel * sizeof *a));
    o[1].cond_noise = 1001;
    ck_assert_int_eq(msf_sampler_init(&sp, &m, o, 3), MSF_ERR_INVALID);
    o[1].cond_noise = 0;
    o[0].cond_noise = 5;  // the base has no condition
    ck_assert_int_eq(msf_sampler_init(&sp, &m, o, 3), MSF_ERR_INVALID);
    // A model without augmentation refuses a level.
    m.stage[1].config.cond_aug = 0;
    o[0].cond_noise = 0;
    o[1].cond_noise = 10;
    ck_assert_int_eq(msf_sampler_init(&sp, &m, o, 3), MSF_ERR_INVALID);
    ck_assert_ptr_nonnull(strstr(msf_error_message(), "conditioning augmentation"));
    m.stage[1].config.cond_aug = 1;
    free(a), free(b), free(c);
    msf_model_free(&m);
    msf_h5_close(g);
}
END_TEST

int main(void) {
    Suite *s = suite_create("msf_aug");
    TCase *tc = tcase_create("msf_aug");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_abar);
    tcase_add_test(tc, test_forward_with_level);
    tcase_add_test(tc, test_trajectories);
    tcase_add_test(tc, test_options_and_philox);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
