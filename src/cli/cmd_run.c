// cmd_run.c: `msf run`, every grid point of an experiment file: sample ->
// decode -> metrics -> spectra, resumably, into RESULTS/EXPERIMENT/.
#define _XOPEN_SOURCE 700  // nftw
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli.h"
#include "io/gnuplot.h"
#include "run/experiment.h"
#include "run/runner.h"

const char cmd_run_usage[] =
    "usage: msf run EXPERIMENT.yaml [--dry-run] [--force] [--results-dir DIR] [--only POINT[,POINT...]]\n"
    "       msf run --keys\n\n"
    "Run every grid point of an experiment file (experiments/*.yaml; the format\n"
    "is in configs/README.md): sample in shards -> decode (with the configured\n"
    "VAE, else pixels) -> metrics (when an evaluator is configured) -> spectra\n"
    "(when `spectrum` is configured), then write DIR/EXPERIMENT/: manifest.json,\n"
    "metrics.json, metrics.csv, table.md, plots (gnuplot PNGs of each metric\n"
    "against GFLOPs, residual steps and, where a run sweeps it, the guidance\n"
    "scale; data in plots.dat, and in guidance.dat when a run sweeps guidance)\n"
    "and per point points/POINT/ (images.npz, grid.png and its legend grid.txt,\n"
    "point.json, shards/). A run of given\n"
    "samples (`samples: PATH.npz`, no model) is not sampled: that batch is\n"
    "evaluated where it is.\n\n"
    "A rerun continues where an interrupted one stopped: complete shards and\n"
    "finished points are reused, and the final numbers equal those of an\n"
    "uninterrupted run; a damaged shard or merged file is reported and made\n"
    "again. Only one `msf run` at a time writes an experiment's folder, and it\n"
    "writes nowhere else; a folder DIR/EXPERIMENT without manifest.json that\n"
    "holds files is not msf run's: it is left alone and the run stops.\n\n"
    "Under MPI (`mpirun -np N msf run ...`, `srun msf run ...`; msf --version\n"
    "says whether this build has it) rank k mod N samples shard k of each point\n"
    "and computes feature batch k; rank 0 alone merges, computes the metrics and\n"
    "spectra and writes the results. The numbers and files equal those of one\n"
    "process for any N, and a rerun with another N reuses the finished shards.\n\n"
    "  --dry-run          print the expanded grid with sample counts, shards and\n"
    "                     GFLOPs, the MPI ranks that would have work, and any\n"
    "                     missing file; run nothing\n"
    "  --keys             list every key a run may set, with its type, its default\n"
    "                     and the msf sample option of the same meaning\n"
    "  --force            delete what msf run wrote in DIR/EXPERIMENT (points,\n"
    "                     metrics, tables, plots, manifest) and start over;\n"
    "                     other files there stay\n"
    "  --results-dir DIR  where results go (default results)\n"
    "  --only LIST        run only these points (repeatable). A point is named as\n"
    "                     --dry-run lists it and as its folder points/POINT is: the\n"
    "                     run's name, then each swept field's last part and value,\n"
    "                     \"RUN,leaf=value,...\" (\"msf,residual_steps=5,cfg_scale=1.5\");\n"
    "                     a run's name alone selects all its points. LIST joins\n"
    "                     names with commas (read left to right, longest name\n"
    "                     first). The other points are not run and nothing of\n"
    "                     theirs is changed: the results files list the selected\n"
    "                     points and those finished before; table.md names the\n"
    "                     points without results. With --force only the selected\n"
    "                     points' folders are deleted.\n\n"
    "Exit status: 0 on success, 1 on a bad config, a missing file or a failed\n"
    "stage, 2 on a usage error (an --only name that is no point or run).\n";

// -----------------------------------------------------------------------------
// Missing files

typedef struct {
    const char *point;
    char seen[64][512];
    int count;
    FILE *out;
} missing_list;

static void on_missing(void *user, const char *path, const char *what, const char *how) {
    missing_list *m = user;
    for (int i = 0; i < m->count && i < 64; i++)
        if (!strcmp(m->seen[i], path)) return;
    if (m->count < 64) snprintf(m->seen[m->count], sizeof m->seen[0], "%s", path);
    m->count++;
    if (!m->out) return;
    fprintf(m->out, "  missing %s: %s (first needed by point %s)\n", what, path, m->point);
    fprintf(m->out, "    to get it: %s\n", how ? how : "(the config says nothing; see experiments/README.md)");
}

