// cmd_evaluate.c: `msf evaluate REF SAMPLE` prints the metrics as ADM's
// evaluator prints them ("Inception Score: ...", "FID: ...", "sFID: ...",
// "Precision: ...", "Recall: ...", numbers as Python prints a float), then
// KID and class consistency when computed, and writes them as JSON.
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/eval_opts.h"
#include "io/textfile.h"

const char cmd_evaluate_usage[] =
    "usage: msf evaluate REF SAMPLE [--net W.h5] [--resize adm|pytorch|clean] [--batch 50]\n"
    "                    [--kid] [--json M.json]\n\n"
    "The metrics of ADM's evaluator between a reference and a sample set: FID,\n"
    "sFID, Inception Score and precision/recall (k = 3), plus KID (--kid:\n"
    "clean-fid's 100 subsets of 1000, our own subset draws) and class\n"
    "consistency (sample labels vs the network's argmax). REF and SAMPLE are\n"
    "image batches (.npz arr_0, ADM reference batches with stored statistics\n"
    "included), PNG folders, IDX image files, `msf sample` output, features files (msf features)\n"
    "or statistics files (msf stats, pytorch-fid: FID and sFID only). Metrics\n"
    "the inputs do not allow are reported as unavailable on stderr.\n\n" CLI_EVAL_OPTS_USAGE
    "  --kid              also compute KID\n"
    "  --json M.json      write the metrics as JSON (atomically); absent ones are null\n\n"
    "Exit status: 0 on success, 1 on a bad input file, 2 on a usage error.\n";

// x as Python's repr(float) writes it: the shortest digits that read back
// as x, positional for 1e-4 <= |x| < 1e16 (with ".0" when integral), else
// scientific ("1e-05").
static void py_float(char *buf, size_t size, double x) {
    int p = 1;
    for (; p < 17; p++) {
        snprintf(buf, size, "%.*e", p - 1, x);
        if (strtod(buf, NULL) == x) break;
    }
    snprintf(buf, size, "%.*e", p - 1, x);
    int exp = atoi(strchr(buf, 'e') + 1);
    if (x != 0 && (exp < -4 || exp >= 16)) return;
    int decimals = p - 1 - exp > 0 ? p - 1 - exp : 0;
    snprintf(buf, size, "%.*f", decimals, x);
    if (!strchr(buf, '.')) strncat(buf, ".0", size - strlen(buf) - 1);
}

static void json_string(FILE *f, const char *s) {
    fputc('"', f);
    for (; *s; s++) {
        if (*s == '"' || *s == '\\') fprintf(f, "\\%c", *s);
        else if ((unsigned char)*s < 0x20) fprintf(f, "\\u%04x", *s);
        else fputc(*s, f);
    }
    fputc('"', f);
}

static const char *const metric_keys[] = {"fid",    "sfid", "inception_score",  "precision",
                                          "recall", "kid",  "class_consistency"};

static int write_json(const char *path, const msf_metrics *m, const char *ref, const char *sample,
                      const cli_eval_opts *eo, const msf_eval_opts *o) {
    msf_text_file t;
    if (msf_text_create(&t, path)) {
        fprintf(stderr, "msf evaluate: %s\n", msf_error_message());
        return 1;
    }
    FILE *f = t.f;
    const double v[] = {m->fid, m->sfid, m->inception_score, m->precision, m->recall, m->kid, m->class_consistency};
    const unsigned bit[] = {MSF_METRIC_FID, MSF_METRIC_SFID, MSF_METRIC_IS,   MSF_METRIC_PR,
                            MSF_METRIC_PR,  MSF_METRIC_KID,  MSF_METRIC_CLASS};
    fprintf(f, "{\n");
    for (int i = 0; i < 7; i++) {
        char num[64];
        py_float(num, sizeof num, v[i]);
        fprintf(f, "  \"%s\": %s,\n", metric_keys[i], m->present & bit[i] ? num : "null");
    }
    fprintf(f, "  \"ref\": "), json_string(f, ref);
    fprintf(f, ",\n  \"sample\": "), json_string(f, sample);
    fprintf(f, ",\n  \"network\": "), json_string(f, eo->net ? eo->net : "");
    fprintf(f, ",\n  \"resize\": \"%s\",\n  \"is_split\": %d,\n  \"pr_k\": %d\n}\n", msf_resize_mode_name(eo->mode),
            o->is_split, o->pr_k);
    if (msf_text_commit(&t)) {
        fprintf(stderr, "msf evaluate: %s\n", msf_error_message());
        return 1;
    }
    return 0;
}

