// test_h5read.c: the HDF5 reader (src/io/h5read.c) against tests/golden/weights_fixture.h5
// (written by tools/golden/gen_weights.py), and its errors: missing file,
// non-HDF5 file, truncated file, missing tensor, mis-shaped tensor, bad attribute.
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/arena.h"
#include "core/status.h"
#include "io/textfile.h"
#include "io/h5read.h"
#include "testutil.h"

#define FIXTURE "tests/golden/weights_fixture.h5"

static msf_h5_reader *open_fixture(void) {
    msf_h5_reader *w = NULL;
    ck_assert_msg(msf_h5_open(&w, FIXTURE) == MSF_OK, "%s", msf_error_message());
    return w;
}

START_TEST(test_list_tensors) {
    msf_h5_reader *w = open_fixture();
    ck_assert_int_eq(msf_h5_count(w), 5);
    static const char *names[] = {"base/blocks.0.attn.qkv.weight", "labels", "pos_embed", "x_embedder.proj.weight",
                                  "y_embedder.embedding_table.weight"};
    static const char *dtypes[] = {"float32", "int64", "float64", "float32", "float16"};
    for (int i = 0; i < 5; i++) {
        const msf_h5_tensor *t = msf_h5_tensor_at(w, i);
        ck_assert_str_eq(t->name, names[i]);
        ck_assert_str_eq(t->dtype, dtypes[i]);
    }
    const msf_h5_tensor *t = msf_h5_find(w, "x_embedder.proj.weight");
    ck_assert_ptr_nonnull(t);
    ck_assert_int_eq(t->ndim, 4);
    ck_assert_int_eq(t->shape[0], 8);
    ck_assert_int_eq(t->shape[3], 2);
    ck_assert_ptr_null(msf_h5_find(w, "x_embedder.proj"));
    ck_assert_ptr_null(msf_h5_tensor_at(w, 5));
    msf_h5_close(w);
}
END_TEST

// Every fixture tensor holds value[i] = 0.25 i - 1, whatever its dtype.
static void check_ramp(const float *x, int n) {
    for (int i = 0; i < n; i++) ck_assert_msg(x[i] == 0.25f * (float)i - 1.0f, "element %d = %g", i, x[i]);
}

START_TEST(test_read_tensors) {
    msf_h5_reader *w = open_fixture();
    float buf[192];
    int64_t s4[4] = {8, 4, 2, 2};
    ck_assert_int_eq(msf_h5_read(w, "x_embedder.proj.weight", buf, 4, s4), MSF_OK);
    check_ramp(buf, 128);
    int64_t s3[3] = {1, -1, 8};  // -1: any size
    ck_assert_int_eq(msf_h5_read(w, "pos_embed", buf, 3, s3), MSF_OK);
    check_ramp(buf, 32);
    int64_t s2[2] = {3, 8};
    ck_assert_int_eq(msf_h5_read(w, "y_embedder.embedding_table.weight", buf, 2, s2), MSF_OK);
    check_ramp(buf, 24);
    float *loaded = NULL;
    int64_t sq[2] = {24, 8};
    ck_assert_int_eq(msf_h5_load(w, "base/blocks.0.attn.qkv.weight", 2, sq, &loaded), MSF_OK);
    check_ramp(loaded, 192);
    msf_aligned_free(loaded);

    int64_t labels[5], sl[1] = {5};
    ck_assert_int_eq(msf_h5_read_i64(w, "labels", labels, 1, sl), MSF_OK);
    for (int i = 0; i < 5; i++) ck_assert_int_eq(labels[i], 7 * i);
    ck_assert_int_eq(msf_h5_read_i64(w, "pos_embed", labels, 3, s3), MSF_ERR_SHAPE);

    // Only "labels" and the float tensors above were read: nothing unused.
    ck_assert_int_eq(msf_h5_report_unused(w), 0);
    msf_h5_close(w);
}
END_TEST

