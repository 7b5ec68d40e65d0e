// cmd_features.c: `msf features INPUT --net W.h5 --out F.h5` computes the
// feature network's pool, spatial and logit features of an image input and
// writes them to an HDF5 features file; also the options shared with
// `msf stats` and `msf evaluate` (eval_opts.h).
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/eval_opts.h"

const char cmd_features_usage[] =
    "usage: msf features INPUT --net W.h5 [--resize adm|pytorch|clean] [--batch 50] --out F.h5\n\n"
    "Feature vectors of every image of INPUT (an .npz batch with arr_0 uint8\n"
    "[N, H, W, C], a PNG folder, an IDX images file such as Fashion-MNIST's\n"
    "t10k-images-idx3-ubyte.gz (labels from the labels file beside it), or\n"
    "`msf sample` output X.h5 with its X.npz images) as the feature network\n"
    "computes them: datasets pool_3 [N, pool],\n"
    "spatial [N, 2023] (Inception) and logits [N, classes], plus labels when the\n"
    "input has them. `msf evaluate` and `msf stats` take the file as input.\n\n" CLI_EVAL_OPTS_USAGE
    "  --out F.h5         the features file (written atomically)\n\n"
    "Exit status: 0 on success, 1 on a bad input file, 2 on a usage error.\n";

void cli_eval_opts_init(cli_eval_opts *o) {
    o->net = NULL;
    o->mode = MSF_RESIZE_ADM;
    o->batch = 50;
    o->precision = NN_FP32;
    o->given = NULL;
}

int cli_eval_opts_parse(cli_eval_opts *o, const char *cmd, int argc, char **argv, int *i) {
    const char *a = argv[*i];
    int is_net = !strcmp(a, "--net") || !strcmp(a, "--inception");
    if (!is_net && strcmp(a, "--resize") && strcmp(a, "--batch") && strcmp(a, "--precision")) return 0;
    if (*i + 1 >= argc) {
        fprintf(stderr, "msf %s: %s needs a value\n", cmd, a);
        return -1;
    }
    const char *v = argv[++*i];
    if (!o->given) o->given = a;
    if (is_net) {
        o->net = v;
    } else if (!strcmp(a, "--precision")) {
        if (nn_precision_parse(&o->precision, v, "--precision")) {
            fprintf(stderr, "msf %s: %s\n", cmd, msf_error_message());
            return -1;
        }
    } else if (!strcmp(a, "--resize")) {
        if (msf_resize_mode_parse(v, &o->mode)) {
            fprintf(stderr, "msf %s: %s\n", cmd, msf_error_message());
            return -1;
        }
    } else {
        long b;
        if (!cli_parse_long(cmd, a, v, 1, 4096, &b)) return -1;
        o->batch = (int)b;
    }
    return 1;
}

static const char *kind_name(msf_eval_input_kind k) {
    switch (k) {
    case MSF_INPUT_FEATURES: return "a features file";
    case MSF_INPUT_STATS: return "statistics only";
    case MSF_INPUT_IMAGES_STATS: return "images and statistics";
    default: return "images";
    }
}

int cli_eval_check_inputs(const cli_eval_opts *o, const char *cmd, const char *const *paths, int n,
                          msf_eval_input_kind *kinds) {
    int images = 0;
    for (int i = 0; i < n; i++) {
        if (msf_eval_input_kind_of(paths[i], &kinds[i])) return cli_fail(cmd);
        if (kinds[i] == MSF_INPUT_IMAGES && !o->net) {
            fprintf(stderr, "msf %s: %s holds images: a feature network (--net W.h5) is needed for them\n", cmd,
                    paths[i]);
            return 2;
        }
        images |= msf_eval_input_uses_net(kinds[i]);
    }
    if (o->given && !images) {
        fprintf(stderr, "msf %s: %s has no effect: no input holds images (%s: %s", cmd, o->given, paths[0],
                kind_name(kinds[0]));
        for (int i = 1; i < n; i++) fprintf(stderr, "; %s: %s", paths[i], kind_name(kinds[i]));
        fprintf(stderr, ")\n");
        return 2;
    }
    return 0;
}

int cli_eval_load_net(const cli_eval_opts *o, const char *cmd, msf_featnet **net) {
    *net = NULL;
    if (!o->net) return 0;
    if (msf_featnet_load(o->net, net)) return cli_fail(cmd);
    if (msf_featnet_set_precision(*net, o->precision)) {
        msf_featnet_free(*net);
        *net = NULL;
        return cli_fail(cmd);
    }
    return 0;
}

int cmd_features(int argc, char **argv) {
    cli_eval_opts eo;
    cli_eval_opts_init(&eo);
    const char *input = NULL, *out = NULL;
    for (int i = 1; i < argc; i++) {
        int r = cli_eval_opts_parse(&eo, "features", argc, argv, &i);
        if (r < 0) return 2;
        if (r) continue;
        if (!strcmp(argv[i], "--out") && i + 1 < argc) out = argv[++i];
        else if (argv[i][0] != '-' && !input) input = argv[i];
        else {
            fprintf(stderr, "msf features: unexpected argument '%s'\n%s", argv[i], cmd_features_usage);
            return 2;
        }
    }
    if (!input || !out || !eo.net) {
        fprintf(stderr, "msf features: INPUT, --net and --out are required\n%s", cmd_features_usage);
        return 2;
    }
    if (!cli_input_ok(input, "input") || !cli_output_ok(out, "features file")) return cli_fail("features");
    msf_eval_input_kind kind;
    if (msf_eval_input_kind_of(input, &kind)) return cli_fail("features");
    if (!msf_eval_input_uses_net(kind)) {
        fprintf(stderr, "msf features: %s holds %s, not images\n", input,
                kind == MSF_INPUT_FEATURES ? "features already" : "statistics only");
        return 2;
    }
    int r = cli_eval_check_inputs(&eo, "features", &input, 1, &kind);
    if (r) return r;
    msf_featnet *net;
    if (cli_eval_load_net(&eo, "features", &net)) return 1;
    cli_progress_bar bar;
    cli_progress_bar_init(&bar, stderr);
    msf_progress prog = cli_progress_bar_callback(&bar);
    msf_feature_set f;
    msf_status s = msf_features_from_input(&f, input, net, eo.mode, eo.batch, &prog);
    msf_featnet_free(net);
    if (!s) {
        s = msf_features_write_h5(out, &f, input);
        if (!s)
            printf("%s: %lld images, pool %d, spatial %d, logits %d%s (%s, resize %s)\n", out, (long long)f.n,
                   f.pool_dim, f.spatial_dim, f.logits_dim, f.labels ? ", labels" : "", f.network, f.resize);
        msf_feature_set_free(&f);
    }
    return s ? cli_fail("features") : 0;
}
