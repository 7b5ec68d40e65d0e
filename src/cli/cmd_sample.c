// cmd_sample.c: `msf sample`, class-conditional sampling from a DiT as DiT's
// sample.py / sample_ddp.py do it, with keyed noise (or replayed noise).
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "core/arena.h"
#include "core/version.h"
#include "diffusion/sampler.h"
#include "io/h5write.h"
#include "io/weights.h"
#include "models/dit.h"

const char cmd_sample_usage[] =
    "usage: msf sample --weights W.h5 --out OUT.h5 [options]\n\n"
    "Sample latents from a class-conditional DiT and write them to dataset\n"
    "`latents` [N, C, H, W] of OUT.h5, the labels to `labels` [N], and the full\n"
    "sampling config as attributes. Sample i's noise is a pure function of\n"
    "(seed, i, step): results do not depend on --batch or the thread count.\n\n"
    "  --num N              samples (default 8)\n"
    "  --seed S             seed (default 0)\n"
    "  --first-index I      global index of the first sample (default 0), to\n"
    "                       split one run across processes\n"
    "  --steps SPEC         respacing: \"250\", \"ddim50\", \"10,15,20\" (default 250)\n"
    "  --sampler ddpm|ddim  reverse step (default ddpm)\n"
    "  --eta E              DDIM eta (default 0)\n"
    "  --cfg-scale S        classifier-free guidance scale; <= 1 means none (default 1.5)\n"
    "  --cfg-mode dit3|all  dit3: DiT's, guidance on output channels 0..2 only;\n"
    "                       all: every eps channel (default dit3)\n"
    "  --variance V         learned_range (default with learned sigma),\n"
    "                       fixed_small, fixed_large (default without)\n"
    "  --labels 1,4,7       the labels, one per sample\n"
    "  --label-mode M       uniform (default: drawn from the seed) or balanced (i mod classes)\n"
    "  --batch B            samples per network call (default 8)\n"
    "  --group G            read the model from group G of the weight file\n"
    "  --noise-file F.h5    replay noise: x_T [N, C, H, W] and z [steps, M, C, H, W],\n"
    "                       z[i] drawn at the i-th step taken; M = N, or 2N as DiT\n"
    "                       draws for the guided batch (only the first N rows used)\n";

// -----------------------------------------------------------------------------

typedef struct {
    dit_model *model;
} dit_denoiser_ctx;

static msf_status dit_denoise(void *user, float *out, const float *x, const float *t, const int64_t *y, int m,
                              int64_t first_sample) {
    (void)first_sample;
    return dit_forward(((dit_denoiser_ctx *)user)->model, out, x, t, y, m);
}

typedef struct {
    const float *x_T, *z;  // whole arrays from the noise file
    int64_t num, rows;     // samples in the file, rows per step of z (N or 2N)
    size_t numel;          // C*H*W
} replay_noise;

static msf_status replay(void *user, int step, int64_t first, int n, float *out) {
    const replay_noise *r = user;
    const float *src = step < 0 ? r->x_T + (size_t)first * r->numel
                                : r->z + ((size_t)step * r->rows + (size_t)first) * r->numel;
    memcpy(out, src, (size_t)n * r->numel * sizeof *out);
    return MSF_OK;
}

typedef struct {
    cli_progress_bar bar;
    int64_t done_before, total;
} sample_progress;

static void on_step(void *user, const char *label, int64_t done, int64_t total) {
    sample_progress *p = user;
    msf_progress inner = cli_progress_bar_callback(&p->bar);
    inner.fn(inner.user, "sample steps", p->done_before + done, p->total);
}

// "1,4,7" -> labels; returns the count or -1.
static int64_t parse_labels(const char *text, int64_t **out) {
    int64_t n = 1;
    for (const char *p = text; *p; p++) n += *p == ',';
    int64_t *v = malloc((size_t)n * sizeof *v);
    if (!v) return -1;
    const char *p = text;
    for (int64_t i = 0; i < n; i++) {
        char *end;
        v[i] = strtoll(p, &end, 10);
        if (end == p || (*end != ',' && *end != '\0')) {
            free(v);
            return -1;
        }
        p = end + 1;
    }
    *out = v;
    return n;
}

