// shards.c: a point's files: its shards (sampled latents and labels, with
// their hashes and checksum; their images), the merged images.npz and
// latents.h5, grid.png, and the checks a resume makes of each before reusing
// it (runner.h describes the folder).
#include "run/runner_internal.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/hash.h"
#include "core/version.h"
#include "eval/classifier.h"
#include "eval/evaluate.h"
#include "io/h5write.h"
#include "io/images.h"
#include "io/h5read.h"

// -----------------------------------------------------------------------------
// Files

msf_status run_make_dir(const char *path) {
    if (mkdir(path, 0777) != 0 && errno != EEXIST)
        return msf_fail(MSF_ERR_IO, "cannot create directory %s: %s", path, strerror(errno));
    return MSF_OK;
}

int run_exists(const char *path) { return access(path, F_OK) == 0; }

msf_status msf_run_clean_temporaries(const char *dir) {
    DIR *d = opendir(dir);
    if (!d)
        return errno == ENOENT ? MSF_OK : msf_fail(MSF_ERR_IO, "cannot read directory %s: %s", dir, strerror(errno));
    struct dirent *ent;
    msf_status s = MSF_OK;
    while ((ent = readdir(d)) && !s) {
        if (!strstr(ent->d_name, ".tmp-")) continue;
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", dir, ent->d_name);
        if (unlink(path) != 0) s = msf_fail(MSF_ERR_IO, "cannot remove %s: %s", path, strerror(errno));
        else msf_log(MSF_LOG_INFO, "removed %s (left by an interrupted run)", path);
    }
    closedir(d);
    return s;
}

void run_hex64(char *buf, uint64_t v) { snprintf(buf, 17, "%016llx", (unsigned long long)v); }

// FNV-1a of a shard's or merged file's latents and labels: the "checksum"
// attribute, compared when the file is reused.
static uint64_t latents_checksum(const float *latents, const int64_t *labels, int64_t n, size_t numel) {
    uint64_t h = msf_fnv1a(MSF_FNV1A_INIT, latents, (size_t)n * numel * sizeof *latents);
    return msf_fnv1a(h, labels, (size_t)n * sizeof *labels);
}

// A damaged file that a resume would have reused: reported and removed, so
// that what it held is made again.
void run_drop_damaged(const char *path, const char *what) {
    msf_log(MSF_LOG_WARN, "%s is damaged (%s): making it again", path, what);
    if (unlink(path) != 0 && errno != ENOENT) msf_log(MSF_LOG_WARN, "cannot remove %s: %s", path, strerror(errno));
}

