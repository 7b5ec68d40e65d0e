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
    "usage: msf run EXPERIMENT.yaml [--dry-run] [--force] [--results-dir DIR]\n\n"
    "Run every grid point of an experiment file (experiments/*.yaml; the format\n"
    "is in configs/README.md): sample in shards -> decode (with the configured\n"
    "VAE, else pixels) -> metrics (when an evaluator is configured) -> spectra\n"
    "(when `spectrum` is configured), then write DIR/EXPERIMENT/: manifest.json,\n"
    "metrics.json, metrics.csv, table.md, plots (gnuplot PNGs of each metric\n"
    "against GFLOPs, residual steps and, where a run sweeps it, the guidance\n"
    "scale; data in plots.dat and guidance.dat) and per point\n"
    "points/POINT/ (images.npz, grid.png, point.json, shards/).\n\n"
    "A rerun continues where an interrupted one stopped: complete shards and\n"
    "finished points are reused, and the final numbers equal those of an\n"
    "uninterrupted run; a damaged shard or merged file is reported and made\n"
    "again. Only one `msf run` at a time writes an experiment's folder, and it\n"
    "writes nowhere else; a folder DIR/EXPERIMENT without manifest.json that\n"
    "holds files is not msf run's: it is left alone and the run stops.\n\n"
    "  --dry-run          print the expanded grid with sample counts and GFLOPs,\n"
    "                     and any missing file; run nothing\n"
    "  --force            delete what msf run wrote in DIR/EXPERIMENT (points,\n"
    "                     metrics, tables, plots, manifest) and start over;\n"
    "                     other files there stay\n"
    "  --results-dir DIR  where results go (default results)\n\n"
    "Exit status: 0 on success, 1 on a bad config, a missing file or a failed\n"
    "stage, 2 on a usage error.\n";

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
// Dry run

