// results.c: the experiment-level files of a results folder: metrics.csv,
// metrics.json, table.md, plots (plots.gp, plots.dat, guidance.dat and the
// seed sweeps' files of seeds.c) and manifest.json.
#include "run/runner_internal.h"

#include <hdf5.h>
#include <math.h>
#include <png.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <yaml.h>
#include <zip.h>
#include <zlib.h>

#include "core/version.h"
#include "eval/spectrum.h"
#include "io/gnuplot.h"
#include "io/textfile.h"
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
    const char *kind = msf_run_point_kind(p), *from = cfg_str(p->cfg, "sampler.base_from", NULL);
    int msf = !strcmp(kind, "msf");
    *steps = strcmp(kind, "samples") ? cfg_str(p->cfg, "sampler.steps", "250") : "";
    *base = !msf ? "" : from ? (strcmp(from, "real") ? "file" : "real") : cfg_str(p->cfg, "sampler.base_steps", *steps);
    *residual = !msf ? "" : !strcmp(cfg_str(p->cfg, "sampler.residual", "sample"), "none")
                                ? "none"
                                : cfg_str(p->cfg, "sampler.residual_steps", *steps);
}

// The guidance scale of a point's (base) stage; NaN for given samples.
static double point_cfg_scale(const msf_run_point *p) {
    if (!strcmp(msf_run_point_kind(p), "samples")) return NAN;
    return cfg_num(p->cfg, "sampler.base_cfg_scale", cfg_num(p->cfg, "sampler.cfg_scale", 1.5));
}

const char *const run_metric_names[RUN_NUM_METRICS] = {"fid", "sfid", "is", "precision", "recall",
                                                       "class_consistency"};
static const char *metric_titles[] = {"FID", "sFID", "IS", "Precision", "Recall", "class consistency"};

static void point_metrics(const msf_point_result *r, double m[RUN_NUM_METRICS]) {
    const double v[RUN_NUM_METRICS] = {r->fid, r->sfid, r->is, r->precision, r->recall, r->class_consistency};
    memcpy(m, v, sizeof v);
}

static msf_status write_metrics_csv(const char *dir, const msf_experiment *e, const msf_point_result *res) {
    msf_text_file t;
    msf_status s = msf_text_create_in(&t, dir, "metrics.csv");
    if (s) return s;
    fprintf(t.f, "point,run,sweep,kind,steps,base_steps,residual_steps,cfg_scale,num_samples,fid,sfid,is,precision,"
                 "recall,class_consistency,seconds_per_sample,gflops_per_sample,config_hash,reproduces_model,reproduces_resolution,"
                 "reproduces_cfg_scale,reproduces_steps\n");
    for (int i = 0; i < e->num_points; i++) {
        const msf_run_point *p = &e->points[i];
        const msf_point_result *r = &res[i];
        const char *steps, *base, *residual;
        point_steps(p, &steps, &base, &residual);
        // Sweep values hold commas: quote the fields that can.
        fprintf(t.f, "\"%s\",%s,\"%s\",%s,\"%s\",\"%s\",\"%s\",", p->name, p->run, p->sweep,
                msf_run_point_kind(p), steps, base, residual);
        if (isfinite(point_cfg_scale(p))) fprintf(t.f, "%g", point_cfg_scale(p));
        fprintf(t.f, ",%lld", (long long)r->num_samples);
        const double v[] = {r->fid, r->sfid, r->is, r->precision, r->recall, r->class_consistency,
                            r->seconds_per_sample, r->gflops_per_sample};
        for (size_t k = 0; k < sizeof v / sizeof v[0]; k++) {
            fputc(',', t.f);
            csv_num(t.f, v[k]);
        }
        fprintf(t.f, ",%016llx,\"%s\",%s,", (unsigned long long)p->hash, cfg_str(p->cfg, "reproduces.model", ""),
                cfg_str(p->cfg, "reproduces.resolution", ""));
        if (cfg_find(p->cfg, "reproduces.cfg_scale")) fprintf(t.f, "%g", cfg_num(p->cfg, "reproduces.cfg_scale", 0));
        fprintf(t.f, ",%s\n", cfg_str(p->cfg, "reproduces.steps", ""));
    }
    return msf_text_commit(&t);
}

