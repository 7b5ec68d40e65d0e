// test_gnuplot.c: io/gnuplot: the single-quoted literals of hostile text
// (quotes, backquote commands, @macros, backslashes, control characters,
// truncation inside a doubled quote or a UTF-8 character), comments, and the
// launcher: real gnuplot reads each literal back as the text with control
// characters made spaces and runs nothing; a failing gnuplot, an empty or
// truncated PNG and a missing output are errors that leave no file behind;
// without gnuplot, msf_gp_plot warns.
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "io/gnuplot.h"
#include "testutil.h"

static char dir[64];

static void setup(void) {
    snprintf(dir, sizeof dir, "/tmp/msf_test_gnuplot_XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(dir));
}

static void teardown(void) {
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    ck_assert_int_eq(system(cmd), 0);
}

static const char *path_of(const char *name) {
    static char path[512];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    return path;
}

static int exists(const char *name) { return access(path_of(name), F_OK) == 0; }

// Number of entries of dir whose name contains `part`.
static int count_named(const char *part) {
    char cmd[256];
    snprintf(cmd, sizeof cmd, "ls -A '%s' | grep -c -- '%s'", dir, part);
    FILE *p = popen(cmd, "r");
    ck_assert_ptr_nonnull(p);
    int n = -1;
    ck_assert_int_eq(fscanf(p, "%d", &n), 1);
    pclose(p);
    return n;
}

#define QUOTE_EQ(size, src, want)                                    \
    do {                                                             \
        char buf_[256];                                              \
        ck_assert_str_eq(msf_gp_quote(buf_, (size), (src)), (want)); \
    } while (0)

START_TEST(test_quote) {
    QUOTE_EQ(256, "", "''");
    QUOTE_EQ(256, NULL, "''");
    // A quote closes the literal, joins "'" and reopens (gnuplot 5.4 misreads
    // '' at the start of a literal and twice in a row).
    QUOTE_EQ(256, "it's", "'it'.\"'\".'s'");
    QUOTE_EQ(256, "''", "''.\"'\".''.\"'\".''");
    // Backquotes, macros, double quotes and backslashes are literal inside '...'.
    QUOTE_EQ(256, "x`touch pwned`y @term \"q\" a\\nb\\", "'x`touch pwned`y @term \"q\" a\\nb\\'");
    // Control characters end commands or lines: spaces.
    QUOTE_EQ(256,
             "a\nb\rc\td\x1b[0m\x7f"
             "e",
             "'a b c d [0m e'");
    // Cut to the size, always closed, never inside a doubled quote or a character.
    QUOTE_EQ(6, "abcdef", "'abc'");
    QUOTE_EQ(11, "ab'cd", "'ab'");
    QUOTE_EQ(12, "ab'cd", "'ab'.\"'\".''");
    QUOTE_EQ(13, "ab'cd", "'ab'.\"'\".'c'");
    QUOTE_EQ(5, "a\xc3\xa9", "'a'");
    QUOTE_EQ(6, "a\xc3\xa9", "'a\xc3\xa9'");
    QUOTE_EQ(7, "\xe2\x82\xac\xe2\x82\xac", "'\xe2\x82\xac'");
    QUOTE_EQ(3, "abc", "''");
    char two[2] = "x";
    ck_assert_str_eq(msf_gp_quote(two, sizeof two, "abc"), "");
}
END_TEST

START_TEST(test_inert_and_comment) {
    char buf[16];
    ck_assert_str_eq(msf_gp_inert(buf, sizeof buf, "a\nb\r`c`'"), "a b `c`'");
    ck_assert_str_eq(msf_gp_inert(buf, 4, "abcdef"), "abc");
    ck_assert_str_eq(msf_gp_inert(buf, 3, "a\xc3\xa9"), "a");
    char *text = NULL;
    size_t size = 0;
    FILE *f = open_memstream(&text, &size);
    ck_assert_ptr_nonnull(f);
    msf_gp_comment(f, "made by `msf x`\nset output 'pwned'");
    msf_gp_comment(f, "ends in a backslash \\");
    msf_gp_prologue(f);
    msf_gp_set_output(f, "it's.png");
    fclose(f);
    ck_assert_str_eq(text,
                     "# made by `msf x` set output 'pwned'\n"
                     "# ends in a backslash \\ \n"
                     "if (!exists(\"suffix\")) suffix = ''\n"
                     "set output 'it'.\"'\".'s.png'.suffix\n");
    free(text);
}
END_TEST

static const char *hostile[] = {
    "x`touch pwned1`y",
    "it's 'quoted' \"twice\"",
    "back\\slash\\",
    "@term @pwned macro",
    "new\nline\rcarriage\ttab",
    "'.`touch pwned2`.'",
    "'",
    "''''x''",
    "'''`touch pwned7`'",
    "'\nset output 'pwned3'\n#",
    "caf\xc3\xa9 \xe2\x82\xac",
};

static int have_gnuplot(void) {
    unsetenv("MSF_GNUPLOT");
    if (system("command -v gnuplot >/dev/null 2>&1") == 0) return 1;
    tu_skip("test_gnuplot: gnuplot (gnuplot-nox) not installed, the round trip is not checked");
    return 0;
}

// Real gnuplot prints each literal back as the inert text, writes the PNG
// with a hostile name through suffix, and runs none of the commands.
START_TEST(test_gnuplot_round_trip) {
    if (!have_gnuplot()) return;
    static const char png[] = "o`touch pwned4`'q\".png";
    FILE *f = fopen(path_of("t.gp"), "w");
    ck_assert_ptr_nonnull(f);
    msf_gp_comment(f, "t.gp: `touch pwned5`\nset output 'pwned6'\\");
    msf_gp_prologue(f);
    char q[512];
    fprintf(f, "set print 'printed.txt'\n");
    for (size_t i = 0; i < sizeof hostile / sizeof hostile[0]; i++)
        fprintf(f, "print %s\n", msf_gp_quote(q, sizeof q, hostile[i]));
    fprintf(f, "set terminal pngcairo size 200,100 noenhanced\n");
    msf_gp_set_output(f, png);
    fprintf(f, "set title %s\nplot x title %s\nunset output\n", msf_gp_quote(q, sizeof q, hostile[0]),
            msf_gp_quote(q, sizeof q, hostile[6]));
    ck_assert_int_eq(fclose(f), 0);
    int missing = -1;
    msf_status s = msf_gp_run(dir, "t.gp", "t.log", &missing);
    if (s) {
        char cmd[600];
        snprintf(cmd, sizeof cmd, "cat %s >&2", path_of("t.log"));
        ck_assert_int_eq(system(cmd), 0);
    }
    ck_assert_msg(s == MSF_OK, "msf_gp_run: %s", msf_error_message());
    ck_assert_int_eq(missing, 0);
    ck_assert_msg(exists(png), "the PNG was not moved into place");
    ck_assert_int_eq(count_named("tmp"), 0);
    ck_assert_int_eq(count_named("^pwned"), 0);  // (the PNG's name holds "pwned" too)
    f = fopen(path_of("printed.txt"), "r");
    ck_assert_ptr_nonnull(f);
    char line[512], want[512];
    for (size_t i = 0; i < sizeof hostile / sizeof hostile[0]; i++) {
        ck_assert_ptr_nonnull(fgets(line, sizeof line, f));
        line[strcspn(line, "\n")] = '\0';
        ck_assert_str_eq(line, msf_gp_inert(want, sizeof want, hostile[i]));
    }
    fclose(f);
}
END_TEST

// A stand-in for gnuplot: exits with $FAKE_EXIT after writing each output the
// script sets as $FAKE_MODE says: empty, a PNG cut short, nothing.
static void write_fake(void) {
    FILE *f = fopen(path_of("fake-gnuplot"), "w");
    ck_assert_ptr_nonnull(f);
    fprintf(f,
            "#!/bin/sh\n"
            "suf=${2#suffix=\\'}; suf=${suf%%\\'}\n"
            "for n in $(sed -n \"s/^set output '\\(.*\\)'\\.suffix$/\\1/p\" \"$3\"); do\n"
            "  case $FAKE_MODE in\n"
            "  empty) : >\"$n$suf\" ;;\n"
            "  cut) printf '\\211PNG\\r\\n\\032\\n0000000000000000' >\"$n$suf\" ;;\n"
            "  esac\n"
            "done\n"
            "exit $FAKE_EXIT\n");
    ck_assert_int_eq(fclose(f), 0);
    ck_assert_int_eq(chmod(path_of("fake-gnuplot"), 0755), 0);
    f = fopen(path_of("p.gp"), "w");
    ck_assert_ptr_nonnull(f);
    msf_gp_prologue(f);
    msf_gp_set_output(f, "a.png");
    msf_gp_set_output(f, "b.png");
    ck_assert_int_eq(fclose(f), 0);
    setenv("MSF_GNUPLOT", path_of("fake-gnuplot"), 1);
}

static void expect_failure(const char *mode, const char *exit_code, const char *want) {
    setenv("FAKE_MODE", mode, 1);
    setenv("FAKE_EXIT", exit_code, 1);
    int missing = -1;
    ck_assert_int_eq(msf_gp_run(dir, "p.gp", NULL, &missing), MSF_ERR_IO);
    ck_assert_int_eq(missing, 0);
    ck_assert_msg(strstr(msf_error_message(), want), "%s/%s: '%s' lacks '%s'", mode, exit_code, msf_error_message(),
                  want);
    ck_assert_int_eq(count_named(".png"), 0);  // neither a temporary nor a final file
}

static char warned[1024];

static void capture_warning(void *user, msf_log_level level, const char *message) {
    if (level == MSF_LOG_WARN) snprintf(warned, sizeof warned, "%s", message);
}

START_TEST(test_run_failures) {
    write_fake();
    expect_failure("none", "1", "failed on ");
    expect_failure("none", "1", "(exit status 1)");
    expect_failure("empty", "0", "wrote an incomplete ");
    expect_failure("empty", "0", "/a.png (0 bytes)");
    expect_failure("cut", "0", "/a.png (24 bytes, no PNG end)");
    expect_failure("none", "0", "did not write ");
    expect_failure("cut", "2", "(exit status 2)");
    // Without gnuplot: *missing, not an error.
    setenv("MSF_GNUPLOT", "/nonexistent/gnuplot", 1);
    int missing = 0;
    ck_assert_int_eq(msf_gp_run(dir, "p.gp", NULL, &missing), MSF_OK);
    ck_assert_int_eq(missing, 1);
    // msf_gp_plot: the same, with a warning naming the folder and the script.
    warned[0] = '\0';
    msf_set_log_callback(capture_warning, NULL);
    ck_assert_int_eq(msf_gp_plot(dir, "p.gp", NULL), MSF_OK);
    msf_set_log_callback(NULL, NULL);
    ck_assert_ptr_nonnull(strstr(warned, "gnuplot not found"));
    ck_assert_ptr_nonnull(strstr(warned, dir));
    ck_assert_ptr_nonnull(strstr(warned, "gnuplot p.gp"));
    // A folder that is not there.
    write_fake();
    setenv("FAKE_MODE", "none", 1);
    setenv("FAKE_EXIT", "0", 1);
    ck_assert_int_eq(msf_gp_run(path_of("nowhere"), "p.gp", NULL, &missing), MSF_ERR_IO);
    ck_assert_ptr_nonnull(strstr(msf_error_message(), "cannot open"));
    unsetenv("MSF_GNUPLOT");
}
END_TEST

static Suite *gnuplot_suite(void) {
    Suite *s = suite_create("gnuplot");
    TCase *tc = tcase_create("gnuplot");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_quote);
    tcase_add_test(tc, test_inert_and_comment);
    tcase_add_test(tc, test_gnuplot_round_trip);
    tcase_add_test(tc, test_run_failures);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) {
    SRunner *sr = srunner_create(gnuplot_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
