// cmd_report.c: `msf report`, paper/REPRODUCTION.md from results/: the
// numbers the papers report (paper/reported.csv) beside ours, each with the
// configuration behind it, then every experiment's table and plots.
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/cli.h"
#include "core/status.h"
#include "core/version.h"
#include "io/textfile.h"
#include "models/dit.h"

const char cmd_report_usage[] =
    "usage: msf report [--results-dir results] [--reported paper/reported.csv]\n"
    "                  [--out paper/REPRODUCTION.md]\n\n"
    "Write the reproduction report (`make paper` runs this): for every grid\n"
    "point of results/*/metrics.csv whose run names the rows it reproduces\n"
    "(`reproduces:` in the experiment file: model, resolution, cfg_scale,\n"
    "steps), each matching row of reported.csv beside our number, with the\n"
    "point's config hash and manifest; then each experiment's table.md and\n"
    "plots, and its FINDINGS.md when there is one. A reported row matches when its model is equal and its resolution,\n"
    "cfg_scale and steps are equal or empty on either side.\n"
    "\nExit status: 0 on success, 1 on a bad or missing input file or a failed\n"
    "step, 2 on a usage error (an unknown option, a bad value).\n";

// -----------------------------------------------------------------------------
// CSV (RFC 4180 quoting; no newlines inside fields)

#define MAX_FIELDS 32

typedef struct {
    int rows, cols;
    char **cell;  // rows x cols, row 0 the header
} csv_table;

static void csv_free(csv_table *t) {
    for (int i = 0; i < t->rows * t->cols; i++) free(t->cell[i]);
    free(t->cell);
    memset(t, 0, sizeof *t);
}

static int csv_split(char *line, char **fields) {
    int n = 0;
    char *p = line, *out = line;
    while (n < MAX_FIELDS) {
        fields[n++] = out;
        int quoted = *p == '"';
        if (quoted) p++;
        while (*p && (quoted || (*p != ',' && *p != '\n' && *p != '\r'))) {
            if (quoted && *p == '"') {
                if (p[1] == '"') p++;
                else {
                    quoted = 0;
                    p++;
                    continue;
                }
            }
            *out++ = *p++;
        }
        int more = *p == ',';
        *out++ = '\0';
        if (!more) break;
        p++;
    }
    return n;
}

static msf_status csv_read(csv_table *t, const char *path) {
    memset(t, 0, sizeof *t);
    FILE *f = fopen(path, "r");
    if (!f) return msf_fail(MSF_ERR_IO, "cannot open %s: %s", path, strerror(errno));
    char line[8192], *fields[MAX_FIELDS];
    msf_status s = MSF_OK;
    int lineno = 0;
    while (!s && fgets(line, sizeof line, f)) {
        lineno++;
        if (line[0] == '\n' || line[0] == '\r') continue;
        int n = csv_split(line, fields);
        if (!t->cols) t->cols = n;
        if (n != t->cols) {
            s = msf_fail(MSF_ERR_FORMAT, "%s:%d: %d fields, the header has %d", path, lineno, n, t->cols);
            break;
        }
        char **cell = realloc(t->cell, (size_t)(t->rows + 1) * t->cols * sizeof *cell);
        if (!cell) {
            s = msf_fail(MSF_ERR_NOMEM, "out of memory reading %s", path);
            break;
        }
        t->cell = cell;
        for (int i = 0; i < n; i++) t->cell[t->rows * t->cols + i] = strdup(fields[i]);
        t->rows++;
    }
    fclose(f);
    if (!s && t->rows == 0) s = msf_fail(MSF_ERR_FORMAT, "%s is empty (expected a header line)", path);
    if (s) csv_free(t);
    return s;
}

static int csv_col(const csv_table *t, const char *name) {
    for (int i = 0; i < t->cols; i++)
        if (!strcmp(t->cell[i], name)) return i;
    return -1;
}

static const char *csv_get(const csv_table *t, int row, int col) { return col < 0 ? "" : t->cell[row * t->cols + col]; }

// -----------------------------------------------------------------------------

// Equal, or empty on either side (numbers compared as numbers).
static int loose_equal(const char *a, const char *b) {
    if (!*a || !*b) return 1;
    char *ea, *eb;
    double x = strtod(a, &ea), y = strtod(b, &eb);
    if (!*ea && !*eb) return fabs(x - y) < 1e-9;
    return !strcmp(a, b);
}

