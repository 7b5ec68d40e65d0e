// test_params.c: the parameter-table loader (src/io/params.h) against
// tests/golden/weights_fixture.h5 (written by tools/golden/gen_weights.py:
// every tensor holds value[i] = 0.25 i - 1, as float32, float16, float64 or
// int64) and small files written here: slab layout and alignment, float16
// widening, skipped and optional entries, and the messages for missing,
// mis-shaped, non-finite and unknown tensors; and the policy as Inception's
// loader applies it (unknown tensors refused, fc.bias and sub-groups allowed).
#include <check.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/arena.h"
#include "core/status.h"
#include "eval/inception.h"
#include "io/h5write.h"
#include "io/params.h"
#include "io/h5read.h"
#include "testutil.h"

#define FIXTURE "tests/golden/weights_fixture.h5"

#define EXPECT_MSG(text) \
    ck_assert_msg(strstr(msf_error_message(), text), "message '%s' lacks '%s'", msf_error_message(), text)

static msf_h5_reader *open_file(const char *path) {
    msf_h5_reader *w = NULL;
    ck_assert_msg(msf_h5_open(&w, path) == MSF_OK, "%s", msf_error_message());
    return w;
}

static void check_ramp(const float *x, size_t n) {
    for (size_t i = 0; i < n; i++) ck_assert_msg(x[i] == 0.25f * (float)i - 1.0f, "element %zu = %g", i, x[i]);
}

// The fixture's root tensors (its base/ group is another model's).
typedef struct {
    float *proj, *table, *pos, *labels;
} fixture_model;

static void fixture_table(msf_params *t, fixture_model *m) {
    msf_params_init(t, "the %s model", "fixture");
    msf_params_add(t, &m->proj, 0, MSF_SHAPE(8, 4, 2, 2), "x_embedder.proj.weight");
    msf_params_add(t, &m->table, 0, MSF_SHAPE(3, 8), "y_embedder.embedding_table.weight");  // float16
    msf_params_add(t, &m->pos, 0, MSF_SHAPE(1, 4, 8), "pos_embed");                         // float64
    msf_params_add(t, &m->labels, 0, MSF_SHAPE(5), "labels");                               // int64
}

START_TEST(test_slab_and_widening) {
    msf_params t;
    fixture_model m;
    fixture_table(&t, &m);
    ck_assert_int_eq(t.count, 4);
    ck_assert_int_eq((int)msf_param_numel(&t.entries[0]), 128);
    // 128 floats (512 bytes), 24 (96 -> 128 bytes), 32 (128 bytes), 5 (20 -> 64 bytes).
    ck_assert_uint_eq(msf_params_slab_floats(&t), 128 + 32 + 32 + 16);
    float *slab = NULL;
    size_t floats = 0;
    ck_assert_int_eq(msf_params_alloc(&t, &slab, &floats), MSF_OK);
    ck_assert_uint_eq(floats, 208);
    // Table order, each tensor on a 64-byte boundary.
    ck_assert_ptr_eq(m.proj, slab);
    ck_assert_ptr_eq(m.table, slab + 128);
    ck_assert_ptr_eq(m.pos, slab + 160);
    ck_assert_ptr_eq(m.labels, slab + 192);
    float *ptrs[4] = {m.proj, m.table, m.pos, m.labels};
    for (int i = 0; i < 4; i++) ck_assert_uint_eq((uintptr_t)ptrs[i] % MSF_ALIGN, 0);

    msf_h5_reader *w = open_file(FIXTURE);
    ck_assert_msg(msf_params_load(&t, w, NULL) == MSF_OK, "%s", msf_error_message());
    check_ramp(m.proj, 128);
    check_ramp(m.table, 24);  // float16 widened exactly
    check_ramp(m.pos, 32);    // float64 rounded (exact here)
    for (int i = 0; i < 5; i++) ck_assert(m.labels[i] == 7.0f * (float)i);
    // The padding stays zero.
    for (int i = 24; i < 32; i++) ck_assert(m.table[i] == 0.0f);
    for (int i = 5; i < 16; i++) ck_assert(m.labels[i] == 0.0f);
    msf_h5_close(w);
    msf_aligned_free(slab);
    msf_params_free(&t);
    ck_assert_ptr_null(t.entries);
}
END_TEST

