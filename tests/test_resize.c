// test_resize.c: eval/resize.c in its three modes against their references
// (goldens by tools/golden/gen_resize.py: TF1 legacy bilinear restated in
// NumPy float32, torch F.interpolate, PIL bicubic on mode 'F'), on up- and
// downsampling, grey, RGBA and identity cases; the bits for 1 and 2 threads;
// argument errors. Bar: max abs error 1e-5 on the normalised values.
#include <check.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "eval/resize.h"
#include "testutil.h"

#define GOLDEN "resize.h5"

START_TEST(test_modes_equal_references) {
    msf_h5_reader *g = tu_golden_open(GOLDEN);
    int64_t cases = tu_golden_int(g, NULL, "cases");
    const char *modes[] = {"adm", "pytorch", "clean"};
    for (int64_t k = 0; k < cases; k++) {
        char obj[32], name[64], what[96];
        snprintf(obj, sizeof obj, "case%lld", (long long)k);
        ck_assert_int_eq(msf_h5_get_attr_string(g, obj, "what", what, sizeof what), MSF_OK);
        int out_c = (int)tu_golden_int(g, obj, "out_c"), oh = (int)tu_golden_int(g, obj, "out_h"),
            ow = (int)tu_golden_int(g, obj, "out_w");
        size_t n;
        int nd;
        int64_t sh[8];
        snprintf(name, sizeof name, "%s/images", obj);
        float *imf = tu_golden_load(g, name, &n, &nd, sh);
        uint8_t *images = malloc(n);
        for (size_t i = 0; i < n; i++) images[i] = (uint8_t)imf[i];
        for (int m = 0; m < 3; m++) {
            snprintf(name, sizeof name, "%s/%s", obj, modes[m]);
            size_t nw;
            float *want = tu_golden_load(g, name, &nw, NULL, NULL);
            float *got = malloc(nw * sizeof(float));
            msf_resize_mode mode;
            ck_assert_int_eq(msf_resize_mode_parse(modes[m], &mode), MSF_OK);
            ck_assert_str_eq(msf_resize_mode_name(mode), modes[m]);
            ck_assert_msg(msf_resize_images(images, (int)sh[0], (int)sh[1], (int)sh[2], (int)sh[3], mode, got, out_c,
                                            oh, ow) == MSF_OK,
                          "%s", msf_error_message());
            tu_cmp c = tu_compare(got, want, nw);
            printf("resize %-8s %-58s max abs %.2e\n", modes[m], what, c.max_abs);
            ck_assert_msg(c.max_abs <= 1e-5 && c.nonfinite == 0, "%s %s: max abs %g at %zu (got %.8g want %.8g)",
                          modes[m], what, c.max_abs, c.worst, got[c.worst], want[c.worst]);
            free(want), free(got);
        }
        free(imf), free(images);
    }
    msf_h5_close(g);
}
END_TEST

START_TEST(test_threads_same_bits) {
    int n = 5, h = 37, w = 23;
    uint8_t *img = malloc((size_t)n * h * w * 3);
    for (int i = 0; i < n * h * w * 3; i++) img[i] = (uint8_t)(i * 131 + 7);
    size_t outn = (size_t)n * 3 * 61 * 50;
    float *a = malloc(outn * sizeof(float)), *b = malloc(outn * sizeof(float));
    int threads = omp_get_max_threads();
    for (int m = 0; m < 3; m++) {
        omp_set_num_threads(1);
        ck_assert_int_eq(msf_resize_images(img, n, h, w, 3, (msf_resize_mode)m, a, 3, 61, 50), MSF_OK);
        omp_set_num_threads(threads < 2 ? 2 : threads);
        ck_assert_int_eq(msf_resize_images(img, n, h, w, 3, (msf_resize_mode)m, b, 3, 61, 50), MSF_OK);
        ck_assert_msg(!memcmp(a, b, outn * sizeof(float)), "mode %d differs across thread counts", m);
    }
    omp_set_num_threads(threads);
    free(img), free(a), free(b);
}
END_TEST

START_TEST(test_errors) {
    uint8_t img[2 * 4 * 4 * 3] = {0};
    float out[2 * 3 * 8 * 8];
    msf_resize_mode m;
    ck_assert_int_eq(msf_resize_mode_parse("bicubic", &m), MSF_ERR_INVALID);
    ck_assert_ptr_nonnull(strstr(msf_error_message(), "adm, pytorch or clean"));
    ck_assert_int_eq(msf_resize_images(img, 2, 4, 4, 2, MSF_RESIZE_ADM, out, 3, 8, 8), MSF_ERR_SHAPE);
    ck_assert_int_eq(msf_resize_images(img, 2, 4, 4, 3, MSF_RESIZE_ADM, out, 1, 8, 8), MSF_ERR_SHAPE);
    ck_assert_int_eq(msf_resize_images(img, 2, 4, 4, 3, MSF_RESIZE_ADM, out, 3, 0, 8), MSF_ERR_INVALID);
    ck_assert_int_eq(msf_resize_images(img, 0, 4, 4, 3, MSF_RESIZE_CLEAN, out, 3, 8, 8), MSF_OK);
}
END_TEST

int main(void) {
    Suite *s = suite_create("resize");
    TCase *tc = tcase_create("resize");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_modes_equal_references);
    tcase_add_test(tc, test_threads_same_bits);
    tcase_add_test(tc, test_errors);
    suite_add_tcase(s, tc);
    SRunner *r = srunner_create(s);
    srunner_run_all(r, CK_NORMAL);
    int failed = srunner_ntests_failed(r);
    srunner_free(r);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
