// cli.h: pieces shared by the subcommands of bin/msf.
#ifndef MSF_CLI_H
#define MSF_CLI_H

#include <stdint.h>
#include <stdio.h>

#include "nn/linear_bf16.h"
#include "core/progress.h"
#include "eval/spectrum_report.h"

// A subcommand: `msf NAME ...` calls run(argc, argv) with argv[0] = NAME.
typedef struct {
    const char *name;
    const char *summary;  // one line for `msf --help`
    const char *usage;    // full text for `msf NAME --help`
    int (*run)(int argc, char **argv);
} cli_command;

// Re-execute once with OPENBLAS_CORETYPE set when OpenBLAS fell back to a
// generic kernel on a CPU with AVX2 / AVX-512 (see blas_select.c). Call first
// thing in main(); returns when nothing needs doing.
void cli_select_blas_kernel(char **argv);

// True if argv holds -h or --help.
int cli_wants_help(int argc, char **argv);

// Print "msf NAME: <message of the last library error>" to stderr; returns 1
// (the exit status for a failed command).
int cli_fail(const char *command);

// Numeric option values: on a malformed or out-of-range value print
// "msf CMD: OPTION expects ..." and return 0.
int cli_parse_long(const char *cmd, const char *opt, const char *text, long min, long max, long *out);
// An option at the end of the command line without its value: "msf CMD:
// unknown option 'X'" when the command's usage text does not list X, else
// "X needs a value"; then the usage, on stderr.
void cli_missing_value(const char *cmd, const char *opt, const char *usage);
// Before the expensive part of a command: an output file's folder exists
// and is writable, an input file is readable. 0 with the message set
// (msf_fail) otherwise, naming the file and what it is (`what`).
int cli_output_ok(const char *path, const char *what);
// A rank of an MPI job (msf run): the ranks other than 0 print nothing on
// stdout, no info lines and no progress; their warnings and errors begin
// "rank R of N: ". Rank 0 (and a process without MPI) is unchanged.
void cli_set_rank(int rank, int size);
int cli_input_ok(const char *path, const char *what);
// An output folder: one that exists must be a writable folder; one that does
// not must have a writable parent folder (it is created later).
int cli_output_dir_ok(const char *path, const char *what);
int cli_parse_u64(const char *cmd, const char *opt, const char *text, unsigned long long *out);
int cli_parse_double(const char *cmd, const char *opt, const char *text, double *out);

// Decode latents (N, C, h, w) with the VAE weights `vae` (group may be NULL)
// to an ADM .npz batch (arr_0 uint8 [N, H, W, 3]) at `out`, and optionally a
// PNG folder and a PNG grid. Prints errors as `msf decode: ...`; returns the
// exit status.
// With a grid and labels, the grid's legend (msf_png_grid_legend_path: each
// image's class index, row by row) is written beside it.
typedef struct {
    const char *vae, *group, *out, *png_dir, *grid;
    int grid_cols;           // 0: about sqrt(N)
    const char *source;      // what the latents are, for messages ("dataset 'latents' of x.h5"); NULL: "latents"
    const int64_t *labels;   // [N] class labels of the latents, or NULL
    nn_precision precision;  // of the decoder's convolutions (vae_set_precision); 0 = fp32
} cli_decode_opts;
int cli_decode_latents(const cli_decode_opts *o, const float *latents, int64_t N, int C, int h, int w);
// The same for dataset `dataset` of the HDF5 file `in` (labels: its dataset
// `labels` [N], as `msf sample` writes it, when there is one).
int cli_decode_file(const char *in, const char *dataset, const cli_decode_opts *o);

// The band table of a spectrum report on stdout: per band its energy of z and
// the shares of U(base), the residual and the cross term (and the ratios to
// the reference). `msf spectrum` and `msf run` print it.
void cli_spectrum_print(const msf_spectrum_report *r);

// Progress bar on stderr: redrawn in place with items/s and ETA when stderr is
// a terminal; not drawn otherwise, unless --progress asked for it (then one
// line every few seconds and one at the end); never with --quiet.
typedef enum { CLI_PROGRESS_AUTO = 0, CLI_PROGRESS_ALWAYS = 1, CLI_PROGRESS_NEVER = -1 } cli_progress_mode;
extern cli_progress_mode cli_progress_setting;  // set from msf's global options

typedef struct {
    FILE *out;
    int is_tty;
    int enabled;
    double interval;     // seconds between lines when not a terminal
    double start, last;  // times of the task's start and of the last line
    char label[64];
} cli_progress_bar;

void cli_progress_bar_init(cli_progress_bar *bar, FILE *out);
// An msf_progress that reports to `bar`.
msf_progress cli_progress_bar_callback(cli_progress_bar *bar);
// The line the bar shows for `done` of `total` items after `elapsed` seconds
// (no newline): "label  42/100 [#####.....]  3.5 it/s  ETA 0:17".
void cli_progress_format(char *buf, size_t size, const char *label, int64_t done, int64_t total, double elapsed,
                         int width);

#endif