START_TEST(test_missing_and_misshaped_tensor) {
    msf_h5_reader *w = open_fixture();
    float buf[256];
    int64_t s4[4] = {8, 4, 2, 2};
    ck_assert_int_eq(msf_h5_read(w, "blocks.0.attn.proj.weight", buf, 4, s4), MSF_ERR_NOT_FOUND);
    ck_assert_str_eq(msf_error_message(), "tensor 'blocks.0.attn.proj.weight' not found in " FIXTURE);

    int64_t wrong[4] = {8, 4, 3, 2};
    ck_assert_int_eq(msf_h5_read(w, "x_embedder.proj.weight", buf, 4, wrong), MSF_ERR_SHAPE);
    ck_assert_str_eq(msf_error_message(),
                     "tensor 'x_embedder.proj.weight' in " FIXTURE " has shape [8, 4, 2, 2], expected [8, 4, 3, 2]");
    int64_t wrong_rank[2] = {8, 16};
    ck_assert_int_eq(msf_h5_read(w, "x_embedder.proj.weight", buf, 2, wrong_rank), MSF_ERR_SHAPE);

    float *p = (float *)1;
    ck_assert_int_eq(msf_h5_load(w, "nope", 4, s4, &p), MSF_ERR_NOT_FOUND);
    ck_assert_ptr_null(p);

    // Nothing read successfully: all five reported unused.
    ck_assert_int_eq(msf_h5_report_unused(w), 5);
    msf_h5_close(w);
}
END_TEST

START_TEST(test_attributes) {
    msf_h5_reader *w = open_fixture();
    int64_t v;
    double d;
    char s[64];
    ck_assert_int_eq(msf_h5_get_attr_int(w, NULL, "depth", &v), MSF_OK);
    ck_assert_int_eq(v, 2);
    ck_assert_int_eq(msf_h5_get_attr_int(w, "", "hidden_size", &v), MSF_OK);
    ck_assert_int_eq(v, 8);
    ck_assert_int_eq(msf_h5_get_attr_int(w, NULL, "learn_sigma", &v), MSF_OK);
    ck_assert_int_eq(v, 1);
    ck_assert_int_eq(msf_h5_get_attr_int(w, "base", "depth", &v), MSF_OK);
    ck_assert_int_eq(v, 1);
    ck_assert_int_eq(msf_h5_get_attr_double(w, NULL, "eps", &d), MSF_OK);
    ck_assert(d == 1e-6);
    ck_assert_int_eq(msf_h5_get_attr_double(w, NULL, "depth", &d), MSF_OK);
    ck_assert(d == 2.0);
    ck_assert_int_eq(msf_h5_get_attr_string(w, NULL, "model", s, sizeof s), MSF_OK);
    ck_assert_str_eq(s, "tiny");

    ck_assert_int_eq(msf_h5_get_attr_int(w, NULL, "num_heads", &v), MSF_ERR_NOT_FOUND);
    ck_assert_ptr_nonnull(strstr(msf_error_message(), "'num_heads'"));
    ck_assert_int_eq(msf_h5_get_attr_int(w, NULL, "eps", &v), MSF_ERR_FORMAT);
    ck_assert_int_eq(msf_h5_get_attr_int(w, NULL, "input_size", &v), MSF_ERR_FORMAT);
    ck_assert_int_eq(msf_h5_get_attr_int(w, NULL, "model", &v), MSF_ERR_FORMAT);
    ck_assert_int_eq(msf_h5_get_attr_string(w, NULL, "depth", s, sizeof s), MSF_ERR_FORMAT);
    msf_h5_close(w);
}
END_TEST

typedef struct {
    char names[16][32];
    char values[16][64];
    int n;
} attr_list;

static void collect(void *user, const char *name, const char *value) {
    attr_list *l = user;
    if (l->n >= 16) return;
    snprintf(l->names[l->n], 32, "%s", name);
    snprintf(l->values[l->n], 64, "%s", value);
    l->n++;
}

START_TEST(test_visit_attrs) {
    msf_h5_reader *w = open_fixture();
    attr_list l = {0};
    ck_assert_int_eq(msf_h5_visit_attrs(w, NULL, collect, &l), MSF_OK);
    ck_assert_int_eq(l.n, 8);
    ck_assert_str_eq(l.names[0], "depth");
    ck_assert_str_eq(l.values[0], "2");
    ck_assert_str_eq(l.names[4], "input_size");
    ck_assert_str_eq(l.values[4], "[4, 4]");
    ck_assert_str_eq(l.names[6], "model");
    ck_assert_str_eq(l.values[6], "tiny");
    attr_list g = {0};
    ck_assert_int_eq(msf_h5_visit_attrs(w, "base", collect, &g), MSF_OK);
    ck_assert_int_eq(g.n, 1);
    ck_assert_str_eq(g.names[0], "depth");
    ck_assert_str_eq(g.values[0], "1");
    ck_assert_int_eq(msf_h5_visit_attrs(w, "nope", collect, &g), MSF_ERR_FORMAT);
    msf_h5_close(w);
}
END_TEST

// -----------------------------------------------------------------------------
// Bad files

