// results.c: the experiment-level files of a results folder: metrics.csv,
// metrics.json, table.md, plots (plots.gp, plots.dat, guidance.dat and the
// seed sweeps' files of seeds.c) and manifest.json.
#include "run/runner_internal.h"

#include <errno.h>
#include <hdf5.h>
#include <math.h>
#include <png.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <unistd.h>
#include <yaml.h>
#include <zip.h>
#include <zlib.h>

#include "core/version.h"
#include "eval/spectrum.h"
#include "io/gnuplot.h"
#include "io/textfile.h"
#include "nn/linear_bf16.h"
#include "run/seeds.h"

char *openblas_get_config(void);

// A number for JSON (null for NaN) or CSV (empty for NaN).
void run_json_num(FILE *f, double v) {
    if (isfinite(v)) fprintf(f, "%.10g", v);
    else fputs("null", f);
}
static void csv_num(FILE *f, double v) {
    if (isfinite(v)) fprintf(f, "%.10g", v);
}

// Stage steps of a point as the tables show them ("" when not applicable). An
// MSF point's base is "file" or "real" when given (sampler.base_from), its
// residual "none" when not sampled.
static void point_steps(const msf_run_point *p, const char **steps, const char **base, const char **residual) {
    const char *kind = msf_run_point_kind(p), *from = msf_run_str(p->config, "sampler.base_from");
    int msf = !strcmp(kind, "msf");
    *steps = strcmp(kind, "samples") ? msf_run_str(p->config, "sampler.steps") : "";
    *base = !msf   ? ""
            : from ? (strcmp(from, "real") ? "file" : "real")
                   : config_str(p->config, "sampler.base_steps", *steps);
    *residual = !msf ? ""
                : !strcmp(msf_run_str(p->config, "sampler.residual"), "none")
                    ? "none"
                    : config_str(p->config, "sampler.residual_steps", *steps);
}

// The guidance scale of a point's (base) stage; NaN for given samples.
static double point_cfg_scale(const msf_run_point *p) {
    if (!strcmp(msf_run_point_kind(p), "samples")) return NAN;
    return config_num(p->config, "sampler.base_cfg_scale", msf_run_num(p->config, "sampler.cfg_scale"));
}

_Static_assert(RUN_NUM_METRICS == MSF_SEED_METRICS, "one list of metrics");
const char *const *const run_metric_names = msf_metric_keys;

// The numbers of a point in metrics.csv's and table.md's columns, in order,
// with table.md's format for each.
static const struct {
    size_t offset;
    const char *md_format;
} result_columns[] = {
    {offsetof(msf_point_result, fid), "%.4g"},
    {offsetof(msf_point_result, sfid), "%.4g"},
    {offsetof(msf_point_result, is), "%.4g"},
    {offsetof(msf_point_result, precision), "%.3f"},
    {offsetof(msf_point_result, recall), "%.3f"},
    {offsetof(msf_point_result, class_consistency), "%.3f"},
    {offsetof(msf_point_result, seconds_per_sample), "%.4g"},
    {offsetof(msf_point_result, gflops_per_sample), "%.4g"},
};

static double result_column(const msf_point_result *r, size_t k) {
    return *(const double *)((const char *)r + result_columns[k].offset);
}