static msf_status write_metrics_json(const char *dir, const msf_experiment *e, const msf_point_result *res) {
    msf_text_file t;
    msf_status s = msf_text_create_in(&t, dir, "metrics.json");
    if (s) return s;
    fprintf(t.f, "{\n  \"experiment\": ");
    cfg_json_string(t.f, e->name);
    fprintf(t.f, ",\n  \"points\": [");
    for (int i = 0; i < e->num_points; i++) {
        const msf_run_point *p = &e->points[i];
        const msf_point_result *r = &res[i];
        fprintf(t.f, "%s\n    {\"point\": ", i ? "," : "");
        cfg_json_string(t.f, p->name);
        fprintf(t.f, ", \"run\": ");
        cfg_json_string(t.f, p->run);
        fprintf(t.f, ", \"sweep\": ");
        cfg_json_string(t.f, p->sweep);
        fprintf(t.f, ", \"config_hash\": \"%016llx\", \"num_samples\": %lld", (unsigned long long)p->hash,
                (long long)r->num_samples);
        for (size_t k = 0; k < RUN_NUM_POINT_NUMBERS; k++) {
            fprintf(t.f, ", \"%s\": ", run_point_numbers[k].key);
            run_json_num(t.f, *run_point_number((msf_point_result *)r, k));
        }
        if (r->failed[0]) {
            fprintf(t.f, ", \"failed\": ");
            cfg_json_string(t.f, r->failed);
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
    const char *desc = cfg_str(e->root, "description", NULL);
    if (desc) fprintf(t.f, "%s\n\n", desc);
    fprintf(t.f, "| point | model | steps | cfg | samples | FID | sFID | IS | Prec. | Rec. | class cons. | s/sample | "
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
        const double v[] = {r->fid, r->sfid, r->is, r->precision, r->recall, r->class_consistency,
                            r->seconds_per_sample, r->gflops_per_sample};
        static const char *const fmt[] = {"%.4g", "%.4g", "%.4g", "%.3f", "%.3f", "%.3f", "%.4g", "%.4g"};
        for (size_t k = 0; k < sizeof v / sizeof v[0]; k++) {
            if (k) fputs(" | ", t.f);
            md_num(t.f, v[k], fmt[k]);
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
    fprintf(t.f, "\nSteps of an MSF point: base + residual (base `file` or `real`: given bases, sampler.base_from; "
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
    point_metrics(r, m);
    fprintf(f, "%.10g %.10g %.10g", x, r->gflops_per_sample, r->seconds_per_sample);
    for (int k = 0; k < RUN_NUM_METRICS; k++) fprintf(f, " %.10g", isfinite(m[k]) ? m[k] : NAN);
    fputc('\n', f);
}

// plots.dat: one gnuplot block per series (run and guidance scale), rows
// "residual_steps gflops seconds fid sfid is precision recall class_consistency".
static int write_plot_data(FILE *f, char names[][96], int max_series, const msf_experiment *e,
                           const msf_point_result *res) {
    int series = 0;
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

// guidance.dat: one gnuplot block per guidance series with at least two
// guidance scales, rows "cfg_scale gflops seconds fid sfid is precision recall
// class_consistency" in sweep order. Returns the number of blocks.
static int write_guidance_data(FILE *f, char names[][96], int max_series, const msf_experiment *e,
                               const msf_point_result *res) {
    int series = 0;
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
        char header[96];  // one line, whatever the run name holds
        fprintf(f, "%s# %s\n", series > 1 ? "\n\n" : "", msf_gp_inert(header, sizeof header, name));
        for (int j = i; j < e->num_points; j++) {
            guidance_series_name(other, &e->points[j]);
            if (strcmp(other, name)) continue;
            write_plot_row(f, point_cfg_scale(&e->points[j]), &res[j]);
        }
    }
    return series;
}

// With seed sweeps: metrics_seeds.csv, seeds.dat and their plots (appended
// to plots.gp); nothing when every setting has one seed.
static msf_status write_seed_results(FILE *gp, const char *dir, const msf_experiment *e,
                                     const msf_point_result *res) {
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
    msf_text_file dat, gp;
    msf_status s = msf_text_create_in(&dat, dir, "plots.dat");
    if (s) return s;
    char names[64][96], gnames[64][96];
    int series = write_plot_data(dat.f, names, 64, e, res);
    if ((s = msf_text_commit(&dat))) return s;
    msf_text_file gdat;
    if ((s = msf_text_create_in(&gdat, dir, "guidance.dat"))) return s;
    int gseries = write_guidance_data(gdat.f, gnames, 64, e, res);
    if ((s = msf_text_commit(&gdat))) return s;
    if ((s = msf_text_create_in(&gp, dir, "plots.gp"))) return s;
    // Metrics with a value somewhere; seconds per sample when there are none.
    // A plot against an axis (residual steps, GFLOPs on a log scale) is made
    // where some point has both a value and a place on it (not given samples
    // or bases without a residual stage, for instance).
    int any[RUN_NUM_METRICS] = {0}, count = 0;
    int on_residual[RUN_NUM_METRICS + 1] = {0}, on_gflops[RUN_NUM_METRICS + 1] = {0};
    for (int i = 0; i < e->num_points; i++) {
        double m[RUN_NUM_METRICS + 1];
        point_metrics(&res[i], m);
        m[RUN_NUM_METRICS] = res[i].seconds_per_sample;
        const char *steps, *base, *residual;
        point_steps(&e->points[i], &steps, &base, &residual);
        char *end;
        strtod(residual, &end);
        int numbered = *residual && !*end, costed = res[i].gflops_per_sample > 0;
        for (int k = 0; k <= RUN_NUM_METRICS; k++) {
            if (k < RUN_NUM_METRICS) any[k] |= isfinite(m[k]);
            on_residual[k] |= numbered && isfinite(m[k]);
            on_gflops[k] |= costed && isfinite(m[k]);
        }
    }
    // Every name (experiment, runs, series) reaches the script only as an
    // msf_gp_quote string (io/gnuplot.h): a name may hold backquotes, quotes or
    // newlines. Series names go in arrays (word() would split one at a blank).
    FILE *f = gp.f;
    char text[512], q[1100], out[128];
    snprintf(text, sizeof text, "plots.gp: written by msf run for %s; run `gnuplot plots.gp` in this folder.", e->name);
    msf_gp_comment(f, text);
    msf_gp_prologue(f);
    fprintf(f, "set terminal pngcairo size 800,560 noenhanced\nset datafile missing 'NaN'\nset key outside right\n"
               "set grid\n");
    for (int g = 0; g < 2; g++) {
        int n = g ? gseries : series;
        if (!n) continue;
        fprintf(f, "array %s[%d] = [", g ? "gnames" : "names", n);
        for (int k = 0; k < n; k++)
            fprintf(f, "%s%s", k ? ", " : "", msf_gp_quote(q, sizeof q, g ? gnames[k] : names[k]));
        fprintf(f, "]\n");
    }
    for (int k = 0; k <= RUN_NUM_METRICS; k++) {
        if (k < RUN_NUM_METRICS && !any[k]) continue;
        if (k == RUN_NUM_METRICS && count) break;
        count++;
        const char *name = k < RUN_NUM_METRICS ? run_metric_names[k] : "seconds";
        const char *title = k < RUN_NUM_METRICS ? metric_titles[k] : "seconds per sample";
        int col = k < RUN_NUM_METRICS ? 4 + k : 3;
        if (on_residual[k]) {
            snprintf(out, sizeof out, "%s_vs_residual_steps.png", name);
            msf_gp_set_output(f, out);
            snprintf(text, sizeof text, "%s: %s vs residual steps", e->name, title);
            fprintf(f, "set title %s\nset xlabel 'residual steps'\nset ylabel '%s'\nset logscale x\n"
                       "plot for [i=0:%d] 'plots.dat' index i using 1:%d with linespoints title names[i+1]\n"
                       "unset logscale x\n",
                    msf_gp_quote(q, sizeof q, text), title, series - 1, col);
        }
        if (on_gflops[k]) {
            snprintf(out, sizeof out, "%s_vs_gflops.png", name);
            msf_gp_set_output(f, out);
            snprintf(text, sizeof text, "%s: %s vs cost", e->name, title);
            fprintf(f, "set title %s\nset xlabel 'GFLOPs per sample'\nset ylabel '%s'\nset logscale x\n"
                       "plot for [i=0:%d] 'plots.dat' index i using 2:%d with linespoints title names[i+1]\n"
                       "unset logscale x\n",
                    msf_gp_quote(q, sizeof q, text), title, series - 1, col);
        }
        if (gseries) {
            snprintf(out, sizeof out, "%s_vs_guidance.png", name);
            msf_gp_set_output(f, out);
            snprintf(text, sizeof text, "%s: %s vs guidance scale", e->name, title);
            fprintf(f, "set title %s\nset xlabel 'guidance scale (1 = none)'\nset ylabel '%s'\n"
                       "plot for [i=0:%d] 'guidance.dat' index i using 1:%d with linespoints title gnames[i+1]\n",
                    msf_gp_quote(q, sizeof q, text), title, gseries - 1, col);
        }
    }
    if ((s = write_seed_results(f, dir, e, res))) {
        msf_text_abort(&gp);
        return s;
    }
    return msf_text_commit(&gp);
}

static void library_versions(FILE *f) {
    unsigned maj, min, rel;
    H5get_libversion(&maj, &min, &rel);
    fprintf(f, "{\"hdf5\": \"%u.%u.%u\", \"openblas\": ", maj, min, rel);
    cfg_json_string(f, openblas_get_config());
    fprintf(f, ", \"fftw\": ");
    cfg_json_string(f, msf_fftw_version());
    fprintf(f, ", \"libpng\": \"%s\", \"zlib\": \"%s\", \"libzip\": \"%s\", \"libyaml\": \"%s\"}",
            png_get_libpng_ver(NULL), zlibVersion(), zip_libzip_version(), yaml_get_version_string());
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
    cfg_json_string(f, e->name);
    fprintf(f, ",\n  \"experiment_file\": ");
    cfg_json_string(f, e->path);
    fprintf(f, ",\n  \"command\": ");
    cfg_json_string(f, info->command ? info->command : "");
    fprintf(f, ",\n  \"msf_version\": \"%s\",\n  \"git_commit\": ", msf_version());
    cfg_json_string(f, msf_git_commit());
    fprintf(f, ",\n  \"config_hash\": \"%016llx\",\n  \"host\": ", (unsigned long long)cfg_hash(e->root));
    cfg_json_string(f, host);
    fprintf(f, ",\n  \"threads\": %d,\n  \"processes\": %d,\n  \"started\": \"%s\",\n  \"ended\": ",
            info->threads, info->processes, info->started);
    if (info->ended) fprintf(f, "\"%s\"", info->ended);
    else fputs("null", f);
    fprintf(f, ",\n  \"resumed\": %s,\n  \"libraries\": ", info->resumed ? "true" : "false");
    library_versions(f);
    fprintf(f, ",\n  \"config\": ");
    cfg_write_json(f, e->root, 2);
    fprintf(f, ",\n  \"points\": [");
    for (int i = 0; i < e->num_points; i++) {
        const msf_run_point *p = &e->points[i];
        fprintf(f, "%s\n    {\"point\": ", i ? "," : "");
        cfg_json_string(f, p->name);
        fprintf(f, ", \"seed\": %lld, \"num_samples\": %lld, \"config_hash\": \"%016llx\", \"sample_hash\": "
                   "\"%016llx\", \"inputs_hash\": \"%016llx\",\n     \"config\": ",
                (long long)cfg_int(p->cfg, "seed", 0), (long long)cfg_int(p->cfg, "num_samples", 0),
                (unsigned long long)p->hash, (unsigned long long)p->sample_hash, (unsigned long long)p->inputs_hash);
        cfg_write_json(f, p->cfg, -1);
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

