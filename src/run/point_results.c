// point_results.c: the numbers of one point: the metrics of its images
// (the evaluator stage) and point.json, which marks the point done.
#include "run/runner_internal.h"

#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "eval/evaluate.h"
#include "io/textfile.h"
#include "io/h5read.h"

// -----------------------------------------------------------------------------
// Metrics

// The labels of every sample, from the shards (malloc'd [N]).
static msf_status shard_labels(int64_t **out, const char *dir, int64_t N, int S) {
    int64_t *y = malloc((size_t)N * sizeof *y);
    if (!y) return msf_fail(MSF_ERR_NOMEM, "out of memory");
    msf_status s = MSF_OK;
    char path[4096];
    for (int k = 0; (int64_t)k * S < N && !s; k++) {
        int64_t first = (int64_t)k * S, n = N - first < S ? N - first : S, shape[1] = {n};
        msf_h5_reader *w;
        snprintf(path, sizeof path, "%s/shards/shard_%05d.h5", dir, k);
        if (!(s = msf_h5_open_as(&w, path, "sample shard"))) {
            s = msf_h5_read_i64(w, "labels", y + first, 1, shape);
            msf_h5_close(w);
        }
    }
    if (s) free(y);
    else *out = y;
    return s;
}

msf_status msf_run_point_metrics(msf_point_result *r, const msf_run_point *p, const char *dir, const msf_dist *dist,
                                 const msf_progress *progress) {
    const char *net_path = config_str(p->config, "evaluator.featnet", ""),
               *ref = config_str(p->config, "evaluator.reference", "");
    int batch = (int)msf_run_int(p->config, "evaluator.batch");
    // The point's images, or the given samples where they are.
    const char *given = config_str(p->config, "samples", NULL);
    char images[4096];
    if (given) snprintf(images, sizeof images, "%s", given);
    else snprintf(images, sizeof images, "%s/images.npz", dir);
    msf_resize_mode mode;
    msf_featnet *net = NULL;
    msf_eval_input ref_in = {0}, smp_in = {0};
    int have_ref = 0, have_smp = 0;
    msf_status s = msf_resize_mode_parse(msf_run_str(p->config, "evaluator.resize"), &mode);
    if (!s && (batch < 1 || batch > 4096))
        s = msf_fail(MSF_ERR_INVALID, "%s: evaluator.batch must be 1..4096", p->name);
    if (!s) s = msf_featnet_load(net_path, &net);
    if (!s) s = msf_featnet_set_precision(net, strcmp(msf_run_point_eval_precision(p), "bf16") ? NN_FP32 : NN_BF16);
    // Under MPI the ranks agree after each step, so that all of them take
    // part in the next one's feature batches or stop together.
    s = msf_dist_agree(dist, s, NULL, NULL);
    if (!s) {
        msf_status mine = msf_eval_input_load_dist(&ref_in, ref, net, mode, batch, dist, progress);
        have_ref = !mine;
        s = msf_dist_agree(dist, mine, NULL, NULL);
    }
    if (!s) {
        msf_status mine = msf_eval_input_load_dist(&smp_in, images, net, mode, batch, dist, progress);
        have_smp = !mine;
        s = msf_dist_agree(dist, mine, NULL, NULL);
    }
    const int root = msf_dist_is_root(dist);
    if (!s && root && !given && smp_in.has_features && !smp_in.features.labels)
        s = shard_labels(&smp_in.features.labels, dir, r->num_samples, (int)msf_run_int(p->config, "shard_size"));
    msf_metrics m;
    msf_eval_opts o = msf_eval_opts_default();
    if (!s && root) s = msf_evaluate(&m, &ref_in, &smp_in, &o);
    if (!s && root) {
        r->fid = m.present & MSF_METRIC_FID ? m.fid : NAN;
        r->sfid = m.present & MSF_METRIC_SFID ? m.sfid : NAN;
        r->is = m.present & MSF_METRIC_IS ? m.inception_score : NAN;
        r->precision = m.present & MSF_METRIC_PR ? m.precision : NAN;
        r->recall = m.present & MSF_METRIC_PR ? m.recall : NAN;
        r->class_consistency = m.present & MSF_METRIC_CLASS ? m.class_consistency : NAN;
    }
    if (have_ref) msf_eval_input_free(&ref_in);
    if (have_smp) msf_eval_input_free(&smp_in);
    msf_featnet_free(net);
    if (s) msf_fail_context(s, "%s: metrics", p->name);
    return msf_dist_agree(dist, s, NULL, NULL);
}