int cmd_evaluate(int argc, char **argv) {
    cli_eval_opts eo;
    cli_eval_opts_init(&eo);
    msf_eval_opts o = msf_eval_opts_default();
    const char *paths[2] = {NULL, NULL}, *json = NULL;
    int npaths = 0;
    for (int i = 1; i < argc; i++) {
        int r = cli_eval_opts_parse(&eo, "evaluate", argc, argv, &i);
        if (r < 0) return 2;
        if (r) continue;
        if (!strcmp(argv[i], "--json") && i + 1 < argc) json = argv[++i];
        else if (!strcmp(argv[i], "--kid")) o.kid = 1;
        else if (argv[i][0] != '-' && npaths < 2) paths[npaths++] = argv[i];
        else {
            fprintf(stderr, "msf evaluate: unexpected argument '%s'\n%s", argv[i], cmd_evaluate_usage);
            return 2;
        }
    }
    if (npaths != 2) {
        fprintf(stderr, "msf evaluate: REF and SAMPLE are required\n%s", cmd_evaluate_usage);
        return 2;
    }
    // Every file named, before the network is loaded and any feature computed.
    if (!cli_input_ok(paths[0], "reference input") || !cli_input_ok(paths[1], "sample input") ||
        (json && !cli_output_ok(json, "metrics file")))
        return cli_fail("evaluate");
    msf_eval_input_kind kinds[2];
    int r = cli_eval_check_inputs(&eo, "evaluate", paths, 2, kinds);
    if (r) return r;
    for (int i = 0; i < 2 && o.kid; i++)
        if (!msf_eval_input_has_features(kinds[i], eo.net != NULL)) {
            fprintf(stderr, "msf evaluate: --kid needs features on both sides; %s holds %s\n", paths[i],
                    kinds[i] == MSF_INPUT_STATS ? "statistics only" : "images and statistics, and no --net is given");
            return 2;
        }
    msf_featnet *net;
    if (cli_eval_load_net(&eo, "evaluate", &net)) return 1;
    cli_progress_bar bar;
    cli_progress_bar_init(&bar, stderr);
    msf_progress prog = cli_progress_bar_callback(&bar);
    msf_eval_input ref, sample;
    msf_metrics m;
    msf_status s = msf_eval_input_load(&ref, paths[0], net, eo.mode, eo.batch, &prog);
    if (!s) {
        s = msf_eval_input_load(&sample, paths[1], net, eo.mode, eo.batch, &prog);
        if (!s) {
            s = msf_evaluate(&m, &ref, &sample, &o);
            msf_eval_input_free(&sample);
        }
        msf_eval_input_free(&ref);
    }
    msf_featnet_free(net);
    if (s) return cli_fail("evaluate");
    static const struct {
        const char *label;
        unsigned bit;
        int slot;  // index in why_missing
    } lines[] = {{"Inception Score", MSF_METRIC_IS, 2},     {"FID", MSF_METRIC_FID, 0},   {"sFID", MSF_METRIC_SFID, 1},
                 {"Precision", MSF_METRIC_PR, 3},           {"Recall", MSF_METRIC_PR, 3}, {"KID", MSF_METRIC_KID, 4},
                 {"Class consistency", MSF_METRIC_CLASS, 5}};
    const double v[] = {m.inception_score, m.fid, m.sfid, m.precision, m.recall, m.kid, m.class_consistency};
    for (int i = 0; i < 7; i++) {
        if (m.present & lines[i].bit) {
            char num[64];
            py_float(num, sizeof num, v[i]);
            printf("%s: %s\n", lines[i].label, num);
        } else if (strcmp(m.why_missing[lines[i].slot], "not requested")) {
            fprintf(stderr, "msf evaluate: %s unavailable: %s\n", lines[i].label, m.why_missing[lines[i].slot]);
        }
    }
    fflush(stdout);
    return json ? write_json(json, &m, paths[0], paths[1], &eo, &o) : 0;
}
