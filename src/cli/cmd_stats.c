// cmd_stats.c: `msf stats INPUT --out S.npz` writes FID statistics (mu,
// sigma and, with Inception, mu_s, sigma_s for sFID) as float64 arrays in an
// np.savez_compressed-style .npz that numpy, pytorch-fid and `msf evaluate`
// read.
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/eval_opts.h"

const char cmd_stats_usage[] =
    "usage: msf stats INPUT [--net W.h5] [--resize adm|pytorch|clean] [--batch 50] --out S.npz\n\n"
    "FID statistics of INPUT: mu [d] and sigma [d, d] (mean and covariance with\n"
    "ddof 1, float64) of the pool features, and mu_s, sigma_s of the spatial\n"
    "features when the network has them (Inception: sFID). INPUT is images (an\n"
    ".npz batch, a PNG folder, an IDX file, `msf sample` output; --net needed), a features\n"
    "file from `msf features`, or an .npz with stored statistics (copied).\n\n" CLI_EVAL_OPTS_USAGE
    "  --out S.npz        the statistics file (written atomically)\n\n"
    "Exit status: 0 on success, 1 on a bad input file, 2 on a usage error.\n";

int cmd_stats(int argc, char **argv) {
    cli_eval_opts eo;
    cli_eval_opts_init(&eo);
    const char *input = NULL, *out = NULL;
    for (int i = 1; i < argc; i++) {
        int r = cli_eval_opts_parse(&eo, "stats", argc, argv, &i);
        if (r < 0) return 2;
        if (r) continue;
        if (!strcmp(argv[i], "--out") && i + 1 < argc) out = argv[++i];
        else if (argv[i][0] != '-' && !input) input = argv[i];
        else {
            fprintf(stderr, "msf stats: unexpected argument '%s'\n%s", argv[i], cmd_stats_usage);
            return 2;
        }
    }
    if (!input || !out) {
        fprintf(stderr, "msf stats: INPUT and --out are required\n%s", cmd_stats_usage);
        return 2;
    }
    // Every file named, before the network is loaded and any feature computed.
    if (!cli_input_ok(input, "input") || !cli_output_ok(out, "statistics file")) return cli_fail("stats");
    msf_eval_input_kind kind;
    int r = cli_eval_check_inputs(&eo, "stats", &input, 1, &kind);
    if (r) return r;
    if (kind == MSF_INPUT_IMAGES_STATS && eo.given) {  // the stored statistics win, as in ADM's evaluator
        fprintf(stderr, "msf stats: %s has no effect: %s holds statistics (mu, sigma), which are copied\n", eo.given,
                input);
        return 2;
    }
    msf_featnet *net;
    if (cli_eval_load_net(&eo, "stats", &net)) return 1;
    cli_progress_bar bar;
    cli_progress_bar_init(&bar, stderr);
    msf_progress prog = cli_progress_bar_callback(&bar);
    msf_eval_input in;
    msf_status s = msf_eval_input_load(&in, input, net, eo.mode, eo.batch, &prog);
    msf_featnet_free(net);
    if (!s) {
        s = msf_ref_stats_write_npz(out, &in.stats);
        if (!s)
            printf("%s: mu/sigma of dim %d%s\n", out, in.stats.pool.dim, in.stats.spatial.dim ? ", mu_s/sigma_s" : "");
        msf_eval_input_free(&in);
    }
    return s ? cli_fail("stats") : 0;
}
