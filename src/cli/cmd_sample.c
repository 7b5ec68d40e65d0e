// cmd_sample.c: `msf sample`, class-conditional sampling from a DiT as DiT's
// sample.py / sample_ddp.py do it, or from an MSF model stage by stage, with
// keyed noise (or replayed noise).
// Over 700 lines on purpose: about 110 are the help text, and the DiT and MSF
// paths share the option parsing, the replayed noise and the output writer,
// which would otherwise be exported for one caller.
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
#include "models/vae.h"
#include "io/npz.h"
#include "io/h5read.h"
#include "models/dit.h"
#include "msf/bases.h"
#include "msf/generator.h"
#include "msf/msf_model.h"
#include "run/experiment.h"

const char cmd_sample_usage[] =
    "usage: msf sample --weights W.h5 --out OUT.h5 [options]\n\n"
    "Sample latents from a class-conditional DiT, or from an MSF model (base\n"
    "first, then each residual level), and write them to dataset `latents`\n"
    "[N, C, H, W] of OUT.h5, the labels to `labels` [N] (MSF: also `base` and\n"
    "`residual`), and the full sampling config as attributes. Sample i's noise\n"
    "is a pure function of (seed, i, stage, step): results do not depend on\n"
    "--batch or the thread count. Each option but --out, --images, --noise-file,\n"
    "--first-index and --labels is an msf run key of the same name with '_' for\n"
    "'-' and the same default (msf run --keys lists them; a run has no default\n"
    "number of samples).\n\n"
    "  --num N, --num-samples N  samples (default 8)\n"
    "  --seed S             seed (default 0)\n"
    "  --first-index I      global index of the first sample (default 0), to\n"
    "                       split one run across processes\n"
    "  --steps SPEC         respacing: \"250\", \"ddim50\", \"10,15,20\" (default 250),\n"
    "                       or SPEC@T: SPEC over original steps 0..T-1 only, T in\n"
    "                       1..1000 (\"5@500\": 0 125 250 374 499); sampling starts\n"
    "                       at the largest step kept\n"
    "  --sampler ddpm|ddim  reverse step (default ddpm)\n"
    "  --eta E              DDIM eta (default 0)\n"
    "  --cfg-scale S        classifier-free guidance scale; <= 1 means none (default 1.5)\n"
    "  --cfg-mode dit3|all  dit3: DiT's, guidance on eps channels 0..2 only;\n"
    "                       all: every eps channel (default dit3)\n"
    "  --clip-x0 true|false clamp each x0 estimate to [-1, 1] (ADM's clip_denoised;\n"
    "                       default false, as DiT). Only meaningful for targets\n"
    "                       bounded to [-1, 1] (pixels), not for latents or MSF's\n"
    "                       residual (unit variance): your choice\n"
    "  --variance V         learned_range (default with learned sigma),\n"
    "                       fixed_small, fixed_large (default without)\n"
    "  --labels 1,4,7       the labels, one per sample\n"
    "  --label-mode M       uniform (default: drawn from the seed) or balanced (i mod classes)\n"
    "  --batch B            samples per network call (default 8)\n"
    "  --precision P        fp32 (default, exact) or bf16: the DiT stages' linear\n"
    "                       layers and attention products (and with --vae the\n"
    "                       decoder's convolutions) take bf16 operands and sum in\n"
    "                       fp32 (oneDNN; 2-3x faster on CPUs with AVX512-BF16 or\n"
    "                       AMX); softmax, norms and the diffusion arithmetic stay\n"
    "                       fp32. Deterministic for any thread count\n"
    "  --group G            read a DiT from group G of the weight file\n"
    "  --noise-file F.h5    replay noise: x_T [N, C, H, W] and z [steps, M, C, H, W],\n"
    "                       z[i] drawn at the i-th step taken; M = N, or 2N as DiT\n"
    "                       draws for the guided batch (only the first N rows used).\n"
    "                       For MSF one pair per stage: base/x_T, base/z, residual/...\n\n"
    "MSF models: the options above set every stage; these override one stage\n"
    "(the residual ones apply to every residual level):\n"
    "  --base-steps, --base-sampler, --base-eta, --base-cfg-scale, --base-cfg-mode,\n"
    "  --base-clip-x0\n"
    "  --residual-steps, --residual-sampler, --residual-eta, --residual-cfg-scale,\n"
    "  --residual-cfg-mode, --residual-clip-x0\n"
    "  --residual-start noise|T   all spaced steps (default), or only those at\n"
    "                       original steps <= T (1..999: a truncated start). A\n"
    "                       stage starts at its largest step kept, from x_T: the\n"
    "                       forward-noised marginal there of the residual (scaled\n"
    "                       to zero mean and unit variance by its residual_scale)\n"
    "                       has unit variance. \"--residual-steps 5@500\" starts\n"
    "                       at 499 the same way\n"
    "  --residual-cond-noise S  conditioning augmentation: the residual network sees\n"
    "                       its condition noised to level S (0..1000, default 0),\n"
    "                       sqrt(abar(S)) U + sqrt(1 - abar(S)) eps, and is told S;\n"
    "                       only for residuals trained with it (tools/train.py\n"
    "                       --cond-aug-max); not with --noise-file\n"
    "  --residual sample|none  sample the residual stage(s) (default), or none: the\n"
    "                       samples are U(base) brought to full size with zero\n"
    "                       residuals (what the base alone contributes; the\n"
    "                       --residual-* options do not apply)\n"
    "  --base-from F.h5     sample only the residual stage(s), on the bases of F.h5\n"
    "                       (the base stage and the --base-* options do not apply):\n"
    "                       dataset `base` [N, C, hb, hb] as msf sample writes it, so\n"
    "                       an earlier output can be fed back (with the same seed and\n"
    "                       options the samples are its bits), else `latents` at the\n"
    "                       base side hb, or at full size H (factorised with the\n"
    "                       model's down operator: base = D^(L-1)(z), e.g. `msf\n"
    "                       encode` output of real images). Sample i takes the base\n"
    "                       of row i - first_index (F.h5's root attribute first_index,\n"
    "                       0 when absent): F.h5 must hold samples --first-index ..\n"
    "                       --first-index + N - 1. Labels: F.h5's `labels` dataset\n"
    "                       when it has one (then --labels and --label-mode are usage\n"
    "                       errors), else --labels / --label-mode. Values must be\n"
    "                       finite. The output's `base` holds the given bases.\n\n"
    "Images:\n"
    "  --vae VAE.h5         latent models: also decode the latents with this SD VAE,\n"
    "                       as `msf decode`\n"
    "  --vae-group G        read the VAE from group G of its file\n"
    "  --images F.npz       where the images go (with --vae default: OUT with .npz\n"
    "                       for .h5); without --vae, a pixel-space model's samples\n"
    "                       (1 or 3 channels in [-1, 1]) as uint8 images, as msf run\n"
    "                       writes them; `msf features OUT.h5` reads F = OUT.npz\n\n"
    "Exit status: 0 on success, 1 on a bad input file (a --base-from file of another\n"
    "shape, too few rows, non-finite values, or a DiT model, which has no residual\n"
    "stage) or a failed run, 2 on a usage error (an unknown option, a bad value, an\n"
    "option that does not apply). Nothing is written on an error.\n";

