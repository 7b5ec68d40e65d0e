// textfile.h: text result files (JSON, CSV, Markdown, gnuplot scripts)
// written atomically: the text goes to "<path>.tmp-<pid>" and only
// msf_text_commit renames it into place, so a reader never sees half a file.
#ifndef MSF_IO_TEXTFILE_H
#define MSF_IO_TEXTFILE_H

#include <stdio.h>

#include "core/status.h"

typedef struct {
    FILE *f;  // write the contents here
    char path[4096], tmp[4200];
} msf_text_file;

// Open the temporary file of `path` (MSF_ERR_IO naming it on failure).
msf_status msf_text_create(msf_text_file *t, const char *path);
// The same for dir/name.
msf_status msf_text_create_in(msf_text_file *t, const char *dir, const char *name);
// Close and rename into place; on any write error the temporary file is
// removed and MSF_ERR_IO names the file.
msf_status msf_text_commit(msf_text_file *t);
// Close and remove the temporary file (no-op if not open).
void msf_text_abort(msf_text_file *t);

#endif
