// cmd_spectrum.c: `msf spectrum`, frequency diagnostics of MSF's
// factorisation: the options of a spectrum report (eval/spectrum_report.h:
// radial power spectra, band energies and wavelet subband energies of z,
// U(base) and the residual, written as CSV and HDF5 and plotted with gnuplot)
// and its summary table.
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "eval/spectrum_report.h"

const char cmd_spectrum_usage[] =
    "usage: msf spectrum INPUT --out DIR [options]\n\n"
    "Where the energy of z goes under MSF's factorisation: radially averaged\n"
    "power spectra (FFT), energies in radial frequency bands and wavelet\n"
    "subband energies of z, U(base) (the base brought back to full size) and\n"
    "the residual z - U(base), and the share of each band's energy that base\n"
    "and residual carry (the rest is the cross term 2<U(base), residual>).\n"
    "Statistics are per image and channel, averaged over images and channels.\n\n"
    "INPUT, told apart by content:\n"
    "  IDX images (.gz or plain)  Fashion-MNIST / MNIST, e.g.\n"
    "                      /usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz\n"
    "  a folder            every *.png in it (gray or RGB)\n"
    "  .npz                an ADM-style batch: arr_0 uint8 [N, H, W, C]\n"
    "  HDF5                latents from `msf sample` / `msf encode`: [N, C, H, W]\n\n"
    "  --out DIR           output folder (created if missing; required)\n"
    "  --factorize SPEC    factorisation, e.g. s=2,down=area,up=nearest,levels=2\n"
    "                      (default s=2,levels=2,down=area,up=bilinear)\n"
    "  --reference REF     real data to compare INPUT (e.g. generated samples)\n"
    "                      with: its series are added as ref_*, and bands.csv\n"
    "                      gets the energy ratios INPUT / REF per band\n"
    "  --dataset NAME      HDF5 dataset (default latents)\n"
    "  --array NAME        .npz array (default arr_0)\n"
    "  --max N             use the first N images of each input (default all)\n"
    "  --pad-to N          IDX images: pad to N x N with background (default 32,\n"
    "                      so 28x28 Fashion-MNIST becomes 32x32); 0 keeps them\n"
    "  --range unit|signed 8-bit inputs: p/255 in [0,1] (default) or p/127.5-1\n"
    "  --window none|hann  window before the FFT (default none); see below\n"
    "  --spacing linear|log  radial bins (default linear: one DFT step wide)\n"
    "  --bins N            radial bins including DC (default: by spacing)\n"
    "  --cuts LIST         band edges as fractions of the Nyquist radius\n"
    "                      (default 1/3,2/3: low, mid, high)\n"
    "  --wavelet W         haar, db2, db4, sym4 (default db2)\n"
    "  --wavelet-mode M    periodization or symmetric (default periodization)\n"
    "  --levels N          wavelet levels (default 3)\n"
    "  --title TEXT        data set name for the plot titles (default: INPUT's file name)\n"
    "  (--dataset, --array, --pad-to and --range apply to one kind of input: given\n"
    "  when neither INPUT nor REF is of that kind, they are an error)\n"
    "  --no-plots          write the data files only\n\n"
    "Writes to DIR: spectrum.csv (radius in cycles/pixel, then the power of\n"
    "each series), bands.csv (per band: energies, shares of z's energy, and\n"
    "with --reference the ratios), wavelet.csv (level, subband, series,\n"
    "energy), spectrum.h5 (per-channel arrays and the full configuration),\n"
    "plots.gp and its PNGs spectrum.png, bands.png, wavelet.png (and\n"
    "bands_vs_reference.png). Without gnuplot (package gnuplot-nox) the plots\n"
    "are skipped with a warning; rerun them with `cd DIR && gnuplot plots.gp`.\n"
    "Power is |DFT|^2 / (H W), so summed over all frequencies it equals the\n"
    "sum of squares (Parseval; see eval/spectrum.h).\n"
    "With --window hann (periodic Hann, scaled to unit mean square) the spectra\n"
    "and every band energy are those of the windowed image w x, and the 'all'\n"
    "row of bands.csv and the table is E(w x), what the bands add up to: each\n"
    "*_fraction column of bands.csv sums to 1. E(w x) estimates E(x) for\n"
    "stationary data; for an object centred in the frame (Fashion-MNIST) it is\n"
    "larger, for energy near the borders smaller. The wavelet energies and\n"
    "spectrum.h5's `energy` are of the unwindowed images (spectrum.h5's\n"
    "`spectrum_energy` is E(w x)).\n\n"
    "Exit status: 0 on success, 1 on bad input or a failed write, 2 on a usage error.\n";