// Our metrics.csv column for a metric name of reported.csv ("FID" -> "fid").
static const char *our_metric(const char *metric) {
    static const char *const pairs[][2] = {{"FID", "fid"},       {"sFID", "sfid"},
                                           {"IS", "is"},         {"precision", "precision"},
                                           {"recall", "recall"}, {"class_consistency", "class_consistency"}};
    for (size_t i = 0; i < sizeof pairs / sizeof pairs[0]; i++)
        if (!strcasecmp(metric, pairs[i][0])) return pairs[i][1];
    return NULL;
}

static int cmp_names(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

// Sorted names of the entries of dir that satisfy keep (malloc'd).
static int list_dir(const char *dir, char ***out, int (*keep)(const char *dir, const char *name)) {
    DIR *d = opendir(dir);
    *out = NULL;
    if (!d) return 0;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.' || !keep(dir, e->d_name)) continue;
        char **names = realloc(*out, (size_t)(n + 1) * sizeof *names);
        if (!names) break;
        *out = names;
        (*out)[n++] = strdup(e->d_name);
    }
    closedir(d);
    if (n > 1) qsort(*out, (size_t)n, sizeof **out, cmp_names);  // *out is NULL when n = 0
    return n;
}

static void free_names(char **names, int n) {
    for (int i = 0; i < n; i++) free(names[i]);
    free(names);
}

static int has_metrics(const char *dir, const char *name) {
    char path[8192];
    snprintf(path, sizeof path, "%s/%s/metrics.csv", dir, name);
    return access(path, R_OK) == 0;
}

static int is_png(const char *dir, const char *name) {
    size_t n = strlen(name);
    return n > 4 && !strcmp(name + n - 4, ".png");
}

// Path of `target` relative to the directory `from` (both must exist).
static void relative_path(char *out, size_t size, const char *from, const char *target) {
    char a[PATH_MAX], b[PATH_MAX];
    if (!realpath(from, a) || !realpath(target, b)) {
        snprintf(out, size, "%s", target);
        return;
    }
    size_t i = 0, common = 0;
    for (; a[i] && a[i] == b[i]; i++)
        if (a[i] == '/') common = i;
    if (!a[i] && (b[i] == '/' || !b[i])) common = i;  // `from` is a folder above `target`
    out[0] = '\0';
    for (const char *p = a + common; *p; p++)
        if (*p == '/') strncat(out, "../", size - strlen(out) - 1);
    strncat(out, b[common] ? b + common + 1 : ".", size - strlen(out) - 1);
}

// Copy a Markdown file into the report: skip_title drops a first '#' line;
// demote puts its headings one level down (under the experiment's "##").
static void append_file(FILE *out, const char *path, int skip_title, int demote) {
    FILE *f = fopen(path, "r");
    if (!f) return;
    char line[8192];
    int first = 1;
    while (fgets(line, sizeof line, f)) {
        if (first && skip_title && line[0] == '#') {
            first = 0;
            continue;
        }
        first = 0;
        if (demote && line[0] == '#') fputc('#', out);
        fputs(line, out);
    }
    fclose(f);
}