static msf_status write_metrics_csv(const char *dir, const msf_experiment *e, const msf_point_result *res) {
    msf_text_file t;
    msf_status s = msf_text_create_in(&t, dir, "metrics.csv");
    if (s) return s;
    fprintf(
        t.f,
        "point,run,sweep,kind,steps,base_steps,residual_steps,cfg_scale,num_samples,fid,sfid,is,precision,"
        "recall,class_consistency,seconds_per_sample,gflops_per_sample,config_hash,reproduces_model,reproduces_resolution,"
        "reproduces_cfg_scale,reproduces_steps\n");
    for (int i = 0; i < e->num_points; i++) {
        const msf_run_point *p = &e->points[i];
        const msf_point_result *r = &res[i];
        const char *steps, *base, *residual;
        point_steps(p, &steps, &base, &residual);
        // Sweep values hold commas: quote the fields that can.
        fprintf(t.f, "\"%s\",%s,\"%s\",%s,\"%s\",\"%s\",\"%s\",", p->name, p->run, p->sweep, msf_run_point_kind(p),
                steps, base, residual);
        if (isfinite(point_cfg_scale(p))) fprintf(t.f, "%g", point_cfg_scale(p));
        fprintf(t.f, ",%lld", (long long)r->num_samples);
        for (size_t k = 0; k < MSF_COUNT(result_columns); k++) {
            fputc(',', t.f);
            csv_num(t.f, result_column(r, k));
        }
        fprintf(t.f, ",%016llx,\"%s\",%s,", (unsigned long long)p->hash, config_str(p->config, "reproduces.model", ""),
                config_str(p->config, "reproduces.resolution", ""));
        if (config_find(p->config, "reproduces.cfg_scale"))
            fprintf(t.f, "%g", config_num(p->config, "reproduces.cfg_scale", 0));
        fprintf(t.f, ",%s\n", config_str(p->config, "reproduces.steps", ""));
    }
    return msf_text_commit(&t);
}

static msf_status write_metrics_json(const char *dir, const msf_experiment *e, const msf_point_result *res) {
    msf_text_file t;
    msf_status s = msf_text_create_in(&t, dir, "metrics.json");
    if (s) return s;
    fprintf(t.f, "{\n  \"experiment\": ");
    config_json_string(t.f, e->name);
    fprintf(t.f, ",\n  \"points\": [");
    for (int i = 0; i < e->num_points; i++) {
        const msf_run_point *p = &e->points[i];
        const msf_point_result *r = &res[i];
        fprintf(t.f, "%s\n    {\"point\": ", i ? "," : "");
        config_json_string(t.f, p->name);
        fprintf(t.f, ", \"run\": ");
        config_json_string(t.f, p->run);
        fprintf(t.f, ", \"sweep\": ");
        config_json_string(t.f, p->sweep);
        fprintf(t.f, ", \"config_hash\": \"%016llx\", \"num_samples\": %lld", (unsigned long long)p->hash,
                (long long)r->num_samples);
        for (size_t k = 0; k < RUN_NUM_POINT_NUMBERS; k++) {
            fprintf(t.f, ", \"%s\": ", run_point_numbers[k].key);
            run_json_num(t.f, *run_point_number((msf_point_result *)r, k));
        }
        if (r->failed[0]) {
            fprintf(t.f, ", \"failed\": ");
            config_json_string(t.f, r->failed);
        }
        fputc('}', t.f);
    }
    fprintf(t.f, "\n  ]\n}\n");
    return msf_text_commit(&t);
}

static void md_num(FILE *f, double v, const char *fmt) {
    if (isfinite(v)) fprintf(f, fmt, v);
    else fputs("n/a", f);
}

