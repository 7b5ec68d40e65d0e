// seeds.c: results aggregated over sample seeds (see seeds.h): grouping of
// the points that differ only in `seed`, their mean and standard deviation,
// and the writers of the seed-aggregated table section, metrics_seeds.csv
// and seeds.dat (the error bars of the plots).
#include "run/seeds.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "io/gnuplot.h"
#include "io/textfile.h"

// -----------------------------------------------------------------------------
// Grouping

void msf_seed_group_name(char *out, size_t size, const char *point_name) {
    // Copy the comma-separated parts of the name but "seed=...".
    size_t j = 0;
    const char *p = point_name;
    int first = 1;
    while (*p) {
        const char *end = strchr(p, ',');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        if (first || strncmp(p, "seed=", 5)) {
            if (!first && j + 1 < size) out[j++] = ',';
            for (size_t k = 0; k < len && j + 1 < size; k++) out[j++] = p[k];
        }
        first = 0;
        p += len;
        if (*p == ',') p++;
    }
    if (size) out[j < size ? j : size - 1] = '\0';
}

void msf_point_metrics(const msf_point_result *r, double m[MSF_SEED_METRICS]) {
    const double v[] = {r->fid, r->sfid, r->is, r->precision, r->recall, r->class_consistency};
    _Static_assert(MSF_COUNT(v) == MSF_SEED_METRICS, "one per metric");
    memcpy(m, v, sizeof v);
}

int msf_seed_groups(msf_seed_group *groups, const msf_experiment *e, const msf_point_result *res) {
    int n = 0;
    int *group_of = calloc((size_t)e->num_points, sizeof *group_of);
    if (!group_of) return 0;
    for (int i = 0; i < e->num_points; i++) {
        char name[232];
        msf_seed_group_name(name, sizeof name, e->points[i].name);
        int g = 0;
        while (g < n && strcmp(groups[g].name, name)) g++;
        if (g == n) {
            msf_seed_group *G = &groups[n++];
            memset(G, 0, sizeof *G);
            snprintf(G->name, sizeof G->name, "%s", name);
            snprintf(G->run, sizeof G->run, "%s", e->points[i].run);
            snprintf(G->series, sizeof G->series, "%s", config_str(e->points[i].config, "series", e->points[i].run));
            G->first = i;
            G->gflops_per_sample = res[i].gflops_per_sample;
            G->train_gflops = msf_run_num(e->points[i].config, "model.train_gflops");
        }
        groups[g].count++;
        group_of[i] = g;
    }
    // Mean, then the sample standard deviation from the deviations (two passes:
    // no cancellation), over the seeds with a finite value.
    for (int g = 0; g < n; g++) {
        msf_seed_group *G = &groups[g];
        double sum[MSF_SEED_METRICS] = {0}, ss[MSF_SEED_METRICS] = {0};
        for (int i = 0; i < e->num_points; i++) {
            if (group_of[i] != g) continue;
            double m[MSF_SEED_METRICS];
            msf_point_metrics(&res[i], m);
            for (int k = 0; k < MSF_SEED_METRICS; k++)
                if (isfinite(m[k])) sum[k] += m[k], G->finite[k]++;
        }
        for (int k = 0; k < MSF_SEED_METRICS; k++) G->mean[k] = G->finite[k] ? sum[k] / G->finite[k] : NAN;
        for (int i = 0; i < e->num_points; i++) {
            if (group_of[i] != g) continue;
            double m[MSF_SEED_METRICS];
            msf_point_metrics(&res[i], m);
            for (int k = 0; k < MSF_SEED_METRICS; k++)
                if (isfinite(m[k])) ss[k] += (m[k] - G->mean[k]) * (m[k] - G->mean[k]);
        }
        for (int k = 0; k < MSF_SEED_METRICS; k++) G->sd[k] = G->finite[k] > 1 ? sqrt(ss[k] / (G->finite[k] - 1)) : NAN;
    }
    free(group_of);
    return n;
}

int msf_seed_groups_any(const msf_seed_group *groups, int n) {
    for (int g = 0; g < n; g++)
        if (groups[g].count > 1) return 1;
    return 0;
}

// -----------------------------------------------------------------------------
// Writers

const char *const msf_metric_keys[MSF_SEED_METRICS] = {"fid", "sfid", "is", "precision", "recall", "class_consistency"};
const char *const msf_metric_titles[MSF_SEED_METRICS] = {"FID",       "sFID",   "IS",
                                                         "Precision", "Recall", "class consistency"};