// An existing shard of this point's samples: 1 if it holds samples first..first+n-1
// of the same sample and model hashes, whole (its latents [n, C, H, H] and
// labels [n] read into `latents` and `labels` match its checksum; seconds
// set); 0 if absent, of another count, or damaged (then reported and
// removed); MSF_ERR_INVALID (as -1) when made with another config or other
// weights.
int run_shard_check(const char *path, const msf_run_point *p, int64_t first, int n, int C, int H, float *latents,
                    int64_t *labels, double *seconds) {
    if (!run_exists(path)) return 0;
    msf_h5_reader *w;
    if (msf_h5_open_as(&w, path, "sample shard")) {
        run_drop_damaged(path, msf_error_message());
        return 0;
    }
    char hash[32] = "", want[17];
    int64_t f = -1, count = -1;
    char model[32] = "", want_model[17], sum[32] = "";
    int has_hash = msf_h5_get_attr_string(w, NULL, "sample_hash", hash, sizeof hash) == MSF_OK;
    int ok = msf_h5_get_attr_int(w, NULL, "first", &f) == MSF_OK &&
             msf_h5_get_attr_int(w, NULL, "count", &count) == MSF_OK &&
             msf_h5_get_attr_double(w, NULL, "seconds", seconds) == MSF_OK;
    // Shards written before msf hashed its inputs have no model_hash, before
    // it summed their contents no checksum.
    int has_model = msf_h5_get_attr_string(w, NULL, "model_hash", model, sizeof model) == MSF_OK;
    int has_sum = msf_h5_get_attr_string(w, NULL, "checksum", sum, sizeof sum) == MSF_OK;
    run_hex64(want, p->sample_hash);
    run_hex64(want_model, p->model_hash);
    if (has_hash && (strcmp(hash, want) || (ok && f != first))) {
        msf_h5_close(w);
        msf_fail(MSF_ERR_INVALID,
                 "%s was made by another config of '%s' (sample hash %s, this config %s): rerun "
                 "with --force to start over",
                 path, p->name, hash, want);
        return -1;
    }
    if (has_hash && ok && (!has_model || strcmp(model, want_model))) {
        msf_h5_close(w);
        msf_fail(MSF_ERR_INVALID,
                 "%s was made with %s model weights than '%s' has now (model hash %s, now %s): rerun "
                 "with --force to start over",
                 path, has_model ? "other" : "possibly other (unrecorded)", p->name, has_model ? model : "none",
                 want_model);
        return -1;
    }
    if (!has_hash || !ok) {
        msf_h5_close(w);
        run_drop_damaged(path, "attributes sample_hash, first, count or seconds missing");
        return 0;
    }
    if (count != n) {
        msf_h5_close(w);
        return 0;
    }
    int64_t ls[4] = {n, C, H, H}, ys[1] = {n};
    msf_status s = msf_h5_read(w, "latents", latents, 4, ls);
    if (!s) s = msf_h5_read_i64(w, "labels", labels, 1, ys);
    msf_h5_close(w);
    char got[17];
    if (!s) run_hex64(got, latents_checksum(latents, labels, n, (size_t)C * H * H));
    if (s || (has_sum && strcmp(got, sum))) {
        char why[600];
        if (s) snprintf(why, sizeof why, "%.580s", msf_error_message());
        else snprintf(why, sizeof why, "checksum %s, recorded %s", got, sum);
        run_drop_damaged(path, why);
        return 0;
    }
    return 1;
}

msf_status run_shard_write(const char *path, const msf_run_point *p, int C, int H, uint64_t seed, const float *latents,
                           const int64_t *labels, int64_t first, int n, double seconds) {
    msf_h5_writer *w;
    char hash[17], model[17], sum[17];
    run_hex64(hash, p->sample_hash);
    run_hex64(model, p->model_hash);
    run_hex64(sum, latents_checksum(latents, labels, n, (size_t)C * H * H));
    int64_t ls[4] = {n, C, H, H}, ys[1] = {n};
    msf_status s = msf_h5_create(&w, path);
    if (s) return s;
    if ((s = msf_h5_write_f32(w, "latents", 4, ls, latents)) || (s = msf_h5_write_i64(w, "labels", 1, ys, labels)) ||
        (s = msf_h5_attr_string(w, NULL, "sample_hash", hash)) ||
        (s = msf_h5_attr_string(w, NULL, "model_hash", model)) || (s = msf_h5_attr_int(w, NULL, "first", first)) ||
        (s = msf_h5_attr_int(w, NULL, "count", n)) || (s = msf_h5_attr_double(w, NULL, "seconds", seconds)) ||
        (s = msf_h5_attr_int(w, NULL, "seed", (int64_t)seed)) || (s = msf_h5_attr_string(w, NULL, "point", p->name)) ||
        (s = msf_h5_attr_string(w, NULL, "checksum", sum)) ||
        (s = msf_h5_attr_string(w, NULL, "git_commit", msf_git_commit()))) {
        msf_h5_abort(w);
        return s;
    }
    return msf_h5_commit(w);
}

static msf_status shard_read(const char *path, float *latents, int64_t *labels, int n, int C, int H) {
    msf_h5_reader *w;
    msf_status s = msf_h5_open_as(&w, path, "sample shard");
    if (s) return s;
    int64_t ls[4] = {n, C, H, H}, ys[1] = {n};
    if (!(s = msf_h5_read(w, "latents", latents, 4, ls)) && labels) s = msf_h5_read_i64(w, "labels", labels, 1, ys);
    msf_h5_close(w);
    return s;
}