// -----------------------------------------------------------------------------

static double ratio(double a, double b) { return b != 0 ? a / b : NAN; }

void cli_spectrum_print(const msf_spectrum_report *r) {
    const msf_spectrum_energies *m = &r->input, *ref = r->has_reference ? &r->reference : NULL;
    printf("%-6s %-17s %12s %10s %10s %10s%s\n", "band", "r (cycles/px)", "E(z)", "U(base)", "residual", "cross",
           ref ? "   z/ref  residual/ref" : "");
    for (int b = 0; b <= r->bands; b++) {
        int all = b == r->bands;
        char name[32];
        if (all) snprintf(name, sizeof name, "all");
        else msf_spectrum_band_name(name, sizeof name, b, r->bands);
        double ez = all ? m->energy[0] : m->band[0][b], eb = all ? m->energy[1] : m->band[1][b];
        double er = all ? m->energy[2] : m->band[2][b], ec = all ? m->cross_energy : m->cross_band[b];
        printf("%-6s %.4f - %.4f   %12.6g %9.2f%% %9.2f%% %9.2f%%", name, all ? 0 : r->band_edge[b],
               r->band_edge[all ? r->bands : b + 1], ez, 100 * ratio(eb, ez), 100 * ratio(er, ez), 100 * ratio(ec, ez));
        if (ref) {
            double rz = all ? ref->energy[0] : ref->band[0][b], rr = all ? ref->energy[2] : ref->band[2][b];
            printf("   %5.3f  %5.3f", ratio(ez, rz), ratio(er, rr));
        }
        putchar('\n');
    }
}

