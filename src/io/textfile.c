// textfile.c: atomic text result files (see textfile.h).
#include "io/textfile.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>

msf_status msf_text_create(msf_text_file *t, const char *path) {
    t->f = NULL;
    if (strlen(path) >= sizeof t->path) return msf_fail(MSF_ERR_INVALID, "path too long: %.80s...", path);
    snprintf(t->path, sizeof t->path, "%s", path);
    snprintf(t->tmp, sizeof t->tmp, "%s.tmp-%ld", path, (long)getpid());
    t->f = fopen(t->tmp, "w");
    if (!t->f) return msf_fail(MSF_ERR_IO, "cannot create %s: %s", t->tmp, strerror(errno));
    return MSF_OK;
}

msf_status msf_text_create_in(msf_text_file *t, const char *dir, const char *name) {
    char path[4096];
    if ((size_t)snprintf(path, sizeof path, "%s/%s", dir, name) >= sizeof path)
        return msf_fail(MSF_ERR_INVALID, "path too long: %.80s/%s", dir, name);
    return msf_text_create(t, path);
}

msf_status msf_text_commit(msf_text_file *t) {
    int bad = ferror(t->f);
    bad |= fclose(t->f) != 0;
    t->f = NULL;
    if (bad) {
        unlink(t->tmp);
        return msf_fail(MSF_ERR_IO, "cannot write %s (a write error on %s)", t->path, t->tmp);
    }
    if (rename(t->tmp, t->path) != 0) {
        msf_status s = msf_fail(MSF_ERR_IO, "cannot rename %s to %s: %s", t->tmp, t->path, strerror(errno));
        unlink(t->tmp);
        return s;
    }
    return MSF_OK;
}

void msf_text_abort(msf_text_file *t) {
    if (!t->f) return;
    fclose(t->f);
    t->f = NULL;
    unlink(t->tmp);
}
