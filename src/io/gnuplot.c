// gnuplot.c: quoting for gnuplot scripts and the gnuplot launcher (see gnuplot.h).
#include "io/gnuplot.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

// Inside a single-quoted literal, a quote of the text closes the literal,
// joins "'" and opens the next literal. (gnuplot 5.4 reads a doubled quote
// right after the opening quote, or next to another doubled quote, as the end
// of the string: 'it''s' works, but '''x' and 'a''''b' are syntax errors.)
static const char quote_join[] = "'.\"'\".'";

// Copy src into dst[from .. size-reserve) with control characters replaced
// by spaces and, when `quote`, quotes joined as above; a character cut in two
// at the end is dropped. Returns the new length.
static size_t copy_inert(char *dst, size_t from, size_t size, size_t reserve, const char *src, int quote) {
    const unsigned char *s = (const unsigned char *)(src ? src : "");
    size_t j = from;
    int cut = 0;
    for (size_t i = 0; s[i]; i++) {
        unsigned char c = s[i];
        size_t need = quote && c == '\'' ? sizeof quote_join - 1 : 1;
        if (j + need + reserve > size) {
            cut = 1;
            break;
        }
        if (c < 0x20 || c == 0x7f) c = ' ';
        if (need > 1) memcpy(dst + j, quote_join, need), j += need;
        else dst[j++] = (char)c;
    }
    if (cut) {
        // Drop an incomplete UTF-8 sequence at the end.
        size_t k = j;
        while (k > from && ((unsigned char)dst[k - 1] & 0xC0) == 0x80) k--;
        if (k > from) {
            unsigned char lead = (unsigned char)dst[k - 1];
            size_t len = lead >= 0xF0 ? 4 : lead >= 0xE0 ? 3 : lead >= 0xC0 ? 2 : 1;
            if (len > 1 && j - (k - 1) < len) j = k - 1;
        }
    }
    return j;
}

const char *msf_gp_quote(char *dst, size_t size, const char *src) {
    if (size < 3) {
        if (size) dst[0] = '\0';
        return dst;
    }
    dst[0] = '\'';
    size_t j = copy_inert(dst, 1, size, 2, src, 1);
    dst[j++] = '\'';
    dst[j] = '\0';
    return dst;
}

const char *msf_gp_inert(char *dst, size_t size, const char *src) {
    if (!size) return dst;
    size_t j = copy_inert(dst, 0, size, 1, src, 0);
    dst[j] = '\0';
    return dst;
}

void msf_gp_comment(FILE *f, const char *text) {
    char buf[4200];
    msf_gp_inert(buf, sizeof buf, text);
    size_t n = strlen(buf);
    // A trailing backslash would continue the comment onto the next line.
    fprintf(f, "# %s%s\n", buf, n && buf[n - 1] == '\\' ? " " : "");
}

void msf_gp_prologue(FILE *f) { fprintf(f, "if (!exists(\"suffix\")) suffix = ''\n"); }

void msf_gp_set_output(FILE *f, const char *name) {
    char q[4200];
    fprintf(f, "set output %s.suffix\n", msf_gp_quote(q, sizeof q, name));
}

// -----------------------------------------------------------------------------
// The launcher

enum { MAX_OUTPUTS = 256 };

typedef struct {
    char *name[MAX_OUTPUTS];
    int count;
} output_list;

static void outputs_free(output_list *o) {
    for (int i = 0; i < o->count; i++) free(o->name[i]);
    o->count = 0;
}

// The outputs `path` names on lines "set output '...'.suffix" (msf_gp_set_output).
static msf_status outputs_read(output_list *o, const char *path) {
    o->count = 0;
    FILE *f = fopen(path, "r");
    if (!f) return msf_fail(MSF_ERR_IO, "cannot open %s: %s", path, strerror(errno));
    static const char head[] = "set output '";
    char *line = NULL;
    size_t cap = 0;
    msf_status s = MSF_OK;
    while (!s && getline(&line, &cap, f) >= 0) {
        if (strncmp(line, head, sizeof head - 1)) continue;
        const char *p = line + sizeof head - 1;
        char *name = malloc(strlen(p) + 1);
        if (!name) {
            s = msf_fail(MSF_ERR_NOMEM, "out of memory");
            break;
        }
        // Literals '...' and "'" joined by '.', then ".suffix" and the line's end.
        size_t n = 0;
        int ok = 0;
        for (p--;;) {
            if (*p == '\'') {
                const char *end = strchr(p + 1, '\'');
                if (!end) break;
                memcpy(name + n, p + 1, (size_t)(end - p - 1));
                n += (size_t)(end - p - 1), p = end + 1;
            } else if (!strncmp(p, "\"'\"", 3)) {
                name[n++] = '\'', p += 3;
            } else {
                break;
            }
            if (*p++ != '.') break;
            if (!strncmp(p, "suffix", 6) && (!p[6] || p[6] == '\n')) {
                ok = 1;
                break;
            }
        }
        name[n] = '\0';
        if (!ok || !n) {
            free(name);  // not an atomic output (or not ours): gnuplot writes it as it is
            continue;
        }
        if (o->count == MAX_OUTPUTS) {
            free(name);
            s = msf_fail(MSF_ERR_INVALID, "%s sets more than %d outputs", path, MAX_OUTPUTS);
        } else {
            o->name[o->count++] = name;
        }
    }
    if (!s && ferror(f)) s = msf_fail(MSF_ERR_IO, "cannot read %s", path);
    free(line);
    fclose(f);
    if (s) outputs_free(o);
    return s;
}

