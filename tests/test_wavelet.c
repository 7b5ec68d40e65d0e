// test_wavelet.c: the 2-D multilevel DWT against PyWavelets' wavedec2
// (goldens by tools/golden/gen_spectrum.py: haar, db2, db4, sym4 in modes
// periodization and symmetric, on random arrays of even, odd and very short
// sides and on real Fashion-MNIST images), the filter tables against pywt's,
// coefficient lengths, Parseval for orthogonal periodized transforms, and
// argument errors.
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/rng.h"
#include "eval/wavelet.h"
#include "testutil.h"

#define GOLDEN "spectrum_wavelet.h5"

START_TEST(test_filters_equal_pywt) {
    msf_h5_reader *g = tu_golden_open(GOLDEN);
    for (int wv = 0; wv < MSF_WAVELET_COUNT; wv++) {
        const msf_wavelet_filters *f = msf_wavelet_get((msf_wavelet)wv);
        char name[64];
        size_t n;
        snprintf(name, sizeof name, "filters/%s/dec_lo", f->name);
        double *lo = tu_golden_load_f64(g, name, &n);
        ck_assert_int_eq((int)n, f->taps);
        snprintf(name, sizeof name, "filters/%s/dec_hi", f->name);
        double *hi = tu_golden_load_f64(g, name, &n);
        for (int k = 0; k < f->taps; k++) {
            // repr() round-trips: the tables must be the same doubles.
            ck_assert_msg(f->dec_lo[k] == lo[k], "%s dec_lo[%d] %.17g vs pywt %.17g", f->name, k, f->dec_lo[k], lo[k]);
            ck_assert_msg(f->dec_hi[k] == hi[k], "%s dec_hi[%d] %.17g vs pywt %.17g", f->name, k, f->dec_hi[k], hi[k]);
        }
        free(lo), free(hi);
    }
    msf_h5_close(g);
}
END_TEST

START_TEST(test_wavedec2_equals_pywt) {
    msf_h5_reader *g = tu_golden_open(GOLDEN);
    double tol = tu_golden_double(g, NULL, "tolerance");
    int64_t cases = tu_golden_int(g, NULL, "cases");
    double worst = 0, worst_real = 0;
    int real_cases = 0;
    for (int64_t k = 0; k < cases; k++) {
        char obj[32], name[64], wname[16], mname[32], source[64];
        snprintf(obj, sizeof obj, "case%lld", (long long)k);
        ck_assert_int_eq(msf_h5_get_attr_string(g, obj, "wavelet", wname, sizeof wname), MSF_OK);
        ck_assert_int_eq(msf_h5_get_attr_string(g, obj, "mode", mname, sizeof mname), MSF_OK);
        ck_assert_int_eq(msf_h5_get_attr_string(g, obj, "source", source, sizeof source), MSF_OK);
        int levels = (int)tu_golden_int(g, obj, "levels");
        snprintf(name, sizeof name, "input%lld", (long long)tu_golden_int(g, obj, "input"));
        int64_t shape[4];
        size_t nx, nc, ne;
        float *x = tu_golden_load(g, name, &nx, NULL, shape);
        snprintf(name, sizeof name, "%s/coeffs", obj);
        float *want = tu_golden_load(g, name, &nc, NULL, NULL);
        snprintf(name, sizeof name, "%s/energy", obj);
        double *want_e = tu_golden_load_f64(g, name, &ne);

        msf_wavelet wv;
        msf_wavelet_mode m;
        ck_assert_int_eq(msf_wavelet_parse(wname, &wv), MSF_OK);
        ck_assert_int_eq(msf_wavelet_mode_parse(mname, &m), MSF_OK);
        msf_wavedec2_plan p;
        ck_assert_int_eq(msf_wavedec2_plan_init(&p, (int)shape[0], (int)shape[1], wv, m, levels), MSF_OK);
        // pywt's coefficient lengths give the same total and subband count.
        ck_assert_uint_eq(p.total, nc);
        ck_assert_uint_eq((size_t)p.subbands, ne);
        float *got = malloc(p.total * sizeof *got);
        double *work = malloc(p.work_doubles * sizeof *work), *e = malloc(ne * sizeof *e);
        msf_wavedec2(got, x, &p, work);
        char what[160];
        snprintf(what, sizeof what, "%s %s %s levels %d %lldx%lld (%s)", obj, wname, mname, levels, (long long)shape[0],
                 (long long)shape[1], source);
        ck_assert(tu_expect_close(what, got, want, nc, tol));
        tu_cmp c = tu_compare(got, want, nc);
        if (c.rel > worst) worst = c.rel;
        if (strstr(source, "fashion") && c.rel > worst_real) worst_real = c.rel;
        real_cases += strstr(source, "fashion") != NULL;
        msf_wavedec2_energy(e, got, &p);
        for (size_t s = 0; s < ne; s++)
            ck_assert_msg(fabs(e[s] - want_e[s]) <= tol * fabs(want_e[s]) + 1e-12, "%s energy[%zu] %.9g vs %.9g", what,
                          s, e[s], want_e[s]);
        msf_wavedec2_plan_free(&p);
        free(x), free(want), free(want_e), free(got), free(work), free(e);
    }
    ck_assert_int_ge(cases, 32);
    ck_assert_int_ge(real_cases, 8);
    printf("wavedec2 vs pywt: %lld cases, worst rel %.2e (real Fashion-MNIST images: %.2e)\n", (long long)cases, worst,
           worst_real);
    msf_h5_close(g);
}
END_TEST