static msf_status write_report(FILE *out, const char *results, const char *reported, const char *out_dir) {
    csv_table rep;
    msf_status s = csv_read(&rep, reported);
    if (s) return s;
    static const char *const need[] = {"source", "table",  "model", "resolution", "cfg_scale",
                                       "steps",  "metric", "value", "note"};
    for (size_t i = 0; i < sizeof need / sizeof need[0]; i++)
        if (csv_col(&rep, need[i]) < 0) {
            csv_free(&rep);
            return msf_fail(MSF_ERR_FORMAT,
                            "%s: no column '%s' (expected source,table,model,resolution,cfg_scale,"
                            "steps,metric,value,note)",
                            reported, need[i]);
        }
    int c_src = csv_col(&rep, "source"), c_tab = csv_col(&rep, "table"), c_model = csv_col(&rep, "model"),
        c_res = csv_col(&rep, "resolution"), c_cfg = csv_col(&rep, "cfg_scale"), c_steps = csv_col(&rep, "steps"),
        c_metric = csv_col(&rep, "metric"), c_value = csv_col(&rep, "value");
    char **exps;
    int n_exp = list_dir(results, &exps, has_metrics);
    char rel[PATH_MAX + 64], path[8192];
    fprintf(out,
            "# Reproduction report\n\nWritten by `msf report` (msf %s, commit %s) from `%s/` and `%s`; "
            "regenerate with `make paper`. Each reproduced number links to the manifest of its experiment, "
            "which holds the resolved configuration of the point with that config hash, the git commit, "
            "seeds, thread count and library versions.\n\n## Reported vs reproduced\n\n",
            msf_version(), msf_git_commit(), results, reported);
    fprintf(out,
            "| model | resolution | cfg | steps | metric | reported | reproduced | experiment | point | samples | "
            "source | config |\n|---|---|---|---|---|---|---|---|---|---|---|---|\n");
    int matched = 0;
    char *hit = calloc((size_t)rep.rows + 1, 1);  // reported rows some result reproduces
    if (!hit) s = msf_fail(MSF_ERR_NOMEM, "out of memory");
    for (int e = 0; e < n_exp && !s; e++) {
        csv_table m;
        snprintf(path, sizeof path, "%s/%s/metrics.csv", results, exps[e]);
        if ((s = csv_read(&m, path))) break;
        snprintf(path, sizeof path, "%s/%s/manifest.json", results, exps[e]);
        relative_path(rel, sizeof rel, out_dir, path);
        int rm = csv_col(&m, "reproduces_model");
        for (int r = 1; r < m.rows && rm >= 0; r++) {
            const char *model = csv_get(&m, r, rm);
            if (!*model) continue;
            for (int k = 1; k < rep.rows; k++) {
                if (strcmp(csv_get(&rep, k, c_model), model) ||
                    !loose_equal(csv_get(&rep, k, c_res), csv_get(&m, r, csv_col(&m, "reproduces_resolution"))) ||
                    !loose_equal(csv_get(&rep, k, c_cfg), csv_get(&m, r, csv_col(&m, "reproduces_cfg_scale"))) ||
                    !loose_equal(csv_get(&rep, k, c_steps), csv_get(&m, r, csv_col(&m, "reproduces_steps"))))
                    continue;
                const char *ours = our_metric(csv_get(&rep, k, c_metric));
                const char *value = ours ? csv_get(&m, r, csv_col(&m, ours)) : "";
                char got[32] = "n/a";
                if (*value) snprintf(got, sizeof got, "%.4g", strtod(value, NULL));
                fprintf(out, "| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s, %s | [%s](%s) |\n", model,
                        csv_get(&rep, k, c_res), csv_get(&rep, k, c_cfg), csv_get(&rep, k, c_steps),
                        csv_get(&rep, k, c_metric), csv_get(&rep, k, c_value), got, exps[e],
                        csv_get(&m, r, csv_col(&m, "point")), csv_get(&m, r, csv_col(&m, "num_samples")),
                        csv_get(&rep, k, c_src), csv_get(&rep, k, c_tab), csv_get(&m, r, csv_col(&m, "config_hash")),
                        rel);
                matched++;
                hit[k] = 1;
            }
        }
        csv_free(&m);
    }
    // DiT's Gflops (Table 4) need no run: dit_gflops counts them from the
    // architecture, as `msf flops --model` does (latents: resolution / 8).
    for (int k = 1; k < rep.rows && !s; k++) {
        dit_config c;
        const char *model = csv_get(&rep, k, c_model);
        int res = atoi(csv_get(&rep, k, c_res));
        if (strcmp(csv_get(&rep, k, c_metric), "Gflops") || res <= 0 || res % 8 ||
            dit_config_named(&c, model, res / 8) != MSF_OK) {
            msf_clear_error();
            continue;
        }
        relative_path(rel, sizeof rel, out_dir, "src/models/dit.c");
        fprintf(out,
                "| %s | %s | %s | %s | Gflops | %s | %.2f | (analytic) | `msf flops --model %s --input-size %d` "
                "| - | %s, %s | [dit_gflops](%s) |\n",
                model, csv_get(&rep, k, c_res), csv_get(&rep, k, c_cfg), csv_get(&rep, k, c_steps),
                csv_get(&rep, k, c_value), dit_gflops(&c), model, res / 8, csv_get(&rep, k, c_src),
                csv_get(&rep, k, c_tab), rel);
        matched++;
        hit[k] = 1;
    }
    if (!s && !matched) fprintf(out, "\n(No result names a reported row yet: add `reproduces:` to a run.)\n");
    if (!s)
        fprintf(out,
                "\nn/a: not measured (no evaluator configured, or the metric is not one we compute). "
                "Reported numbers and their notes: `%s`.\n",
                reported);
    int unmatched = 0;
    for (int k = 1; hit && k < rep.rows; k++) unmatched += !hit[k];
    if (!s && unmatched) {
        fprintf(out,
                "\n## Not reproduced yet\n\nPublished numbers no result in `%s/` reproduces (the ImageNet "
                "experiments in `experiments/` name the checkpoints and reference batches they need).\n\n"
                "| model | resolution | cfg | steps | metric | reported | source |\n|---|---|---|---|---|---|---|\n",
                results);
        for (int k = 1; k < rep.rows; k++)
            if (!hit[k])
                fprintf(out, "| %s | %s | %s | %s | %s | %s | %s, %s |\n", csv_get(&rep, k, c_model),
                        csv_get(&rep, k, c_res), csv_get(&rep, k, c_cfg), csv_get(&rep, k, c_steps),
                        csv_get(&rep, k, c_metric), csv_get(&rep, k, c_value), csv_get(&rep, k, c_src),
                        csv_get(&rep, k, c_tab));
    }
    free(hit);
    for (int e = 0; e < n_exp && !s; e++) {
        fprintf(out, "\n## %s\n", exps[e]);
        snprintf(path, sizeof path, "%s/%s/table.md", results, exps[e]);
        append_file(out, path, 1, 0);
        // FINDINGS.md: what a person read in the numbers (written by hand,
        // kept beside the results it discusses).
        snprintf(path, sizeof path, "%s/%s/FINDINGS.md", results, exps[e]);
        if (access(path, R_OK) == 0) {
            fputc('\n', out);
            append_file(out, path, 1, 1);
        }
        snprintf(path, sizeof path, "%s/%s", results, exps[e]);
        char **pngs;
        int n_png = list_dir(path, &pngs, is_png);
        if (n_png) fputc('\n', out);
        for (int i = 0; i < n_png; i++) {
            char png[8192];
            snprintf(png, sizeof png, "%s/%s/%s", results, exps[e], pngs[i]);
            relative_path(rel, sizeof rel, out_dir, png);
            fprintf(out, "![%s: %s](%s)\n", exps[e], pngs[i], rel);
        }
        free_names(pngs, n_png);
    }
    free_names(exps, n_exp);
    csv_free(&rep);
    return s;
}

