// msf.c: entry point of bin/msf, a git-style dispatcher over subcommands.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "core/dist.h"
#include "core/status.h"
#include "core/version.h"
#include "nn/linear_bf16.h"
#include "io/h5write.h"

int cmd_info(int argc, char **argv);
int cmd_forward(int argc, char **argv);
int cmd_sample(int argc, char **argv);
int cmd_flops(int argc, char **argv);
extern const char cmd_info_usage[], cmd_forward_usage[], cmd_sample_usage[], cmd_flops_usage[];
int cmd_spectrum(int argc, char **argv);
extern const char cmd_spectrum_usage[];
int cmd_decode(int argc, char **argv);
int cmd_encode(int argc, char **argv);
extern const char cmd_decode_usage[], cmd_encode_usage[];
int cmd_features(int argc, char **argv);
int cmd_stats(int argc, char **argv);
int cmd_evaluate(int argc, char **argv);
extern const char cmd_features_usage[], cmd_stats_usage[], cmd_evaluate_usage[];
int cmd_run(int argc, char **argv);
int cmd_report(int argc, char **argv);
extern const char cmd_run_usage[], cmd_report_usage[];

static const cli_command commands[] = {
    {"info", "show a weight file's config attributes and tensors", cmd_info_usage, cmd_info},
    {"forward", "one network forward pass on the tensors of an HDF5 file", cmd_forward_usage, cmd_forward},
    {"sample", "sample latents from a class-conditional DiT or MSF model", cmd_sample_usage, cmd_sample},
    {"flops", "GFLOPs of a DiT or MSF forward pass and of a sampling run", cmd_flops_usage, cmd_flops},
    {"spectrum", "FFT and wavelet spectra of z, base and residual, with plots", cmd_spectrum_usage, cmd_spectrum},
    {"decode", "decode latents to images with the SD VAE (ADM .npz, PNGs)", cmd_decode_usage, cmd_decode},
    {"encode", "encode images (.npz or PNG folder) to SD VAE latents", cmd_encode_usage, cmd_encode},
    {"features", "Inception / classifier features of images, to an HDF5 file", cmd_features_usage, cmd_features},
    {"stats", "FID statistics (mu, sigma) of images or features, to an .npz", cmd_stats_usage, cmd_stats},
    {"evaluate", "FID, sFID, IS, precision/recall (ADM's evaluator), KID", cmd_evaluate_usage, cmd_evaluate},
    {"run", "run an experiment file: sample, decode, metrics, spectra, results/", cmd_run_usage, cmd_run},
    {"report", "paper/REPRODUCTION.md: reported vs reproduced numbers from results/", cmd_report_usage, cmd_report},
};
static const int n_commands = (int)(sizeof commands / sizeof commands[0]);

char *openblas_get_config(void);

static msf_log_level log_threshold = MSF_LOG_INFO;
static char rank_prefix[32];  // "rank R of N: " for the ranks other than 0 of an MPI job

static void log_to_stderr(void *user, msf_log_level level, const char *message) {
    static const char *names[] = {"debug", "info", "warning", "error"};
    _Static_assert(MSF_COUNT(names) == MSF_LOG_ERROR + 1, "a name per msf_log_level");
    if (level < log_threshold) return;
    fprintf(stderr, "msf: %s%s: %s\n", rank_prefix, names[level], message);
}

void cli_set_rank(int rank, int size) {
    if (rank == 0) return;
    snprintf(rank_prefix, sizeof rank_prefix, "rank %d of %d: ", rank, size);
    if (log_threshold < MSF_LOG_WARN) log_threshold = MSF_LOG_WARN;
    cli_progress_setting = CLI_PROGRESS_NEVER;
    if (!freopen("/dev/null", "w", stdout)) log_threshold = MSF_LOG_ERROR;
}

