// gnuplot.h: gnuplot scripts that text from a user, a file name or a config
// cannot break out of, and the one way msf runs gnuplot on them.
//
// gnuplot substitutes `command` (backquotes) anywhere on a line except inside
// a single-quoted string, expands @macros outside quoted strings only, and
// ends a command at a newline (a line ending in a backslash continues, even a
// comment). Inside a single-quoted string every byte is literal (backslashes
// too) but the quote, which ends it. Such text therefore reaches a script
// only as an msf_gp_quote string (titles, labels, key entries, file names),
// or through msf_gp_comment / msf_gp_inert (comments, data-file headers),
// never inside double quotes or bare.
//
// Outputs are written atomically: a script names each output with
// msf_gp_set_output ("set output 'NAME'.suffix"); msf_gp_run sets suffix to
// ".tmp-PID", checks every such file once gnuplot is done (complete PNG,
// non-empty file) and only then renames it to NAME. Run by hand (gnuplot
// FILE), the script writes NAME directly.
#ifndef MSF_IO_GNUPLOT_H
#define MSF_IO_GNUPLOT_H

#include <stddef.h>
#include <stdio.h>

#include "core/status.h"

// src as a complete gnuplot string in dst: a single-quoted literal '...' in
// which each quote of src is written as '."'".' (close, join a double-quoted
// quote, reopen; gnuplot 5.4 misreads the doubled quote '' at the start of a
// literal or twice in a row), control characters (newline, CR, tab, DEL, ...)
// are replaced by spaces, cut at a UTF-8 character boundary to fit `size`
// (the closing quote is always written; size >= 3, else dst gets ""). Usable
// wherever gnuplot takes a string expression: titles, key entries, set
// output, print, array values, tic labels. Returns dst.
const char *msf_gp_quote(char *dst, size_t size, const char *src);

// src with control characters replaced by spaces (cut to fit `size`), for
// comments and data-file headers, which end at a newline. Returns dst.
const char *msf_gp_inert(char *dst, size_t size, const char *src);

// "# TEXT\n" with TEXT made inert and not ending in a backslash (which would
// make the next line part of the comment).
void msf_gp_comment(FILE *f, const char *text);

// The line a script starts with: suffix is '' unless msf_gp_run sets it.
void msf_gp_prologue(FILE *f);

// "set output 'NAME'.suffix\n" (NAME as msf_gp_quote writes it): the outputs
// msf_gp_run checks and moves into place.
void msf_gp_set_output(FILE *f, const char *name);

// Run gnuplot (MSF_GNUPLOT if set, else gnuplot on PATH; fork and exec, no
// shell) on `script` in folder `dir`, with stderr going to dir/log_name when
// log_name is not NULL. Without gnuplot, sets *missing and returns MSF_OK
// (the caller warns). Otherwise MSF_ERR_IO unless gnuplot exits with status 0
// and every output the script sets (msf_gp_set_output) is complete: a
// non-empty file, a PNG up to its IEND chunk for NAME.png; the message names
// the file, and says so when the file system is full. On failure no partial
// output is left (earlier files under the final names stay as they were);
// on success each output is renamed into place.
msf_status msf_gp_run(const char *dir, const char *script, const char *log_name, int *missing);

// The plots of a folder: msf_gp_run, and without gnuplot a warning through
// msf_log naming the folder and how to make the plots later (the caller's
// other files stay useful). Used for every plot msf makes.
msf_status msf_gp_plot(const char *dir, const char *script, const char *log_name);

#endif