int cmd_report(int argc, char **argv) {
    const char *results = "results", *reported = "paper/reported.csv", *out_path = "paper/REPRODUCTION.md";
    for (int i = 1; i < argc; i++) {
        const char **dst = !strcmp(argv[i], "--results-dir") ? &results
                           : !strcmp(argv[i], "--reported")  ? &reported
                           : !strcmp(argv[i], "--out")       ? &out_path
                                                             : NULL;
        if (!dst || i + 1 >= argc) {
            fprintf(stderr, "msf report: %s '%s'\n\n%s", dst ? "a value is needed after" : "unexpected argument",
                    argv[i], cmd_report_usage);
            return 2;
        }
        *dst = argv[++i];
    }
    // Results first: a report of nothing is an error, and nothing is written.
    struct stat st;
    int missing = stat(results, &st) != 0, err = errno;
    if (missing || !S_ISDIR(st.st_mode)) {
        fprintf(stderr, "msf report: results folder %s: %s (run an experiment first: msf run)\n", results,
                missing ? strerror(err) : "not a directory");
        return 1;
    }
    char **exps;
    int n_exp = list_dir(results, &exps, has_metrics);
    free_names(exps, n_exp);
    if (n_exp == 0) {
        fprintf(stderr,
                "msf report: results folder %s holds no experiment results (no %s/*/metrics.csv; run an "
                "experiment first: msf run)\n",
                results, results);
        return 1;
    }
    char out_dir[PATH_MAX];
    const char *slash = strrchr(out_path, '/');
    snprintf(out_dir, sizeof out_dir, "%.*s", slash ? (int)(slash - out_path) : 1, slash ? out_path : ".");
    msf_text_file t;
    if (msf_text_create(&t, out_path)) return cli_fail("report");
    msf_status s = write_report(t.f, results, reported, out_dir);
    if (s) msf_text_abort(&t);
    else s = msf_text_commit(&t);
    if (s) return cli_fail("report");
    printf("wrote %s\n", out_path);
    return 0;
}
