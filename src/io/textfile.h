// textfile.h: text result files (JSON, CSV, Markdown, gnuplot scripts)
// written atomically: the text collects in memory, and msf_text_commit writes
// it to "<path>.tmp-<pid>" (created already by msf_text_create, so a missing
// or read-only folder is reported at once), checks every write and the close,
// and renames it into place -- a reader never sees half a file, and a full
// disk is reported as such ("No space left on device") naming the file.
#ifndef MSF_IO_TEXTFILE_H
#define MSF_IO_TEXTFILE_H

#include <stdio.h>

#include "core/status.h"
#include "io/outfile.h"

typedef struct {
    FILE *f;  // write the contents here (an in-memory stream)
    int fd;   // the temporary file, -1 when closed
    char *buf;
    size_t len;
    char path[4096], tmp[4200];
} msf_text_file;

// Create the temporary file of `path` and the stream (MSF_ERR_IO naming the
// file and errno's text on failure).
msf_status msf_text_create(msf_text_file *t, const char *path);
// The same for dir/name.
msf_status msf_text_create_in(msf_text_file *t, const char *dir, const char *name);
// Write the text to the temporary file and close it, without renaming: *st
// then names it for msf_staged_publish / msf_staged_discard (outfile.h). On
// any error the temporary file is removed and MSF_ERR_IO names the file.
msf_status msf_text_finish(msf_text_file *t, msf_staged_file *st);
// msf_text_finish, then rename into place.
msf_status msf_text_commit(msf_text_file *t);
// Drop the text and remove the temporary file (no-op if not open).
void msf_text_abort(msf_text_file *t);

#endif