const char *const msf_metric_labels[MSF_SEED_METRICS] = {
    "FID (lower is better)",        "sFID (lower is better)",    "IS (higher is better)",
    "Precision (higher is better)", "Recall (higher is better)", "class consistency (higher is better)"};

static void md_mean_sd(FILE *f, double mean, double sd, const char *fmt) {
    if (!isfinite(mean)) {
        fputs("n/a", f);
        return;
    }
    fprintf(f, fmt, mean);
    if (isfinite(sd)) {
        fputs(" ± ", f);
        fprintf(f, fmt, sd);
    }
}

void msf_seed_table_md(FILE *f, const msf_seed_group *groups, int n, const msf_experiment *e) {
    fprintf(f,
            "\n## Over seeds\n\nMean ± sample standard deviation (n - 1) over the seeds of each setting.\n\n"
            "| setting | model | seeds | samples/seed | FID | sFID | IS | Prec. | Rec. | class cons. | "
            "GFLOPs/sample | training GFLOPs |\n|---|---|---|---|---|---|---|---|---|---|---|---|\n");
    static const char *const fmt[] = {"%.4g", "%.4g", "%.4g", "%.3f", "%.3f", "%.3f"};
    _Static_assert(MSF_COUNT(fmt) == MSF_SEED_METRICS, "one per metric");
    for (int g = 0; g < n; g++) {
        const msf_seed_group *G = &groups[g];
        const msf_run_point *p = &e->points[G->first];
        fprintf(f, "| %s | %s | %d | %lld | ", G->name, msf_run_point_kind(p), G->count,
                (long long)msf_run_int(p->config, "num_samples"));
        for (int k = 0; k < MSF_SEED_METRICS; k++) {
            md_mean_sd(f, G->mean[k], G->sd[k], fmt[k]);
            fputs(" | ", f);
        }
        fprintf(f, "%.4g | ", G->gflops_per_sample);
        if (isfinite(G->train_gflops)) fprintf(f, "%.6g", G->train_gflops);
        else fputs("n/a", f);
        fputs(" |\n", f);
    }
}

static void csv_value(FILE *f, double v) {
    if (isfinite(v)) fprintf(f, "%.10g", v);
}

msf_status msf_seed_write_csv(const char *dir, const msf_seed_group *groups, int n, const msf_experiment *e) {
    msf_text_file t;
    msf_status s = msf_text_create_in(&t, dir, "metrics_seeds.csv");
    if (s) return s;
    fprintf(t.f, "setting,run,kind,num_seeds,seeds,num_samples_per_seed");
    for (int k = 0; k < MSF_SEED_METRICS; k++)
        fprintf(t.f, ",%s_mean,%s_sd,%s_n", msf_metric_keys[k], msf_metric_keys[k], msf_metric_keys[k]);
    fprintf(t.f, ",gflops_per_sample,train_gflops\n");
    for (int g = 0; g < n; g++) {
        const msf_seed_group *G = &groups[g];
        const msf_run_point *p0 = &e->points[G->first];
        fprintf(t.f, "\"%s\",%s,%s,%d,\"", G->name, G->run, msf_run_point_kind(p0), G->count);
        // The seeds, in point order.
        int listed = 0;
        for (int i = G->first; i < e->num_points; i++) {
            char name[232];
            msf_seed_group_name(name, sizeof name, e->points[i].name);
            if (strcmp(name, G->name)) continue;
            fprintf(t.f, "%s%lld", listed++ ? " " : "", (long long)msf_run_int(e->points[i].config, "seed"));
        }
        fprintf(t.f, "\",%lld", (long long)msf_run_int(p0->config, "num_samples"));
        for (int k = 0; k < MSF_SEED_METRICS; k++) {
            fputc(',', t.f);
            csv_value(t.f, G->mean[k]);
            fputc(',', t.f);
            csv_value(t.f, G->sd[k]);
            fprintf(t.f, ",%d", G->finite[k]);
        }
        fputc(',', t.f);
        csv_value(t.f, G->gflops_per_sample);
        fputc(',', t.f);
        csv_value(t.f, G->train_gflops);
        fputc('\n', t.f);
    }
    return msf_text_commit(&t);
}

// Row order within a series: by training compute, then by sampling cost, so
// that a curve over training milestones is drawn left to right.
static int row_before(const msf_seed_group *a, const msf_seed_group *b) {
    double ta = isfinite(a->train_gflops) ? a->train_gflops : -1, tb = isfinite(b->train_gflops) ? b->train_gflops : -1;
    if (ta != tb) return ta < tb;
    return a->gflops_per_sample < b->gflops_per_sample;
}