// -----------------------------------------------------------------------------
// Options

typedef struct {
    const char *steps, *sampler, *cfg_mode, *eta, *cfg_scale, *clip_x0;  // NULL = inherit
} stage_args;

typedef struct {
    const char *weights, *out, *group, *noise, *labels, *label_mode, *variance, *vae, *vae_group, *images, *base_from;
    const char *precision_name;
    nn_precision precision;
    int label_mode_given;
    long num, batch;
    unsigned long long seed, first_index;
    stage_args all, base, residual;
    const char *residual_start, *residual_cond_noise, *residual_mode;
} sample_args;

static int parse_args(int argc, char **argv, sample_args *a) {
    // The defaults are msf run's (msf_run_schema's default column), but for
    // --num: a run has no default sample count.
    *a = (sample_args){.label_mode = msf_run_default("sampler.label_mode"),
                       .precision_name = msf_run_default("model.precision"),
                       .num = 8,
                       .batch = strtol(msf_run_default("batch"), NULL, 10),
                       .seed = strtoull(msf_run_default("seed"), NULL, 10),
                       .all = {.steps = msf_run_default("sampler.steps"),
                               .sampler = msf_run_default("sampler.sampler"),
                               .cfg_mode = msf_run_default("sampler.cfg_mode"),
                               .eta = msf_run_default("sampler.eta"),
                               .cfg_scale = msf_run_default("sampler.cfg_scale"),
                               .clip_x0 = msf_run_default("sampler.clip_x0")}};
    struct {
        const char *name;
        const char **dst;
    } strings[] = {{"--weights", &a->weights},
                   {"--out", &a->out},
                   {"--group", &a->group},
                   {"--noise-file", &a->noise},
                   {"--labels", &a->labels},
                   {"--label-mode", &a->label_mode},
                   {"--variance", &a->variance},
                   {"--residual-start", &a->residual_start},
                   {"--residual-cond-noise", &a->residual_cond_noise},
                   {"--residual", &a->residual_mode},
                   {"--vae", &a->vae},
                   {"--vae-group", &a->vae_group},
                   {"--images", &a->images},
                   {"--base-from", &a->base_from},
                   {"--precision", &a->precision_name},
                   {"--steps", &a->all.steps},
                   {"--sampler", &a->all.sampler},
                   {"--cfg-mode", &a->all.cfg_mode},
                   {"--eta", &a->all.eta},
                   {"--cfg-scale", &a->all.cfg_scale},
                   {"--base-steps", &a->base.steps},
                   {"--base-sampler", &a->base.sampler},
                   {"--base-cfg-mode", &a->base.cfg_mode},
                   {"--base-eta", &a->base.eta},
                   {"--base-cfg-scale", &a->base.cfg_scale},
                   {"--residual-steps", &a->residual.steps},
                   {"--residual-sampler", &a->residual.sampler},
                   {"--residual-cfg-mode", &a->residual.cfg_mode},
                   {"--residual-eta", &a->residual.eta},
                   {"--residual-cfg-scale", &a->residual.cfg_scale},
                   {"--clip-x0", &a->all.clip_x0},
                   {"--base-clip-x0", &a->base.clip_x0},
                   {"--residual-clip-x0", &a->residual.clip_x0}};
    for (int i = 1; i < argc; i += 2) {
        const char *opt = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!v) {
            cli_missing_value("sample", opt, cmd_sample_usage);
            return 0;
        }
        int ok = 1, known = 0;
        for (size_t k = 0; k < sizeof strings / sizeof strings[0]; k++)
            if (!strcmp(opt, strings[k].name)) *strings[k].dst = v, known = 1;
        a->label_mode_given |= !strcmp(opt, "--label-mode");
        if (known) continue;
        if (!strcmp(opt, "--num") || !strcmp(opt, "--num-samples"))
            ok = cli_parse_long("sample", opt, v, 1, 100000000, &a->num);
        else if (!strcmp(opt, "--batch")) ok = cli_parse_long("sample", opt, v, 1, 4096, &a->batch);
        else if (!strcmp(opt, "--seed")) ok = cli_parse_u64("sample", opt, v, &a->seed);
        else if (!strcmp(opt, "--first-index")) ok = cli_parse_u64("sample", opt, v, &a->first_index);
        else {
            fprintf(stderr, "msf sample: unknown option '%s'\n\n%s", opt, cmd_sample_usage);
            return 0;
        }
        if (!ok) return 0;
    }
    if (!a->weights || !a->out) {
        fputs(cmd_sample_usage, stderr);
        return 0;
    }
    // Flag values that are wrong whatever the model: usage errors (exit 2),
    // found before any file is opened.
    diff_var_type var;
    diff_label_mode lm;
    const char *bad = NULL;
    if (a->variance && diff_var_type_parse(a->variance, &var)) bad = "--variance";
    else if (a->label_mode && diff_label_mode_parse(a->label_mode, &lm)) bad = "--label-mode";
    else if (nn_precision_parse(&a->precision, a->precision_name, "--precision")) bad = "--precision";
    else if (a->residual_mode && strcmp(a->residual_mode, "sample") && strcmp(a->residual_mode, "none")) {
        msf_fail(MSF_ERR_INVALID, "--residual expects sample or none, got '%s'", a->residual_mode);
        bad = "--residual";
    } else if (a->first_index > (uint64_t)INT64_MAX - (uint64_t)a->num) {
        msf_fail(MSF_ERR_INVALID, "--first-index %llu: the sample indices must stay below 2^63",
                 (unsigned long long)a->first_index);
        bad = "--first-index";
    } else if (a->images && !a->vae) {
        size_t n = strlen(a->images);
        if (n < 4 || strcmp(a->images + n - 4, ".npz")) {
            msf_fail(MSF_ERR_INVALID, "--images %s: without --vae the images of a pixel-space model go to an .npz",
                     a->images);
            bad = "--images";
        }
    }
    if (bad) {
        fprintf(stderr, "msf sample: %s\n", msf_error_message());
        return 0;
    }
    return 1;
}