static int list_missing(const msf_experiment *e, FILE *out) {
    missing_list m = {.out = out};
    for (int i = 0; i < e->num_points; i++) {
        m.point = e->points[i].name;
        msf_run_point_missing(&e->points[i], on_missing, &m);
    }
    return m.count;
}

// -----------------------------------------------------------------------------
// --only

// Whether `name` is a point's or a run's name; sets what it selects.
static int select_name(const msf_experiment *e, const char *name, unsigned char *selected) {
    int found = 0;
    for (int i = 0; i < e->num_points; i++)
        if (!strcmp(e->points[i].name, name) || !strcmp(e->points[i].run, name)) selected[i] = 1, found = 1;
    return found;
}

// Mark the points of `list` (names joined by commas; point names hold commas
// themselves, so each step takes the longest run of parts that names a point
// or a run and is not followed by a "leaf=value" part). 0 after printing the
// unknown name and the known ones.
static int select_points(const msf_experiment *e, const char *list, unsigned char *selected) {
    char *copy = strdup(list), *parts[1024];
    int n = 0;
    if (!copy) return 0;
    for (char *p = copy; n < 1024; p++) {
        parts[n++] = p;
        p = strchr(p, ',');
        if (!p) break;
        *p = '\0';
    }
    int ok = 1;
    char name[4096];
    for (int i = 0; i < n && ok;) {
        int j = n;
        for (; j > i; j--) {
            name[0] = '\0';
            for (int k = i; k < j; k++) {
                size_t len = strlen(name);
                snprintf(name + len, sizeof name - len, "%s%s", k > i ? "," : "", parts[k]);
            }
            // (a name is never followed by a "leaf=value" part: that would belong to it)
            if ((j == n || !strchr(parts[j], '=')) && select_name(e, name, selected)) break;
        }
        if (j > i) {
            i = j;
            continue;
        }
        // Unknown: the part and the "leaf=value" parts after it, as one name.
        snprintf(name, sizeof name, "%s", parts[i]);
        for (int k = i + 1; k < n && strchr(parts[k], '='); k++) {
            size_t len = strlen(name);
            snprintf(name + len, sizeof name - len, ",%s", parts[k]);
        }
        fprintf(stderr, "msf run: --only: '%s' is no point or run of %s; its points are:\n", name, e->path);
        for (int k = 0; k < e->num_points; k++) fprintf(stderr, "  %s\n", e->points[k].name);
        ok = 0;
    }
    free(copy);
    return ok;
}

// The points i of e with keep[i] as an experiment of their own, sharing e's
// configs (free only its `points`), and their results in out_res.
static msf_status subset(msf_experiment *out, const msf_experiment *e, const unsigned char *keep,
                         const msf_point_result *res, msf_point_result *out_res) {
    *out = *e;
    out->num_points = 0;
    if (!(out->points = malloc((size_t)(e->num_points ? e->num_points : 1) * sizeof *out->points)))
        return msf_fail(MSF_ERR_NOMEM, "out of memory");
    for (int i = 0; i < e->num_points; i++) {
        if (!keep[i]) continue;
        if (out_res) out_res[out->num_points] = res[i];
        out->points[out->num_points++] = e->points[i];
    }
    return MSF_OK;
}

// -----------------------------------------------------------------------------
// Dry run