START_TEST(test_missing_file) {
    msf_h5_reader *w = (msf_h5_reader *)1;
    ck_assert_int_eq(msf_h5_open(&w, "tests/golden/does_not_exist.h5"), MSF_ERR_IO);
    ck_assert_ptr_null(w);
    ck_assert_str_eq(msf_error_message(),
                     "cannot open weight file tests/golden/does_not_exist.h5: No such file or directory");
}
END_TEST

static void write_file(const char *path, const void *data, size_t n) {
    FILE *f = fopen(path, "wb");
    ck_assert_ptr_nonnull(f);
    ck_assert_uint_eq(fwrite(data, 1, n, f), n);
    ck_assert_int_eq(fclose(f), 0);
}

START_TEST(test_not_hdf5) {
    char path[] = "/tmp/msf_test_XXXXXX";
    int fd = mkstemp(path);
    ck_assert_int_ge(fd, 0);
    close(fd);
    const char text[] = "this is a text file, not HDF5\n";
    write_file(path, text, sizeof text - 1);
    msf_h5_reader *w = NULL;
    ck_assert_int_eq(msf_h5_open(&w, path), MSF_ERR_FORMAT);
    ck_assert_ptr_nonnull(strstr(msf_error_message(), "is not an HDF5 file"));
    ck_assert_ptr_nonnull(strstr(msf_error_message(), path));
    unlink(path);
}
END_TEST

START_TEST(test_truncated_hdf5) {
    FILE *f = fopen(FIXTURE, "rb");
    ck_assert_ptr_nonnull(f);
    char head[1200];
    size_t n = fread(head, 1, sizeof head, f);
    fclose(f);
    ck_assert_uint_eq(n, sizeof head);
    char path[] = "/tmp/msf_test_XXXXXX";
    int fd = mkstemp(path);
    ck_assert_int_ge(fd, 0);
    close(fd);
    write_file(path, head, n);
    msf_h5_reader *w = NULL;
    msf_status s = msf_h5_open(&w, path);
    ck_assert_int_eq(s, MSF_ERR_FORMAT);
    ck_assert_ptr_null(w);
    ck_assert_ptr_nonnull(strstr(msf_error_message(), path));
    unlink(path);
}
END_TEST

// Text result files appear only when committed: the temporary file holds the
// text until then, an abort leaves nothing, a missing folder is an I/O error.
START_TEST(test_text_file_atomic) {
    char dir[] = "/tmp/msf_textfile_XXXXXX";
    ck_assert_ptr_nonnull(mkdtemp(dir));
    msf_text_file t;
    ck_assert_int_eq(msf_text_create_in(&t, dir, "a.json"), MSF_OK);
    fputs("{}\n", t.f);
    ck_assert_int_ne(access(t.path, F_OK), 0);
    ck_assert_int_eq(access(t.tmp, F_OK), 0);
    char tmp[sizeof t.tmp];
    snprintf(tmp, sizeof tmp, "%s", t.tmp);
    ck_assert_int_eq(msf_text_commit(&t), MSF_OK);
    ck_assert_int_eq(access(t.path, F_OK), 0);
    ck_assert_int_ne(access(tmp, F_OK), 0);
    FILE *f = fopen(t.path, "r");
    char line[16] = "";
    ck_assert_ptr_nonnull(fgets(line, sizeof line, f));
    fclose(f);
    ck_assert_str_eq(line, "{}\n");
    unlink(t.path);

    ck_assert_int_eq(msf_text_create_in(&t, dir, "b.csv"), MSF_OK);
    fputs("x\n", t.f);
    snprintf(tmp, sizeof tmp, "%s", t.tmp);
    msf_text_abort(&t);
    ck_assert_int_ne(access(tmp, F_OK), 0);
    ck_assert_int_ne(access(t.path, F_OK), 0);
    ck_assert_int_eq(rmdir(dir), 0);  // empty: nothing left behind

    ck_assert_int_eq(msf_text_create_in(&t, dir, "c.md"), MSF_ERR_IO);
    ck_assert_ptr_nonnull(strstr(msf_error_message(), "c.md.tmp-"));
}
END_TEST

int main(void) {
    Suite *s = suite_create("weights");
    TCase *tc = tcase_create("weights");
    tcase_add_test(tc, test_list_tensors);
    tcase_add_test(tc, test_read_tensors);
    tcase_add_test(tc, test_missing_and_misshaped_tensor);
    tcase_add_test(tc, test_attributes);
    tcase_add_test(tc, test_visit_attrs);
    tcase_add_test(tc, test_missing_file);
    tcase_add_test(tc, test_not_hdf5);
    tcase_add_test(tc, test_truncated_hdf5);
    tcase_add_test(tc, test_text_file_atomic);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