START_TEST(test_group) {
    // "base" and "base/" name the same group; the root's tensors are not its own.
    const char *groups[2] = {"base", "base/"};
    for (int g = 0; g < 2; g++) {
        msf_params t;
        float *qkv = NULL, *slab = NULL;
        msf_params_init(&t, "the base model");
        msf_params_add(&t, &qkv, 0, MSF_SHAPE(24, 8), "blocks.0.attn.qkv.weight");
        ck_assert_int_eq(msf_params_alloc(&t, &slab, NULL), MSF_OK);
        msf_h5_reader *w = open_file(FIXTURE);
        ck_assert_msg(msf_params_load(&t, w, groups[g]) == MSF_OK, "%s", msf_error_message());
        check_ramp(qkv, 192);
        msf_h5_close(w);
        msf_aligned_free(slab);
        msf_params_free(&t);
    }
}
END_TEST

START_TEST(test_skip_and_optional) {
    msf_params t;
    fixture_model m;
    float *absent = (float *)&m, *present = NULL, *skipped = (float *)&m;
    msf_params_init(&t, "a model with optional tensors");
    msf_params_add(&t, &m.proj, 0, MSF_SHAPE(8, 4, 2, 2), "x_embedder.proj.weight");
    msf_params_add(&t, &skipped, MSF_PARAM_SKIP, MSF_SHAPE(3, 8), "y_embedder.embedding_table.weight");
    msf_params_add(&t, NULL, MSF_PARAM_SKIP, MSF_SHAPE(1, 4, 8), "pos_embed");
    msf_params_add(&t, &present, MSF_PARAM_OPTIONAL, MSF_SHAPE(5), "labels");
    msf_params_add(&t, &absent, MSF_PARAM_OPTIONAL, MSF_SHAPE(7), "extra.bias");
    msf_params_add(&t, NULL, MSF_PARAM_OPTIONAL | MSF_PARAM_SKIP, MSF_SHAPE(9), "other.bias");
    // No slab space for skipped entries.
    ck_assert_uint_eq(msf_params_slab_floats(&t), 128 + 16 + 16);
    float *slab = NULL;
    ck_assert_int_eq(msf_params_alloc(&t, &slab, NULL), MSF_OK);
    ck_assert_ptr_null(skipped);
    ck_assert_ptr_eq(present, slab + 128);
    ck_assert_ptr_eq(absent, slab + 144);
    msf_h5_reader *w = open_file(FIXTURE);
    ck_assert_msg(msf_params_load(&t, w, NULL) == MSF_OK, "%s", msf_error_message());
    check_ramp(m.proj, 128);
    ck_assert_ptr_null(absent);  // optional, not in the file
    for (int i = 0; i < 5; i++) ck_assert(present[i] == 7.0f * (float)i);

    // A skipped tensor is still checked: present and of its shape.
    t.entries[1].shape[0] = 4;
    ck_assert_int_eq(msf_params_load(&t, w, NULL), MSF_ERR_SHAPE);
    ck_assert_str_eq(msf_error_message(),
                     "tensor 'y_embedder.embedding_table.weight' in " FIXTURE " has shape [3, 8], expected [4, 8]");
    t.entries[1].shape[0] = 3;
    snprintf(t.entries[2].name, sizeof t.entries[2].name, "pos_embed_gone");
    ck_assert_int_eq(msf_params_load(&t, w, NULL), MSF_ERR_NOT_FOUND);
    ck_assert_str_eq(msf_error_message(), "tensor 'pos_embed_gone' not found in " FIXTURE " (expected [1, 4, 8])");
    msf_h5_close(w);
    msf_aligned_free(slab);
    msf_params_free(&t);
}
END_TEST

// Load the fixture table with entry `drop` left out and entry `reshape`'s last
// dimension one larger (-1: none).
static msf_status load_edited(int drop, int reshape, const char *group, int allow_unknown) {
    msf_params t;
    fixture_model m;
    fixture_table(&t, &m);
    if (reshape >= 0) t.entries[reshape].shape[t.entries[reshape].ndim - 1] += 1;
    if (drop >= 0) {
        memmove(&t.entries[drop], &t.entries[drop + 1], (size_t)(t.count - drop - 1) * sizeof *t.entries);
        t.count--;
    }
    t.allow_unknown = allow_unknown;
    float *slab = NULL;
    ck_assert_int_eq(msf_params_alloc(&t, &slab, NULL), MSF_OK);
    msf_h5_reader *w = open_file(FIXTURE);
    msf_status s = msf_params_load(&t, w, group);
    msf_h5_close(w);
    msf_aligned_free(slab);
    msf_params_free(&t);
    return s;
}