int cmd_sample(int argc, char **argv) {
    const char *weights = NULL, *out_path = NULL, *steps = "250", *group = NULL, *noise_path = NULL;
    const char *labels_text = NULL, *sampler_name = "ddpm", *cfg_mode_name = "dit3", *variance_name = NULL;
    const char *label_mode_name = "uniform";
    long num = 8, batch = 8;
    unsigned long long seed = 0, first_index = 0;
    double cfg_scale = 1.5, eta = 0.0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!v) {
            fprintf(stderr, "msf sample: %s needs a value\n\n%s", a, cmd_sample_usage);
            return 2;
        }
        int ok = 1;
        if (!strcmp(a, "--weights")) weights = v;
        else if (!strcmp(a, "--out")) out_path = v;
        else if (!strcmp(a, "--steps")) steps = v;
        else if (!strcmp(a, "--group")) group = v;
        else if (!strcmp(a, "--noise-file")) noise_path = v;
        else if (!strcmp(a, "--labels")) labels_text = v;
        else if (!strcmp(a, "--label-mode")) label_mode_name = v;
        else if (!strcmp(a, "--sampler")) sampler_name = v;
        else if (!strcmp(a, "--cfg-mode")) cfg_mode_name = v;
        else if (!strcmp(a, "--variance")) variance_name = v;
        else if (!strcmp(a, "--num")) ok = cli_parse_long("sample", a, v, 1, 100000000, &num);
        else if (!strcmp(a, "--batch")) ok = cli_parse_long("sample", a, v, 1, 4096, &batch);
        else if (!strcmp(a, "--seed")) ok = cli_parse_u64("sample", a, v, &seed);
        else if (!strcmp(a, "--first-index")) ok = cli_parse_u64("sample", a, v, &first_index);
        else if (!strcmp(a, "--cfg-scale")) ok = cli_parse_double("sample", a, v, &cfg_scale);
        else if (!strcmp(a, "--eta")) ok = cli_parse_double("sample", a, v, &eta);
        else {
            fprintf(stderr, "msf sample: unknown option '%s'\n\n%s", a, cmd_sample_usage);
            return 2;
        }
        if (!ok) return 2;
        i++;
    }
    if (!weights || !out_path) {
        fputs(cmd_sample_usage, stderr);
        return 2;
    }
    diff_sample_opts opts = {.eta = (float)eta, .cfg_scale = (float)cfg_scale, .seed = seed};
    diff_label_mode label_mode;
    if (diff_sampler_parse(sampler_name, &opts.sampler) || diff_cfg_mode_parse(cfg_mode_name, &opts.cfg_mode) ||
        diff_label_mode_parse(label_mode_name, &label_mode)) {
        fprintf(stderr, "msf sample: %s\n", msf_error_message());
        return 2;
    }

    msf_weights *wf = NULL, *nf = NULL;
    dit_model model = {0};
    diff_schedule sched = {0};
    int64_t *labels = NULL;
    float *latents = NULL, *work = NULL, *x_T = NULL, *z = NULL;
    msf_h5_writer *writer = NULL;
    replay_noise rp = {0};
    int rc = 1, guided = cfg_scale > 1.0;

    dit_config cfg;
    if (msf_weights_open(&wf, weights) || dit_config_read(&cfg, wf, group)) goto done;
    diff_var_type var = cfg.learn_sigma ? DIFF_VAR_LEARNED_RANGE : DIFF_VAR_FIXED_LARGE;
    if (variance_name && diff_var_type_parse(variance_name, &var)) goto done;
    if (cfg.learn_sigma != (var == DIFF_VAR_LEARNED_RANGE)) {
        msf_fail(MSF_ERR_INVALID, "--variance %s needs a model %s learned sigma", diff_var_type_name(var),
                 cfg.learn_sigma ? "without" : "with");
        goto done;
    }
    if (guided && !cfg.has_null_class) {
        msf_fail(MSF_ERR_INVALID, "%s has no null class (class_dropout_prob = 0): use --cfg-scale 1", weights);
        goto done;
    }
    if (dit_load(&model, wf, group, (int)(guided ? 2 * batch : batch)) ||
        diff_schedule_create(&sched, 1000, steps, var))
        goto done;

    const int64_t N = num;
    const size_t numel = (size_t)cfg.in_channels * cfg.input_size * cfg.input_size;
    labels = malloc((size_t)N * sizeof *labels);
    latents = malloc((size_t)N * numel * sizeof *latents);
    if (!labels || !latents) {
        msf_fail(MSF_ERR_NOMEM, "out of memory for %lld samples", (long long)N);
        goto done;
    }
    if (labels_text) {
        int64_t *given = NULL;
        int64_t count = parse_labels(labels_text, &given);
        if (count != N) {
            free(given);
            msf_fail(MSF_ERR_INVALID, "--labels: expected %lld comma-separated labels (one per sample), got '%s'",
                     (long long)N, labels_text);
            goto done;
        }
        for (int64_t i = 0; i < N; i++)
            if (given[i] < 0 || given[i] >= cfg.num_classes) {
                msf_fail(MSF_ERR_INVALID, "--labels: label %lld outside 0..%d", (long long)given[i],
                         cfg.num_classes - 1);
                free(given);
                goto done;
            }
        memcpy(labels, given, (size_t)N * sizeof *labels);
        free(given);
        label_mode_name = "given";
    } else if (diff_sample_labels(labels, label_mode, seed, (int64_t)first_index, (int)N, cfg.num_classes)) {
        goto done;
    }

    if (noise_path) {
        if (msf_weights_open(&nf, noise_path)) goto done;
        const msf_weight_info *zi = msf_weights_find(nf, "z");
        int64_t K = sched.num_steps, rows = zi && zi->ndim == 5 ? zi->shape[1] : -1;
        if (rows != N && rows != 2 * N) {
            msf_fail(MSF_ERR_SHAPE, "%s: z must be [%lld, %lld or %lld, %d, %d, %d]", noise_path, (long long)K,
                     (long long)N, (long long)(2 * N), cfg.in_channels, cfg.input_size, cfg.input_size);
            goto done;
        }
        int64_t xs[4] = {N, cfg.in_channels, cfg.input_size, cfg.input_size};
        int64_t zs[5] = {K, rows, cfg.in_channels, cfg.input_size, cfg.input_size};
        if (msf_weights_load(nf, "x_T", 4, xs, &x_T)) goto done;
        z = malloc((size_t)K * rows * numel * sizeof *z);
        if (!z) {
            msf_fail(MSF_ERR_NOMEM, "out of memory for the noise of %s", noise_path);
            goto done;
        }
        // A 5-D read: the weights API checks up to 8 dims.
        if (msf_weights_read(nf, "z", z, 5, zs)) goto done;
        rp = (replay_noise){.x_T = x_T, .z = z, .num = N, .rows = rows, .numel = numel};
        opts.noise = replay;
        opts.noise_user = &rp;
    }

    dit_denoiser_ctx ctx = {&model};
    diff_denoiser den = {.fn = dit_denoise, .user = &ctx, .channels = cfg.in_channels,
                         .out_channels = cfg.out_channels, .height = cfg.input_size, .width = cfg.input_size,
                         .null_label = cfg.num_classes};
    work = msf_aligned_alloc(diff_sample_workspace_floats(&den, (int)batch, guided) * sizeof *work);
    if (!work) {
        msf_fail(MSF_ERR_NOMEM, "out of memory for the sampler workspace");
        goto done;
    }
    sample_progress prog = {.total = (int64_t)sched.num_steps * ((N + batch - 1) / batch)};
    cli_progress_bar_init(&prog.bar, stderr);
    opts.progress = (msf_progress){on_step, &prog};
    for (int64_t b = 0; b < N; b += batch) {
        int n = (int)(N - b < batch ? N - b : batch);
        // Replayed noise is indexed within the file; keyed noise by global index.
        int64_t first = noise_path ? b : (int64_t)first_index + b;
        if (diff_sample(&sched, &den, &opts, latents + (size_t)b * numel, labels + b, first, n, work)) goto done;
        prog.done_before += sched.num_steps;
    }
    for (size_t i = 0; i < (size_t)N * numel; i++)
        if (!isfinite(latents[i])) {
            msf_fail(MSF_ERR_NUMERIC, "sample %zu has a non-finite value (NaN/Inf from the model?); nothing written",
                     i / numel);
            goto done;
        }

    int64_t ls[4] = {N, cfg.in_channels, cfg.input_size, cfg.input_size}, ns[1] = {N};
    if (msf_h5_create(&writer, out_path) || msf_h5_write_f32(writer, "latents", 4, ls, latents) ||
        msf_h5_write_i64(writer, "labels", 1, ns, labels) || msf_h5_attr_string(writer, NULL, "weights", weights) ||
        msf_h5_attr_string(writer, NULL, "group", group ? group : "") ||
        msf_h5_attr_int(writer, NULL, "seed", (int64_t)seed) ||
        msf_h5_attr_int(writer, NULL, "first_index", (int64_t)first_index) ||
        msf_h5_attr_int(writer, NULL, "num", N) || msf_h5_attr_string(writer, NULL, "steps", steps) ||
        msf_h5_attr_int(writer, NULL, "num_steps", sched.num_steps) ||
        msf_h5_attr_string(writer, NULL, "sampler", sampler_name) || msf_h5_attr_double(writer, NULL, "eta", eta) ||
        msf_h5_attr_double(writer, NULL, "cfg_scale", cfg_scale) ||
        msf_h5_attr_string(writer, NULL, "cfg_mode", cfg_mode_name) ||
        msf_h5_attr_string(writer, NULL, "variance", diff_var_type_name(var)) ||
        msf_h5_attr_string(writer, NULL, "label_mode", label_mode_name) ||
        msf_h5_attr_string(writer, NULL, "noise", noise_path ? noise_path : "philox4x32-10") ||
        msf_h5_attr_int(writer, NULL, "batch", batch) ||
        msf_h5_attr_int(writer, NULL, "threads", omp_get_max_threads()) ||
        msf_h5_attr_string(writer, NULL, "msf_version", msf_version()) ||
        msf_h5_attr_string(writer, NULL, "git_commit", msf_git_commit()))
        goto done;
    msf_status s = msf_h5_commit(writer);
    writer = NULL;
    if (!s) rc = 0;
done:
    if (rc) cli_fail("sample");
    msf_h5_abort(writer);
    msf_aligned_free(work);
    msf_aligned_free(x_T);
    free(z), free(labels), free(latents);
    diff_schedule_free(&sched);
    dit_free(&model);
    msf_weights_close(nf);
    msf_weights_close(wf);
    return rc;
}