// Resolve one stage's options: its own, else the shared ones. `prefix` names
// the stage's flags ("--base-", "--residual-"; "--" for a DiT).
static int stage_options(const stage_args *own, const stage_args *all, diff_stage_opts *o, const char *which,
                         const char *prefix) {
    const char *sampler = own->sampler ? own->sampler : all->sampler;
    const char *mode = own->cfg_mode ? own->cfg_mode : all->cfg_mode;
    const char *eta = own->eta ? own->eta : all->eta, *scale = own->cfg_scale ? own->cfg_scale : all->cfg_scale;
    const char *clip = own->clip_x0 ? own->clip_x0 : all->clip_x0;
    o->steps = own->steps ? own->steps : all->steps;
    int64_t *map;
    int count;
    if (diff_space_timesteps(1000, o->steps, &map, &count)) {
        fprintf(stderr, "msf sample: %ssteps: %s\n", own->steps ? prefix : "--", msf_error_message());
        return 0;
    }
    free(map);
    if (strcmp(clip, "true") && strcmp(clip, "false")) {
        fprintf(stderr, "msf sample: %sclip-x0 expects true or false, got '%s'\n", own->clip_x0 ? prefix : "--", clip);
        return 0;
    }
    o->clip_x0 = !strcmp(clip, "true");
    double e, sc;
    if (!cli_parse_double("sample", which, eta, &e) || !cli_parse_double("sample", which, scale, &sc)) return 0;
    if (diff_sampler_parse(sampler, &o->sampler) || diff_cfg_mode_parse(mode, &o->cfg_mode)) {
        fprintf(stderr, "msf sample: %s\n", msf_error_message());
        return 0;
    }
    if (!(e >= 0.0)) {
        fprintf(stderr, "msf sample: %s: eta %g (expected >= 0; 0 is deterministic DDIM)\n", which, e);
        return 0;
    }
    o->eta = (float)e;
    o->cfg_scale = (float)sc;
    return 1;
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

static msf_status make_labels(const sample_args *a, int num_classes, int64_t *labels, const char **mode_name) {
    if (a->labels) {
        int64_t *given = NULL;
        int64_t count = parse_labels(a->labels, &given);
        if (count != a->num) {
            free(given);
            return msf_fail(MSF_ERR_INVALID, "--labels: expected %ld comma-separated labels (one per sample), got '%s'",
                            a->num, a->labels);
        }
        for (int64_t i = 0; i < count; i++)
            if (given[i] < 0 || given[i] >= num_classes) {
                msf_status s = msf_fail(MSF_ERR_INVALID, "--labels: label %lld outside 0..%d", (long long)given[i],
                                        num_classes - 1);
                free(given);
                return s;
            }
        memcpy(labels, given, (size_t)count * sizeof *labels);
        free(given);
        *mode_name = "given";
        return MSF_OK;
    }
    diff_label_mode mode;
    msf_status s = diff_label_mode_parse(a->label_mode, &mode);
    if (s) return s;
    *mode_name = a->label_mode;
    return diff_sample_labels(labels, mode, a->seed, (int64_t)a->first_index, (int)a->num, num_classes);
}

// -----------------------------------------------------------------------------
// Replayed noise: x_T and z of one stage, read whole.

typedef struct {
    float *x_T, *z;
    int64_t rows, steps;  // rows per step of z (N or 2N), steps in the file
    size_t numel;         // C*h*w
} replay_noise;

static msf_status replay_load(replay_noise *r, msf_h5_reader *f, const char *group, int64_t N, int steps, int C,
                              int side) {
    char xn[64], zn[64];
    snprintf(xn, sizeof xn, "%s%sx_T", group ? group : "", group ? "/" : "");
    snprintf(zn, sizeof zn, "%s%sz", group ? group : "", group ? "/" : "");
    const msf_h5_tensor *zi = msf_h5_find(f, zn);
    int64_t rows = zi && zi->ndim == 5 ? zi->shape[1] : -1;
    if (rows != N && rows != 2 * N)
        return msf_fail(MSF_ERR_SHAPE, "%s: %s must be [%d, %lld or %lld, %d, %d, %d]", msf_h5_path(f), zn, steps,
                        (long long)N, (long long)(2 * N), C, side, side);
    int64_t xs[4] = {N, C, side, side}, zs[5] = {steps, rows, C, side, side};
    r->numel = (size_t)C * side * side;
    r->rows = rows;
    r->steps = steps;
    msf_status s = msf_h5_load(f, xn, 4, xs, &r->x_T);
    if (s) return s;
    r->z = msf_aligned_alloc((size_t)steps * rows * r->numel * sizeof *r->z);
    if (!r->z) return msf_fail(MSF_ERR_NOMEM, "out of memory for the noise of %s", msf_h5_path(f));
    if ((s = msf_h5_read(f, zn, r->z, 5, zs))) return s;
    // Checked on read: a NaN here would come out of the sampler as if the model made it.
    const struct {
        const char *name;
        const float *x;
        size_t n;
    } parts[2] = {{xn, r->x_T, (size_t)N * r->numel}, {zn, r->z, (size_t)steps * rows * r->numel}};
    for (int p = 0; p < 2; p++)
        for (size_t i = 0; i < parts[p].n; i++)
            if (!isfinite(parts[p].x[i]))
                return msf_fail(MSF_ERR_NUMERIC, "noise file %s: %s element %zu is %g (expected finite noise)",
                                msf_h5_path(f), parts[p].name, i, (double)parts[p].x[i]);
    return MSF_OK;
}

static void replay_free(replay_noise *r) {
    msf_aligned_free(r->x_T);
    msf_aligned_free(r->z);
}

static void replay_copy(const replay_noise *r, int step, int64_t first, int n, float *out) {
    const float *src =
        step < 0 ? r->x_T + (size_t)first * r->numel : r->z + ((size_t)step * r->rows + (size_t)first) * r->numel;
    memcpy(out, src, (size_t)n * r->numel * sizeof *out);
}

static msf_status replay_msf(void *user, int stage, int step, int64_t first, int n, float *out) {
    replay_copy((replay_noise *)user + stage, step, first, n, out);
    return MSF_OK;
}

// -----------------------------------------------------------------------------
// Progress over all batches (and stages)

typedef struct {
    cli_progress_bar bar;
    int64_t done_before, total;
} sample_progress;

static void on_step(void *user, const char *label, int64_t done, int64_t total) {
    sample_progress *p = user;
    msf_progress inner = cli_progress_bar_callback(&p->bar);
    inner.fn(inner.user, "sample steps", p->done_before + done, p->total);
    if (done == total) p->done_before += total;
}

// -----------------------------------------------------------------------------
// Output

typedef struct {
    const float *latents, *base, *residual;
    const int64_t *labels;
    int C, H, base_side;
} sample_result;

static msf_status write_common(msf_h5_writer *w, const sample_args *a, const sample_result *r, const char *label_mode) {
    int64_t N = a->num, ls[4] = {N, r->C, r->H, r->H}, ns[1] = {N};
    msf_status s;
    if ((s = msf_h5_write_f32(w, "latents", 4, ls, r->latents)) ||
        (s = msf_h5_write_i64(w, "labels", 1, ns, r->labels)))
        return s;
    if (r->base) {
        int64_t bs[4] = {N, r->C, r->base_side, r->base_side};
        if ((s = msf_h5_write_f32(w, "base", 4, bs, r->base)) ||
            (s = msf_h5_write_f32(w, "residual", 4, ls, r->residual)))
            return s;
    }
    if ((s = msf_h5_attr_string(w, NULL, "weights", a->weights)) ||
        (s = msf_h5_attr_int(w, NULL, "seed", (int64_t)a->seed)) ||
        (s = msf_h5_attr_int(w, NULL, "first_index", (int64_t)a->first_index)) ||
        (s = msf_h5_attr_int(w, NULL, "num", N)) || (s = msf_h5_attr_string(w, NULL, "label_mode", label_mode)) ||
        (s = msf_h5_attr_string(w, NULL, "noise", a->noise ? a->noise : "philox4x32-10")) ||
        (s = msf_h5_attr_int(w, NULL, "batch", a->batch)) ||
        (s = msf_h5_attr_string(w, NULL, "precision", nn_precision_name(a->precision))) ||
        (s = msf_h5_attr_int(w, NULL, "threads", omp_get_max_threads())) ||
        (s = msf_h5_attr_string(w, NULL, "msf_version", msf_version())) ||
        (s = msf_h5_attr_string(w, NULL, "git_commit", msf_git_commit())))
        return s;
    return MSF_OK;
}

// Attributes of one stage's sampling config, prefixed ("" for DiT, "base_", "residual_").
static msf_status write_stage(msf_h5_writer *w, const char *prefix, const diff_stage_opts *o, int num_steps) {
    char name[64];
    msf_status s;
#define ATTR(kind, key, value)                        \
    snprintf(name, sizeof name, "%s%s", prefix, key); \
    if ((s = msf_h5_attr_##kind(w, NULL, name, value))) return s;
    ATTR(string, "steps", o->steps);
    ATTR(int, "num_steps", num_steps);
    ATTR(string, "sampler", diff_sampler_name(o->sampler));
    ATTR(double, "eta", o->eta);
    ATTR(double, "cfg_scale", o->cfg_scale);
    ATTR(string, "cfg_mode", diff_cfg_mode_name(o->cfg_mode));
    ATTR(string, "variance", diff_var_type_name(o->var));
    ATTR(int, "start_t", o->start_t);
    ATTR(int, "cond_noise", o->cond_noise);
    ATTR(int, "clip_x0", o->clip_x0);
#undef ATTR
    return MSF_OK;
}

// msf_check_finite over the n samples written, numbered from 0.
static int check_finite(const float *x, int64_t n, size_t per_sample) {
    if (msf_check_finite(x, n, per_sample, 0) == MSF_OK) return 1;
    char why[512];
    snprintf(why, sizeof why, "%s", msf_error_message());
    msf_fail(MSF_ERR_NUMERIC, "%s; nothing written", why);
    return 0;
}

// Replayed noise is indexed within the file; keyed noise by global index.
static int64_t first_sample(const sample_args *a) { return a->noise ? 0 : (int64_t)a->first_index; }

// -----------------------------------------------------------------------------
// DiT

static int run_dit(const sample_args *a, msf_h5_reader *wf) {
    if (a->residual_start || a->residual_cond_noise || a->residual_mode) {
        fprintf(stderr, "msf sample: %s applies to MSF models; %s holds a DiT\n",
                a->residual_start  ? "--residual-start"
                : a->residual_mode ? "--residual"
                                   : "--residual-cond-noise",
                a->weights);
        return 2;
    }
    if (a->base_from) {
        msf_fail(MSF_ERR_INVALID,
                 "--base-from %s: %s holds a DiT, which has no residual stage to sample on given "
                 "bases (an MSF model is needed)",
                 a->base_from, a->weights);
        return cli_fail("sample");
    }
    msf_generator gen = {0};
    int64_t *labels = NULL;
    float *latents = NULL;
    msf_h5_reader *nf = NULL;
    replay_noise rp = {0};
    msf_h5_writer *writer = NULL;
    int rc = 1;
    diff_stage_opts opts = {0};
    const char *label_mode;
    if (!stage_options(&a->all, &a->all, &opts, "--cfg-scale/--eta", "--")) return 2;
    int guided = opts.cfg_scale > 1.0f;

    dit_config cfg;
    if (dit_config_read(&cfg, wf, a->group)) goto done;
    opts.var = cfg.learn_sigma ? DIFF_VAR_LEARNED_RANGE : DIFF_VAR_FIXED_LARGE;
    if (a->variance && diff_var_type_parse(a->variance, &opts.var)) goto done;
    if (cfg.learn_sigma != (opts.var == DIFF_VAR_LEARNED_RANGE)) {
        msf_fail(MSF_ERR_INVALID, "--variance %s needs a model %s learned sigma", diff_var_type_name(opts.var),
                 cfg.learn_sigma ? "without" : "with");
        goto done;
    }
    if (guided && !cfg.has_null_class) {
        msf_fail(MSF_ERR_INVALID, "%s has no null class (class_dropout_prob = 0): use --cfg-scale 1", a->weights);
        goto done;
    }
    msf_generator_opts go = {.num_stages = 1,
                             .seed = a->seed,
                             .batch = (int)a->batch,
                             .noise = a->noise ? replay_msf : NULL,
                             .noise_user = &rp,
                             .precision = a->precision};
    go.stage[0] = opts;
    if (msf_generator_open(&gen, wf, a->group, 0, &go)) goto done;

    const int64_t N = a->num;
    const size_t numel = (size_t)gen.channels * gen.size * gen.size;
    labels = malloc((size_t)N * sizeof *labels);
    latents = malloc((size_t)N * numel * sizeof *latents);
    if (!labels || !latents) {
        msf_fail(MSF_ERR_NOMEM, "out of memory for %lld samples", (long long)N);
        goto done;
    }
    if (make_labels(a, gen.num_classes, labels, &label_mode)) {
        rc = 2;  // a --labels value that does not fit the model: a usage error
        goto done;
    }
    if (a->noise && (msf_h5_open_as(&nf, a->noise, "noise file") ||
                     replay_load(&rp, nf, NULL, N, gen.num_steps[0], gen.channels, gen.size)))
        goto done;

    sample_progress prog = {.total = (int64_t)gen.num_steps[0] * ((N + a->batch - 1) / a->batch)};
    cli_progress_bar_init(&prog.bar, stderr);
    msf_progress progress = {on_step, &prog};
    if (msf_generator_sample(&gen, latents, NULL, NULL, labels, first_sample(a), (int)N, &progress, NULL)) goto done;
    if (!check_finite(latents, N, numel)) goto done;

    sample_result res = {.latents = latents, .labels = labels, .C = gen.channels, .H = gen.size};
    if (msf_h5_create(&writer, a->out) || write_common(writer, a, &res, label_mode) ||
        msf_h5_attr_string(writer, NULL, "model", "dit") ||
        msf_h5_attr_string(writer, NULL, "group", a->group ? a->group : "") ||
        write_stage(writer, "", &opts, gen.num_steps[0]))
        goto done;
    msf_status s = msf_h5_commit(writer);
    writer = NULL;
    if (!s) rc = 0;
done:
    if (rc) cli_fail("sample");
    msf_h5_abort(writer);
    replay_free(&rp);
    free(labels), free(latents);
    msf_generator_free(&gen);
    msf_h5_close(nf);
    return rc;
}

// -----------------------------------------------------------------------------
// MSF

static int run_msf(const sample_args *a, msf_h5_reader *wf) {
    msf_generator gen = {0};
    msf_bases given = {0};
    int64_t row = 0;  // of the first sample in the given bases
    msf_model layout;
    diff_stage_opts st[MSF_MAX_LEVELS];
    replay_noise rp[MSF_MAX_LEVELS];
    memset(rp, 0, sizeof rp);
    int64_t *labels = NULL;
    float *latents = NULL, *base = NULL, *residual = NULL;
    msf_h5_reader *nf = NULL;
    msf_h5_writer *writer = NULL;
    int rc = 1, start_t = 0;
    const char *label_mode;
    if (a->variance) {
        fprintf(stderr, "msf sample: --variance applies to DiT models; MSF stages use their model's variance\n");
        return 2;
    }
    if (a->residual_start && strcmp(a->residual_start, "noise")) {
        long t0;
        if (!cli_parse_long("sample", "--residual-start", a->residual_start, 1, 999, &t0)) return 2;
        start_t = (int)t0;
    }
    // --residual none: the samples are U(base) at full size; no residual option applies.
    const int no_residual = a->residual_mode && !strcmp(a->residual_mode, "none");
    const stage_args *r = &a->residual;
    const char *unused = !no_residual             ? NULL
                         : a->residual_start      ? "--residual-start"
                         : a->residual_cond_noise ? "--residual-cond-noise"
                         : r->steps               ? "--residual-steps"
                         : r->sampler             ? "--residual-sampler"
                         : r->cfg_mode            ? "--residual-cfg-mode"
                         : r->eta                 ? "--residual-eta"
                         : r->cfg_scale           ? "--residual-cfg-scale"
                         : r->clip_x0             ? "--residual-clip-x0"
                                                  : NULL;
    if (unused) {
        fprintf(stderr, "msf sample: %s does not apply with --residual none (no residual stage is sampled)\n", unused);
        return 2;
    }
    long cond_noise = 0;
    if (a->residual_cond_noise &&
        !cli_parse_long("sample", "--residual-cond-noise", a->residual_cond_noise, 0, 1000, &cond_noise))
        return 2;
    if (cond_noise > 0 && a->noise) {
        fprintf(stderr,
                "msf sample: --residual-cond-noise with --noise-file: a noise file has no condition noise "
                "(use the seed's noise)\n");
        return 2;
    }
    // Read the level count first to size per-stage options.
    int64_t levels;
    if (msf_h5_get_attr_int(wf, NULL, "levels", &levels) || levels < 2 || levels > MSF_MAX_LEVELS) {
        msf_fail(MSF_ERR_FORMAT, "%s: MSF attribute levels missing or outside 2..%d", a->weights, MSF_MAX_LEVELS);
        cli_fail("sample");
        return 1;
    }
    for (int k = 0; k < levels; k++) {
        st[k] = (diff_stage_opts){.start_t = k > 0 ? start_t : 0, .cond_noise = k > 0 ? (int)cond_noise : 0};
        if (!stage_options(k == 0 ? &a->base : &a->residual, &a->all, &st[k], k == 0 ? "--base-*" : "--residual-*",
                           k == 0 ? "--base-" : "--residual-"))
            return 2;
    }
    // Each stage's variance is its model's: the layout first, then the weights.
    if (msf_model_read_layout(&layout, wf, NULL)) goto done;
    const int L = layout.num_stages;
    msf_generator_opts go = {.num_stages = L,
                             .seed = a->seed,
                             .batch = (int)a->batch,
                             .noise = a->noise ? replay_msf : NULL,
                             .noise_user = rp,
                             .precision = a->precision};
    for (int k = 0; k < L; k++) {
        st[k].var = layout.stage[k].config.learn_sigma ? DIFF_VAR_LEARNED_RANGE : DIFF_VAR_FIXED_LARGE;
        go.stage[k] = st[k];
    }
    if (msf_generator_open(&gen, wf, NULL, 1, &go)) goto done;
    const int C = gen.channels, H = gen.size, hb = gen.base_side;
    const int64_t N = a->num;
    const size_t numel = (size_t)C * H * H;
    labels = malloc((size_t)N * sizeof *labels);
    latents = malloc((size_t)N * numel * sizeof *latents);
    residual = malloc((size_t)N * numel * sizeof *residual);
    base = malloc((size_t)N * C * hb * hb * sizeof *base);
    if (!labels || !latents || !residual || !base) {
        msf_fail(MSF_ERR_NOMEM, "out of memory for %lld samples", (long long)N);
        goto done;
    }
    // The stage sampling starts with: the base stage, or the first residual on given bases.
    const int k0 = a->base_from ? 1 : 0, k1 = no_residual ? 1 : L;  // stages k0..k1-1 are sampled
    const size_t base_numel = (size_t)C * hb * hb;
    if (a->base_from &&
        (msf_bases_read(&given, a->base_from, &gen.msf) || msf_bases_row(&given, (int64_t)a->first_index, N, &row) ||
         msf_bases_check_labels(&given, gen.num_classes)))
        goto done;
    if (given.labels && (a->labels || a->label_mode_given)) {
        msf_fail(MSF_ERR_INVALID,
                 "%s: the labels come from %s's `labels` dataset (its bases were drawn with them): "
                 "leave the option out",
                 a->labels ? "--labels" : "--label-mode", a->base_from);
        rc = 2;
        goto done;
    }
    if (given.labels) {
        memcpy(labels, given.labels + row, (size_t)N * sizeof *labels);
        label_mode = "base-from";
    } else if (make_labels(a, gen.num_classes, labels, &label_mode)) {
        rc = 2;  // a --labels value that does not fit the model: a usage error
        goto done;
    }

    int64_t total = 0;  // (msf_generator_open fails when --residual-start leaves a stage no step)
    for (int k = k0; k < k1; k++) total += gen.num_steps[k];
    if (a->noise) {
        if (msf_h5_open_as(&nf, a->noise, "noise file")) goto done;
        for (int k = k0; k < k1; k++)
            if (replay_load(&rp[k], nf, gen.msf.group[k], N, gen.num_steps[k], C, msf_stage_side(&gen.msf, k)))
                goto done;
    }
    sample_progress prog = {.total = total * ((N + a->batch - 1) / a->batch)};
    cli_progress_bar_init(&prog.bar, stderr);
    msf_progress progress = {on_step, &prog};
    if (a->base_from) memcpy(base, given.base + (size_t)row * base_numel, (size_t)N * base_numel * sizeof *base);
    if (no_residual) {
        if (!a->base_from && msf_generator_sample_base(&gen, base, labels, first_sample(a), (int)N, &progress, NULL))
            goto done;
        if (msf_generator_upsample_base(&gen, latents, base, (int)N)) goto done;
        memset(residual, 0, (size_t)N * numel * sizeof *residual);
    } else if (a->base_from) {
        if (msf_generator_sample_from_base(&gen, latents, base, residual, labels, first_sample(a), (int)N, &progress))
            goto done;
    } else if (msf_generator_sample(&gen, latents, base, residual, labels, first_sample(a), (int)N, &progress, NULL)) {
        goto done;
    }
    if (!check_finite(latents, N, numel)) goto done;

    sample_result res = {
        .latents = latents, .base = base, .residual = residual, .labels = labels, .C = C, .H = H, .base_side = hb};
    char factor[128];
    nn_pyramid_opts_format(factor, sizeof factor, &gen.msf.factor);
    if (msf_h5_create(&writer, a->out) || write_common(writer, a, &res, label_mode) ||
        msf_h5_attr_string(writer, NULL, "model", "msf") || msf_h5_attr_string(writer, NULL, "factorization", factor))
        goto done;
    if (a->base_from && (msf_h5_attr_string(writer, NULL, "base_from", a->base_from) ||
                         msf_h5_attr_string(writer, NULL, "base_from_dataset", given.source)))
        goto done;
    if (no_residual && msf_h5_attr_string(writer, NULL, "residual", "none")) goto done;
    for (int k = k0; k < k1; k++) {
        char prefix[32];
        snprintf(prefix, sizeof prefix, "%s_", gen.msf.group[k]);
        if (write_stage(writer, prefix, &st[k], gen.num_steps[k])) goto done;
    }
    double per_stage[MSF_MAX_LEVELS], gflops = 0;
    msf_sample_gflops(&gen.msf, st, per_stage);
    for (int k = k0; k < k1; k++) gflops += per_stage[k];
    if (msf_h5_attr_double(writer, NULL, "gflops_per_sample", gflops)) goto done;
    msf_status s = msf_h5_commit(writer);
    writer = NULL;
    if (!s) rc = 0;
done:
    if (rc) cli_fail("sample");
    msf_h5_abort(writer);
    for (int k = 0; k < MSF_MAX_LEVELS; k++) replay_free(&rp[k]);
    free(labels), free(latents), free(base), free(residual);
    msf_bases_free(&given);
    msf_generator_free(&gen);
    msf_h5_close(nf);
    return rc;
}

// A pixel-space model's samples as images (no VAE): the latents file's
// [N, C, H, W] values in [-1, 1] to an ADM-style .npz, arr_0 uint8
// [N, H, W, C], with the conversion DiT's sample_ddp.py applies after the
// VAE (clamp(127.5 x + 128) truncated), as msf run does for pixel models.
static msf_status write_pixel_images(const char *latents_path, const char *images) {
    msf_h5_reader *w = NULL;
    msf_status s = msf_h5_open_as(&w, latents_path, "latents file");
    if (s) return s;
    const msf_h5_tensor *t = msf_h5_find(w, "latents");
    float *x = NULL;
    uint8_t *px = NULL;
    msf_npz_writer *npz = NULL;
    if (!t || t->ndim != 4) {
        s = msf_fail(MSF_ERR_FORMAT, "%s has no latents [N, C, H, W]", latents_path);
    } else if (t->shape[1] != 1 && t->shape[1] != 3) {
        s = msf_fail(MSF_ERR_INVALID,
                     "--images without --vae: the model's samples have %lld channels, not the 1 or 3 "
                     "of images (a latent model needs --vae)",
                     (long long)t->shape[1]);
    }
    if (!s) s = msf_h5_load(w, "latents", 4, t->shape, &x);
    const int64_t N = s ? 0 : t->shape[0];
    const int C = s ? 0 : (int)t->shape[1], H = s ? 0 : (int)t->shape[2], W = s ? 0 : (int)t->shape[3];
    if (!s) {
        int64_t shape[4] = {N, H, W, C};
        px = malloc((size_t)H * W * C);
        if (!px) s = msf_fail(MSF_ERR_NOMEM, "out of memory for %s", images);
        if (!s) s = msf_npz_create_u8(&npz, images, "arr_0", 4, shape);
    }
    for (int64_t i = 0; !s && i < N; i++) {
        vae_pixels_from_float(px, x + (size_t)i * C * H * W, C, H, W);
        s = msf_npz_append(npz, px, (size_t)H * W * C);
    }
    if (!s) {
        s = msf_npz_commit(npz);
        npz = NULL;
    }
    msf_npz_abort(npz);
    free(px);
    msf_aligned_free(x);
    msf_h5_close(w);
    return s;
}

int cmd_sample(int argc, char **argv) {
    sample_args a;
    if (!parse_args(argc, argv, &a)) return 2;
    // Every file named, before any sampling: the output's folder, the VAE.
    if (!cli_output_ok(a.out, "output file") || (a.vae && !cli_input_ok(a.vae, "VAE weight file")) ||
        (a.base_from && !cli_input_ok(a.base_from, "bases file")) ||
        (a.images && !cli_output_ok(a.images, "images file")))
        return cli_fail("sample");
    msf_h5_reader *wf = NULL;
    if (msf_h5_open(&wf, a.weights)) return cli_fail("sample");
    int rc = msf_h5_is_msf(wf) ? run_msf(&a, wf) : run_dit(&a, wf);
    msf_h5_close(wf);
    if (!rc && !a.vae && a.images && write_pixel_images(a.out, a.images)) {
        cli_fail("sample");
        fprintf(stderr, "msf sample: %s holds the complete samples; no images were written\n", a.out);
        return 1;
    }
    if (rc || !a.vae) return rc;
    char images[4096];
    size_t len = strlen(a.out);
    if (a.images) snprintf(images, sizeof images, "%s", a.images);
    else if (len > 3 && !strcmp(a.out + len - 3, ".h5"))
        snprintf(images, sizeof images, "%.*s.npz", (int)(len - 3), a.out);
    else snprintf(images, sizeof images, "%s.npz", a.out);
    cli_decode_opts o = {.vae = a.vae, .group = a.vae_group, .out = images, .precision = a.precision};
    rc = cli_decode_file(a.out, "latents", &o);
    // The latents file is whole (and costly to remake): it stays.
    if (rc)
        fprintf(stderr, "msf sample: %s holds the complete latents; no images were written (msf decode makes them)\n",
                a.out);
    return rc;
}