START_TEST(test_missing_misshaped_unknown) {
    ck_assert_int_eq(load_edited(-1, -1, NULL, 0), MSF_OK);

    ck_assert_int_eq(load_edited(-1, 0, NULL, 0), MSF_ERR_SHAPE);
    ck_assert_str_eq(msf_error_message(),
                     "tensor 'x_embedder.proj.weight' in " FIXTURE " has shape [8, 4, 2, 2], expected [8, 4, 2, 3]");
    ck_assert_int_eq(load_edited(-1, 3, NULL, 0), MSF_ERR_SHAPE);
    EXPECT_MSG("tensor 'labels' in " FIXTURE " has shape [5], expected [6]");

    // A group the file lacks: its first tensor is missing.
    ck_assert_int_eq(load_edited(-1, -1, "nogroup", 0), MSF_ERR_NOT_FOUND);
    ck_assert_str_eq(msf_error_message(),
                     "tensor 'nogroup/x_embedder.proj.weight' not found in " FIXTURE " (expected [8, 4, 2, 2])");

    // A tensor of the group that the table lacks.
    ck_assert_int_eq(load_edited(3, -1, NULL, 0), MSF_ERR_FORMAT);
    ck_assert_str_eq(msf_error_message(), "tensor 'labels' in " FIXTURE " is not part of the fixture model");
    ck_assert_int_eq(load_edited(3, -1, NULL, 1), MSF_OK);  // allowed
    // The table holding only the first entry: three unknown, all named.
    msf_params t;
    fixture_model m;
    fixture_table(&t, &m);
    t.count = 1;
    float *slab = NULL;
    ck_assert_int_eq(msf_params_alloc(&t, &slab, NULL), MSF_OK);
    msf_h5_reader *w = open_file(FIXTURE);
    ck_assert_int_eq(msf_params_load(&t, w, NULL), MSF_ERR_FORMAT);
    ck_assert_str_eq(msf_error_message(), "tensor 'labels' in " FIXTURE
                                          " is not part of the fixture model "
                                          "(2 more unknown tensors: 'pos_embed', 'y_embedder.embedding_table.weight')");
    msf_h5_close(w);
    msf_aligned_free(slab);
    msf_params_free(&t);
}
END_TEST

// A file with a NaN, an infinity and six unknown tensors.
START_TEST(test_non_finite_and_many_unknown) {
    char path[] = "/tmp/msf_params_XXXXXX";
    int fd = mkstemp(path);
    ck_assert_int_ge(fd, 0);
    close(fd);
    msf_h5_writer *h;
    ck_assert_int_eq(msf_h5_create(&h, path), MSF_OK);
    float a[6] = {1, 2, 3, NAN, 5, 6}, b[2] = {0, -INFINITY};
    int64_t sa[2] = {2, 3}, sb[1] = {2};
    ck_assert_int_eq(msf_h5_write_f32(h, "a", 2, sa, a), MSF_OK);
    ck_assert_int_eq(msf_h5_write_f32(h, "b", 1, sb, b), MSF_OK);
    for (int i = 0; i < 6; i++) {
        char name[16];
        snprintf(name, sizeof name, "u%d", i);
        ck_assert_int_eq(msf_h5_write_f32(h, name, 1, sb, b), MSF_OK);
    }
    ck_assert_int_eq(msf_h5_write_f32(h, "sub/c", 1, sb, b), MSF_OK);  // another group's
    ck_assert_int_eq(msf_h5_commit(h), MSF_OK);
    msf_h5_reader *w = open_file(path);
    char want[256];

    msf_params t;
    float *pa, *pb, *slab;
    msf_params_init(&t, "model %d", 1);
    msf_params_add(&t, &pa, 0, MSF_SHAPE(2, 3), "a");
    msf_params_add(&t, &pb, 0, MSF_SHAPE(2), "b");
    ck_assert_int_eq(msf_params_alloc(&t, &slab, NULL), MSF_OK);
    ck_assert_int_eq(msf_params_load(&t, w, NULL), MSF_ERR_NUMERIC);
    snprintf(want, sizeof want, "tensor 'a' in %s holds a non-finite value (nan) at element 3", path);
    ck_assert_str_eq(msf_error_message(), want);
    // Every loaded tensor is checked, flag or not (issue 20): 'a' skipped
    // (checked in the file, not loaded), the next one's -inf is the error;
    // both skipped, the unknown tensors (first one named, four more, the rest
    // counted; sub/c is not the model's).
    t.entries[0].flags = MSF_PARAM_SKIP;
    t.entries[1].flags = 0;
    ck_assert_int_eq(msf_params_load(&t, w, NULL), MSF_ERR_NUMERIC);
    snprintf(want, sizeof want, "tensor 'b' in %s holds a non-finite value (-inf) at element 1", path);
    ck_assert_str_eq(msf_error_message(), want);
    t.entries[1].flags = MSF_PARAM_SKIP;
    ck_assert_int_eq(msf_params_load(&t, w, NULL), MSF_ERR_FORMAT);
    snprintf(want, sizeof want,
             "tensor 'u0' in %s is not part of model 1 (5 more unknown tensors: 'u1', 'u2', "
             "'u3', 'u4', ...)",
             path);
    ck_assert_str_eq(msf_error_message(), want);
    ck_assert(isnan(pa[3]) && pb[1] == -INFINITY);
    msf_aligned_free(slab);
    msf_params_free(&t);
    msf_h5_close(w);
    unlink(path);
}
END_TEST

