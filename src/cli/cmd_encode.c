// cmd_encode.c: `msf encode`, images to SD VAE latents as DiT's train.py
// makes them (posterior mean by default, or a keyed posterior sample).
#include <dirent.h>
#include <errno.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli/cli.h"
#include "core/tensor.h"
#include "core/version.h"
#include "eval/evaluate.h"
#include "io/h5write.h"
#include "io/images.h"
#include "io/h5read.h"
#include "models/vae.h"

const char cmd_encode_usage[] =
    "usage: msf encode IMAGES --vae VAE.h5 --out LATENTS.h5 [options]\n\n"
    "Encode images with the SD VAE encoder: x = (pixel / 255 - 0.5) / 0.5, then\n"
    "latents = posterior mean x scaling_factor (0.18215), or with --sample a draw\n"
    "(mean + exp(logvar / 2) eps) x scaling_factor, eps keyed by (seed, image index)\n"
    "so it does not depend on batching or threads. IMAGES is an .npz file (array\n"
    "arr_0 uint8 [N, H, W, 3], as ADM batches and `msf decode` hold them) or a\n"
    "directory of PNG files (taken in byte order of their names; all of one size),\n"
    "or a directory of class folders of PNG files (ImageNet layout, as\n"
    "torchvision's ImageFolder reads it: class folders in byte order of their\n"
    "names, class k = the k-th; files in byte order within each). H and W must be\n"
    "multiples of 8. Writes dataset `latents` float32 [N, 4, H/8, W/8] of\n"
    "LATENTS.h5 (temporary name, renamed when complete) with the settings as\n"
    "attributes, and where the input has labels, `labels` int64 [N] and the root\n"
    "attribute num_classes (the file tools/train.py --data takes): an .npz's arr_1\n"
    "[N] (as guided-diffusion's sampler and tools/center_crop.py write it), or the\n"
    "class folders (their count is num_classes; for ImageNet's train folders the\n"
    "classes equal guided-diffusion's, which takes them from the file names'\n"
    "synset prefixes). A flat PNG folder or an .npz without arr_1 has no labels:\n"
    "no `labels` is written.\n\n"
    "  --vae VAE.h5      VAE weights (tools/convert_vae.py; the encoder is loaded)\n"
    "  --group G         read the VAE from group G of the weight file\n"
    "  --precision P     fp32 (default, exact) or bf16: the encoder's convolutions\n"
    "                    take bf16 inputs and weights, summed in fp32 (oneDNN's\n"
    "                    convolution)\n"
    "  --array NAME      the .npz array (default arr_0)\n"
    "  --sample          draw from the posterior instead of taking its mean\n"
    "  --seed S          seed of --sample (default 0)\n"
    "  --num-classes K   num_classes of an .npz's labels (default: the largest\n"
    "                    label + 1); every label must be below it\n"
    "\nExit status: 0 on success, 1 on a bad or missing input file or a failed\n"
    "step, 2 on a usage error (an unknown option, a bad value).\n";

typedef struct {
    msf_npz_reader *npz;
    char **names;  // PNG files under dir ("CLASS/NAME.png" in class folders)
    int count;
    const char *dir;
    int64_t n;
    int H, W;
    int64_t *labels;  // [n], NULL without labels
    int num_classes;  // class folders (0: not from folders)
    const char *kind;
} image_source;