static int dry_run(const msf_experiment *e) {
    printf("experiment %s (%s): %d grid point%s\n\n", e->name, e->path, e->num_points, e->num_points == 1 ? "" : "s");
    printf("%-44s %9s %7s %-12s %6s %14s %12s\n", "point", "samples", "shards", "steps", "cfg", "GFLOPs/sample",
           "total TFLOPs");
    double total = 0;
    int64_t samples = 0, shards = 0, most = 0;
    for (int i = 0; i < e->num_points; i++) {
        const msf_run_point *p = &e->points[i];
        int64_t n = msf_run_int(p->config, "num_samples"), shard = msf_run_int(p->config, "shard_size");
        int64_t k = shard > 0 && n > 0 ? (n + shard - 1) / shard : 0;
        if (strcmp(msf_run_point_kind(p), "samples")) shards += k, most = k > most ? k : most;
        const char *kind = msf_run_point_kind(p);
        if (!strcmp(kind, "samples")) {
            printf("%-44s %9s %7s %-12s %6s %14s %12s  (given samples: %s)\n", p->name, "given", "-", "-", "-", "?",
                   "?", config_str(p->config, "samples", ""));
            continue;
        }
        int msf = !strcmp(kind, "msf");
        const char *steps = msf_run_str(p->config, "sampler.steps"),
                   *from = msf_run_str(p->config, "sampler.base_from");
        char st[64];
        if (msf)
            snprintf(
                st, sizeof st, "%s+%s",
                from ? (strcmp(from, "real") ? "file" : "real") : config_str(p->config, "sampler.base_steps", steps),
                strcmp(msf_run_str(p->config, "sampler.residual"), "none")
                    ? config_str(p->config, "sampler.residual_steps", steps)
                    : "none");
        else snprintf(st, sizeof st, "%s", steps);
        double g;
        printf("%-44s %9lld %7lld %-12s %6g ", p->name, (long long)n,
               shard > 0 ? (long long)((n + shard - 1) / shard) : 0LL, st,
               config_num(p->config, "sampler.base_cfg_scale", msf_run_num(p->config, "sampler.cfg_scale")));
        if (msf_run_point_gflops(&g, p)) {
            printf("%14s %12s  (%s)\n", "?", "?", msf_error_message());
            continue;
        }
        printf("%14.2f %12.3f\n", g, g * (double)n / 1000);
        total += g * (double)n;
        samples += n;
    }
    printf("\ntotal: %lld samples, %.3f TFLOPs of sampling (one multiply-add = one FLOP, as DiT's Table 4)\n",
           (long long)samples, total / 1000);
    // Under MPI shard k of a point is rank k mod N's: more ranks than a
    // point's shards sit idle while it samples.
    printf(
        "shards: %lld in all, at most %lld in one point; MPI ranks: up to %lld useful, a divisor of it keeps them "
        "equally busy (shard k of a point is rank k mod N's: mpirun -np N %s run ...)\n",
        (long long)shards, (long long)most, (long long)(most > 0 ? most : 1), "bin/msf");
    int missing = list_missing(e, stdout);
    if (missing)
        printf("(%d missing file%s: `msf run` would stop before sampling)\n", missing, missing == 1 ? "" : "s");
    // What a run would stop on before sampling.
    for (int i = 0; i < e->num_points; i++)
        if (msf_run_point_check(&e->points[i])) return cli_fail("run");
    return 0;
}

// -----------------------------------------------------------------------------
// Helpers