START_TEST(test_table_errors) {
    // A name too long for an entry: the add fails, alloc and load say why.
    msf_params t;
    float *p = NULL, *slab = (float *)&t;
    char longname[MSF_PARAM_NAME_MAX + 8];
    memset(longname, 'x', sizeof longname - 1);
    longname[sizeof longname - 1] = '\0';
    msf_params_init(&t, "the long model");
    ck_assert_ptr_nonnull(msf_params_add(&t, &p, 0, MSF_SHAPE(2), "ok"));
    ck_assert_ptr_null(msf_params_add(&t, &p, 0, MSF_SHAPE(2), "%s", longname));
    ck_assert_ptr_null(msf_params_add(&t, &p, 0, MSF_SHAPE(2), "later"));  // after a failure: nothing added
    ck_assert_int_eq(t.count, 1);
    ck_assert_int_eq(msf_params_alloc(&t, &slab, NULL), MSF_ERR_INVALID);
    ck_assert_ptr_null(slab);
    EXPECT_MSG("of the long model is longer than 127 characters");
    msf_h5_reader *w = open_file(FIXTURE);
    ck_assert_int_eq(msf_params_load(&t, w, NULL), MSF_ERR_INVALID);
    msf_params_free(&t);

    // A loaded entry needs a destination; a rank above the maximum is refused.
    msf_params_init(&t, "the bad model");
    ck_assert_ptr_null(msf_params_add(&t, NULL, 0, MSF_SHAPE(2), "labels"));
    ck_assert_int_eq(msf_params_alloc(&t, &slab, NULL), MSF_ERR_INVALID);
    EXPECT_MSG("tensor 'labels' of the bad model: bad table entry (rank 1, no destination)");
    msf_params_free(&t);
    msf_params_init(&t, "the bad model");
    ck_assert_ptr_null(msf_params_add(&t, &p, 0, MSF_SHAPE(1, 2, 3, 4, 5), "labels"));
    ck_assert_int_eq(msf_params_alloc(&t, &slab, NULL), MSF_ERR_INVALID);
    EXPECT_MSG("bad table entry (rank 5)");
    msf_params_free(&t);

    // Loading before alloc: the entry has nowhere to go.
    msf_params_init(&t, "the early model");
    p = NULL;
    msf_params_add(&t, &p, 0, MSF_SHAPE(5), "labels");
    ck_assert_int_eq(msf_params_load(&t, w, NULL), MSF_ERR_INVALID);
    EXPECT_MSG("msf_params_alloc first");
    msf_params_free(&t);

    // An empty table over a group with tensors: all unknown.
    msf_params_init(&t, "nothing");
    ck_assert_int_eq(msf_params_alloc(&t, &slab, NULL), MSF_OK);
    ck_assert_int_eq(msf_params_load(&t, w, "base"), MSF_ERR_FORMAT);
    EXPECT_MSG("tensor 'base/blocks.0.attn.qkv.weight' in " FIXTURE " is not part of nothing");
    msf_aligned_free(slab);
    msf_params_free(&t);
    msf_h5_close(w);
}
END_TEST

