// evaluate.c: evaluation inputs (images, features, statistics) and the
// metrics between two of them.
#include "eval/evaluate.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "io/h5write.h"
#include "io/idx.h"
#include "io/images.h"
#include "io/h5read.h"

void msf_feature_set_free(msf_feature_set *f) {
    free(f->pool), free(f->spatial), free(f->logits), free(f->labels);
    memset(f, 0, sizeof *f);
}

static int ends_with(const char *s, const char *tail) {
    size_t n = strlen(s), m = strlen(tail);
    return n >= m && !strcmp(s + n - m, tail);
}

static int is_dir(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

// -----------------------------------------------------------------------------
// Image sources: an .npz batch, a PNG folder or an IDX images file (MNIST /
// Fashion-MNIST, gzip or plain; read whole), a batch at a time.

typedef struct {
    const char *path;
    msf_npz_reader *npz;
    uint8_t *idx;  // IDX images [n, h, w]
    char **names;  // PNG folder
    int count;
    int64_t n, next;
    int h, w, c;
} image_source;

static int is_idx_images(const char *path) { return ends_with(path, "idx3-ubyte.gz") || ends_with(path, "idx3-ubyte"); }

static msf_status source_open(image_source *s, const char *path) {
    memset(s, 0, sizeof *s);
    s->path = path;
    if (is_idx_images(path)) {
        s->c = 1;
        return msf_idx_read_u8(path, 0, &s->idx, &s->n, &s->h, &s->w);
    }
    if (is_dir(path)) {
        msf_status e = msf_png_list(path, &s->names, &s->count);
        if (e) return e;
        uint8_t *px;
        char file[4096];
        snprintf(file, sizeof file, "%s/%s", path, s->names[0]);
        if ((e = msf_png_read_rgb(file, &px, &s->h, &s->w))) return e;
        free(px);
        s->n = s->count, s->c = 3;
        return MSF_OK;
    }
    msf_status e = msf_npz_open_u8(&s->npz, path, "arr_0");
    if (e) return e;
    int nd = msf_npz_ndim(s->npz);
    const int64_t *sh = msf_npz_shape(s->npz);
    int64_t c = nd == 4 ? sh[3] : 1;
    if ((nd == 3 || nd == 4) && sh[0] == 0) return msf_fail(MSF_ERR_SHAPE, "%s: arr_0 holds no images (N = 0)", path);
    if ((nd != 3 && nd != 4) || sh[0] < 1 || sh[1] < 1 || sh[2] < 1 || sh[1] > 8192 || sh[2] > 8192 ||
        (c != 1 && c != 3 && c != 4))
        return msf_fail(MSF_ERR_SHAPE, "%s: arr_0 must be uint8 images [N, H, W, C] with C = 1, 3 or 4, or [N, H, W]",
                        path);
    s->n = sh[0], s->h = (int)sh[1], s->w = (int)sh[2], s->c = (int)c;
    return MSF_OK;
}

// The next `count` images into px [count, h, w, c].
static msf_status source_read(image_source *s, uint8_t *px, int count) {
    size_t bytes = (size_t)s->h * s->w * s->c;
    if (s->idx) {
        memcpy(px, s->idx + (size_t)s->next * bytes, bytes * (size_t)count);
        s->next += count;
        return MSF_OK;
    }
    if (s->npz) {
        s->next += count;
        return msf_npz_read(s->npz, px, bytes * (size_t)count);
    }
    for (int i = 0; i < count; i++, s->next++) {
        char file[4096];
        snprintf(file, sizeof file, "%s/%s", s->path, s->names[s->next]);
        uint8_t *img;
        int h, w;
        msf_status e = msf_png_read_rgb(file, &img, &h, &w);
        if (e) return e;
        if (h != s->h || w != s->w) {
            free(img);
            return msf_fail(MSF_ERR_SHAPE, "%s is %dx%d, but %s/%s is %dx%d (all images must share one size)", file, h,
                            w, s->path, s->names[0], s->h, s->w);
        }
        memcpy(px + (size_t)i * bytes, img, bytes);
        free(img);
    }
    return MSF_OK;
}

// Past the next `count` images (px: room for them: an .npz is a stream).
static msf_status source_skip(image_source *s, uint8_t *px, int count) {
    if (s->npz) return source_read(s, px, count);
    s->next += count;
    return MSF_OK;
}

static void source_close(image_source *s) {
    msf_npz_close(s->npz);
    free(s->idx);
    if (s->names) msf_png_list_free(s->names, s->count);
}

// Class labels as they enter: each in [0, classes) (classes = the feature
// network's logits, 0 = no upper bound). `what` names the file and dataset.
static msf_status check_labels(const int64_t *labels, int64_t n, int classes, const char *what) {
    for (int64_t i = 0; i < n; i++)
        if (labels[i] < 0 || (classes > 0 && labels[i] >= classes)) {
            if (classes > 0)
                return msf_fail(MSF_ERR_INVALID,
                                "%s: label %lld of sample %lld is outside the network's classes "
                                "[0, %d)",
                                what, (long long)labels[i], (long long)i, classes);
            return msf_fail(MSF_ERR_INVALID, "%s: label %lld of sample %lld is negative", what, (long long)labels[i],
                            (long long)i);
        }
    return MSF_OK;
}

// Labels of an image input: arr_1 of an .npz when it is [N]; an integer
// array (uint8 or int64) in [0, classes).
static msf_status npz_labels(const char *path, int64_t n, int classes, int64_t **out) {
    *out = NULL;
    int present = 0;
    msf_status s = msf_npz_contains(path, "arr_1", &present);
    if (s || !present) return s;
    msf_npz_reader *r;
    if ((s = msf_npz_open(&r, path, "arr_1"))) return s;
    msf_npy_dtype dt = msf_npz_dtype(r);
    msf_npz_close(r);
    double *v;
    int nd;
    int64_t sh[MSF_NPY_MAX_DIMS];
    if ((s = msf_npz_load_f64(path, "arr_1", &v, &nd, sh))) return s;
    if (nd != 1 || sh[0] != n) {
        free(v);
        msf_log(MSF_LOG_WARN, "%s: arr_1 is not [%lld] labels; ignored", path, (long long)n);
        return MSF_OK;
    }
    if (dt != MSF_NPY_U8 && dt != MSF_NPY_I64) {
        int64_t i = 0;
        while (i < n && v[i] == floor(v[i])) i++;
        if (i < n)
            s = msf_fail(MSF_ERR_INVALID, "%s: arr_1 (the class labels) is %s, not integers: label %lld is %.17g", path,
                         msf_npy_dtype_name(dt), (long long)i, v[i]);
        else
            s = msf_fail(MSF_ERR_INVALID,
                         "%s: arr_1 (the class labels) is %s, not an integer array (save it as "
                         "int64)",
                         path, msf_npy_dtype_name(dt));
        free(v);
        return s;
    }
    *out = malloc((size_t)(n ? n : 1) * sizeof(int64_t));
    if (!*out) s = msf_fail(MSF_ERR_NOMEM, "out of memory");
    for (int64_t i = 0; i < n && !s; i++) (*out)[i] = (int64_t)v[i];
    free(v);
    char what[4200];
    snprintf(what, sizeof what, "%s, arr_1", path);
    if (!s) s = check_labels(*out, n, classes, what);
    if (s) free(*out), *out = NULL;
    return s;
}

// Labels of an IDX images file: the labels file beside it
// (X-images-idx3-ubyte[.gz] -> X-labels-idx1-ubyte[.gz]) when it exists.
static msf_status idx_labels(const char *path, int64_t n, int classes, int64_t **out) {
    *out = NULL;
    const char *at = strstr(path, "images-idx3-ubyte");
    if (!at) return MSF_OK;
    char labels[4096];
    snprintf(labels, sizeof labels, "%.*slabels-idx1-ubyte%s", (int)(at - path), path,
             at + strlen("images-idx3-ubyte"));
    struct stat st;
    if (stat(labels, &st) != 0) return MSF_OK;
    int64_t count = 0;
    msf_status s = msf_idx_read_labels(labels, n, out, &count);
    if (!s && count != n) {
        free(*out);
        *out = NULL;
        s = msf_fail(MSF_ERR_SHAPE, "%s holds %lld labels for the %lld images of %s", labels, (long long)count,
                     (long long)n, path);
    }
    if (!s && (s = check_labels(*out, n, classes, labels))) free(*out), *out = NULL;
    return s;
}

msf_status msf_image_input_labels(const char *path, int64_t n, int classes, int64_t **out) {
    *out = NULL;
    if (is_dir(path)) return MSF_OK;
    return is_idx_images(path) ? idx_labels(path, n, classes, out) : npz_labels(path, n, classes, out);
}

// Batch b (images b*batch ..) is computed by rank b mod size (every batch
// when dist is NULL) and then broadcast from it: every rank ends with all
// features, each batch computed as one process computes it.
static msf_status features_of_images(msf_feature_set *out, const char *images, msf_featnet *net, msf_resize_mode mode,
                                     int batch, const msf_dist *dist, const msf_progress *progress) {
    if (!net)
        return msf_fail(MSF_ERR_INVALID, "%s holds images: a feature network (--net W.h5) is needed to evaluate them",
                        images);
    if (batch < 1) return msf_fail(MSF_ERR_INVALID, "batch size %d (expected >= 1)", batch);
    const msf_featnet_info *info = msf_featnet_get_info(net);
    image_source src;
    msf_status s = source_open(&src, images);
    uint8_t *px = NULL;
    int64_t *labels = NULL;  // read and checked before the features are computed
    if (!s && is_idx_images(images)) s = idx_labels(images, src.n, info->logits_dim, &labels);
    else if (!s && !is_dir(images)) s = npz_labels(images, src.n, info->logits_dim, &labels);
    if (!s) {
        out->n = src.n;
        out->pool_dim = info->pool_dim, out->spatial_dim = info->spatial_dim, out->logits_dim = info->logits_dim;
        snprintf(out->network, sizeof out->network, "%s", info->kind);
        snprintf(out->resize, sizeof out->resize, "%s", msf_resize_mode_name(mode));
        out->pool = malloc((size_t)src.n * info->pool_dim * sizeof(float));
        out->spatial = info->spatial_dim ? malloc((size_t)src.n * info->spatial_dim * sizeof(float)) : NULL;
        out->logits = info->logits_dim ? malloc((size_t)src.n * info->logits_dim * sizeof(float)) : NULL;
        px = malloc((size_t)batch * src.h * src.w * src.c);
        if (!out->pool || (info->spatial_dim && !out->spatial) || (info->logits_dim && !out->logits) || !px)
            s = msf_fail(MSF_ERR_NOMEM, "%s: no memory for the features of %lld images", images, (long long)src.n);
    }
    if (!s) msf_progress_report(progress, "features", 0, src.n);  // no bar before an error
    for (int64_t i = 0; i < src.n && !s; i += batch) {
        int cnt = (int)(src.n - i < batch ? src.n - i : batch);
        if (msf_dist_owner(dist, i / batch) != msf_dist_rank(dist)) {
            s = source_skip(&src, px, cnt);
            continue;
        }
        s = source_read(&src, px, cnt);
        if (!s)
            s = msf_featnet_run(net, px, cnt, src.h, src.w, src.c, mode, out->pool + i * info->pool_dim,
                                out->spatial ? out->spatial + i * info->spatial_dim : NULL,
                                out->logits ? out->logits + i * info->logits_dim : NULL);
        if (s) msf_fail_context(s, "%s, images %lld..%lld", images, (long long)i, (long long)(i + cnt - 1));
        msf_progress_report(progress, "features", i + cnt, src.n);
    }
    free(px);
    source_close(&src);
    if (msf_dist_size(dist) > 1) {
        // Every rank gets here (a failed rank too); then each batch from its rank.
        msf_status all = msf_dist_agree(dist, s, NULL, NULL);
        for (int64_t i = 0; !all && i < out->n; i += batch) {
            int cnt = (int)(out->n - i < batch ? out->n - i : batch), from = msf_dist_owner(dist, i / batch);
            all =
                msf_dist_bcast(dist, out->pool + i * out->pool_dim, (size_t)cnt * out->pool_dim * sizeof(float), from);
            if (!all && out->spatial)
                all = msf_dist_bcast(dist, out->spatial + i * out->spatial_dim,
                                     (size_t)cnt * out->spatial_dim * sizeof(float), from);
            if (!all && out->logits)
                all = msf_dist_bcast(dist, out->logits + i * out->logits_dim,
                                     (size_t)cnt * out->logits_dim * sizeof(float), from);
        }
        s = all;
    }
    out->labels = labels;
    if (s) msf_feature_set_free(out);
    return s;
}

// `msf sample` output X.h5: labels from it, images from X.npz.
static msf_status features_of_sample_file(msf_feature_set *out, const char *path, msf_h5_reader *h5, msf_featnet *net,
                                          msf_resize_mode mode, int batch, const msf_dist *dist,
                                          const msf_progress *progress) {
    char images[4096];
    snprintf(images, sizeof images, "%.*s.npz", (int)(strlen(path) - 3), path);
    const msf_h5_tensor *li = msf_h5_find(h5, "labels");
    if (!li || li->ndim != 1) return msf_fail(MSF_ERR_FORMAT, "%s: sampler output without labels [N]", path);
    int64_t *labels = malloc((size_t)(li->shape[0] ? li->shape[0] : 1) * sizeof(int64_t));
    if (!labels) return msf_fail(MSF_ERR_NOMEM, "out of memory");
    msf_status s = msf_h5_read_i64(h5, "labels", labels, 1, li->shape);
    char what[4200];
    snprintf(what, sizeof what, "%s, labels", path);
    if (!s && (s = check_labels(labels, li->shape[0], net ? msf_featnet_get_info(net)->logits_dim : 0, what))) {
        free(labels);
        return s;
    }
    if (!s) s = features_of_images(out, images, net, mode, batch, dist, progress);
    if (s) {
        free(labels);
        return msf_fail_context(s, "%s holds latents; its images are expected in %s (msf sample --vae)", path, images);
    }
    if (out->n != li->shape[0]) {
        free(labels);
        msf_feature_set_free(out);
        return msf_fail(MSF_ERR_SHAPE, "%s has %lld labels but %s %lld images", path, (long long)li->shape[0], images,
                        (long long)out->n);
    }
    free(out->labels);
    out->labels = labels;
    return MSF_OK;
}

static msf_status features_from_input(msf_feature_set *out, const char *path, msf_featnet *net, msf_resize_mode mode,
                                      int batch, const msf_dist *dist, const msf_progress *progress) {
    memset(out, 0, sizeof *out);
    if (!is_dir(path) && ends_with(path, ".h5")) {
        msf_h5_reader *h5;
        msf_status s = msf_h5_open_as(&h5, path, "features or samples file");
        if (s) return s;
        int features = msf_h5_find(h5, "pool_3") != NULL, sampled = msf_h5_find(h5, "latents") != NULL;
        if (sampled && !features) s = features_of_sample_file(out, path, h5, net, mode, batch, dist, progress);
        msf_h5_close(h5);
        if (features) return msf_features_read_h5(out, path);
        if (!sampled)
            return msf_fail(MSF_ERR_FORMAT, "%s is neither a features file (pool_3) nor sampler output (latents)",
                            path);
        return s;
    }
    return features_of_images(out, path, net, mode, batch, dist, progress);
}

msf_status msf_features_from_input(msf_feature_set *out, const char *path, msf_featnet *net, msf_resize_mode mode,
                                   int batch, const msf_progress *progress) {
    return features_from_input(out, path, net, mode, batch, NULL, progress);
}

// -----------------------------------------------------------------------------
// Features files

msf_status msf_features_write_h5(const char *path, const msf_feature_set *f, const char *source) {
    msf_h5_writer *w;
    msf_status s = msf_h5_create(&w, path);
    if (s) return s;
    int64_t sh[2] = {f->n, f->pool_dim};
    s = msf_h5_write_f32(w, "pool_3", 2, sh, f->pool);
    if (!s && f->spatial) sh[1] = f->spatial_dim, s = msf_h5_write_f32(w, "spatial", 2, sh, f->spatial);
    if (!s && f->logits) sh[1] = f->logits_dim, s = msf_h5_write_f32(w, "logits", 2, sh, f->logits);
    if (!s && f->labels) s = msf_h5_write_i64(w, "labels", 1, sh, f->labels);
    if (!s) s = msf_h5_attr_string(w, NULL, "network", f->network);
    if (!s) s = msf_h5_attr_string(w, NULL, "resize", f->resize);
    if (!s) s = msf_h5_attr_string(w, NULL, "source", source);
    if (!s) s = msf_h5_attr_int(w, NULL, "count", f->n);
    if (s) {
        msf_h5_abort(w);
        return s;
    }
    return msf_h5_commit(w);
}

// Dataset `name` [n, dim] of a features file, if present.
static msf_status read_rows(msf_h5_reader *w, const char *name, int64_t *n, int *dim, float **out) {
    const msf_h5_tensor *i = msf_h5_find(w, name);
    if (!i) return MSF_OK;
    if (i->ndim != 2 || i->shape[1] < 1 || i->shape[1] > 1 << 20 || (*n >= 0 && i->shape[0] != *n))
        return msf_fail(MSF_ERR_SHAPE, "%s: dataset %s must be [N, dim] with the same N as pool_3", msf_h5_path(w),
                        name);
    *n = i->shape[0], *dim = (int)i->shape[1];
    *out = malloc((size_t)(*n ? *n : 1) * *dim * sizeof(float));
    if (!*out) return msf_fail(MSF_ERR_NOMEM, "out of memory");
    return msf_h5_read(w, name, *out, 2, i->shape);
}

msf_status msf_features_read_h5(msf_feature_set *out, const char *path) {
    memset(out, 0, sizeof *out);
    msf_h5_reader *w;
    msf_status s = msf_h5_open_as(&w, path, "features file");
    if (s) return s;
    out->n = -1;
    if (!msf_h5_find(w, "pool_3")) s = msf_fail(MSF_ERR_FORMAT, "%s: no dataset pool_3 (not a features file)", path);
    if (!s) s = read_rows(w, "pool_3", &out->n, &out->pool_dim, &out->pool);
    if (!s) s = read_rows(w, "spatial", &out->n, &out->spatial_dim, &out->spatial);
    if (!s) s = read_rows(w, "logits", &out->n, &out->logits_dim, &out->logits);
    const msf_h5_tensor *li = s ? NULL : msf_h5_find(w, "labels");
    if (li) {
        out->labels = malloc((size_t)(out->n ? out->n : 1) * sizeof(int64_t));
        int64_t sh[1] = {out->n};
        s = out->labels ? msf_h5_read_i64(w, "labels", out->labels, 1, sh) : msf_fail(MSF_ERR_NOMEM, "no memory");
        char what[4200];
        snprintf(what, sizeof what, "%s, labels", path);
        if (!s) s = check_labels(out->labels, out->n, out->logits_dim, what);
    }
    if (!s) {
        msf_h5_get_attr_string(w, NULL, "network", out->network, sizeof out->network);
        msf_h5_get_attr_string(w, NULL, "resize", out->resize, sizeof out->resize);
        msf_clear_error();
    }
    msf_h5_close(w);
    if (s) msf_feature_set_free(out);
    return s;
}

// -----------------------------------------------------------------------------
// Statistics files

void msf_ref_stats_free(msf_ref_stats *s) {
    msf_fid_stats_free(&s->pool);
    msf_fid_stats_free(&s->spatial);
}

msf_status msf_ref_stats_from_features(msf_ref_stats *out, const msf_feature_set *f) {
    memset(out, 0, sizeof *out);
    msf_status s = msf_fid_stats_compute(&out->pool, f->pool, f->n, f->pool_dim, "pool features");
    if (!s && f->spatial)
        s = msf_fid_stats_compute(&out->spatial, f->spatial, f->n, f->spatial_dim, "spatial features");
    if (s) msf_ref_stats_free(out);
    return s;
}

// mu/sigma pair `m`, `sg` of an .npz into st.
static msf_status read_pair(msf_fid_stats *st, const char *path, const char *m, const char *sg) {
    int nd1, nd2;
    int64_t sh1[MSF_NPY_MAX_DIMS], sh2[MSF_NPY_MAX_DIMS];
    double *mu = NULL, *sigma = NULL;
    msf_status s = msf_npz_load_f64(path, m, &mu, &nd1, sh1);
    if (!s) s = msf_npz_load_f64(path, sg, &sigma, &nd2, sh2);
    if (!s && (nd1 != 1 || nd2 != 2 || sh2[0] != sh1[0] || sh2[1] != sh1[0] || sh1[0] < 1))
        s = msf_fail(MSF_ERR_SHAPE, "%s: %s must be [d] and %s [d, d]", path, m, sg);
    if (s) {
        free(mu), free(sigma);
        return s;
    }
    st->dim = (int)sh1[0], st->mu = mu, st->sigma = sigma;
    char what[4200];
    snprintf(what, sizeof what, "%s (%s, %s)", path, m, sg);
    if ((s = msf_fid_stats_check(st, what))) msf_fid_stats_free(st);
    return s;
}

msf_status msf_ref_stats_read_npz(msf_ref_stats *out, const char *path, int *found) {
    memset(out, 0, sizeof *out);
    *found = 0;
    int has_mu, has_mu_s;
    msf_status s = msf_npz_contains(path, "mu", &has_mu);
    if (s || !has_mu) return s;
    if ((s = msf_npz_contains(path, "mu_s", &has_mu_s))) return s;
    s = read_pair(&out->pool, path, "mu", "sigma");
    if (!s && has_mu_s) s = read_pair(&out->spatial, path, "mu_s", "sigma_s");
    if (s) {
        msf_ref_stats_free(out);
        return s;
    }
    *found = 1;
    return MSF_OK;
}

msf_status msf_ref_stats_write_npz(const char *path, const msf_ref_stats *s) {
    int d = s->pool.dim, ds = s->spatial.dim;
    msf_npz_f64_array a[4] = {
        {.name = "mu", .ndim = 1, .shape = {d}, .data = s->pool.mu},
        {.name = "sigma", .ndim = 2, .shape = {d, d}, .data = s->pool.sigma},
        {.name = "mu_s", .ndim = 1, .shape = {ds}, .data = s->spatial.mu},
        {.name = "sigma_s", .ndim = 2, .shape = {ds, ds}, .data = s->spatial.sigma},
    };
    return msf_npz_write_f64(path, a, ds ? 4 : 2);
}

// -----------------------------------------------------------------------------
// Inputs and evaluation

void msf_eval_input_free(msf_eval_input *in) {
    msf_feature_set_free(&in->features);
    msf_ref_stats_free(&in->stats);
    in->has_features = 0;
}

msf_status msf_eval_input_kind_of(const char *path, msf_eval_input_kind *kind) {
    *kind = MSF_INPUT_IMAGES;
    if (is_dir(path) || is_idx_images(path)) return MSF_OK;
    msf_status s;
    if (ends_with(path, ".h5")) {
        msf_h5_reader *h5;
        if ((s = msf_h5_open_as(&h5, path, "features or samples file"))) return s;
        int features = msf_h5_find(h5, "pool_3") != NULL, sampled = msf_h5_find(h5, "latents") != NULL;
        msf_h5_close(h5);
        if (!features && !sampled)
            return msf_fail(MSF_ERR_FORMAT, "%s is neither a features file (pool_3) nor sampler output (latents)",
                            path);
        *kind = features ? MSF_INPUT_FEATURES : MSF_INPUT_IMAGES;
        return MSF_OK;
    }
    int stored = 0, images = 0;
    if ((s = msf_npz_contains(path, "mu", &stored)) || (s = msf_npz_contains(path, "arr_0", &images))) return s;
    if (!stored && !images)
        return msf_fail(MSF_ERR_FORMAT, "%s holds neither images (arr_0) nor statistics (mu, sigma)", path);
    *kind = stored ? (images ? MSF_INPUT_IMAGES_STATS : MSF_INPUT_STATS) : MSF_INPUT_IMAGES;
    return MSF_OK;
}

int msf_eval_input_uses_net(msf_eval_input_kind kind) {
    return kind == MSF_INPUT_IMAGES || kind == MSF_INPUT_IMAGES_STATS;
}

int msf_eval_input_has_features(msf_eval_input_kind kind, int has_net) {
    return kind == MSF_INPUT_FEATURES || (has_net && msf_eval_input_uses_net(kind));
}

msf_status msf_eval_input_load_dist(msf_eval_input *out, const char *path, msf_featnet *net, msf_resize_mode mode,
                                    int batch, const msf_dist *dist, const msf_progress *progress) {
    memset(out, 0, sizeof *out);
    msf_status s;
    int stored = 0, images = 0;
    if (!is_dir(path) && !ends_with(path, ".h5") && !is_idx_images(path)) {
        if ((s = msf_ref_stats_read_npz(&out->stats, path, &stored))) return s;
        if ((s = msf_npz_contains(path, "arr_0", &images))) return s;
        if (!stored && !images)
            return msf_fail(MSF_ERR_FORMAT, "%s holds neither images (arr_0) nor statistics (mu, sigma)", path);
        // A reference batch with stored statistics and no network: FID/sFID only.
        if (stored && (!images || !net)) return MSF_OK;
    }
    s = features_from_input(&out->features, path, net, mode, batch, dist, progress);
    if (!s) out->has_features = 1;
    if (!s && !stored && msf_dist_is_root(dist)) s = msf_ref_stats_from_features(&out->stats, &out->features);
    if (s) msf_eval_input_free(out);
    return s;
}

msf_status msf_eval_input_load(msf_eval_input *out, const char *path, msf_featnet *net, msf_resize_mode mode, int batch,
                               const msf_progress *progress) {
    return msf_eval_input_load_dist(out, path, net, mode, batch, NULL, progress);
}

msf_eval_opts msf_eval_opts_default(void) {
    msf_eval_opts o = {.is_split = 5000, .pr_k = 3, .kid = 0};
    o.kid_opts = (msf_kid_opts){.num_subsets = 100, .max_subset_size = 1000, .seed = 0, .subsets = NULL};
    return o;
}

static void missing(msf_metrics *m, int bit, const char *why) {
    int i = 0;
    while ((1 << i) != bit) i++;
    snprintf(m->why_missing[i], sizeof m->why_missing[i], "%s", why);
}

msf_status msf_evaluate(msf_metrics *out, const msf_eval_input *ref, const msf_eval_input *sample,
                        const msf_eval_opts *o) {
    memset(out, 0, sizeof *out);
    const msf_feature_set *fr = ref->has_features ? &ref->features : NULL;
    const msf_feature_set *fs = sample->has_features ? &sample->features : NULL;
    if (fr && fs && fr->network[0] && fs->network[0] && strcmp(fr->network, fs->network))
        return msf_fail(MSF_ERR_SHAPE, "reference features come from %s, sample features from %s", fr->network,
                        fs->network);
    msf_status s = msf_fid_from_stats(&out->fid, &sample->stats.pool, &ref->stats.pool);
    if (s) return msf_fail_context(s, "FID");
    out->present |= MSF_METRIC_FID;
    if (ref->stats.spatial.dim && sample->stats.spatial.dim) {
        if ((s = msf_fid_from_stats(&out->sfid, &sample->stats.spatial, &ref->stats.spatial)))
            return msf_fail_context(s, "sFID");
        out->present |= MSF_METRIC_SFID;
    } else {
        missing(out, MSF_METRIC_SFID, "no spatial features on both sides");
    }
    if (fs && fs->logits) {
        if ((s = msf_inception_score(&out->inception_score, fs->logits, fs->n, fs->logits_dim, o->is_split))) return s;
        out->present |= MSF_METRIC_IS;
        if (!strcmp(fs->network, "inception")) {
            missing(out, MSF_METRIC_CLASS, "Inception's 1008 classes are not the sampler's labels");
        } else if (fs->labels) {
            if ((s = msf_class_consistency(&out->class_consistency, fs->logits, fs->labels, fs->n, fs->logits_dim)))
                return s;
            out->present |= MSF_METRIC_CLASS;
        } else {
            missing(out, MSF_METRIC_CLASS, "the sample has no labels");
        }
    } else {
        missing(out, MSF_METRIC_IS, "the sample has no logits (statistics only)");
        missing(out, MSF_METRIC_CLASS, "the sample has no logits (statistics only)");
    }
    if (fr && fs) {
        if (fr->pool_dim != fs->pool_dim)
            return msf_fail(MSF_ERR_SHAPE, "reference features have %d dimensions, sample features %d", fr->pool_dim,
                            fs->pool_dim);
        if ((s = msf_precision_recall(&out->precision, &out->recall, fr->pool, fr->n, fs->pool, fs->n, fr->pool_dim,
                                      o->pr_k)))
            return s;
        out->present |= MSF_METRIC_PR;
        if (o->kid) {
            if ((s = msf_kid(&out->kid, fr->pool, fr->n, fs->pool, fs->n, fr->pool_dim, &o->kid_opts))) return s;
            out->present |= MSF_METRIC_KID;
        } else {
            missing(out, MSF_METRIC_KID, "not requested");
        }
    } else {
        const char *why = "needs features of both sets (statistics files have none)";
        missing(out, MSF_METRIC_PR, why);
        missing(out, MSF_METRIC_KID, why);
    }
    return MSF_OK;
}
