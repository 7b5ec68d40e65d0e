// h5write.h: writing result files in HDF5, atomically.
//
// A writer creates "<path>.tmp-<pid>" and only msf_h5_commit renames it to
// <path>; msf_h5_abort (or any failure) removes it, so a reader never sees a
// half-written result.
//
// The HDF5 file is built in memory (HDF5's core driver, no backing store), and
// msf_h5_commit writes its image to the temporary file with checked POSIX
// writes. HDF5 itself therefore never writes to disk, and so never fails in
// H5Fclose for want of space: HDF5 1.10 (Debian 12) frees a file whose close
// failed but keeps its id, and its exit handler then crashes closing it again.
// Errors name the file and errno's text ("No space left on device"). The cost:
// while committing, the file is in memory twice (HDF5's image and its copy).
#ifndef MSF_IO_H5WRITE_H
#define MSF_IO_H5WRITE_H

#include <stdint.h>

#include "core/status.h"
#include "io/outfile.h"

typedef struct msf_h5_writer msf_h5_writer;

msf_status msf_h5_create(msf_h5_writer **out, const char *path);
// Datasets named by path (intermediate groups are created).
msf_status msf_h5_write_f32(msf_h5_writer *w, const char *name, int ndim, const int64_t *shape, const float *data);
msf_status msf_h5_write_i64(msf_h5_writer *w, const char *name, int ndim, const int64_t *shape, const int64_t *data);
// Attributes on the object at `obj` (NULL or "" = root; a group is created if needed).
msf_status msf_h5_attr_int(msf_h5_writer *w, const char *obj, const char *name, int64_t value);
msf_status msf_h5_attr_double(msf_h5_writer *w, const char *obj, const char *name, double value);
msf_status msf_h5_attr_string(msf_h5_writer *w, const char *obj, const char *name, const char *value);
// Close and rename into place; the writer is freed either way.
msf_status msf_h5_commit(msf_h5_writer *w);
// Write the temporary file completely but leave it unrenamed: *st names it
// for msf_staged_publish / msf_staged_discard (outfile.h), which publish
// several files together. The writer is freed either way; on error the
// temporary file is removed.
msf_status msf_h5_finish(msf_h5_writer *w, msf_staged_file *st);
// Close and delete the temporary file; the writer is freed. NULL is a no-op.
void msf_h5_abort(msf_h5_writer *w);

// Process exit (bin/msf's main): msf_h5_dont_atexit first of all (before any
// other HDF5 call), msf_h5_shutdown last. HDF5 then closes down from
// msf_h5_shutdown instead of its own exit handler, and only if no file close
// ever failed in this process: after a failed H5Fclose, HDF5 1.10 keeps an id
// to freed memory, and closing the library would touch it (SIGSEGV at exit);
// the process ends instead with that id untouched.
void msf_h5_dont_atexit(void);
void msf_h5_shutdown(void);

#endif