int cmd_spectrum(int argc, char **argv) {
    msf_spectrum_report_opts o = msf_spectrum_report_defaults();
    const char *factor_text = NULL, *window = "none", *spacing = "linear", *wavelet = "db2", *wmode = "periodization";
    const char *range = "unit";
    long max = 0, pad = 32, bins = 0, levels = 3;
    unsigned only_given = 0;  // bit k: option k of only_for below was given
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (a[0] != '-' || !a[1]) {
            if (o.input) {
                fprintf(stderr, "msf spectrum: more than one INPUT ('%s' and '%s')\n\n%s", o.input, a,
                        cmd_spectrum_usage);
                return 2;
            }
            o.input = a;
            continue;
        }
        if (!strcmp(a, "--no-plots")) {
            o.plots = 0;
            continue;
        }
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!v) {
            cli_missing_value("spectrum", a, cmd_spectrum_usage);
            return 2;
        }
        int ok = 1;
        if (!strcmp(a, "--out")) o.out_dir = v;
        else if (!strcmp(a, "--factorize")) factor_text = v;
        else if (!strcmp(a, "--reference")) o.reference = v;
        else if (!strcmp(a, "--dataset")) o.dataset = v, only_given |= 1;
        else if (!strcmp(a, "--array")) o.array = v, only_given |= 2;
        else if (!strcmp(a, "--title")) o.title = v;
        else if (!strcmp(a, "--window")) window = v;
        else if (!strcmp(a, "--spacing")) spacing = v;
        else if (!strcmp(a, "--cuts")) o.cuts = v;
        else if (!strcmp(a, "--wavelet")) wavelet = v;
        else if (!strcmp(a, "--wavelet-mode")) wmode = v;
        else if (!strcmp(a, "--range")) range = v, only_given |= 8;
        else if (!strcmp(a, "--max")) ok = cli_parse_long("spectrum", a, v, 0, 1L << 40, &max);
        else if (!strcmp(a, "--pad-to")) ok = cli_parse_long("spectrum", a, v, 0, 65536, &pad), only_given |= 4;
        else if (!strcmp(a, "--bins")) ok = cli_parse_long("spectrum", a, v, 0, 100000, &bins);
        else if (!strcmp(a, "--levels")) ok = cli_parse_long("spectrum", a, v, 1, MSF_WAVEDEC2_MAX_LEVELS, &levels);
        else {
            fprintf(stderr, "msf spectrum: unknown option '%s'\n\n%s", a, cmd_spectrum_usage);
            return 2;
        }
        if (!ok) return 2;
        i++;
    }
    if (!o.input || !o.out_dir) {
        fputs(cmd_spectrum_usage, stderr);
        return 2;
    }
    if (strlen(o.out_dir) > 4000) {
        fprintf(stderr, "msf spectrum: --out path longer than 4000 characters\n");
        return 2;
    }
    msf_freq_opts *fo = &o.freq;
    fo->spectrum.bins = (int)bins;
    fo->wavelet_levels = (int)levels;
    o.max = max, o.pad_to = (int)pad;
    if ((factor_text && nn_pyramid_opts_parse(&fo->factor, factor_text)) ||
        msf_window_parse(window, &fo->spectrum.window) || msf_radial_spacing_parse(spacing, &fo->spectrum.spacing) ||
        msf_spectrum_cuts_parse(&fo->spectrum, o.cuts) || msf_wavelet_parse(wavelet, &fo->wavelet) ||
        msf_wavelet_mode_parse(wmode, &fo->wavelet_mode) || msf_byte_range_parse(range, &o.range)) {
        fprintf(stderr, "msf spectrum: %s\n", msf_error_message());
        return 2;
    }
    if (bins == 1 || (bins == 2 && fo->spectrum.spacing == MSF_RADIAL_LOG)) {
        fprintf(stderr, "msf spectrum: --bins expects 0 (default) or at least %d\n",
                fo->spectrum.spacing == MSF_RADIAL_LOG ? 3 : 2);
        return 2;
    }
    // Every file named, before any input is read.
    if (!cli_input_ok(o.input, "input") || (o.reference && !cli_input_ok(o.reference, "reference")) ||
        !cli_output_dir_ok(o.out_dir, "output folder"))
        return cli_fail("spectrum");
    // An option for a kind of input that neither INPUT nor REF is does nothing: an error.
    const char *kinds[2] = {NULL, NULL};
    if (msf_spectrum_input_kind(o.input, &kinds[0]) || (o.reference && msf_spectrum_input_kind(o.reference, &kinds[1])))
        return cli_fail("spectrum");
    // In the order of only_given's bits.
    static const struct {
        const char *option, *kinds, *what;
    } only_for[] = {
        {"--dataset", "hdf5", "HDF5 latents"},
        {"--array", "npz", ".npz batches"},
        {"--pad-to", "idx", "IDX images"},
        {"--range", "idx npz png-folder", "8-bit images (IDX, .npz, PNG)"},
    };
    for (size_t k = 0; k < sizeof only_for / sizeof only_for[0]; k++) {
        int given = (only_given >> k) & 1;
        if (!given || strstr(only_for[k].kinds, kinds[0]) || (kinds[1] && strstr(only_for[k].kinds, kinds[1])))
            continue;
        if (kinds[1])
            fprintf(stderr, "msf spectrum: %s applies to %s; %s is %s and %s is %s: leave it out\n", only_for[k].option,
                    only_for[k].what, o.input, kinds[0], o.reference, kinds[1]);
        else
            fprintf(stderr, "msf spectrum: %s applies to %s; %s is %s: leave it out\n", only_for[k].option,
                    only_for[k].what, o.input, kinds[0]);
        return 2;
    }
    char command[2048];
    msf_spectrum_command_line(command, sizeof command, argc, (const char *const *)argv);
    o.command = command;

    cli_progress_bar bar;
    cli_progress_bar_init(&bar, stderr);
    msf_progress progress = cli_progress_bar_callback(&bar);
    msf_spectrum_report r;
    if (msf_spectrum_report_write(&r, &o, &progress)) return cli_fail("spectrum");
    printf("msf spectrum: %lld images %dx%dx%d from %s (%s), factorisation %s\n", (long long)r.images, r.c, r.h, r.w,
           o.input, r.kind, r.factor);
    cli_spectrum_print(&r);
    printf("wrote %s/{spectrum.csv,bands.csv,wavelet.csv,spectrum.h5,plots.gp%s}\n", o.out_dir,
           o.plots ? o.reference ? ",spectrum.png,bands.png,wavelet.png,bands_vs_reference.png"
                                 : ",spectrum.png,bands.png,wavelet.png"
                   : "");
    return 0;
}