static msf_status write_table_md(const char *dir, const msf_experiment *e, const msf_point_result *res,
                                 const msf_run_info *info) {
    msf_text_file t;
    msf_status s = msf_text_create_in(&t, dir, "table.md");
    if (s) return s;
    fprintf(t.f, "# %s\n\n", e->name);
    const char *desc = config_str(e->root, "description", NULL);
    if (desc) fprintf(t.f, "%s\n\n", desc);
    fprintf(t.f,
            "| point | model | steps | cfg | samples | FID | sFID | IS | Prec. | Rec. | class cons. | s/sample | "
            "GFLOPs/sample |\n|---|---|---|---|---|---|---|---|---|---|---|---|---|\n");
    for (int i = 0; i < e->num_points; i++) {
        const msf_run_point *p = &e->points[i];
        const msf_point_result *r = &res[i];
        const char *steps, *base, *residual;
        point_steps(p, &steps, &base, &residual);
        fprintf(t.f, "| %s | %s | ", p->name, msf_run_point_kind(p));
        if (*base) fprintf(t.f, "%s + %s", base, residual);
        else fputs(*steps ? steps : "n/a", t.f);
        fputs(" | ", t.f);
        md_num(t.f, point_cfg_scale(p), "%g");
        fprintf(t.f, " | %lld | ", (long long)r->num_samples);
        for (size_t k = 0; k < MSF_COUNT(result_columns); k++) {
            if (k) fputs(" | ", t.f);
            md_num(t.f, result_column(r, k), result_columns[k].md_format);
        }
        fputs(" |\n", t.f);
    }
    int failed = 0;
    for (int i = 0; i < e->num_points; i++) failed += res[i].failed[0] != 0;
    if (failed) {
        fprintf(t.f, "\n**%d point%s failed** (numbers n/a; `msf run` again retries %s):\n\n", failed,
                failed == 1 ? "" : "s", failed == 1 ? "it" : "them");
        for (int i = 0; i < e->num_points; i++)
            if (res[i].failed[0]) fprintf(t.f, "- %s: %s\n", e->points[i].name, res[i].failed);
    }
    if (info->not_run && *info->not_run)
        fprintf(t.f, "\nNot run yet (no results; `msf run --only` ran other points): %s\n", info->not_run);
    fprintf(
        t.f,
        "\nSteps of an MSF point: base + residual (base `file` or `real`: given bases, sampler.base_from; "
        "residual `none`: the samples are U(base)). A `samples` point evaluates a given batch. FID, sFID, IS, Prec., Rec.: of the evaluator's feature "
        "network (Fashion-MNIST: the classifier's features, an FD and an IS-like score). class cons.: share of "
        "samples the feature network classifies as the class they were conditioned on. s/sample: sampling "
        "wall time per sample on this machine (not the VAE decode). Per-point configs: manifest.json.\n");
    msf_seed_group *groups = malloc((size_t)e->num_points * sizeof *groups);
    if (!groups) {
        msf_text_abort(&t);
        return msf_fail(MSF_ERR_NOMEM, "out of memory");
    }
    int n = msf_seed_groups(groups, e, res);
    if (msf_seed_groups_any(groups, n)) msf_seed_table_md(t.f, groups, n, e);
    free(groups);
    return msf_text_commit(&t);
}

// One plots.dat / guidance.dat row: "X gflops seconds" and the metrics (NaN
// where absent).
static void write_plot_row(FILE *f, double x, const msf_point_result *r) {
    double m[RUN_NUM_METRICS];
    msf_point_metrics(r, m);
    fprintf(f, "%.10g %.10g %.10g", x, r->gflops_per_sample, r->seconds_per_sample);
    for (int k = 0; k < RUN_NUM_METRICS; k++) fprintf(f, " %.10g", isfinite(m[k]) ? m[k] : NAN);
    fputc('\n', f);
}

// plots.dat: one gnuplot block per series (run and guidance scale), rows
// "residual_steps gflops seconds fid sfid is precision recall class_consistency";
// series_of[point] = its block (-1: none, past max_series).
static int write_plot_data(FILE *f, char names[][96], int *series_of, int max_series, const msf_experiment *e,
                           const msf_point_result *res) {
    int series = 0;
    for (int i = 0; i < e->num_points; i++) series_of[i] = -1;
    for (int i = 0; i < e->num_points; i++) {
        char name[96];
        snprintf(name, sizeof name, "%s,cfg=%g", e->points[i].run, point_cfg_scale(&e->points[i]));
        int known = 0;
        for (int k = 0; k < series; k++) known |= !strcmp(names[k], name);
        if (known || series == max_series) continue;
        snprintf(names[series++], 96, "%s", name);
        char header[96];  // one line, whatever the run name holds
        fprintf(f, "%s# %s\n", series > 1 ? "\n\n" : "", msf_gp_inert(header, sizeof header, name));
        for (int j = i; j < e->num_points; j++) {
            const msf_run_point *p = &e->points[j];
            char other[96];
            snprintf(other, sizeof other, "%s,cfg=%g", p->run, point_cfg_scale(p));
            if (strcmp(other, name)) continue;
            const char *steps, *base, *residual;
            point_steps(p, &steps, &base, &residual);
            const msf_point_result *r = &res[j];
            char *end;
            double rs = strtod(residual, &end);
            write_plot_row(f, *residual && !*end ? rs : NAN, r);
            series_of[j] = series - 1;
        }
    }
    return series;
}