msf_status run_npz_write(const char *path, const uint8_t *pixels, int n, int H, int W, int c) {
    msf_npz_writer *w;
    int64_t shape[4] = {n, H, W, c};
    msf_status s = msf_npz_create_u8(&w, path, "arr_0", 4, shape);
    if (s) return s;
    if ((s = msf_npz_append(w, pixels, (size_t)n * H * W * c))) {
        msf_npz_abort(w);
        return s;
    }
    return msf_npz_commit(w);
}

// -----------------------------------------------------------------------------
// Merging

static msf_status npz_open_checked(msf_npz_reader **r, const char *path, int64_t n, int H, int W, int c) {
    msf_status s = msf_npz_open_u8(r, path, "arr_0");
    if (s) return s;
    const int64_t *sh = msf_npz_shape(*r);
    if (msf_npz_ndim(*r) != 4 || sh[0] != n || sh[1] != H || sh[2] != W || sh[3] != c) {
        msf_npz_close(*r);
        *r = NULL;
        return msf_fail(MSF_ERR_SHAPE, "%s: arr_0 is not uint8 [%lld, %d, %d, %d]", path, (long long)n, H, W, c);
    }
    return MSF_OK;
}

// A merged or shard images file that holds n images [H, W, c] (`pixels`:
// room for them all to read them through, or NULL to check the header only).
// 1 if so, else 0 with the reason in `why`.
// H = 0: any image shape (a point.json from before msf recorded it).
int run_images_file_ok(const char *path, int64_t n, int H, int W, int c, uint8_t *pixels, char *why, size_t size) {
    msf_npz_reader *r = NULL;
    msf_status s;
    if (H > 0) s = npz_open_checked(&r, path, n, H, W, c);
    else if (!(s = msf_npz_open_u8(&r, path, "arr_0")) && (msf_npz_ndim(r) != 4 || msf_npz_shape(r)[0] != n))
        s = msf_fail(MSF_ERR_SHAPE, "%s: arr_0 is not uint8 [%lld, H, W, c]", path, (long long)n);
    if (!s && pixels) s = msf_npz_read(r, pixels, (size_t)n * H * W * c);
    if (r) msf_npz_close(r);
    if (s) snprintf(why, size, "%s", msf_error_message());
    return !s;
}

// latents.h5 of a point: latents [N, C, H, H] and labels [N] (C = 0: any
// C, H) of this point's sample and model hashes. 1 if so, else 0 with the
// reason in `why`.
int run_latents_file_ok(const char *path, const msf_run_point *p, int64_t N, int C, int H, char *why, size_t size) {
    msf_h5_reader *w;
    if (msf_h5_open_as(&w, path, "latents file")) {
        snprintf(why, size, "%s", msf_error_message());
        return 0;
    }
    const msf_h5_tensor *z = msf_h5_find(w, "latents"), *y = msf_h5_find(w, "labels");
    char hash[32], want[17];
    int64_t count;
    int ok = 1;
    if (!z || z->ndim != 4 || z->shape[0] != N || (C && (z->shape[1] != C || z->shape[2] != H || z->shape[3] != H)) ||
        !y || y->ndim != 1 || y->shape[0] != N) {
        snprintf(why, size, "expected latents [%lld, C, H, W] and labels [%lld]", (long long)N, (long long)N);
        ok = 0;
    } else if (msf_h5_get_attr_int(w, NULL, "count", &count) == MSF_OK && count != N) {
        snprintf(why, size, "attribute count %lld, expected %lld", (long long)count, (long long)N);
        ok = 0;
    }
    static const char *const keys[] = {"sample_hash", "model_hash"};
    const uint64_t values[] = {p->sample_hash, p->model_hash};
    for (int k = 0; k < 2 && ok; k++) {
        run_hex64(want, values[k]);
        if (msf_h5_get_attr_string(w, NULL, keys[k], hash, sizeof hash) == MSF_OK && strcmp(hash, want)) {
            snprintf(why, size, "%s %s, this point's %s", keys[k], hash, want);
            ok = 0;
        }
    }
    msf_h5_close(w);
    return ok;
}