START_TEST(test_coeff_lengths_and_layout) {
    // pywt.dwt_coeff_len
    ck_assert_int_eq(msf_dwt_coeff_len(32, 4, MSF_WMODE_PERIODIZATION), 16);
    ck_assert_int_eq(msf_dwt_coeff_len(17, 4, MSF_WMODE_PERIODIZATION), 9);
    ck_assert_int_eq(msf_dwt_coeff_len(32, 4, MSF_WMODE_SYMMETRIC), 17);
    ck_assert_int_eq(msf_dwt_coeff_len(5, 8, MSF_WMODE_SYMMETRIC), 6);
    msf_wavedec2_plan p;
    ck_assert_int_eq(msf_wavedec2_plan_init(&p, 32, 32, MSF_WAVELET_DB2, MSF_WMODE_PERIODIZATION, 3), MSF_OK);
    ck_assert_int_eq(p.subbands, 10);
    ck_assert_uint_eq(p.total, 32 * 32);
    // Order: LL3, LH3 HL3 HH3, LH2 HL2 HH2, LH1 HL1 HH1.
    ck_assert_int_eq(msf_wavedec2_subband_level(&p, 0), 3);
    ck_assert_int_eq(msf_wavedec2_subband_kind(&p, 0), MSF_SUBBAND_LL);
    ck_assert_int_eq(msf_wavedec2_subband_level(&p, 1), 3);
    ck_assert_int_eq(msf_wavedec2_subband_kind(&p, 2), MSF_SUBBAND_HL);
    ck_assert_int_eq(msf_wavedec2_subband_level(&p, 9), 1);
    ck_assert_int_eq(msf_wavedec2_subband_kind(&p, 9), MSF_SUBBAND_HH);
    ck_assert_int_eq(msf_wavedec2_subband_h(&p, 9), 16);
    ck_assert_int_eq(msf_wavedec2_subband_h(&p, 0), 4);
    ck_assert_uint_eq(p.offset[1], 16);
    ck_assert_str_eq(msf_subband_name(msf_wavedec2_subband_kind(&p, 1)), "LH");
    msf_wavedec2_plan_free(&p);
}
END_TEST

