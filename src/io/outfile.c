// outfile.c: temporary result files written to the end and renamed into
// place (see outfile.h).
#include "io/outfile.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

msf_status msf_outfile_temp_name(char *tmp, size_t size, const char *path) {
    if ((size_t)snprintf(tmp, size, "%s.tmp-%ld", path, (long)getpid()) >= size)
        return msf_fail(MSF_ERR_INVALID, "path too long: %.80s...", path);
    return MSF_OK;
}

msf_status msf_outfile_open(int *fd, const char *tmp, const char *path) {
    *fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
    if (*fd < 0) return msf_fail(MSF_ERR_IO, "cannot create %s: %s (temporary file %s)", path, strerror(errno), tmp);
    return MSF_OK;
}

msf_status msf_outfile_write(int fd, const void *buf, size_t n, const char *path) {
    const char *p = buf;
    while (n > 0) {
        ssize_t k = write(fd, p, n > ((size_t)1 << 30) ? (size_t)1 << 30 : n);
        if (k < 0 && errno == EINTR) continue;
        if (k <= 0) return msf_fail(MSF_ERR_IO, "cannot write %s: %s", path, k < 0 ? strerror(errno) : "no progress");
        p += k, n -= (size_t)k;
    }
    return MSF_OK;
}

msf_status msf_outfile_close(int fd, const char *path) {
    // After a failed close the descriptor is released on Linux: no retry.
    if (close(fd) != 0) return msf_fail(MSF_ERR_IO, "cannot write %s: %s", path, strerror(errno));
    return MSF_OK;
}

msf_status msf_outfile_rename(const char *tmp, const char *path) {
    if (rename(tmp, path) == 0) return MSF_OK;
    msf_status s = msf_fail(MSF_ERR_IO, "cannot rename %s to %s: %s", tmp, path, strerror(errno));
    unlink(tmp);
    return s;
}

msf_status msf_outfile_write_file(const char *path, const void *buf, size_t n) {
    char tmp[4200];
    int fd;
    msf_status s = msf_outfile_temp_name(tmp, sizeof tmp, path);
    if (s || (s = msf_outfile_open(&fd, tmp, path))) return s;
    s = msf_outfile_write(fd, buf, n, path);
    msf_status c = msf_outfile_close(fd, path);
    if (!s) s = c;
    if (s) {
        unlink(tmp);
        return s;
    }
    return msf_outfile_rename(tmp, path);
}

void msf_staged_set(msf_staged_file *st, const char *path, const char *tmp) {
    snprintf(st->path, sizeof st->path, "%s", path);
    snprintf(st->tmp, sizeof st->tmp, "%s", tmp);
}

msf_status msf_staged_publish(const msf_staged_file *files, int n) {
    for (int i = 0; i < n; i++) {
        if (rename(files[i].tmp, files[i].path) == 0) continue;
        msf_status s = msf_fail(MSF_ERR_IO, "cannot rename %s to %s: %s", files[i].tmp, files[i].path, strerror(errno));
        for (int j = 0; j < i; j++) unlink(files[j].path);
        msf_staged_discard(files + i, n - i);
        return s;
    }
    return MSF_OK;
}

void msf_staged_discard(const msf_staged_file *files, int n) {
    for (int i = 0; i < n; i++) unlink(files[i].tmp);
}