// A guidance series: the points of one run at one step setting ("run,steps=S"),
// told apart by their guidance scale.
static void guidance_series_name(char name[96], const msf_run_point *p) {
    const char *steps, *base, *residual;
    point_steps(p, &steps, &base, &residual);
    if (*base) snprintf(name, 96, "%s,steps=%s+%s", p->run, base, residual);
    else snprintf(name, 96, "%s,steps=%s", p->run, steps);
}

// The guidance series (blocks of guidance.dat): those with at least two
// guidance scales, in sweep order; gseries_of[point] = its block (-1: none).
// Returns the number of blocks.
static int guidance_series(char names[][96], int *gseries_of, int max_series, const msf_experiment *e) {
    int series = 0;
    for (int i = 0; i < e->num_points; i++) gseries_of[i] = -1;
    for (int i = 0; i < e->num_points && series < max_series; i++) {
        char name[96], other[96];
        if (!isfinite(point_cfg_scale(&e->points[i]))) continue;  // given samples
        guidance_series_name(name, &e->points[i]);
        int known = 0, scales = 0;
        for (int k = 0; k < series; k++) known |= !strcmp(names[k], name);
        for (int j = i + 1; j < e->num_points && !known; j++) {
            guidance_series_name(other, &e->points[j]);
            scales |= !strcmp(other, name) && point_cfg_scale(&e->points[j]) != point_cfg_scale(&e->points[i]);
        }
        if (known || !scales) continue;
        snprintf(names[series++], 96, "%s", name);
        for (int j = i; j < e->num_points; j++) {
            guidance_series_name(other, &e->points[j]);
            if (!strcmp(other, name)) gseries_of[j] = series - 1;
        }
    }
    return series;
}

// guidance.dat: one block per guidance series, rows "cfg_scale gflops seconds
// fid sfid is precision recall class_consistency".
static void write_guidance_data(FILE *f, char names[][96], int series, const int *gseries_of, const msf_experiment *e,
                                const msf_point_result *res) {
    for (int g = 0; g < series; g++) {
        char header[96];  // one line, whatever the run name holds
        fprintf(f, "%s# %s\n", g ? "\n\n" : "", msf_gp_inert(header, sizeof header, names[g]));
        for (int j = 0; j < e->num_points; j++)
            if (gseries_of[j] == g) write_plot_row(f, point_cfg_scale(&e->points[j]), &res[j]);
    }
}

// A metric's value at a point (k = RUN_NUM_METRICS: seconds per sample).
static double point_value(const msf_point_result *r, int k) {
    double m[RUN_NUM_METRICS];
    msf_point_metrics(r, m);
    return k < RUN_NUM_METRICS ? m[k] : r->seconds_per_sample;
}

// Points of each series (series_of[point] < 0: in none) with a value of
// metric k and a place on the plot's x axis (on_axis[point]) into
// count[series]; returns the largest count.
static int series_points(int *count, int nseries, const int *series_of, const int *on_axis, const msf_point_result *res,
                         int npoints, int k) {
    int most = 0;
    for (int g = 0; g < nseries; g++) count[g] = 0;
    for (int i = 0; i < npoints; i++)
        if (series_of[i] >= 0 && on_axis[i] && isfinite(point_value(&res[i], k)) && ++count[series_of[i]] > most)
            most = count[series_of[i]];
    return most;
}

// "plot ..." of column `col` against column `xcol` of `dat`, one term per
// series with at least `min_points` points (count[]), titled `names`[i + 1]
// (a gnuplot array); a series of one point is drawn as a marker.
static void plot_series(FILE *f, const char *dat, const char *names, int xcol, int col, const int *count, int nseries,
                        int min_points) {
    fprintf(f, "plot ");
    for (int g = 0, first = 1; g < nseries; g++) {
        if (count[g] < min_points || count[g] < 1) continue;
        fprintf(f, "%s'%s' index %d using %d:%d with %s title %s[%d]", first ? "" : ", \\\n     ", dat, g, xcol, col,
                count[g] >= 2 ? "linespoints" : "points pt 7", names, g + 1);
        first = 0;
    }
    fputc('\n', f);
}