// Find `prog` on PATH (or check it, when it names a path).
static int on_path(const char *prog) {
    if (strchr(prog, '/')) return access(prog, X_OK) == 0;
    const char *path = getenv("PATH");
    if (!path) return 0;
    char buf[4200];
    for (const char *p = path; *p;) {
        const char *end = strchr(p, ':');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        snprintf(buf, sizeof buf, "%.*s/%s", (int)len, len ? p : ".", prog);
        if (access(buf, X_OK) == 0) return 1;
        if (!end) break;
        p = end + 1;
    }
    return 0;
}

static void tmp_path(char *buf, size_t size, const char *dir, const char *name, long pid) {
    snprintf(buf, size, "%s/%s.tmp-%ld", dir, name, pid);
}

static void remove_temporaries(const char *dir, const output_list *o, int from, long pid) {
    char tmp[8400];
    for (int i = from; i < o->count; i++) {
        tmp_path(tmp, sizeof tmp, dir, o->name[i], pid);
        unlink(tmp);
    }
}

// Whether the file at `path` (size bytes) ends where a PNG ends: the signature
// at the start, the IEND chunk at the end.
static int png_complete(const char *path, off_t size) {
    static const unsigned char sig[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
    static const unsigned char iend[12] = {0, 0, 0, 0, 'I', 'E', 'N', 'D', 0xae, 0x42, 0x60, 0x82};
    if (size < 8 + 12) return 0;
    FILE *f = fopen(path, "rb");
    if (!f) return 0;
    unsigned char a[8], b[12];
    int ok = fread(a, 1, 8, f) == 8 && fseeko(f, size - 12, SEEK_SET) == 0 && fread(b, 1, 12, f) == 12 &&
             !memcmp(a, sig, 8) && !memcmp(b, iend, 12);
    fclose(f);
    return ok;
}

static int ends_with(const char *s, const char *tail) {
    size_t n = strlen(s), m = strlen(tail);
    return n >= m && !strcmp(s + n - m, tail);
}

// Why an output may be short: a full file system, when it is.
static const char *full_hint(const char *dir, char *buf, size_t size) {
    struct statvfs v;
    buf[0] = '\0';
    if (statvfs(dir, &v) == 0 && v.f_bavail == 0)
        snprintf(buf, size, "; the file system of %s is full (%s)", dir, strerror(ENOSPC));
    return buf;
}

msf_status msf_gp_run(const char *dir, const char *script, const char *log_name, int *missing) {
    *missing = 0;
    const char *gnuplot = getenv("MSF_GNUPLOT");
    if (!gnuplot || !*gnuplot) gnuplot = "gnuplot";
    char path[4200];
    if ((size_t)snprintf(path, sizeof path, "%s/%s", dir, script) >= sizeof path)
        return msf_fail(MSF_ERR_INVALID, "path too long: %.80s/%s", dir, script);
    output_list out = {0};
    msf_status s = outputs_read(&out, path);
    if (s) return s;
    if (!on_path(gnuplot)) {
        outputs_free(&out);
        *missing = 1;
        return MSF_OK;
    }
    long pid = (long)getpid();
    remove_temporaries(dir, &out, 0, pid);
    char suffix[64], log_path[4200] = "";
    snprintf(suffix, sizeof suffix, "suffix='.tmp-%ld'", pid);
    if (log_name) snprintf(log_path, sizeof log_path, "%s/%s", dir, log_name);

    // The child reports a failed chdir, log or exec through a close-on-exec pipe.
    int fds[2];
    if (pipe(fds) != 0 || fcntl(fds[1], F_SETFD, FD_CLOEXEC) != 0) {
        s = msf_fail(MSF_ERR_IO, "cannot start %s: %s", gnuplot, strerror(errno));
        outputs_free(&out);
        return s;
    }
    fflush(NULL);
    pid_t child = fork();
    if (child < 0) {
        s = msf_fail(MSF_ERR_IO, "cannot start %s: %s", gnuplot, strerror(errno));
        close(fds[0]), close(fds[1]);
        outputs_free(&out);
        return s;
    }
    if (child == 0) {
        close(fds[0]);
        int report[2] = {0, 0};
        if (chdir(dir) != 0) {
            report[0] = 1;
        } else if (log_name) {
            int fd = open(log_name, O_WRONLY | O_CREAT | O_TRUNC, 0666);
            if (fd < 0 || dup2(fd, STDERR_FILENO) < 0) report[0] = 2;
            if (fd > STDERR_FILENO) close(fd);
        }
        if (!report[0]) {
            execlp(gnuplot, gnuplot, "-e", suffix, script, (char *)NULL);
            report[0] = 3;
        }
        report[1] = errno;
        ssize_t w = write(fds[1], report, sizeof report);
        (void)w;
        _exit(127);
    }
    close(fds[1]);
    int report[2] = {0, 0};
    ssize_t got;
    while ((got = read(fds[0], report, sizeof report)) < 0 && errno == EINTR) {
    }
    close(fds[0]);
    int status;
    while (waitpid(child, &status, 0) < 0) {
        if (errno != EINTR) {
            s = msf_fail(MSF_ERR_IO, "waiting for %s: %s", gnuplot, strerror(errno));
            goto fail;
        }
    }
    if (got == (ssize_t)sizeof report && report[0]) {
        const char *what = report[0] == 1 ? "cannot enter" : report[0] == 2 ? "cannot create" : "cannot run";
        const char *obj = report[0] == 1 ? dir : report[0] == 2 ? log_path : gnuplot;
        s = msf_fail(MSF_ERR_IO, "gnuplot: %s %s: %s", what, obj, strerror(report[1]));
        goto fail;
    }
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        char how[64];
        if (WIFSIGNALED(status)) snprintf(how, sizeof how, "killed by signal %d", WTERMSIG(status));
        else snprintf(how, sizeof how, "exit status %d", WIFEXITED(status) ? WEXITSTATUS(status) : -1);
        s = msf_fail(MSF_ERR_IO, "%s failed on %s (%s)%s%s", gnuplot, path, how,
                     log_name ? "; its messages are in " : "", log_path);
        goto fail;
    }
    for (int i = 0; i < out.count; i++) {
        char tmp[8400], hint[4300];
        tmp_path(tmp, sizeof tmp, dir, out.name[i], pid);
        struct stat st;
        if (stat(tmp, &st) != 0) {
            s = msf_fail(MSF_ERR_IO, "%s did not write %s/%s (%s: %s)", gnuplot, dir, out.name[i], tmp,
                         strerror(errno));
            goto fail;
        }
        int png = ends_with(out.name[i], ".png");
        if (st.st_size == 0 || (png && !png_complete(tmp, st.st_size))) {
            s = msf_fail(MSF_ERR_IO, "%s wrote an incomplete %s/%s (%lld bytes%s)%s", gnuplot, dir, out.name[i],
                         (long long)st.st_size, png && st.st_size ? ", no PNG end" : "",
                         full_hint(dir, hint, sizeof hint));
            goto fail;
        }
    }
    for (int i = 0; i < out.count; i++) {
        char tmp[8400], final[8400];
        tmp_path(tmp, sizeof tmp, dir, out.name[i], pid);
        snprintf(final, sizeof final, "%s/%s", dir, out.name[i]);
        if (rename(tmp, final) != 0) {
            s = msf_fail(MSF_ERR_IO, "cannot rename %s to %s: %s", tmp, final, strerror(errno));
            remove_temporaries(dir, &out, i, pid);
            outputs_free(&out);
            return s;
        }
    }
    outputs_free(&out);
    return MSF_OK;
fail:
    remove_temporaries(dir, &out, 0, pid);
    outputs_free(&out);
    return s;
}

msf_status msf_gp_plot(const char *dir, const char *script, const char *log_name) {
    int missing;
    msf_status s = msf_gp_run(dir, script, log_name, &missing);
    if (!s && missing)
        msf_log(MSF_LOG_WARN,
                "gnuplot not found (Debian package gnuplot-nox): no plots in %s; make them later with "
                "`cd %s && gnuplot %s`",
                dir, dir, script);
    return s;
}
