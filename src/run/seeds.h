// seeds.h: results aggregated over sample seeds. Points of an experiment
// that differ only in `seed` (a `seed: [0, 1, 2]` sweep) form one group; a
// group's metrics are reported as the mean and the sample standard
// deviation (n - 1) over its seeds, so that a difference between two
// settings can be read against the spread a new seed alone gives.
#ifndef MSF_RUN_SEEDS_H
#define MSF_RUN_SEEDS_H

#include <stdio.h>

#include "core/status.h"
#include "run/experiment.h"
#include "run/runner.h"

#define MSF_SEED_METRICS 6  // fid, sfid, is, precision, recall, class_consistency

// The metrics' names in files (fid, ...), their titles (FID, ...) and plot
// labels (the title and which way is better), shared by every results writer.
extern const char *const msf_metric_keys[MSF_SEED_METRICS];
extern const char *const msf_metric_titles[MSF_SEED_METRICS];
extern const char *const msf_metric_labels[MSF_SEED_METRICS];
// A point's metrics in that order (NaN where absent).
void msf_point_metrics(const msf_point_result *r, double m[MSF_SEED_METRICS]);

typedef struct {
    char name[232];  // the point name without its "seed=..." part
    char run[64];
    char series[64];               // the run's `series` (default its name): a curve of the plots over seeds
    int first;                     // index of the group's first point (its config, steps, model)
    int count;                     // points (seeds) in the group
    int finite[MSF_SEED_METRICS];  // seeds with a finite value, per metric
    double mean[MSF_SEED_METRICS], sd[MSF_SEED_METRICS];  // sd NaN with fewer than 2 values
    double gflops_per_sample, train_gflops;               // of the first point; train_gflops NaN if not given
} msf_seed_group;

// Group e's points by everything but the seed, in the order of their first
// point. `groups` holds e->num_points entries; returns the group count.
int msf_seed_groups(msf_seed_group *groups, const msf_experiment *e, const msf_point_result *res);

// Whether any group has two or more seeds.
int msf_seed_groups_any(const msf_seed_group *groups, int n);

// The point name with its "seed=VALUE" sweep part removed ("dit,steps=10,seed=1"
// -> "dit,steps=10"; "dit,seed=1" -> "dit").
void msf_seed_group_name(char *out, size_t size, const char *point_name);

// The seed-aggregated table as a Markdown section of table.md.
void msf_seed_table_md(FILE *f, const msf_seed_group *groups, int n, const msf_experiment *e);

// metrics_seeds.csv: one row per group, mean and sd of each metric.
msf_status msf_seed_write_csv(const char *dir, const msf_seed_group *groups, int n, const msf_experiment *e);

// seeds.dat: one gnuplot block per series, rows "gflops train_gflops
// mean_1 sd_1 ... mean_6 sd_6" (sd 0 with one seed), ordered by training
// compute, then sampling cost. Returns the number of blocks, their series
// names in names[] (at most max_series) and in joined[] whether the series'
// sampling costs are all distinct (a line over them is meaningful).
int msf_seed_write_dat(FILE *f, char names[][64], int joined[], int max_series, const msf_seed_group *groups, int n);

// seeds.dat in dir, and the gnuplot commands (appended to gp, the open
// plots.gp) of each metric against sampling GFLOPs per sample and, where the
// runs give model.train_gflops, against training compute, with error bars:
// METRIC_vs_gflops_seeds.png, METRIC_vs_train_gflops_seeds.png.
msf_status msf_seed_write_plots(FILE *gp, const char *dir, const msf_seed_group *groups, int n,
                                const msf_experiment *e);

#endif