// A plot or data file of an earlier run that this one does not make: removed,
// so that the folder holds what plots.gp describes.
static msf_status remove_stale(const char *dir, const char *name) {
    char path[4200];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    if (unlink(path) != 0 && errno != ENOENT)
        return msf_fail(MSF_ERR_IO, "cannot remove %s: %s", path, strerror(errno));
    return MSF_OK;
}

// With seed sweeps: metrics_seeds.csv, seeds.dat and their plots (appended
// to plots.gp); nothing when every setting has one seed.
static msf_status write_seed_results(FILE *gp, const char *dir, const msf_experiment *e, const msf_point_result *res) {
    msf_seed_group *groups = malloc((size_t)e->num_points * sizeof *groups);
    if (!groups) return msf_fail(MSF_ERR_NOMEM, "out of memory");
    int n = msf_seed_groups(groups, e, res);
    msf_status s = MSF_OK;
    if (msf_seed_groups_any(groups, n) && !(s = msf_seed_write_csv(dir, groups, n, e)))
        s = msf_seed_write_plots(gp, dir, groups, n, e);
    free(groups);
    return s;
}

static msf_status write_plots(const char *dir, const msf_experiment *e, const msf_point_result *res) {
    const int np = e->num_points;
    int *series_of = malloc((size_t)np * 5 * sizeof *series_of);
    if (!series_of) return msf_fail(MSF_ERR_NOMEM, "out of memory");
    int *gseries_of = series_of + np, *on_residual = gseries_of + np, *on_gflops = on_residual + np;
    int *on_guidance = on_gflops + np;
    msf_text_file dat, gp;
    char names[64][96], gnames[64][96];
    msf_status s = msf_text_create_in(&dat, dir, "plots.dat");
    int series = 0, gseries = guidance_series(gnames, gseries_of, 64, e);
    if (!s) {
        series = write_plot_data(dat.f, names, series_of, 64, e, res);
        s = msf_text_commit(&dat);
    }
    // guidance.dat only when some run sweeps the guidance scale (an earlier
    // run's is removed).
    if (!s && gseries) {
        msf_text_file gdat;
        if (!(s = msf_text_create_in(&gdat, dir, "guidance.dat"))) {
            write_guidance_data(gdat.f, gnames, gseries, gseries_of, e, res);
            s = msf_text_commit(&gdat);
        }
    } else if (!s) {
        s = remove_stale(dir, "guidance.dat");
    }
    if (!s) s = msf_text_create_in(&gp, dir, "plots.gp");
    if (s) {
        free(series_of);
        return s;
    }
    // Metrics with a value somewhere; seconds per sample when there are none.
    // A point has a place on the residual steps axis when its residual stage
    // has a number of steps (not given samples or bases without a residual
    // stage), on the GFLOPs axis (log scale) when its cost is known.
    int any[RUN_NUM_METRICS] = {0}, count = 0;
    for (int i = 0; i < np; i++) {
        const char *steps, *base, *residual;
        point_steps(&e->points[i], &steps, &base, &residual);
        char *end;
        strtod(residual, &end);
        on_residual[i] = *residual && !*end;
        on_gflops[i] = res[i].gflops_per_sample > 0;
        on_guidance[i] = 1;  // every point of a guidance series has a scale
        for (int k = 0; k < RUN_NUM_METRICS; k++) any[k] |= isfinite(point_value(&res[i], k));
    }
    // Every name (experiment, runs, series) reaches the script only as an
    // msf_gp_quote string (io/gnuplot.h): a name may hold backquotes, quotes or
    // newlines. Series names go in arrays (word() would split one at a blank).
    FILE *f = gp.f;
    char text[512], q[1100], out[128];
    snprintf(text, sizeof text, "plots.gp: written by msf run for %s; run `gnuplot plots.gp` in this folder.", e->name);
    msf_gp_comment(f, text);
    msf_gp_comment(f,
                   "A curve against residual steps or guidance needs two points of its series; against GFLOPs, a "
                   "series of one point is a marker and a plot needs two points.");
    msf_gp_prologue(f);
    fprintf(f,
            "set terminal pngcairo size 800,560 noenhanced\nset datafile missing 'NaN'\nset key outside right\n"
            "set grid\n");
    for (int g = 0; g < 2; g++) {
        int n = g ? gseries : series;
        if (!n) continue;
        fprintf(f, "array %s[%d] = [", g ? "gnames" : "names", n);
        for (int k = 0; k < n; k++)
            fprintf(f, "%s%s", k ? ", " : "", msf_gp_quote(q, sizeof q, g ? gnames[k] : names[k]));
        fprintf(f, "]\n");
    }
    int cnt[64];
    for (int k = 0; k <= RUN_NUM_METRICS && !s; k++) {
        const char *name = k < RUN_NUM_METRICS ? run_metric_names[k] : "seconds";
        const char *title = k < RUN_NUM_METRICS ? msf_metric_titles[k] : "seconds per sample";
        const char *label = k < RUN_NUM_METRICS ? msf_metric_labels[k] : "seconds per sample (lower is better)";
        int col = k < RUN_NUM_METRICS ? 4 + k : 3;
        // The seconds plots stand in for metrics only when no metric has a value.
        int make = k < RUN_NUM_METRICS ? any[k] : !count;
        count += make;
        // Against residual steps: the series with two points or more.
        snprintf(out, sizeof out, "%s_vs_residual_steps.png", name);
        if (make && series_points(cnt, series, series_of, on_residual, res, np, k) >= 2) {
            msf_gp_set_output(f, out);
            snprintf(text, sizeof text, "%s: %s vs residual steps", e->name, title);
            fprintf(f,
                    "set title %s\nset xlabel 'residual sampling steps (log scale)'\nset ylabel '%s'\n"
                    "set logscale x\n",
                    msf_gp_quote(q, sizeof q, text), label);
            plot_series(f, "plots.dat", "names", 1, col, cnt, series, 2);
            fprintf(f, "unset logscale x\n");
        } else {
            s = remove_stale(dir, out);
        }
        // Against sampling cost: every point with a cost, when there are two.
        snprintf(out, sizeof out, "%s_vs_gflops.png", name);
        int points = 0;
        if (make && series_points(cnt, series, series_of, on_gflops, res, np, k) >= 1)
            for (int g = 0; g < series; g++) points += cnt[g];
        if (!s && points >= 2) {
            msf_gp_set_output(f, out);
            snprintf(text, sizeof text, "%s: %s vs sampling cost", e->name, title);
            fprintf(f,
                    "set title %s\nset xlabel 'sampling GFLOPs per sample (log scale)'\nset ylabel '%s'\n"
                    "set logscale x\n",
                    msf_gp_quote(q, sizeof q, text), label);
            plot_series(f, "plots.dat", "names", 2, col, cnt, series, 1);
            fprintf(f, "unset logscale x\n");
        } else if (!s) {
            s = remove_stale(dir, out);
        }
        // Against the guidance scale: the guidance series with two points or more.
        snprintf(out, sizeof out, "%s_vs_guidance.png", name);
        if (!s && make && gseries && series_points(cnt, gseries, gseries_of, on_guidance, res, np, k) >= 2) {
            msf_gp_set_output(f, out);
            snprintf(text, sizeof text, "%s: %s vs guidance scale", e->name, title);
            fprintf(f, "set title %s\nset xlabel 'guidance scale (1 = no guidance)'\nset ylabel '%s'\n",
                    msf_gp_quote(q, sizeof q, text), label);
            plot_series(f, "guidance.dat", "gnames", 1, col, cnt, gseries, 2);
        } else if (!s) {
            s = remove_stale(dir, out);
        }
    }
    free(series_of);
    if (s || (s = write_seed_results(f, dir, e, res))) {
        msf_text_abort(&gp);
        return s;
    }
    return msf_text_commit(&gp);
}

