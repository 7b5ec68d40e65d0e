// test_core.c: status/error messages, log callback, arena, tensor views,
// timers and the CLI progress line.
#include <check.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "core/arena.h"
#include "core/progress.h"
#include "core/status.h"
#include "core/tensor.h"
#include "core/timer.h"
#include "testutil.h"

// -----------------------------------------------------------------------------

START_TEST(test_error_messages) {
    msf_clear_error();
    ck_assert_str_eq(msf_error_message(), "");
    msf_status s = msf_fail(MSF_ERR_SHAPE, "tensor '%s' has %d dims", "w", 3);
    ck_assert_int_eq(s, MSF_ERR_SHAPE);
    ck_assert_str_eq(msf_error_message(), "tensor 'w' has 3 dims");
    s = msf_fail_context(MSF_ERR_IO, "loading %s", "m.h5");
    ck_assert_int_eq(s, MSF_ERR_IO);
    ck_assert_str_eq(msf_error_message(), "loading m.h5: tensor 'w' has 3 dims");
    ck_assert_str_eq(msf_status_name(MSF_ERR_NOT_FOUND), "not found");
}
END_TEST

typedef struct {
    int calls;
    msf_log_level level;
    char last[256];
} log_capture;

static void capture_log(void *user, msf_log_level level, const char *message) {
    log_capture *c = user;
    c->calls++;
    c->level = level;
    snprintf(c->last, sizeof c->last, "%s", message);
}

START_TEST(test_log_callback) {
    log_capture c = {0};
    msf_set_log_callback(capture_log, &c);
    msf_log(MSF_LOG_WARN, "%d tensors unused", 4);
    ck_assert_int_eq(c.calls, 1);
    ck_assert_int_eq(c.level, MSF_LOG_WARN);
    ck_assert_str_eq(c.last, "4 tensors unused");
    msf_set_log_callback(NULL, NULL);
    msf_log(MSF_LOG_ERROR, "dropped");
    ck_assert_int_eq(c.calls, 1);
}
END_TEST

// -----------------------------------------------------------------------------

START_TEST(test_arena) {
    msf_arena a;
    ck_assert_int_eq(msf_arena_init(&a, 1000), MSF_OK);
    ck_assert_uint_eq(a.capacity % MSF_ALIGN, 0);
    ck_assert_uint_eq((uintptr_t)a.base % MSF_ALIGN, 0);
    char *p = msf_arena_alloc(&a, 10);
    size_t mark = msf_arena_mark(&a);
    char *q = msf_arena_alloc(&a, 100);
    ck_assert_ptr_nonnull(p);
    ck_assert_ptr_nonnull(q);
    ck_assert_uint_eq((uintptr_t)q % MSF_ALIGN, 0);
    ck_assert_uint_eq((size_t)(q - p), 64);
    memset(q, 0xAB, 100);
    msf_arena_release(&a, mark);
    ck_assert_ptr_eq(msf_arena_alloc(&a, 1), q);
    ck_assert_uint_ge(a.peak, 64 + 128);
    ck_assert_ptr_null(msf_arena_alloc(&a, 1 << 20));
    ck_assert_ptr_nonnull(strstr(msf_error_message(), "workspace too small"));
    msf_arena_free(&a);

    void *big = msf_aligned_alloc(12345);
    ck_assert_ptr_nonnull(big);
    ck_assert_uint_eq((uintptr_t)big % MSF_ALIGN, 0);
    msf_aligned_free(big);
}
END_TEST

// The internal contracts are asserts (also in release builds, which do not
// define NDEBUG): releasing an outer mark before an inner one aborts.
START_TEST(test_arena_release_order) {
    msf_arena a;
    ck_assert_int_eq(msf_arena_init(&a, 1000), MSF_OK);
    size_t outer = msf_arena_mark(&a);
    msf_arena_alloc(&a, 10);
    size_t inner = msf_arena_mark(&a);
    msf_arena_release(&a, outer);
    ck_assert_ptr_nonnull(freopen("/dev/null", "w", stderr));  // (Check forks each test: this one's stderr)
    msf_arena_release(&a, inner);                              // aborts: inner is past the arena's use now
}
END_TEST

START_TEST(test_tensor_view) {
    float buf[24];
    msf_tensor t = msf_tensor_4d(buf, 1, 2, 3, 4);
    ck_assert_uint_eq(msf_tensor_numel(&t), 24);
    int64_t s2[2] = {6, 4};
    msf_tensor u = msf_tensor_view(buf, 2, s2);
    ck_assert_int_eq(u.ndim, 2);
    ck_assert_int_eq(u.shape[2], 1);
    ck_assert(!msf_tensor_same_shape(&t, &u));
    msf_tensor v = msf_tensor_4d(buf, 1, 2, 3, 4);
    ck_assert(msf_tensor_same_shape(&t, &v));
    char s[64];
    ck_assert_str_eq(msf_shape_str(s, sizeof s, t.ndim, t.shape), "[1, 2, 3, 4]");
}
END_TEST

START_TEST(test_timer) {
    msf_timer t = {0};
    msf_timer_start(&t);
    volatile double x = 0;
    for (int i = 0; i < 1000000; i++) x += i;
    double dt = msf_timer_stop(&t);
    ck_assert(dt > 0);
    ck_assert(t.total == dt);
    ck_assert(msf_now() >= t.start);
}
END_TEST

// -----------------------------------------------------------------------------

typedef struct {
    int64_t done[8];
    int n;
} progress_log;

static void record_progress(void *user, const char *label, int64_t done, int64_t total) {
    progress_log *p = user;
    if (p->n < 8) p->done[p->n++] = done;
}

START_TEST(test_progress) {
    progress_log log = {0};
    msf_progress p = {record_progress, &log};
    msf_progress_report(&p, "x", 0, 2);
    msf_progress_report(&p, "x", 2, 2);
    msf_progress_report(NULL, "x", 1, 2);
    ck_assert_int_eq(log.n, 2);
    ck_assert_int_eq(log.done[1], 2);

    char line[256];
    cli_progress_format(line, sizeof line, "sample", 25, 100, 10.0, 10);
    ck_assert_str_eq(line, "sample 25/100 [##........] 2.5 it/s, ETA 0:30");
    cli_progress_format(line, sizeof line, "sample", 100, 100, 3725.0, 4);
    ck_assert_str_eq(line, "sample 100/100 [####] 0.0268 it/s, 1:02:05");
}
END_TEST

int main(void) {
    Suite *s = suite_create("core");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_error_messages);
    tcase_add_test(tc, test_log_callback);
    tcase_add_test(tc, test_arena);
    tcase_add_test_raise_signal(tc, test_arena_release_order, SIGABRT);
    tcase_add_test(tc, test_tensor_view);
    tcase_add_test(tc, test_timer);
    tcase_add_test(tc, test_progress);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