// -----------------------------------------------------------------------------
// point.json

static const run_point_number_field point_numbers[] = {
    {"fid", offsetof(msf_point_result, fid)},
    {"sfid", offsetof(msf_point_result, sfid)},
    {"is", offsetof(msf_point_result, is)},
    {"precision", offsetof(msf_point_result, precision)},
    {"recall", offsetof(msf_point_result, recall)},
    {"class_consistency", offsetof(msf_point_result, class_consistency)},
    {"gflops_per_sample", offsetof(msf_point_result, gflops_per_sample)},
    {"seconds_per_sample", offsetof(msf_point_result, seconds_per_sample)},
    {"decode_seconds_per_sample", offsetof(msf_point_result, decode_seconds_per_sample)},
};
_Static_assert(MSF_COUNT(point_numbers) == RUN_NUM_POINT_NUMBERS, "RUN_NUM_POINT_NUMBERS numbers");
const run_point_number_field *const run_point_numbers = point_numbers;
// A finished point whose input files have changed since: its shards, merged
// images and latents hold samples of the old inputs, so they go before the
// point is computed again (the grid, metrics and spectra are rewritten).
static void remove_stale_point(const char *point_dir) {
    char sdir[4096], path[4096 + 256];
    snprintf(sdir, sizeof sdir, "%s/shards", point_dir);
    int removed = 0;
    DIR *d = opendir(sdir);
    struct dirent *ent;
    while (d && (ent = readdir(d))) {
        size_t n = strlen(ent->d_name);
        if (strncmp(ent->d_name, "shard_", 6) || n < 4 ||
            (strcmp(ent->d_name + n - 3, ".h5") && strcmp(ent->d_name + n - 4, ".npz")))
            continue;
        snprintf(path, sizeof path, "%s/%s", sdir, ent->d_name);
        if (unlink(path) == 0) removed++;
        else msf_log(MSF_LOG_WARN, "cannot remove stale %s: %s", path, strerror(errno));
    }
    if (d) closedir(d);
    static const char *const merged[] = {"images.npz", "latents.h5", "point.json"};
    for (size_t i = 0; i < sizeof merged / sizeof merged[0]; i++) {
        snprintf(path, sizeof path, "%s/%s", point_dir, merged[i]);
        if (unlink(path) != 0 && errno != ENOENT)
            msf_log(MSF_LOG_WARN, "cannot remove stale %s: %s", path, strerror(errno));
    }
    msf_log(MSF_LOG_INFO, "%s: removed the old inputs' samples (%d shard file%s, merged images)", point_dir, removed,
            removed == 1 ? "" : "s");
}

// point.json of a finished point (msf_run_point_load_done); with `repair` a
// stale point's samples and a damaged merged file are removed, else nothing
// is changed.
static int load_done(msf_point_result *r, const msf_run_point *p, const char *dir, int repair) {
    char path[4096], want[17];
    snprintf(path, sizeof path, "%s/point.json", dir);
    if (!run_exists(path)) return 0;
    config_node *n;
    if (config_parse_file(&n, path)) {  // JSON is YAML flow syntax
        if (repair) run_drop_damaged(path, msf_error_message());
        return 0;
    }
    run_hex64(want, p->hash);
    int ok = !strcmp(config_str(n, "config_hash", ""), want);
    const char *inputs = config_str(n, "inputs_hash", NULL);
    char want_inputs[17];
    run_hex64(want_inputs, p->inputs_hash);
    if (ok && inputs && strcmp(inputs, want_inputs)) {
        if (repair) {
            msf_log(MSF_LOG_INFO,
                    "%s: an input file (weights, given samples or bases, feature network or "
                    "reference) changed since it was computed: computing it again",
                    path);
            remove_stale_point(dir);
        }
        ok = 0;
    } else if (ok && !inputs) {
        msf_log(MSF_LOG_WARN,
                "%s predates input hashing: reused without checking that the weights, feature network "
                "and reference are the ones it was made with (--force recomputes)",
                path);
    }
    if (ok) {
        // The merged files the numbers came from, where they are (results
        // shared without them keep their numbers), must still be whole.
        char file[4200], why[1024];
        int64_t N = msf_run_int(n, "num_samples");
        snprintf(file, sizeof file, "%s/images.npz", dir);
        int damaged =
            run_exists(file) &&
            !run_images_file_ok(file, N, (int)config_int(n, "image_height", 0), (int)config_int(n, "image_width", 0),
                                (int)config_int(n, "image_channels", 0), NULL, why, sizeof why);
        if (!damaged) {
            snprintf(file, sizeof file, "%s/latents.h5", dir);
            damaged = run_exists(file) && !run_latents_file_ok(file, p, N, 0, 0, why, sizeof why);
        }
        if (damaged && repair) {
            run_drop_damaged(file, why);
            if (unlink(path) != 0) msf_log(MSF_LOG_WARN, "cannot remove %s: %s", path, strerror(errno));
        }
        ok = !damaged;
    }
    if (ok) {
        memset(r, 0, sizeof *r);
        r->num_samples = msf_run_int(n, "num_samples");
        for (size_t i = 0; i < RUN_NUM_POINT_NUMBERS; i++)
            *run_point_number(r, i) = config_num(n, run_point_numbers[i].key, NAN);
        r->shards_total = (int)config_int(n, "shards", 0);
        r->shards_reused = r->shards_total;
        r->img_h = (int)config_int(n, "image_height", 0), r->img_w = (int)config_int(n, "image_width", 0);
        r->img_c = (int)config_int(n, "image_channels", 0);
    }
    config_free(n);
    return ok;
}