START_TEST(test_parseval_periodization) {
    // Orthogonal filters with periodic extension: the transform is orthogonal.
    int h = 32, w = 24;
    float *x = malloc((size_t)h * w * sizeof *x);
    msf_rng_key key = {.seed = 5};
    ck_assert_int_eq(msf_rng_normal(x, (size_t)h * w, key, 0), MSF_OK);
    double ex = 0;
    for (int i = 0; i < h * w; i++) ex += (double)x[i] * x[i];
    for (int wv = 0; wv < MSF_WAVELET_COUNT; wv++) {
        msf_wavedec2_plan p;
        ck_assert_int_eq(msf_wavedec2_plan_init(&p, h, w, (msf_wavelet)wv, MSF_WMODE_PERIODIZATION, 3), MSF_OK);
        float *c = malloc(p.total * sizeof *c);
        double *work = malloc(p.work_doubles * sizeof *work), e[16], sum = 0;
        msf_wavedec2(c, x, &p, work);
        msf_wavedec2_energy(e, c, &p);
        for (int s = 0; s < p.subbands; s++) sum += e[s];
        ck_assert_msg(fabs(sum - ex) <= 1e-6 * ex, "%s: sum of subband energies %.9g vs energy %.9g",
                      msf_wavelet_name((msf_wavelet)wv), sum, ex);
        // A constant image has all its energy in LL.
        for (int i = 0; i < h * w; i++) x[i] = 0.75f;
        msf_wavedec2(c, x, &p, work);
        msf_wavedec2_energy(e, c, &p);
        ck_assert_msg(fabs(e[0] - 0.5625 * h * w) <= 1e-9 * h * w, "constant image: LL energy %.9g", e[0]);
        for (int s = 1; s < p.subbands; s++)
            ck_assert_msg(e[s] < 1e-9, "constant image: subband %d energy %g", s, e[s]);
        ck_assert_int_eq(msf_rng_normal(x, (size_t)h * w, key, 0), MSF_OK);
        free(c), free(work);
        msf_wavedec2_plan_free(&p);
    }
    free(x);
}
END_TEST

START_TEST(test_errors) {
    msf_wavelet wv;
    msf_wavelet_mode m;
    ck_assert_int_eq(msf_wavelet_parse("db3", &wv), MSF_ERR_INVALID);
    ck_assert_ptr_nonnull(strstr(msf_error_message(), "db3"));
    ck_assert_int_eq(msf_wavelet_mode_parse("zero", &m), MSF_ERR_INVALID);
    ck_assert_int_eq(msf_wavelet_parse("sym4", &wv), MSF_OK);
    ck_assert_int_eq(wv, MSF_WAVELET_SYM4);
    msf_wavedec2_plan p;
    ck_assert_int_eq(msf_wavedec2_plan_init(&p, 32, 32, MSF_WAVELET_DB2, MSF_WMODE_SYMMETRIC, 0), MSF_ERR_INVALID);
    ck_assert_int_eq(msf_wavedec2_plan_init(&p, 0, 32, MSF_WAVELET_DB2, MSF_WMODE_SYMMETRIC, 1), MSF_ERR_INVALID);
    ck_assert_int_eq(msf_wavedec2_plan_init(&p, 32, 32, MSF_WAVELET_DB2, MSF_WMODE_SYMMETRIC, 13), MSF_ERR_INVALID);
}
END_TEST

int main(void) {
    Suite *s = suite_create("wavelet");
    TCase *tc = tcase_create("wavelet");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_filters_equal_pywt);
    tcase_add_test(tc, test_wavedec2_equals_pywt);
    tcase_add_test(tc, test_coeff_lengths_and_layout);
    tcase_add_test(tc, test_parseval_periodization);
    tcase_add_test(tc, test_errors);
    suite_add_tcase(s, tc);
    SRunner *r = srunner_create(s);
    srunner_run_all(r, CK_NORMAL);
    int failed = srunner_ntests_failed(r);
    srunner_free(r);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
