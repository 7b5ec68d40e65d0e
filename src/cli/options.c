// options.c: parsing of numeric command-line values with clear messages.
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <stdlib.h>
#include <unistd.h>
#include <sys/stat.h>

#include "cli/cli.h"

int cli_parse_long(const char *cmd, const char *opt, const char *text, long min, long max, long *out) {
    char *end;
    errno = 0;
    long v = strtol(text, &end, 10);
    if (errno || end == text || *end || v < min || v > max) {
        fprintf(stderr, "msf %s: %s expects an integer in [%ld, %ld], got '%s'\n", cmd, opt, min, max, text);
        return 0;
    }
    *out = v;
    return 1;
}

int cli_parse_u64(const char *cmd, const char *opt, const char *text, unsigned long long *out) {
    char *end;
    errno = 0;
    unsigned long long v = strtoull(text, &end, 10);
    if (errno || end == text || *end || text[0] == '-') {
        fprintf(stderr, "msf %s: %s expects a non-negative integer, got '%s'\n", cmd, opt, text);
        return 0;
    }
    *out = v;
    return 1;
}

int cli_parse_double(const char *cmd, const char *opt, const char *text, double *out) {
    char *end;
    errno = 0;
    double v = strtod(text, &end);
    if (errno || end == text || *end || !isfinite(v)) {
        fprintf(stderr, "msf %s: %s expects a number, got '%s'\n", cmd, opt, text);
        return 0;
    }
    *out = v;
    return 1;
}

void cli_missing_value(const char *cmd, const char *opt, const char *usage) {
    // Listed when the usage holds the name followed by a space, ',', '[' or ']'.
    size_t n = strlen(opt);
    int listed = 0;
    for (const char *u = usage; !listed && n && (u = strstr(u, opt)); u += n) {
        char next = u[n];
        listed = (u == usage || u[-1] == ' ' || u[-1] == '[' || u[-1] == '(' || u[-1] == ',') &&
                 (next == ' ' || next == ',' || next == '[' || next == ']' || next == '\n' || next == '=');
    }
    if (listed) fprintf(stderr, "msf %s: %s needs a value\n\n%s", cmd, opt, usage);
    else fprintf(stderr, "msf %s: unknown option '%s'\n\n%s", cmd, opt, usage);
}

int cli_output_ok(const char *path, const char *what) {
    char dir[4096];
    snprintf(dir, sizeof dir, "%s", path);
    char *slash = strrchr(dir, '/');
    if (!slash) snprintf(dir, sizeof dir, ".");
    else if (slash == dir) dir[1] = '\0';
    else *slash = '\0';
    struct stat st;
    if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
        msf_fail(MSF_ERR_IO, "cannot create %s %s: its folder %s does not exist", what, path, dir);
        return 0;
    }
    if (access(dir, W_OK | X_OK) != 0) {
        msf_fail(MSF_ERR_IO, "cannot create %s %s: %s", what, path, strerror(errno));
        return 0;
    }
    if (stat(path, &st) == 0 && S_ISDIR(st.st_mode)) {
        msf_fail(MSF_ERR_IO, "cannot create %s %s: it is a folder", what, path);
        return 0;
    }
    return 1;
}

int cli_output_dir_ok(const char *path, const char *what) {
    struct stat st;
    if (stat(path, &st) != 0) return cli_output_ok(path, what);
    if (!S_ISDIR(st.st_mode)) {
        msf_fail(MSF_ERR_IO, "cannot write into %s %s: it is not a folder", what, path);
        return 0;
    }
    if (access(path, W_OK | X_OK) != 0) {
        msf_fail(MSF_ERR_IO, "cannot write into %s %s: %s", what, path, strerror(errno));
        return 0;
    }
    return 1;
}

int cli_input_ok(const char *path, const char *what) {
    if (access(path, R_OK) != 0) {
        msf_fail(MSF_ERR_IO, "cannot open %s %s: %s", what, path, strerror(errno));
        return 0;
    }
    return 1;
}
