// test_images.c: the PNG reader (src/io/images.c) against PIL: every case of
// tests/golden/png_decode.h5 (tools/golden/gen_png.py: grey 1-16 bit, grey
// and colour with tRNS, grey+alpha and RGBA at 8 and 16 bits, palettes with
// and without tRNS, gAMA and sRGB chunks, Adam7 interlacing) decodes to
// exactly the bytes of PIL's Image.open(f).convert("RGB"), as pytorch-fid and
// clean-fid read PNGs. Bar: every byte equal. The case count is exact.
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "io/images.h"
#include "testutil.h"

#define GOLDEN "png_decode.h5"
#define CASES 22  // tools/golden/gen_png.py writes this many; fewer is a failure

START_TEST(test_png_equals_pil) {
    msf_weights *g = tu_golden_open(GOLDEN);
    int64_t cases = tu_golden_int(g, NULL, "cases");
    ck_assert_int_eq(cases, CASES);
    char dir[] = "/tmp/msf-test-png-XXXXXX";
    ck_assert_ptr_nonnull(mkdtemp(dir));
    char path[64];
    snprintf(path, sizeof path, "%s/case.png", dir);
    int checked = 0;
    for (int64_t k = 0; k < cases; k++) {
        char obj[32], name[64], what[96];
        snprintf(obj, sizeof obj, "case%lld", (long long)k);
        ck_assert_int_eq(msf_weights_attr_string(g, obj, "what", what, sizeof what), MSF_OK);
        size_t nb, nw;
        int nd;
        int64_t sh[8];
        snprintf(name, sizeof name, "%s/png", obj);
        float *bytes = tu_golden_load(g, name, &nb, NULL, NULL);
        snprintf(name, sizeof name, "%s/rgb", obj);
        float *want = tu_golden_load(g, name, &nw, &nd, sh);
        ck_assert_int_eq(nd, 3);
        FILE *f = fopen(path, "wb");
        ck_assert_ptr_nonnull(f);
        for (size_t i = 0; i < nb; i++) fputc((int)bytes[i], f);
        fclose(f);
        uint8_t *px = NULL;
        int h = 0, w = 0;
        ck_assert_msg(msf_png_read_rgb(path, &px, &h, &w) == MSF_OK, "%s: %s", what, msf_error_message());
        ck_assert_int_eq(h, sh[0]);
        ck_assert_int_eq(w, sh[1]);
        size_t bad = 0, first = 0;
        for (size_t i = 0; i < nw; i++)
            if (px[i] != (uint8_t)want[i] && !bad++) first = i;
        printf("png %-40s %dx%d: %zu of %zu bytes differ from PIL\n", what, w, h, bad, nw);
        ck_assert_msg(bad == 0, "%s: %zu bytes differ from PIL's, first at %zu (got %d, PIL %d)", what, bad, first,
                      px[first], (int)want[first]);
        checked++;
        free(px), free(bytes), free(want);
    }
    ck_assert_int_eq(checked, CASES);
    unlink(path);
    rmdir(dir);
    msf_weights_close(g);
}
END_TEST

int main(void) {
    Suite *s = suite_create("images");
    TCase *tc = tcase_create("png");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_png_equals_pil);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
