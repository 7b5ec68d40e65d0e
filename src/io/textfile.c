// textfile.c: atomic text result files (see textfile.h).
#include "io/textfile.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

msf_status msf_text_create(msf_text_file *t, const char *path) {
    t->f = NULL, t->fd = -1, t->buf = NULL, t->len = 0;
    if (strlen(path) >= sizeof t->path) return msf_fail(MSF_ERR_INVALID, "path too long: %.80s...", path);
    snprintf(t->path, sizeof t->path, "%s", path);
    msf_status s = msf_outfile_temp_name(t->tmp, sizeof t->tmp, path);
    if (s || (s = msf_outfile_open(&t->fd, t->tmp, path))) return s;
    t->f = open_memstream(&t->buf, &t->len);
    if (!t->f) {
        s = msf_fail(MSF_ERR_NOMEM, "cannot buffer %s: %s", path, strerror(errno));
        close(t->fd);
        t->fd = -1;
        unlink(t->tmp);
    }
    return s;
}

msf_status msf_text_create_in(msf_text_file *t, const char *dir, const char *name) {
    char path[4096];
    t->f = NULL, t->fd = -1, t->buf = NULL, t->len = 0;
    if ((size_t)snprintf(path, sizeof path, "%s/%s", dir, name) >= sizeof path)
        return msf_fail(MSF_ERR_INVALID, "path too long: %.80s/%s", dir, name);
    return msf_text_create(t, path);
}

msf_status msf_text_finish(msf_text_file *t, msf_staged_file *st) {
    // A memory stream fails only for want of memory.
    int bad = ferror(t->f);
    bad |= fclose(t->f) != 0;
    t->f = NULL;
    msf_status s = bad ? msf_fail(MSF_ERR_NOMEM, "out of memory writing %s", t->path)
                       : msf_outfile_write(t->fd, t->buf, t->len, t->path);
    msf_status c = msf_outfile_close(t->fd, t->path);
    t->fd = -1;
    free(t->buf);
    t->buf = NULL;
    if (!s) s = c;
    if (s) unlink(t->tmp);
    else if (st) msf_staged_set(st, t->path, t->tmp);
    return s;
}

msf_status msf_text_commit(msf_text_file *t) {
    msf_status s = msf_text_finish(t, NULL);
    return s ? s : msf_outfile_rename(t->tmp, t->path);
}

void msf_text_abort(msf_text_file *t) {
    if (!t->f) return;
    fclose(t->f);
    t->f = NULL;
    free(t->buf);
    t->buf = NULL;
    if (t->fd >= 0) close(t->fd);
    t->fd = -1;
    unlink(t->tmp);
}
