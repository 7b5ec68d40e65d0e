// folder.c: the experiment's folder as msf run's own: whether a run may
// write into it (msf_run_check_folder) and --force's removal of what msf run
// wrote there (msf_run_remove_results; msf_run_remove_point with --only).
#define _XOPEN_SOURCE 700  // nftw
#include "run/runner_internal.h"

#include <dirent.h>
#include <errno.h>
#include <ftw.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

// -----------------------------------------------------------------------------
// The experiment's folder

// 1 if path is a directory with no entries.
static int empty_dir(const char *path) {
    DIR *d = opendir(path);
    if (!d) return 0;
    int empty = 1;
    struct dirent *ent;
    while (empty && (ent = readdir(d))) empty = !strcmp(ent->d_name, ".") || !strcmp(ent->d_name, "..");
    closedir(d);
    return empty;
}

msf_status msf_run_check_folder(const char *dir) {
    DIR *d = opendir(dir);
    if (!d)
        return errno == ENOENT ? MSF_OK : msf_fail(MSF_ERR_IO, "cannot read directory %s: %s", dir, strerror(errno));
    // A run killed before its first manifest was written leaves at most an
    // empty points/ and temporaries: nothing of anyone else's.
    int entries = 0;
    struct dirent *ent;
    char sub[4200];
    while ((ent = readdir(d))) {
        const char *name = ent->d_name;
        if (!strcmp(name, ".") || !strcmp(name, "..") || !strcmp(name, ".lock") ||
            !strncmp(name, "manifest.json.tmp-", 18))
            continue;
        snprintf(sub, sizeof sub, "%s/%s", dir, name);
        entries += strcmp(name, "points") || !empty_dir(sub);
    }
    closedir(d);
    char manifest[4200];
    snprintf(manifest, sizeof manifest, "%s/manifest.json", dir);
    if (!entries || run_exists(manifest)) return MSF_OK;
    return msf_fail(MSF_ERR_INVALID,
                    "%s holds files but no manifest.json: msf run did not make it, so it neither "
                    "writes into it nor deletes it (--force included); move it away or give the experiment another "
                    "name",
                    dir);
}

static int removed_files, remove_errors;

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
    (void)st, (void)flag, (void)ftw;
    if (remove(path) == 0) removed_files++;
    else {
        msf_log(MSF_LOG_WARN, "--force: cannot remove %s: %s", path, strerror(errno));
        remove_errors++;
    }
    return 0;
}

// A top-level file of an experiment's folder that msf run writes.
static int runner_file(const char *name) {
    static const char *const files[] = {"metrics.json", "metrics.csv", "table.md",          "plots.gp", "plots.dat",
                                        "guidance.dat", "plots.log",   "metrics_seeds.csv", "seeds.dat"};
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++)
        if (!strcmp(name, files[i])) return 1;
    if (strstr(name, ".tmp-")) return 1;
    static const char *const axes[] = {"_vs_gflops.png", "_vs_residual_steps.png", "_vs_guidance.png",
                                       "_vs_gflops_seeds.png", "_vs_train_gflops_seeds.png"};
    for (int k = 0; k <= RUN_NUM_METRICS; k++) {
        const char *metric = k < RUN_NUM_METRICS ? run_metric_names[k] : "seconds";
        size_t len = strlen(metric);
        if (strncmp(name, metric, len)) continue;
        for (size_t a = 0; a < sizeof axes / sizeof axes[0]; a++)
            if (!strcmp(name + len, axes[a])) return 1;
    }
    return 0;
}

msf_status msf_run_remove_results(const char *dir) {
    msf_status s = msf_run_check_folder(dir);
    if (s) return s;
    DIR *d = opendir(dir);
    if (!d)
        return errno == ENOENT ? MSF_OK : msf_fail(MSF_ERR_IO, "cannot read directory %s: %s", dir, strerror(errno));
    removed_files = remove_errors = 0;
    char path[4200], kept[600] = "";
    int num_kept = 0;
    struct dirent *ent;
    while ((ent = readdir(d))) {
        const char *name = ent->d_name;
        // The lock stays: this process holds it.
        if (!strcmp(name, ".") || !strcmp(name, "..") || !strcmp(name, "manifest.json") || !strcmp(name, ".lock"))
            continue;
        snprintf(path, sizeof path, "%s/%s", dir, name);
        if (!strcmp(name, "points")) {
            // Every point's folder: shards, merged files, grid, spectra.
            if (nftw(path, remove_entry, 16, FTW_DEPTH | FTW_PHYS) != 0 && errno != ENOENT) remove_errors++;
        } else if (runner_file(name)) {
            if (unlink(path) == 0) removed_files++;
            else if (errno != ENOENT) {
                msf_log(MSF_LOG_WARN, "--force: cannot remove %s: %s", path, strerror(errno));
                remove_errors++;
            }
        } else {
            size_t len = strlen(kept);
            if (num_kept++ < 8) snprintf(kept + len, sizeof kept - len, "%s%.60s", len ? ", " : "", name);
        }
    }
    closedir(d);
    if (remove_errors)
        return msf_fail(MSF_ERR_IO, "--force: cannot remove %d of the files in %s (above); nothing was run",
                        remove_errors, dir);
    // The manifest goes last: a --force killed half way is still recognised.
    snprintf(path, sizeof path, "%s/manifest.json", dir);
    if (unlink(path) != 0 && errno != ENOENT)
        return msf_fail(MSF_ERR_IO, "--force: cannot remove %s: %s", path, strerror(errno));
    if (num_kept)
        msf_log(MSF_LOG_INFO, "--force: kept %d file%s in %s that msf run did not write: %s%s", num_kept,
                num_kept == 1 ? "" : "s", dir, kept, num_kept > 8 ? ", ..." : "");
    return MSF_OK;
}

msf_status msf_run_remove_point(const char *dir, const char *point) {
    msf_status s = msf_run_check_folder(dir);
    if (s) return s;
    char path[4500];
    snprintf(path, sizeof path, "%s/points/%s", dir, point);
    removed_files = remove_errors = 0;
    if (nftw(path, remove_entry, 16, FTW_DEPTH | FTW_PHYS) != 0 && errno != ENOENT) remove_errors++;
    if (remove_errors)
        return msf_fail(MSF_ERR_IO, "--force: cannot remove %d of the files in %s (above); nothing was run",
                        remove_errors, path);
    return MSF_OK;
}
