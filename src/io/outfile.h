// outfile.h: the file-system half of the atomic result writers (textfile.c,
// h5write.c, images.c, npz.c). A result goes to the temporary
// "<path>.tmp-<pid>" next to its target, is written to the end with every
// write and the close checked (an error names the file and errno's text, e.g.
// "No space left on device"), and is then renamed into place; on any error
// the temporary file is removed. Results that belong together (the data files
// of one command) are "staged" -- complete under their temporary names -- and
// published together, so that either all of them appear or none does.
#ifndef MSF_IO_OUTFILE_H
#define MSF_IO_OUTFILE_H

#include <stddef.h>

#include "core/status.h"

// "<path>.tmp-<pid>" into tmp (MSF_ERR_INVALID if it does not fit).
msf_status msf_outfile_temp_name(char *tmp, size_t size, const char *path);
// Create (truncate) the temporary file `tmp` of result `path`; *fd = its
// descriptor. MSF_ERR_IO names path and errno's text.
msf_status msf_outfile_open(int *fd, const char *tmp, const char *path);
// Write all n bytes (retrying short writes and EINTR). MSF_ERR_IO names path.
msf_status msf_outfile_write(int fd, const void *buf, size_t n, const char *path);
// close(fd), checked (some file systems report a failed write only here).
msf_status msf_outfile_close(int fd, const char *path);
// Rename tmp onto path; on failure tmp is removed.
msf_status msf_outfile_rename(const char *tmp, const char *path);
// The whole of `path` from memory: temporary file, write, close, rename.
msf_status msf_outfile_write_file(const char *path, const void *buf, size_t n);

// A complete temporary file waiting to be renamed onto its target.
typedef struct {
    char path[4096], tmp[4200];
} msf_staged_file;

// Record tmp -> path in *st (both must fit; they do for names made by
// msf_outfile_temp_name from a path shorter than 4096 bytes).
void msf_staged_set(msf_staged_file *st, const char *path, const char *tmp);
// Rename files[0..n) into place. If a rename fails, the files already renamed
// by this call are removed and every temporary file is removed: nothing of
// the group is left. MSF_ERR_IO names the file that failed.
msf_status msf_staged_publish(const msf_staged_file *files, int n);
// Remove the temporary files of files[0..n).
void msf_staged_discard(const msf_staged_file *files, int n);

#endif