static int dry_run(const msf_experiment *e) {
    printf("experiment %s (%s): %d grid point%s\n\n", e->name, e->path, e->num_points, e->num_points == 1 ? "" : "s");
    printf("%-44s %9s %7s %-12s %6s %14s %12s\n", "point", "samples", "shards", "steps", "cfg", "GFLOPs/sample",
           "total TFLOPs");
    double total = 0;
    int64_t samples = 0;
    for (int i = 0; i < e->num_points; i++) {
        const msf_run_point *p = &e->points[i];
        int64_t n = cfg_int(p->cfg, "num_samples", 0), shard = cfg_int(p->cfg, "shard_size", 1000);
        int msf = !strcmp(cfg_str(p->cfg, "model.kind", "dit"), "msf");
        const char *steps = cfg_str(p->cfg, "sampler.steps", "250");
        char st[64];
        if (msf)
            snprintf(st, sizeof st, "%s+%s", cfg_str(p->cfg, "sampler.base_steps", steps),
                     cfg_str(p->cfg, "sampler.residual_steps", steps));
        else snprintf(st, sizeof st, "%s", steps);
        double g;
        printf("%-44s %9lld %7lld %-12s %6g ", p->name, (long long)n, shard > 0 ? (long long)((n + shard - 1) / shard) : 0LL,
               st, cfg_num(p->cfg, "sampler.base_cfg_scale", cfg_num(p->cfg, "sampler.cfg_scale", 1.5)));
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
    int missing = list_missing(e, stdout);
    if (missing) printf("(%d missing file%s: `msf run` would stop before sampling)\n", missing, missing == 1 ? "" : "s");
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
// metrics, spectra, then point.json.
static msf_status run_point(msf_point_result *r, const msf_run_point *p, const char *pdir, msf_base_cache *bases,
                            const msf_progress *progress) {
    msf_status s;
    int spectra = cfg_find(p->cfg, "spectrum") != NULL;
    if ((s = msf_run_point_generate(r, p, pdir, spectra, bases, progress))) return s;
    if (cfg_find(p->cfg, "evaluator") && (s = msf_run_point_metrics(r, p, pdir, NULL))) return s;
    if (spectra) {
        msf_spectrum_report sr;
        if ((s = msf_run_point_spectrum(&sr, p, pdir, progress))) return s;
        printf("spectra of %lld latents %dx%dx%d, factorisation %s, in %s/spectrum:\n", (long long)sr.images, sr.c,
               sr.h, sr.w, sr.factor, pdir);
        cli_spectrum_print(&sr);
    }
    return msf_run_point_write_done(r, p, pdir);
}

int cmd_run(int argc, char **argv) {
    const char *file = NULL, *results = "results";
    int dry = 0, force = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--dry-run")) dry = 1;
        else if (!strcmp(a, "--force")) force = 1;
        else if (!strcmp(a, "--results-dir")) {
            if (i + 1 >= argc) {
                fprintf(stderr, "msf run: --results-dir needs a value\n\n%s", cmd_run_usage);
                return 2;
            }
            results = argv[++i];
        } else if (a[0] == '-' || file) {
            fprintf(stderr, "msf run: unexpected argument '%s'\n\n%s", a, cmd_run_usage);
            return 2;
        } else file = a;
    }
    if (!file) {
        fputs(cmd_run_usage, stderr);
        return 2;
    }
    msf_experiment e;
    if (msf_experiment_load(&e, file)) return cli_fail("run");
    if (dry) {
        int rc = dry_run(&e);
        msf_experiment_free(&e);
        return rc;
    }
    int rc = 1, lock = -1;
    msf_point_result *res = NULL;
    // What the run keeps between its points: the content hashes of its input
    // files and the bases its MSF points drew (for points sharing a base stage).
    msf_run_input_cache *inputs = NULL;
    msf_base_cache *bases = NULL;
    char dir[4096], lock_path[4200], points[4200], pdir[4500], command[4096] = "msf";
    if (list_missing(&e, stderr)) {
        fprintf(stderr, "msf run: %s: files missing (above); nothing was run\n", file);
        goto done;
    }
    for (int i = 0; i < e.num_points; i++)
        if (msf_run_point_check(&e.points[i])) goto fail;
    for (int i = 0; i < argc; i++) {
        size_t len = strlen(command);
        snprintf(command + len, sizeof command - len, " %s", argv[i]);
    }
    snprintf(dir, sizeof dir, "%s/%s", results, e.name);
    snprintf(lock_path, sizeof lock_path, "%s/.lock", dir);
    snprintf(points, sizeof points, "%s/points", dir);
    // A folder msf run did not make is refused before anything is written in
    // it (the lock included); under the lock the check is made again.
    if (msf_run_check_folder(dir)) goto fail;
    if ((mkdir(results, 0777) != 0 && errno != EEXIST) || (mkdir(dir, 0777) != 0 && errno != EEXIST)) {
        msf_fail(MSF_ERR_IO, "cannot create %s: %s", dir, strerror(errno));
        goto fail;
    }
    // One writer per experiment folder: the lock, a file inside the folder
    // (nothing outside RESULTS_DIR/NAME/ is written), goes when the process does.
    lock = open(lock_path, O_RDWR | O_CREAT, 0666);
    if (lock < 0) {
        msf_fail(MSF_ERR_IO, "cannot create %s: %s", lock_path, strerror(errno));
        goto fail;
    }
    if (flock(lock, LOCK_EX | LOCK_NB) != 0) {
        msf_fail(MSF_ERR_IO, "another `msf run` is writing %s (lock %s held); wait for it or stop it", dir, lock_path);
        goto fail;
    }
    // Only the experiment's own folder, and only when msf run made it.
    if (force ? msf_run_remove_results(dir) : msf_run_check_folder(dir)) goto fail;
    if ((mkdir(dir, 0777) != 0 && errno != EEXIST) || (mkdir(points, 0777) != 0 && errno != EEXIST)) {
        msf_fail(MSF_ERR_IO, "cannot create %s: %s", points, strerror(errno));
        goto fail;
    }
    if (msf_run_clean_temporaries(dir)) goto fail;
    msf_run_info info = {.command = command, .threads = omp_get_max_threads(), .processes = 1};
    char started[32], ended[32], manifest[4300];
    iso_now(started, sizeof started);
    info.started = started;
    snprintf(manifest, sizeof manifest, "%s/manifest.json", dir);
    if (access(manifest, F_OK) != 0 && msf_run_write_manifest(dir, &e, &info)) goto fail;
    res = calloc((size_t)e.num_points, sizeof *res);
    if (!res) {
        msf_fail(MSF_ERR_NOMEM, "out of memory");
        goto fail;
    }
    if (msf_run_input_cache_create(&inputs) || msf_base_cache_create(&bases, MSF_RUN_BASE_CACHE_FLOATS)) goto fail;
    cli_progress_bar bar;
    cli_progress_bar_init(&bar, stderr);
    msf_progress progress = {show_progress, &bar};
    // A point that fails (a NaN from the model, a missing input, ...) is
    // reported and left without point.json, so a rerun tries it again; the
    // other points go on, the results are written with the failed ones
    // marked, and the exit status says that some failed. Only failures of
    // the run itself (the folder, the lock, the results files) stop it.
    int failed = 0;
    for (int i = 0; i < e.num_points; i++) {
        msf_run_point *p = &e.points[i];
        snprintf(pdir, sizeof pdir, "%s/%s", points, p->name);
        msf_status s = msf_run_point_hash_inputs(p, inputs);  // once: it chains into the point's hashes
        if (!s && msf_run_point_load_done(&res[i], p, pdir)) {
            printf("[%d/%d] %s: done before, reused\n", i + 1, e.num_points, p->name);
            info.resumed = 1;
            continue;
        }
        printf("[%d/%d] %s\n", i + 1, e.num_points, p->name);
        if (!s) s = run_point(&res[i], p, pdir, bases, &progress);
        info.resumed |= res[i].shards_reused > 0;
        if (s) {
            msf_run_point_mark_failed(&res[i], p, msf_error_message());
            msf_log(MSF_LOG_ERROR, "point %s failed (the other points go on): %s", p->name, res[i].failed);
            failed++;
        }
    }
    iso_now(ended, sizeof ended);
    info.ended = ended;
    if (msf_run_write_results(dir, &e, res, &info)) goto fail;
    if (plot(dir)) goto fail;
    printf("wrote %s: manifest.json, metrics.json, metrics.csv, table.md, plots; %d point%s\n", dir, e.num_points,
           e.num_points == 1 ? "" : "s");
    if (failed) {
        for (int i = 0; i < e.num_points; i++)
            if (res[i].failed[0]) {
                msf_fail(MSF_ERR_INVALID, "%d of %d points failed (table.md lists them; a rerun retries them); the "
                                          "first, %s: %s",
                         failed, e.num_points, e.points[i].name, res[i].failed);
                break;
            }
        goto fail;
    }
    rc = 0;
    goto done;
fail:
    cli_fail("run");
done:
    msf_base_cache_free(bases);
    msf_run_input_cache_free(inputs);
    if (lock >= 0) close(lock);
    free(res);
    msf_experiment_free(&e);
    return rc;
}