static void iso_now(char *buf, size_t size) {
    time_t t = time(NULL);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(buf, size, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

// gnuplot plots.gp in dir, its messages going to plots.log there (io/gnuplot.h:
// every PNG is checked and moved into place whole). Without gnuplot, a warning;
// a failed gnuplot or an incomplete PNG (a full disk) fails the run.
static msf_status plot(const char *dir) {
    msf_status s = msf_gp_plot(dir, "plots.gp", "plots.log");
    if (s) return msf_fail_context(s, "plots of %s (the other results are written)", dir);
    return MSF_OK;
}

// -----------------------------------------------------------------------------

static void show_progress(void *user, const char *label, int64_t done, int64_t total) {
    msf_progress inner = cli_progress_bar_callback(user);
    inner.fn(inner.user, label, done, total);
}

// One point (its inputs hashed): samples (or the ones a resume keeps),
// metrics, spectra, then point.json. Every rank calls it; rank 0 alone
// computes the spectra and writes point.json, and the status is the job's.
static msf_status run_point(msf_point_result *r, const msf_run_point *p, const char *pdir, msf_base_cache *bases,
                            const msf_dist *dist, const msf_progress *progress) {
    msf_status s;
    int spectra = config_find(p->config, "spectrum") != NULL;
    if ((s = msf_run_point_generate(r, p, pdir, spectra, bases, dist, progress))) return s;
    if (config_find(p->config, "evaluator") && (s = msf_run_point_metrics(r, p, pdir, dist, NULL))) return s;
    if (!msf_dist_is_root(dist)) return msf_dist_agree(dist, MSF_OK, NULL, NULL);
    if (spectra) {
        msf_spectrum_report sr;
        if (!(s = msf_run_point_spectrum(&sr, p, pdir, progress))) {
            printf("spectra of %lld latents %dx%dx%d, factorisation %s, in %s/spectrum:\n", (long long)sr.images, sr.c,
                   sr.h, sr.w, sr.factor, pdir);
            cli_spectrum_print(&sr);
        }
    }
    if (!s) s = msf_run_point_write_done(r, p, pdir);
    return msf_dist_agree(dist, s, NULL, NULL);
}

// The folder, its lock, --force, points/ and the first manifest.json (rank
// 0's work before any point): MSF_OK with *lock held, else the error.
static msf_status open_folder(int *lock, const char *results, const char *dir, const char *points, int force,
                              const msf_experiment *e, const unsigned char *selected, int num_only,
                              const msf_run_info *info) {
    char lock_path[4200], manifest[4300];
    snprintf(lock_path, sizeof lock_path, "%s/.lock", dir);
    snprintf(manifest, sizeof manifest, "%s/manifest.json", dir);
    // A folder msf run did not make is refused before anything is written in
    // it (the lock included); under the lock the check is made again.
    msf_status s = msf_run_check_folder(dir);
    if (s) return s;
    if ((mkdir(results, 0777) != 0 && errno != EEXIST) || (mkdir(dir, 0777) != 0 && errno != EEXIST))
        return msf_fail(MSF_ERR_IO, "cannot create %s: %s", dir, strerror(errno));
    // One writer per experiment folder: the lock, a file inside the folder
    // (nothing outside RESULTS_DIR/NAME/ is written), goes when the process does.
    if ((*lock = open(lock_path, O_RDWR | O_CREAT, 0666)) < 0)
        return msf_fail(MSF_ERR_IO, "cannot create %s: %s", lock_path, strerror(errno));
    if (flock(*lock, LOCK_EX | LOCK_NB) != 0)
        return msf_fail(MSF_ERR_IO, "another `msf run` is writing %s (lock %s held); wait for it or stop it", dir,
                        lock_path);
    // Only the experiment's own folder, and only when msf run made it; with
    // --only, of its points only those selected.
    if (!force || num_only) {
        if ((s = msf_run_check_folder(dir))) return s;
    } else if ((s = msf_run_remove_results(dir))) {
        return s;
    }
    for (int i = 0; force && num_only && i < e->num_points; i++)
        if (selected[i] && (s = msf_run_remove_point(dir, e->points[i].name))) return s;
    if ((mkdir(dir, 0777) != 0 && errno != EEXIST) || (mkdir(points, 0777) != 0 && errno != EEXIST))
        return msf_fail(MSF_ERR_IO, "cannot create %s: %s", points, strerror(errno));
    if ((s = msf_run_clean_temporaries(dir))) return s;
    if (access(manifest, F_OK) != 0) s = msf_run_write_manifest(dir, e, info);
    return s;
}

// Under MPI the ranks other than 0 print nothing on stdout and no progress;
// their warnings and errors name the rank (cli_set_rank).
static int run_experiment(const msf_dist *dist, const char *file, msf_experiment *e, const unsigned char *selected,
                          int num_only, int force, const char *results, int argc, char **argv);

int cmd_run(int argc, char **argv) {
    const char *file = NULL, *results = "results", *only[64];
    int dry = 0, force = 0, num_only = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--dry-run")) dry = 1;
        else if (!strcmp(a, "--keys") && argc == 2) {
            msf_run_print_keys(stdout);
            return 0;
        } else if (!strcmp(a, "--force")) force = 1;
        else if (!strcmp(a, "--results-dir") || !strcmp(a, "--only")) {
            if (i + 1 >= argc) {
                fprintf(stderr, "msf run: %s needs a value\n\n%s", a, cmd_run_usage);
                return 2;
            }
            if (!strcmp(a, "--results-dir")) results = argv[++i];
            else if (num_only == 64) {
                fprintf(stderr, "msf run: more than 64 --only options (join the names with commas)\n");
                return 2;
            } else only[num_only++] = argv[++i];
        } else if (a[0] == '-' || file) {
            fprintf(stderr, "msf run: unexpected argument '%s'\n\n%s", a, cmd_run_usage);
            return 2;
        } else file = a;
    }
    if (!file) {
        fputs(cmd_run_usage, stderr);
        return 2;
    }
    msf_dist dist;
    if (msf_dist_init(&dist, &argc, &argv)) return cli_fail("run");
    cli_set_rank(dist.rank, dist.size);
    msf_experiment e;
    int rc = 1;
    if (msf_experiment_load(&e, file)) {
        rc = cli_fail("run");
        msf_dist_finalize(&dist);
        return rc;
    }
    // The points to run: all, or those of --only (the others are left as they are).
    unsigned char *selected = calloc((size_t)e.num_points + 1, 1);
    if (!selected) {
        msf_fail(MSF_ERR_NOMEM, "out of memory");
        rc = cli_fail("run");
        goto out;
    }
    for (int i = 0; i < e.num_points; i++) selected[i] = !num_only;
    rc = 0;
    for (int k = 0; k < num_only && !rc; k++)
        if (!select_points(&e, only[k], selected)) rc = 2;
    if (rc) goto out;
    if (dry) {
        msf_experiment sel = {0};
        if (subset(&sel, &e, selected, NULL, NULL)) rc = cli_fail("run");
        else rc = dist.rank == 0 ? dry_run(&sel) : 0;
        free(sel.points);
        goto out;
    }
    rc = run_experiment(&dist, file, &e, selected, num_only, force, results, argc, argv);
out:
    free(selected);
    msf_experiment_free(&e);
    msf_dist_finalize(&dist);
    return rc;
}

static int run_experiment(const msf_dist *dist, const char *file, msf_experiment *e, const unsigned char *selected,
                          int num_only, int force, const char *results, int argc, char **argv) {
    const int root = msf_dist_is_root(dist);
    int rc = 1, lock = -1;
    unsigned char *have = calloc((size_t)e->num_points + 1, 1);
    msf_experiment sel = {0}, shown = {0};
    msf_point_result *res = NULL, *shown_res = NULL;
    char *not_run = NULL;
    // What the run keeps between its points: the content hashes of its input
    // files and the bases its MSF points drew (for points sharing a base stage).
    msf_run_input_cache *inputs = NULL;
    msf_base_cache *bases = NULL;
    char dir[4096], points[4200], pdir[4500], command[4096] = "msf";
    msf_status s = MSF_OK;
    if (!have) s = msf_fail(MSF_ERR_NOMEM, "out of memory");
    if (!s) s = subset(&sel, e, selected, NULL, NULL);
    // Every rank reads the experiment and its files; rank 0 reports.
    if (!s && list_missing(&sel, root ? stderr : NULL))
        s = msf_fail(MSF_ERR_IO, "%s: files missing (above); nothing was run", file);
    for (int i = 0; !s && i < sel.num_points; i++) s = msf_run_point_check(&sel.points[i]);
    if ((s = msf_dist_agree(dist, s, NULL, NULL))) goto fail;
    for (int i = 0; i < argc; i++) {
        size_t len = strlen(command);
        snprintf(command + len, sizeof command - len, " %s", argv[i]);
    }
    snprintf(dir, sizeof dir, "%s/%s", results, e->name);
    snprintf(points, sizeof points, "%s/points", dir);
    msf_run_info info = {.command = command, .threads = omp_get_max_threads(), .processes = msf_dist_size(dist)};
    char started[32], ended[32];
    iso_now(started, sizeof started);
    info.started = started;
    if (root) s = open_folder(&lock, results, dir, points, force, e, selected, num_only, &info);
    if ((s = msf_dist_agree(dist, s, NULL, NULL))) goto fail;
    res = calloc((size_t)e->num_points, sizeof *res);
    shown_res = calloc((size_t)e->num_points, sizeof *shown_res);
    if (!res || !shown_res) s = msf_fail(MSF_ERR_NOMEM, "out of memory");
    if (!s && (s = msf_run_input_cache_create(&inputs)) == MSF_OK)
        s = msf_base_cache_create(&bases, MSF_RUN_BASE_CACHE_FLOATS);
    if ((s = msf_dist_agree(dist, s, NULL, NULL))) goto fail;
    cli_progress_bar bar;
    cli_progress_bar_init(&bar, stderr);
    msf_progress progress = {show_progress, &bar};
    // A point that fails (a NaN from the model, a missing input, ...) is
    // reported and left without point.json, so a rerun tries it again; the
    // other points go on, the results are written with the failed ones
    // marked, and the exit status says that some failed. Only failures of
    // the run itself (the folder, the lock, the results files) stop it.
    int failed = 0;
    for (int i = 0; i < e->num_points; i++) {
        msf_run_point *p = &e->points[i];
        snprintf(pdir, sizeof pdir, "%s/%s", points, p->name);
        s = msf_run_point_hash_inputs(p, inputs);  // once: it chains into the point's hashes
        if (!selected[i]) {
            // Not run: its results as an earlier run left them, if they are current.
            have[i] = root && !s && msf_run_point_peek_done(&res[i], p, pdir);
            continue;
        }
        have[i] = 1;
        // Done before? Rank 0 looks (a stale point.json is removed) and tells the others.
        s = msf_dist_agree(dist, s, NULL, NULL);
        int done = !s && root && msf_run_point_load_done(&res[i], p, pdir);
        if (!s) s = msf_dist_bcast(dist, &done, sizeof done, 0);
        if (!s && done) {
            printf("[%d/%d] %s: done before, reused\n", i + 1, e->num_points, p->name);
            info.resumed = 1;
            continue;
        }
        printf("[%d/%d] %s\n", i + 1, e->num_points, p->name);
        if (!s) s = run_point(&res[i], p, pdir, bases, dist, &progress);
        info.resumed |= res[i].shards_reused > 0;
        if (s) {
            msf_run_point_mark_failed(&res[i], p, msf_error_message());
            msf_log(root ? MSF_LOG_ERROR : MSF_LOG_DEBUG, "point %s failed (the other points go on): %s", p->name,
                    res[i].failed);
            failed++;
        }
    }
    // The results: rank 0's.
    s = MSF_OK;
    if (root) {
        iso_now(ended, sizeof ended);
        info.ended = ended;
        // The results files hold the points with results; table.md names the others.
        size_t room = 1;
        for (int i = 0; i < e->num_points; i++) room += have[i] ? 0 : strlen(e->points[i].name) + 2;
        if (!(not_run = calloc(room, 1)) || subset(&shown, e, have, res, shown_res))
            s = msf_fail(MSF_ERR_NOMEM, "out of memory");
        for (int i = 0; !s && i < e->num_points; i++)
            if (!have[i]) {
                size_t len = strlen(not_run);
                snprintf(not_run + len, room - len, "%s%s", len ? "; " : "", e->points[i].name);
            }
        info.not_run = not_run;
        if (!s) s = msf_run_write_results(dir, &shown, shown_res, &info);
        if (!s) s = plot(dir);
        if (!s) {
            printf("wrote %s: manifest.json, metrics.json, metrics.csv, table.md, plots; %d point%s", dir,
                   shown.num_points, shown.num_points == 1 ? "" : "s");
            if (shown.num_points < e->num_points)
                printf(" (%d of the experiment's %d not run yet)", e->num_points - shown.num_points, e->num_points);
            printf("\n");
        }
    }
    if ((s = msf_dist_agree(dist, s, NULL, NULL))) goto fail;
    if (failed) {
        for (int i = 0; i < e->num_points; i++)
            if (res[i].failed[0]) {
                msf_fail(MSF_ERR_INVALID,
                         "%d of %d points failed (table.md lists them; a rerun retries them); the "
                         "first, %s: %s",
                         failed, e->num_points, e->points[i].name, res[i].failed);
                break;
            }
        goto fail;
    }
    rc = 0;
    goto done;
fail:
    // Every rank has the job's error (msf_dist_agree): rank 0 says it.
    if (root) cli_fail("run");
done:
    msf_base_cache_free(bases);
    msf_run_input_cache_free(inputs);
    if (lock >= 0) close(lock);
    free(res), free(shown_res), free(not_run);
    free(sel.points), free(shown.points), free(have);
    return rc;
}