msf_status run_merge_images(const char *dir, int shards, int64_t N, int S, int H, int W, int c) {
    char path[4096], shard[4096];
    snprintf(path, sizeof path, "%s/images.npz", dir);
    msf_npz_writer *w;
    int64_t shape[4] = {N, H, W, c};
    size_t img = (size_t)H * W * c;
    uint8_t *buf = malloc(img);
    if (!buf) return msf_fail(MSF_ERR_NOMEM, "out of memory");
    msf_status s = msf_npz_create_u8(&w, path, "arr_0", 4, shape);
    for (int k = 0; k < shards && !s; k++) {
        int64_t n = N - (int64_t)k * S < S ? N - (int64_t)k * S : S;
        msf_npz_reader *r;
        snprintf(shard, sizeof shard, "%s/shards/shard_%05d.npz", dir, k);
        if ((s = npz_open_checked(&r, shard, n, H, W, c))) break;
        for (int64_t i = 0; i < n && !s; i++)
            if (!(s = msf_npz_read(r, buf, img))) s = msf_npz_append(w, buf, img);
        msf_npz_close(r);
    }
    free(buf);
    if (s) {
        msf_npz_abort(w);
        return s;
    }
    return msf_npz_commit(w);
}

msf_status run_merge_latents(const char *dir, const msf_run_point *p, int shards, int64_t N, int S, int C, int H) {
    size_t numel = (size_t)C * H * H;
    float *z = malloc((size_t)N * numel * sizeof *z);
    int64_t *y = malloc((size_t)N * sizeof *y);
    msf_status s = z && y ? MSF_OK : msf_fail(MSF_ERR_NOMEM, "out of memory for %lld latents", (long long)N);
    char path[4096];
    for (int k = 0; k < shards && !s; k++) {
        int64_t first = (int64_t)k * S, n = N - first < S ? N - first : S;
        snprintf(path, sizeof path, "%s/shards/shard_%05d.h5", dir, k);
        s = shard_read(path, z + (size_t)first * numel, y + first, (int)n, C, H);
    }
    msf_h5_writer *w = NULL;
    int64_t ls[4] = {N, C, H, H}, ys[1] = {N};
    snprintf(path, sizeof path, "%s/latents.h5", dir);
    char hash[17], model[17], sum[17];
    run_hex64(hash, p->sample_hash);
    run_hex64(model, p->model_hash);
    if (!s) run_hex64(sum, latents_checksum(z, y, N, numel));
    if (!s && !(s = msf_h5_create(&w, path))) {
        if ((s = msf_h5_write_f32(w, "latents", 4, ls, z)) || (s = msf_h5_write_i64(w, "labels", 1, ys, y)) ||
            (s = msf_h5_attr_string(w, NULL, "sample_hash", hash)) ||
            (s = msf_h5_attr_string(w, NULL, "model_hash", model)) || (s = msf_h5_attr_int(w, NULL, "count", N)) ||
            (s = msf_h5_attr_string(w, NULL, "checksum", sum)))
            msf_h5_abort(w);
        else s = msf_h5_commit(w);
    }
    free(z), free(y);
    return s;
}