static void library_versions(FILE *f) {
    unsigned maj, min, rel;
    H5get_libversion(&maj, &min, &rel);
    fprintf(f, "{\"hdf5\": \"%u.%u.%u\", \"openblas\": ", maj, min, rel);
    config_json_string(f, openblas_get_config());
    fprintf(f, ", \"fftw\": ");
    config_json_string(f, msf_fftw_version());
    fprintf(f, ", \"libpng\": \"%s\", \"zlib\": \"%s\", \"libzip\": \"%s\", \"libyaml\": \"%s\", \"onednn\": ",
            png_get_libpng_ver(NULL), zlibVersion(), zip_libzip_version(), yaml_get_version_string());
    if (nn_bf16_available()) config_json_string(f, nn_bf16_library());
    else fputs("null", f);
    fputc('}', f);
}

static msf_status write_manifest(const char *dir, const msf_experiment *e, const msf_run_info *info) {
    msf_text_file t;
    msf_status s = msf_text_create_in(&t, dir, "manifest.json");
    if (s) return s;
    FILE *f = t.f;
    struct utsname u;
    char host[1024] = "unknown";
    if (uname(&u) == 0) snprintf(host, sizeof host, "%s (%s %s %s)", u.nodename, u.sysname, u.release, u.machine);
    fprintf(f, "{\n  \"experiment\": ");
    config_json_string(f, e->name);
    fprintf(f, ",\n  \"experiment_file\": ");
    config_json_string(f, e->path);
    fprintf(f, ",\n  \"command\": ");
    config_json_string(f, info->command ? info->command : "");
    fprintf(f, ",\n  \"msf_version\": \"%s\",\n  \"git_commit\": ", msf_version());
    config_json_string(f, msf_git_commit());
    fprintf(f, ",\n  \"config_hash\": \"%016llx\",\n  \"host\": ", (unsigned long long)config_hash(e->root));
    config_json_string(f, host);
    fprintf(f, ",\n  \"threads\": %d,\n  \"processes\": %d,\n  \"started\": \"%s\",\n  \"ended\": ", info->threads,
            info->processes, info->started);
    if (info->ended) fprintf(f, "\"%s\"", info->ended);
    else fputs("null", f);
    fprintf(f, ",\n  \"resumed\": %s,\n  \"libraries\": ", info->resumed ? "true" : "false");
    library_versions(f);
    fprintf(f, ",\n  \"config\": ");
    config_write_json(f, e->root, 2);
    fprintf(f, ",\n  \"points\": [");
    for (int i = 0; i < e->num_points; i++) {
        const msf_run_point *p = &e->points[i];
        fprintf(f, "%s\n    {\"point\": ", i ? "," : "");
        config_json_string(f, p->name);
        fprintf(
            f,
            ", \"seed\": %lld, \"num_samples\": %lld, \"model_precision\": \"%s\", \"evaluator_precision\": \"%s\", "
            "\"config_hash\": \"%016llx\", "
            "\"sample_hash\": \"%016llx\", \"inputs_hash\": \"%016llx\",\n     \"config\": ",
            (long long)msf_run_int(p->config, "seed"), (long long)msf_run_int(p->config, "num_samples"),
            msf_run_point_precision(p), msf_run_point_eval_precision(p), (unsigned long long)p->hash,
            (unsigned long long)p->sample_hash, (unsigned long long)p->inputs_hash);
        config_write_json(f, p->config, -1);
        fputc('}', f);
    }
    fprintf(f, "\n  ]\n}\n");
    return msf_text_commit(&t);
}

msf_status msf_run_write_results(const char *dir, const msf_experiment *e, const msf_point_result *results,
                                 const msf_run_info *info) {
    msf_status s;
    if ((s = write_metrics_csv(dir, e, results)) || (s = write_metrics_json(dir, e, results)) ||
        (s = write_table_md(dir, e, results, info)) || (s = write_plots(dir, e, results)))
        return s;
    return write_manifest(dir, e, info);
}

msf_status msf_run_write_manifest(const char *dir, const msf_experiment *e, const msf_run_info *info) {
    return write_manifest(dir, e, info);
}
