// spectrum_report.h: the frequency report of MSF's factorisation on a set of
// images or latents, as `msf spectrum` writes it and `msf run` writes it for
// a point with `spectrum:`. It reads the input (and a reference), analyses
// both (eval/freq_analysis.h: radial power spectra, band energies and wavelet
// subband energies of z, U(base) and the residual) and writes to a folder:
//   spectrum.csv, bands.csv, wavelet.csv, spectrum.h5   the data: each file is
//       written whole under a temporary name, then all four are renamed into
//       place together (io/outfile.h), so they appear together or not at all
//   plots.gp (atomically, io/textfile.h) and, through the gnuplot launcher
//       (io/gnuplot.h), spectrum.png, bands.png, wavelet.png and, with a
//       reference, bands_vs_reference.png
// Any failure returns a status whose message names the file; a folder the
// call created is removed again when nothing was written in it.
#ifndef MSF_EVAL_SPECTRUM_REPORT_H
#define MSF_EVAL_SPECTRUM_REPORT_H

#include <stddef.h>
#include <stdint.h>

#include "core/progress.h"
#include "core/status.h"
#include "eval/freq_analysis.h"
#include "io/idx.h"

typedef struct {
    // IDX images (.gz or plain), a folder of *.png, an .npz batch (arr_0 uint8
    // [N, H, W, C]) or HDF5 latents [N, C, H, W]: told apart by content.
    const char *input;
    const char *reference;  // the same kinds, or NULL: no comparison
    const char *out_dir;    // created when missing
    const char *title;      // the data set's name in the plot titles; NULL: input's file name
    const char *command;    // the command line recorded in spectrum.h5 and plots.gp
    const char *cuts;       // freq.spectrum's band cuts as the user wrote them (recorded)
    const char *dataset;    // HDF5 dataset
    const char *array;      // .npz array
    int64_t max;            // the first `max` images of each input; 0: all
    int pad_to;             // IDX images padded to pad_to x pad_to; 0: as they are
    msf_byte_range range;   // 8-bit inputs: [0, 1] or [-1, 1]
    msf_freq_opts freq;
    int plots;  // run gnuplot on plots.gp (without gnuplot: a warning)
} msf_spectrum_report_opts;

// The kind of an input, told apart by content as the report reads it: "idx",
// "png-folder", "npz" or "hdf5" (a static string); MSF_ERR_IO when it cannot
// be opened, MSF_ERR_FORMAT when it is none of them.
msf_status msf_spectrum_input_kind(const char *path, const char **kind);

// `msf spectrum`'s defaults: dataset "latents", array "arr_0", pad_to 32,
// range unit, msf_freq_defaults() with cuts "1/3,2/3", plots on.
msf_spectrum_report_opts msf_spectrum_report_defaults(void);

// What a report found, for a summary: band energies per image, means over
// channels (series z, U(base), residual: msf_freq_series), and the cross
// term E(z) - E(base) - E(residual) per band and over all frequencies.
typedef struct {
    double band[MSF_SERIES_COUNT][MSF_SPECTRUM_MAX_BANDS], energy[MSF_SERIES_COUNT];
    double cross_band[MSF_SPECTRUM_MAX_BANDS], cross_energy;
} msf_spectrum_energies;

typedef struct {
    const char *kind;  // of the input: "idx", "png-folder", "npz", "hdf5"
    int64_t images;    // analysed (of the input; the reference's may differ)
    int c, h, w;
    char factor[128];  // the factorisation, formatted (nn_pyramid_opts_format)
    int bands;
    double band_edge[MSF_SPECTRUM_MAX_BANDS + 1];  // cycles/pixel
    msf_spectrum_energies input, reference;        // reference: when has_reference
    int has_reference;
} msf_spectrum_report;

// Write the report of o->input (and o->reference) to o->out_dir; progress
// reports the analysis ("spectrum", "reference"). *r is filled on success.
msf_status msf_spectrum_report_write(msf_spectrum_report *r, const msf_spectrum_report_opts *o,
                                     const msf_progress *progress);

// "msf ARG ..." in dst, an argument holding anything but letters, digits and
// -_=,./:+@% in single quotes (a quote in it as '\''), so a recorded command
// can be pasted into a shell and rerun; cut to fit `size`.
void msf_spectrum_command_line(char *dst, size_t size, int argc, const char *const *argv);

#endif