// The labels of a point's first n samples into *labels (malloc'd): from its
// shards for sampled points, from arr_1 of its samples file for given samples
// (*labels NULL when that file has none).
static msf_status grid_labels(int64_t **labels, const msf_run_point *p, const char *dir, const char *images, int64_t N,
                              int n) {
    *labels = NULL;
    if (config_find(p->config, "samples")) return msf_image_input_labels(images, N, 0, labels);
    int64_t S = msf_run_int(p->config, "shard_size");
    int64_t *y = malloc((size_t)n * sizeof *y);
    if (!y) return msf_fail(MSF_ERR_NOMEM, "out of memory");
    msf_status s = MSF_OK;
    for (int64_t first = 0; first < n && !s; first += S) {
        char path[4200];
        snprintf(path, sizeof path, "%s/shards/shard_%05lld.h5", dir, (long long)(first / S));
        int64_t m = N - first < S ? N - first : S, shape[1] = {m};
        int64_t *all = malloc((size_t)m * sizeof *all);
        msf_h5_reader *w = NULL;
        if (!all) s = msf_fail(MSF_ERR_NOMEM, "out of memory");
        else if (!(s = msf_h5_open_as(&w, path, "sample shard")) && !(s = msf_h5_read_i64(w, "labels", all, 1, shape)))
            memcpy(y + first, all, (size_t)(n - first < m ? n - first : m) * sizeof *y);
        msf_h5_close(w);
        free(all);
    }
    if (s) free(y);
    else *labels = y;
    return s;
}

// Fashion-MNIST's class names when the point's evaluator network is the
// Fashion-MNIST classifier of its ten classes (class consistency already
// takes the labels to be its classes), with a line saying so in `about`; else
// NULL (names unknown: ImageNet's are not shipped).
static const char *const *grid_class_names(const msf_run_point *p, char *about, size_t size) {
    const char *net = config_str(p->config, "evaluator.featnet", NULL);
    char model[64] = "";
    int64_t classes = 0;
    msf_h5_reader *w = NULL;
    if (net && !msf_h5_open(&w, net) && !msf_h5_get_attr_string(w, NULL, "model", model, sizeof model))
        msf_h5_get_attr_int(w, NULL, "num_classes", &classes);
    msf_h5_close(w);
    if (strcmp(model, "fmnist_classifier") || classes != MSF_FMNIST_CLASSES) return NULL;
    snprintf(about, size, "class names: Fashion-MNIST's (the evaluator's network %s is the Fashion-MNIST classifier)",
             net);
    return msf_fmnist_class_names;
}

// The first up to `count` images of `images` as one RGB grid with 2-pixel
// gaps, and its legend grid.txt: each image's class (msf_png_grid_write_legend;
// no legend when the labels are unknown).
msf_status run_write_grid(const char *dir, const msf_run_point *p, const char *images, int64_t N, int count, int H,
                          int W, int c) {
    if (count <= 0) return MSF_OK;
    size_t img = (size_t)H * W * c;
    msf_png_grid g;
    uint8_t *buf = malloc(img);
    char path[4096];
    msf_npz_reader *r = NULL;
    msf_status s = msf_png_grid_init(&g, N, count, 0, H, W);
    if (!s) s = buf ? npz_open_checked(&r, images, N, H, W, c) : msf_fail(MSF_ERR_NOMEM, "out of memory");
    for (int i = 0; i < g.count && !s; i++)
        if (!(s = msf_npz_read(r, buf, img))) msf_png_grid_paste(&g, i, buf, c);
    msf_npz_close(r);
    snprintf(path, sizeof path, "%s/grid.png", dir);
    if (!s) s = msf_png_grid_write(&g, path);
    int64_t *labels = NULL;
    if (!s) s = grid_labels(&labels, p, dir, images, N, g.count);
    snprintf(path, sizeof path, "%s/grid.txt", dir);
    if (!s && labels) {
        char about[4200];
        const char *const *names = grid_class_names(p, about, sizeof about);
        if (!names)
            snprintf(
                about, sizeof about, "class names: unknown here (the index is %s)",
                config_find(p->config, "samples") ? "arr_1 of the samples file" : "the label the model sampled for");
        s = msf_png_grid_write_legend(&g, path, "grid.png", labels, names, names ? MSF_FMNIST_CLASSES : 0, about);
    } else if (!s && unlink(path) != 0 && errno != ENOENT) {
        s = msf_fail(MSF_ERR_IO, "cannot remove %s: %s", path, strerror(errno));
    }
    free(labels);
    msf_png_grid_free(&g);
    free(buf);
    return s;
}