int msf_run_point_load_done(msf_point_result *r, const msf_run_point *p, const char *dir) {
    return load_done(r, p, dir, 1);
}

int msf_run_point_peek_done(msf_point_result *r, const msf_run_point *p, const char *dir) {
    return load_done(r, p, dir, 0);
}

msf_status msf_run_point_write_done(const msf_point_result *r, const msf_run_point *p, const char *dir) {
    msf_text_file t;
    msf_status s = msf_text_create_in(&t, dir, "point.json");
    if (s) return s;
    char h[17], sh[17], ih[17];
    run_hex64(h, p->hash), run_hex64(sh, p->sample_hash), run_hex64(ih, p->inputs_hash);
    fprintf(t.f, "{\n  \"point\": ");
    config_json_string(t.f, p->name);
    fprintf(t.f, ",\n  \"config_hash\": \"%s\",\n  \"sample_hash\": \"%s\",\n  \"inputs_hash\": \"%s\",\n", h, sh, ih);
    fprintf(t.f, "  \"model_precision\": \"%s\",\n  \"evaluator_precision\": \"%s\",\n", msf_run_point_precision(p),
            msf_run_point_eval_precision(p));
    fprintf(t.f, "  \"num_samples\": %lld,\n  \"shards\": %d,\n", (long long)r->num_samples, r->shards_total);
    fprintf(t.f, "  \"image_height\": %d,\n  \"image_width\": %d,\n  \"image_channels\": %d", r->img_h, r->img_w,
            r->img_c);
    for (size_t i = 0; i < RUN_NUM_POINT_NUMBERS; i++) {
        fprintf(t.f, ",\n  \"%s\": ", run_point_numbers[i].key);
        run_json_num(t.f, *run_point_number((msf_point_result *)r, i));
    }
    fprintf(t.f, "\n}\n");
    return msf_text_commit(&t);
}

void msf_run_point_mark_failed(msf_point_result *r, const msf_run_point *p, const char *why) {
    // `why` may be the thread's error message, which the GFLOPs below can
    // overwrite: copy it first. The library's message starts with the
    // point's name; the writers put it first themselves.
    char reason[sizeof r->failed];
    size_t n = strlen(p->name);
    if (why && !strncmp(why, p->name, n) && why[n] == ':' && why[n + 1] == ' ') why += n + 2;
    snprintf(reason, sizeof reason, "%s", why && *why ? why : "failed");
    double gflops = NAN;
    if (msf_run_point_gflops(&gflops, p)) gflops = NAN;
    *r = (msf_point_result){.num_samples = msf_run_int(p->config, "num_samples"),
                            .fid = NAN,
                            .sfid = NAN,
                            .is = NAN,
                            .precision = NAN,
                            .recall = NAN,
                            .class_consistency = NAN,
                            .gflops_per_sample = gflops,
                            .seconds_per_sample = NAN,
                            .decode_seconds_per_sample = NAN};
    memcpy(r->failed, reason, sizeof reason);
}