// -----------------------------------------------------------------------------
// The policy as a loader applies it: Inception's tiny network (the golden
// group tiny/) copied to a file's root, with one change.

typedef enum { AS_IS, EXTRA, BAD_FC_BIAS, NO_FC_BIAS, SUB_GROUP } inception_copy;

static msf_status load_inception_copy(const char *path, inception_copy mode) {
    msf_h5_reader *g = tu_golden_open("inception_blocks.h5");
    msf_h5_writer *h;
    ck_assert_int_eq(msf_h5_create(&h, path), MSF_OK);
    for (int i = 0; i < msf_h5_count(g); i++) {
        const msf_h5_tensor *info = msf_h5_tensor_at(g, i);
        if (strncmp(info->name, "tiny/", 5)) continue;
        const char *key = info->name + 5;
        if (mode == NO_FC_BIAS && !strcmp(key, "fc.bias")) continue;
        size_t n;
        int nd;
        int64_t shape[8];
        float *data = tu_golden_load(g, info->name, &n, &nd, shape);
        if (mode == BAD_FC_BIAS && !strcmp(key, "fc.bias")) shape[0] -= 1;
        ck_assert_int_eq(msf_h5_write_f32(h, key, nd, shape, data), MSF_OK);
        if (mode == EXTRA && !strcmp(key, "Mixed_6b.branch1x1.bn.bias"))
            ck_assert_int_eq(msf_h5_write_f32(h, "Mixed_6b.branch1x1.bn.num_batches_tracked", nd, shape, data), 0);
        if (mode == SUB_GROUP && !strcmp(key, "fc.bias"))
            ck_assert_int_eq(msf_h5_write_f32(h, "out/logits", nd, shape, data), MSF_OK);
        free(data);
    }
    ck_assert_int_eq(msf_h5_commit(h), MSF_OK);
    inception_config cfg;
    ck_assert_int_eq(inception_config_scaled(&cfg, (int)tu_golden_int(g, "tiny", "width_divisor"),
                                             (int)tu_golden_int(g, "tiny", "num_classes")),
                     MSF_OK);
    msf_h5_close(g);
    msf_h5_reader *w = open_file(path);
    inception_model *m = NULL;
    msf_status s = inception_load(&m, w, NULL, &cfg, 80, 80);
    ck_assert(s == MSF_OK ? m != NULL : m == NULL);
    inception_free(m);
    msf_h5_close(w);
    return s;
}

START_TEST(test_inception_policy) {
    char path[] = "/tmp/msf_params_inc_XXXXXX";
    int fd = mkstemp(path);
    ck_assert_int_ge(fd, 0);
    close(fd);
    ck_assert_msg(load_inception_copy(path, AS_IS) == MSF_OK, "%s", msf_error_message());
    ck_assert_msg(load_inception_copy(path, NO_FC_BIAS) == MSF_OK, "%s", msf_error_message());
    ck_assert_msg(load_inception_copy(path, SUB_GROUP) == MSF_OK, "%s", msf_error_message());
    ck_assert_int_eq(load_inception_copy(path, EXTRA), MSF_ERR_FORMAT);
    EXPECT_MSG("tensor 'Mixed_6b.branch1x1.bn.num_batches_tracked' in ");
    EXPECT_MSG(" is not part of an InceptionV3 network");
    ck_assert_int_eq(load_inception_copy(path, BAD_FC_BIAS), MSF_ERR_SHAPE);
    EXPECT_MSG("tensor 'fc.bias' in ");
    unlink(path);
}
END_TEST

int main(void) {
    Suite *s = suite_create("params");
    TCase *tc = tcase_create("params");
    // Five loads of a full InceptionV3 copy, each file parsed first by the
    // HDF5 probe child (src/io/h5read.c): ~5 s under the sanitizers.
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_slab_and_widening);
    tcase_add_test(tc, test_group);
    tcase_add_test(tc, test_skip_and_optional);
    tcase_add_test(tc, test_missing_misshaped_unknown);
    tcase_add_test(tc, test_non_finite_and_many_unknown);
    tcase_add_test(tc, test_table_errors);
    tcase_add_test(tc, test_inception_policy);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