static int name_order(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

// A folder of class folders (ImageFolder layout): every PNG of each class
// folder, class by class, as "CLASS/NAME.png" with label = the class's index
// in byte order of the folder names.
static msf_status class_folders_open(image_source *s, const char *path) {
    DIR *d = opendir(path);
    if (!d) return msf_fail(MSF_ERR_IO, "cannot open directory %s: %s", path, strerror(errno));
    char **classes = NULL, sub[4096];
    int nc = 0;
    msf_status e = MSF_OK;
    struct dirent *ent;
    struct stat st;
    while (!e && (ent = readdir(d))) {
        snprintf(sub, sizeof sub, "%s/%s", path, ent->d_name);
        if (ent->d_name[0] == '.' || stat(sub, &st) != 0 || !S_ISDIR(st.st_mode)) continue;
        char **grown = realloc(classes, (size_t)(nc + 1) * sizeof *classes);
        if (!grown || !(grown[nc] = strdup(ent->d_name))) e = msf_fail(MSF_ERR_NOMEM, "out of memory listing %s", path);
        if (grown) classes = grown;
        if (!e) nc++;
    }
    closedir(d);
    if (!e && !nc) e = msf_fail(MSF_ERR_NOT_FOUND, "no .png files in %s, nor class folders of them", path);
    if (!e) qsort(classes, (size_t)nc, sizeof *classes, name_order);
    for (int c = 0; c < nc && !e; c++) {
        char **files;
        int n;
        snprintf(sub, sizeof sub, "%s/%s", path, classes[c]);
        if ((e = msf_png_list(sub, &files, &n))) {
            msf_fail_context(e, "class folder %d of %s", c, path);
            break;
        }
        char **grown = realloc(s->names, (size_t)(s->count + n) * sizeof *s->names);
        int64_t *lab = realloc(s->labels, (size_t)(s->count + n) * sizeof *s->labels);
        if (grown) s->names = grown;
        if (lab) s->labels = lab;
        for (int i = 0; i < n && !e; i++) {
            size_t len = strlen(classes[c]) + strlen(files[i]) + 2;
            char *name = grown && lab ? malloc(len) : NULL;
            if (!name) {
                e = msf_fail(MSF_ERR_NOMEM, "out of memory listing %s", path);
                break;
            }
            snprintf(name, len, "%s/%s", classes[c], files[i]);
            s->names[s->count] = name;
            s->labels[s->count++] = c;
        }
        msf_png_list_free(files, n);
    }
    for (int c = 0; c < nc; c++) free(classes[c]);
    free(classes);
    s->num_classes = nc;
    return e;
}

static msf_status source_open(image_source *s, const char *path, const char *array) {
    memset(s, 0, sizeof *s);
    struct stat st;
    if (stat(path, &st) == 0 && S_ISDIR(st.st_mode)) {
        s->dir = path;
        s->kind = "png directory (sorted names)";
        msf_status e = msf_png_list(path, &s->names, &s->count);
        if (e == MSF_ERR_NOT_FOUND) {
            s->kind = "class folders of png files (sorted names; label = class folder index)";
            e = class_folders_open(s, path);
        }
        if (e) return e;
        uint8_t *first = NULL;
        char file[4096];
        snprintf(file, sizeof file, "%s/%s", path, s->names[0]);
        if ((e = msf_png_read_rgb(file, &first, &s->H, &s->W))) return e;
        free(first);
        s->n = s->count;
        return MSF_OK;
    }
    msf_status e = msf_npz_open_u8(&s->npz, path, array);
    if (e) return e;
    const int64_t *shape = msf_npz_shape(s->npz);
    if (msf_npz_ndim(s->npz) != 4 || shape[3] != 3 || shape[0] < 1 || shape[1] > 16384 || shape[2] > 16384) {
        char got[96];
        msf_shape_str(got, sizeof got, msf_npz_ndim(s->npz) < 4 ? msf_npz_ndim(s->npz) : 4, shape);
        return msf_fail(MSF_ERR_SHAPE, "array '%s' of %s has shape %s, expected uint8 [N, H, W, 3]", array, path, got);
    }
    s->n = shape[0], s->H = (int)shape[1], s->W = (int)shape[2];
    s->kind = "npz";
    return msf_image_input_labels(path, s->n, 0, &s->labels);
}

// Image i (in order) into pixels (H, W, 3).
static msf_status source_next(image_source *s, int64_t i, uint8_t *pixels) {
    size_t bytes = (size_t)3 * s->H * s->W;
    if (s->npz) return msf_npz_read(s->npz, pixels, bytes);
    char file[4096];
    snprintf(file, sizeof file, "%s/%s", s->dir, s->names[i]);
    uint8_t *img = NULL;
    int h, w;
    msf_status e = msf_png_read_rgb(file, &img, &h, &w);
    if (e) return e;
    if (h != s->H || w != s->W) {
        free(img);
        return msf_fail(MSF_ERR_SHAPE, "%s is %dx%d, the first image (%s) %dx%d: all images must have one size", file,
                        w, h, s->names[0], s->W, s->H);
    }
    memcpy(pixels, img, bytes);
    free(img);
    return MSF_OK;
}

static void source_close(image_source *s) {
    msf_npz_close(s->npz);
    msf_png_list_free(s->names, s->count);
    free(s->labels);
}

int cmd_encode(int argc, char **argv) {
    const char *in = NULL, *vae_path = NULL, *out_path = NULL, *group = NULL, *array = "arr_0";
    nn_precision precision = NN_FP32;
    int sample = 0;
    unsigned long long seed = 0;
    long num_classes = 0;  // 0: from the labels
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (a[0] != '-') {
            if (in) {
                fprintf(stderr, "msf encode: one image source expected, got '%s' and '%s'\n\n%s", in, a,
                        cmd_encode_usage);
                return 2;
            }
            in = a;
            continue;
        }
        if (!strcmp(a, "--sample")) {
            sample = 1;
            continue;
        }
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!v) {
            cli_missing_value("encode", a, cmd_encode_usage);
            return 2;
        }
        if (!strcmp(a, "--vae")) vae_path = v;
        else if (!strcmp(a, "--out")) out_path = v;
        else if (!strcmp(a, "--group")) group = v;
        else if (!strcmp(a, "--array")) array = v;
        else if (!strcmp(a, "--precision")) {
            if (nn_precision_parse(&precision, v, "--precision")) {
                fprintf(stderr, "msf encode: %s\n", msf_error_message());
                return 2;
            }
        } else if (!strcmp(a, "--seed")) {
            if (!cli_parse_u64("encode", a, v, &seed)) return 2;
        } else if (!strcmp(a, "--num-classes")) {
            if (!cli_parse_long("encode", a, v, 1, 1 << 24, &num_classes)) return 2;
        } else {
            fprintf(stderr, "msf encode: unknown option '%s'\n\n%s", a, cmd_encode_usage);
            return 2;
        }
        i++;
    }
    if (!in || !vae_path || !out_path) {
        fputs(cmd_encode_usage, stderr);
        return 2;
    }
    if (!cli_output_ok(out_path, "latents file")) return cli_fail("encode");

    msf_h5_reader *vf = NULL;
    vae_model vae = {0};
    image_source src;
    memset(&src, 0, sizeof src);
    float *latents = NULL;
    uint8_t *pixels = NULL;
    msf_h5_writer *writer = NULL;
    int rc = 1;
    vae_config cfg;
    if (msf_h5_open(&vf, vae_path) || vae_config_read(&cfg, vf, group)) goto done;
    if (source_open(&src, in, array)) goto done;
    // num_classes: the class folders', --num-classes, else the largest label + 1.
    if (src.labels) {
        int64_t top = -1;
        for (int64_t i = 0; i < src.n; i++) top = src.labels[i] > top ? src.labels[i] : top;
        if (num_classes && top >= num_classes) {
            msf_fail(MSF_ERR_INVALID, "%s: label %lld is not below --num-classes %ld", in, (long long)top, num_classes);
            goto done;
        }
        if (!num_classes) num_classes = src.num_classes ? src.num_classes : (long)top + 1;
    }
    int f = vae_factor(&cfg);
    if (src.H % f || src.W % f) {
        msf_fail(MSF_ERR_SHAPE, "%s: images are %dx%d; the VAE needs sides that are multiples of %d", in, src.W, src.H,
                 f);
        goto done;
    }
    if (cfg.in_channels != 3) {
        msf_fail(MSF_ERR_FORMAT, "%s: the encoder takes %d channels; images have 3", vae_path, cfg.in_channels);
        goto done;
    }
    int h = src.H / f, w = src.W / f;
    size_t zs = (size_t)cfg.latent_channels * h * w;
    latents = malloc((size_t)src.n * zs * sizeof *latents);
    pixels = malloc((size_t)3 * src.H * src.W);
    if (!latents || !pixels) {
        msf_fail(MSF_ERR_NOMEM, "out of memory for %lld latents", (long long)src.n);
        goto done;
    }
    if (vae_load(&vae, vf, group, VAE_ENCODER, src.H, src.W) || vae_set_precision(&vae, precision)) goto done;
    msf_log(MSF_LOG_INFO, "encoding %lld images %dx%d -> latents %dx%d with %s (%s, %d threads)", (long long)src.n,
            src.W, src.H, w, h, vae_path, sample ? "posterior sample" : "posterior mean", omp_get_max_threads());
    cli_progress_bar bar;
    cli_progress_bar_init(&bar, stderr);
    msf_progress prog = cli_progress_bar_callback(&bar);
    msf_progress_report(&prog, "encode", 0, src.n);
    vae_posterior mode = sample ? VAE_POSTERIOR_SAMPLE : VAE_POSTERIOR_MEAN;
    for (int64_t i = 0; i < src.n; i++) {
        if (source_next(&src, i, pixels) ||
            vae_encode(&vae, latents + (size_t)i * zs, pixels, 1, src.H, src.W, mode, seed, i))
            goto done;
        msf_progress_report(&prog, "encode", i + 1, src.n);
    }
    int64_t shape[4] = {src.n, cfg.latent_channels, h, w}, ls[1] = {src.n};
    if (msf_h5_create(&writer, out_path) || msf_h5_write_f32(writer, "latents", 4, shape, latents) ||
        (src.labels && (msf_h5_write_i64(writer, "labels", 1, ls, src.labels) ||
                        msf_h5_attr_int(writer, NULL, "num_classes", num_classes))) ||
        msf_h5_attr_string(writer, NULL, "vae", vae_path) ||
        msf_h5_attr_string(writer, NULL, "group", group ? group : "") ||
        msf_h5_attr_string(writer, NULL, "input", in) || msf_h5_attr_string(writer, NULL, "input_kind", src.kind) ||
        msf_h5_attr_string(writer, NULL, "posterior", sample ? "sample" : "mean") ||
        msf_h5_attr_int(writer, NULL, "seed", (int64_t)seed) ||
        msf_h5_attr_double(writer, NULL, "scaling_factor", cfg.scaling_factor) ||
        msf_h5_attr_int(writer, NULL, "num", src.n) ||
        msf_h5_attr_int(writer, NULL, "threads", omp_get_max_threads()) ||
        msf_h5_attr_string(writer, NULL, "msf_version", msf_version()) ||
        msf_h5_attr_string(writer, NULL, "git_commit", msf_git_commit()))
        goto done;
    msf_status s = msf_h5_commit(writer);
    writer = NULL;
    if (s) goto done;
    printf("wrote %s: latents float32 [%lld, %d, %d, %d]", out_path, (long long)src.n, cfg.latent_channels, h, w);
    if (src.labels) printf(", labels int64 [%lld] (%ld classes)", (long long)src.n, num_classes);
    printf("\n");
    rc = 0;
done:
    if (rc) cli_fail("encode");
    msf_h5_abort(writer);
    source_close(&src);
    free(latents), free(pixels);
    vae_free(&vae);
    msf_h5_close(vf);
    return rc;
}