static void print_help(FILE *out) {
    fprintf(out,
            "usage: msf [--quiet | --verbose] [--progress] <command> [options]\n"
            "       msf <command> --help\n\n"
            "MSF (multi-scale latent factorisation) and DiT diffusion harness.\n\ncommands:\n");
    for (int i = 0; i < n_commands; i++) fprintf(out, "  %-10s %s\n", commands[i].name, commands[i].summary);
    fprintf(out,
            "\noptions (also accepted after the command):\n"
            "  --quiet     only warnings and errors: no info lines, no progress bar\n"
            "  --verbose   debug messages too\n"
            "  --progress  progress lines even when stderr is not a terminal (a log file)\n"
            "  --version   print the version and build commit\n");
}

int cli_wants_help(int argc, char **argv) {
    for (int i = 1; i < argc; i++)
        if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) return 1;
    return 0;
}

int cli_fail(const char *command) {
    fprintf(stderr, "msf %s: %s%s\n", command, rank_prefix, msf_error_message());
    return 1;
}

// The output options every command accepts, before or after its name: 1 if
// `arg` is one (and applied).
static int output_option(const char *arg) {
    if (!strcmp(arg, "--quiet") || !strcmp(arg, "-q")) {
        log_threshold = MSF_LOG_WARN;
        cli_progress_setting = CLI_PROGRESS_NEVER;
    } else if (!strcmp(arg, "--verbose") || !strcmp(arg, "-v")) {
        log_threshold = MSF_LOG_DEBUG;
    } else if (!strcmp(arg, "--progress")) {
        if (cli_progress_setting != CLI_PROGRESS_NEVER) cli_progress_setting = CLI_PROGRESS_ALWAYS;
    } else {
        return 0;
    }
    return 1;
}

static int dispatch(int argc, char **argv) {
    int i = 1;
    for (; i < argc && argv[i][0] == '-'; i++) {
        if (output_option(argv[i])) continue;
        else if (!strcmp(argv[i], "--version")) {
            printf("msf %s (commit %s)\nOpenBLAS: %s\nMPI: %s\n", msf_version(), msf_git_commit(),
                   openblas_get_config(), msf_dist_built_with_mpi() ? "yes (msf run under mpirun/srun)" : "no");
            if (nn_bf16_available()) printf("bf16: yes (oneDNN %s)\n", nn_bf16_library());
            else printf("bf16: no (built without oneDNN)\n");
            return 0;
        } else if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            print_help(stdout);
            return 0;
        } else {
            fprintf(stderr, "msf: unknown option '%s'\n\n", argv[i]);
            print_help(stderr);
            return 2;
        }
    }
    if (i >= argc) {
        print_help(stderr);
        return 2;
    }
    const char *name = argv[i];
    if (!strcmp(name, "help")) {
        if (i + 1 >= argc) {
            print_help(stdout);
            return 0;
        }
        name = argv[i + 1];
        for (int c = 0; c < n_commands; c++)
            if (!strcmp(commands[c].name, name)) {
                fputs(commands[c].usage, stdout);
                return 0;
            }
        fprintf(stderr, "msf: no such command '%s'\n", name);
        return 2;
    }
    // After the command's name: --quiet, --verbose and --progress (long forms)
    // are taken out before the command parses its own options.
    int kept = i + 1;
    for (int k = i + 1; k < argc; k++) {
        if (!strcmp(argv[k], "--")) {
            while (k < argc) argv[kept++] = argv[k++];
            break;
        }
        if (argv[k][0] == '-' && argv[k][1] == '-' && output_option(argv[k])) continue;
        argv[kept++] = argv[k];
    }
    argc = kept;
    argv[argc] = NULL;
    for (int c = 0; c < n_commands; c++) {
        if (strcmp(commands[c].name, name)) continue;
        if (cli_wants_help(argc - i, argv + i)) {
            fputs(commands[c].usage, stdout);
            return 0;
        }
        return commands[c].run(argc - i, argv + i);
    }
    fprintf(stderr, "msf: no such command '%s' (see msf --help)\n", name);
    return 2;
}

int main(int argc, char **argv) {
    // HDF5 is shut down here rather than by its own exit handler, and not at
    // all after a failed file close (see msf_h5_shutdown in io/h5write.h).
    msf_h5_dont_atexit();
    cli_select_blas_kernel(argv);
    msf_set_log_callback(log_to_stderr, NULL);
    int rc = dispatch(argc, argv);
    msf_h5_shutdown();
    return rc;
}
