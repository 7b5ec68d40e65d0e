// test_images.c: io/images.c. The PNG reader against PIL: every case of
// tests/golden/png_decode.h5 (tools/golden/gen_png.py: grey 1-16 bit, grey
// and colour with tRNS, grey+alpha and RGBA at 8 and 16 bits, palettes with
// and without tRNS, gAMA and sRGB chunks, Adam7 interlacing) decodes to
// exactly the bytes of PIL's Image.open(f).convert("RGB"), as pytorch-fid and
// clean-fid read PNGs (bar: every byte equal; the case count is exact). The
// image grid (the layout of `msf decode --grid` and msf run's grid.png):
// torchvision's save_image layout with 2-pixel black gaps, the count and
// column limits, gray images shown as gray RGB, and the PNG it writes read
// back pixel for pixel.
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
    msf_h5_reader *g = tu_golden_open(GOLDEN);
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
        ck_assert_int_eq(msf_h5_get_attr_string(g, obj, "what", what, sizeof what), MSF_OK);
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
    msf_h5_close(g);
}
END_TEST

// Image k (h, w, c): pixel value 10 k + 3 y + x + channel + 1 (never 0, the gap).
static uint8_t *image(int k, int h, int w, int c) {
    uint8_t *p = malloc((size_t)h * w * c);
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++)
            for (int ch = 0; ch < c; ch++) p[((size_t)y * w + x) * c + ch] = (uint8_t)(10 * k + 3 * y + x + ch + 1);
    return p;
}

START_TEST(test_grid_layout) {
    // 5 images of 2x3 RGB, at most 4 shown: 2 columns (ceil sqrt 4), 2 rows.
    msf_png_grid g;
    ck_assert_int_eq(msf_png_grid_init(&g, 5, 4, 0, 2, 3), MSF_OK);
    ck_assert_int_eq(g.count, 4);
    ck_assert_int_eq(g.cols, 2);
    ck_assert_int_eq(g.rows, 2);
    ck_assert_int_eq(g.gh, 2 + 2 * 4);
    ck_assert_int_eq(g.gw, 2 + 2 * 5);
    for (int k = 0; k < 5; k++) {
        uint8_t *img = image(k, 2, 3, 3);
        msf_png_grid_paste(&g, k, img, 3);  // the fifth is past the count: skipped
        free(img);
    }
    for (int y = 0; y < g.gh; y++)
        for (int x = 0; x < g.gw; x++)
            for (int ch = 0; ch < 3; ch++) {
                int r = (y - 2) / 4, c = (x - 2) / 5, yy = (y - 2) % 4, xx = (x - 2) % 5;
                int inside = y >= 2 && x >= 2 && yy < 2 && xx < 3;
                int want = inside ? 10 * (2 * r + c) + 3 * yy + xx + ch + 1 : 0;
                ck_assert_msg(g.canvas[((size_t)y * g.gw + x) * 3 + ch] == want, "pixel (%d, %d) channel %d", y, x, ch);
            }
    // Written and read back.
    char dir[64], path[128];
    snprintf(dir, sizeof dir, "/tmp/msf_test_images_XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/grid.png", dir);
    ck_assert_int_eq(msf_png_grid_write(&g, path), MSF_OK);
    uint8_t *back;
    int h, w;
    ck_assert_int_eq(msf_png_read_rgb(path, &back, &h, &w), MSF_OK);
    ck_assert_int_eq(h, g.gh);
    ck_assert_int_eq(w, g.gw);
    ck_assert_int_eq(memcmp(back, g.canvas, (size_t)h * w * 3), 0);
    free(back);
    unlink(path);
    rmdir(dir);
    msf_png_grid_free(&g);
    ck_assert_ptr_null(g.canvas);
}
END_TEST

START_TEST(test_grid_gray_and_columns) {
    // 3 gray images of 2x2 in at most 2 columns (asked for 5): 2 rows.
    msf_png_grid g;
    ck_assert_int_eq(msf_png_grid_init(&g, 3, 256, 5, 2, 2), MSF_OK);
    ck_assert_int_eq(g.count, 3);
    ck_assert_int_eq(g.cols, 3);
    ck_assert_int_eq(g.rows, 1);
    msf_png_grid_free(&g);
    ck_assert_int_eq(msf_png_grid_init(&g, 3, 256, 2, 2, 2), MSF_OK);
    ck_assert_int_eq(g.cols, 2);
    ck_assert_int_eq(g.rows, 2);
    uint8_t *img = image(7, 2, 2, 1);
    msf_png_grid_paste(&g, 2, img, 1);  // row 1, column 0
    for (int y = 0; y < 2; y++)
        for (int x = 0; x < 2; x++)
            for (int ch = 0; ch < 3; ch++)
                ck_assert_int_eq(g.canvas[((size_t)(2 + 4 + y) * g.gw + 2 + x) * 3 + ch], img[y * 2 + x]);
    free(img);
    msf_png_grid_free(&g);
}
END_TEST

int main(void) {
    Suite *s = suite_create("images");
    TCase *tc = tcase_create("images");
    tcase_add_test(tc, test_png_equals_pil);
    tcase_add_test(tc, test_grid_layout);
    tcase_add_test(tc, test_grid_gray_and_columns);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