int msf_seed_write_dat(FILE *f, char names[][64], int joined[], int max_series, const msf_seed_group *groups, int n) {
    int series = 0;
    int *rows = malloc((size_t)(n > 0 ? n : 1) * sizeof *rows);
    if (!rows) return 0;
    for (int g = 0; g < n && series < max_series; g++) {
        int known = 0;
        for (int r = 0; r < series; r++) known |= !strcmp(names[r], groups[g].series);
        if (known) continue;
        snprintf(names[series], 64, "%s", groups[g].series);
        char header[64];  // one line, whatever the series name holds
        fprintf(f, "%s# %s\n", series ? "\n\n" : "", msf_gp_inert(header, sizeof header, groups[g].series));
        int m = 0;  // the series' groups, insertion-sorted (a handful per series)
        for (int h = g; h < n; h++) {
            if (strcmp(groups[h].series, groups[g].series)) continue;
            int at = m++;
            while (at > 0 && row_before(&groups[h], &groups[rows[at - 1]])) {
                rows[at] = rows[at - 1];
                at--;
            }
            rows[at] = h;
        }
        joined[series] = 1;  // sampling costs all distinct: a line over them means something
        for (int a = 0; a < m; a++)
            for (int b = a + 1; b < m; b++)
                if (groups[rows[a]].gflops_per_sample == groups[rows[b]].gflops_per_sample) joined[series] = 0;
        for (int a = 0; a < m; a++) {
            const msf_seed_group *G = &groups[rows[a]];
            fprintf(f, "%.10g %.10g", G->gflops_per_sample, isfinite(G->train_gflops) ? G->train_gflops : NAN);
            for (int k = 0; k < MSF_SEED_METRICS; k++)
                fprintf(f, " %.10g %.10g", isfinite(G->mean[k]) ? G->mean[k] : NAN,
                        isfinite(G->sd[k]) ? G->sd[k] : 0.0);
            fputc('\n', f);
        }
        series++;
    }
    free(rows);
    return series;
}

msf_status msf_seed_write_plots(FILE *gp, const char *dir, const msf_seed_group *groups, int n,
                                const msf_experiment *e) {
    msf_text_file dat;
    msf_status s = msf_text_create_in(&dat, dir, "seeds.dat");
    if (s) return s;
    char names[64][64];
    int joined[64];
    int series = msf_seed_write_dat(dat.f, names, joined, 64, groups, n);
    if ((s = msf_text_commit(&dat))) return s;
    int any_train = 0, any[MSF_SEED_METRICS] = {0};
    for (int g = 0; g < n; g++) {
        any_train |= isfinite(groups[g].train_gflops);
        for (int k = 0; k < MSF_SEED_METRICS; k++) any[k] |= isfinite(groups[g].mean[k]);
    }
    msf_gp_comment(gp, "Over seeds (seeds.dat): mean with error bars of one sample standard deviation.");
    for (int k = 0; k < MSF_SEED_METRICS; k++) {
        if (!any[k]) continue;
        for (int x = any_train ? 2 : 1; x >= 1; x--) {
            char out[96], title[300], q[700];
            snprintf(out, sizeof out, "%s_vs_%s_seeds.png", msf_metric_keys[k], x == 2 ? "train_gflops" : "gflops");
            msf_gp_set_output(gp, out);
            snprintf(title, sizeof title, "%s: %s vs %s, mean +- sd over seeds", e->name, msf_metric_titles[k],
                     x == 2 ? "training compute" : "sampling cost");
            fprintf(gp, "set title %s\nset xlabel '%s'\nset ylabel '%s'\nset logscale x\nplot ",
                    msf_gp_quote(q, sizeof q, title),
                    x == 2 ? "training GFLOPs (forward GFLOPs x samples seen, log scale)"
                           : "sampling GFLOPs per sample (log scale)",
                    msf_metric_labels[k]);
            for (int r = 0; r < series; r++) {
                // Against sampling cost, a series whose settings share a cost
                // (training milestones of one sampler) is drawn as points.
                fprintf(gp, "%s'seeds.dat' index %d using %d:%d:%d with %s title %s", r ? ", \\\n     " : "", r, x,
                        3 + 2 * k, 4 + 2 * k, x == 1 && !joined[r] ? "yerrorbars" : "yerrorlines",
                        msf_gp_quote(q, sizeof q, names[r]));
            }
            fprintf(gp, "\nunset logscale x\n");
        }
    }
    return MSF_OK;
}
