// schema.c: the keys of an experiment file and of a run: their types,
// choices, documentation, defaults (the one place a default is written) and
// msf sample options; reads of a run's values with those defaults; the table
// as msf run --keys prints it.
#include <assert.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "run/experiment.h"

// -----------------------------------------------------------------------------
// Schema

static const char *const model_kinds[] = {"dit", "msf", NULL};
static const char *const samplers[] = {"ddpm", "ddim", NULL};
static const char *const cfg_modes[] = {"dit3", "all", NULL};
static const char *const label_modes[] = {"uniform", "balanced", NULL};
static const char *const variances[] = {"learned_range", "fixed_small", "fixed_large", NULL};
static const char *const resize_modes[] = {"adm", "pytorch", "clean", NULL};
static const char *const residual_modes[] = {"sample", "none", NULL};
static const char *const precisions[] = {"fp32", "bf16", NULL};

// Each field: key, type, required, sub-table, choices, doc, default (the one
// place a default is written: msf_run_str/int/num/bool and msf sample take it
// from here; NULL: none, or one the doc names), the msf sample option of the
// same name (NULL: none). msf run --keys prints the table.
static const config_field model_schema[] = {
    {"kind", CONFIG_T_STRING, 1, NULL, model_kinds, "dit or msf", NULL, NULL},
    {"weights", CONFIG_T_STRING, 1, NULL, NULL, "the HDF5 weight file", NULL, "--weights"},
    {"group", CONFIG_T_STRING, 0, NULL, NULL, "group of the weight file holding the model", NULL, "--group"},
    {"obtain", CONFIG_T_STRING, 0, NULL, NULL, "how to obtain or convert the weights (shown when missing)", NULL, NULL},
    {"arch", CONFIG_T_STRING, 0, NULL, NULL, "DiT-XL/2 ...: the (base) architecture, for costs without weights", NULL,
     NULL},
    {"residual_arch", CONFIG_T_STRING, 0, NULL, NULL, "MSF: the residual architecture (default arch)", NULL, NULL},
    {"input_size", CONFIG_T_INT, 0, NULL, NULL, "latent side at full resolution, for costs without weights", "32",
     NULL},
    {"channels", CONFIG_T_INT, 0, NULL, NULL, "latent channels, for costs without weights", "4", NULL},
    {"scale", CONFIG_T_INT, 0, NULL, NULL, "MSF scale factor, for costs without weights", "2", NULL},
    {"levels", CONFIG_T_INT, 0, NULL, NULL, "MSF levels, for costs without weights", "2", NULL},
    {"vae", CONFIG_T_STRING, 0, NULL, NULL, "SD VAE weights; without one the samples are pixels in [-1, 1]", NULL,
     "--vae"},
    {"precision", CONFIG_T_STRING, 0, NULL, precisions,
     "fp32 or bf16: the DiT's products and the VAE's convolutions, as msf sample --precision", "fp32", "--precision"},
    {"vae_group", CONFIG_T_STRING, 0, NULL, NULL, "group of the VAE file", NULL, "--vae-group"},
    {"vae_obtain", CONFIG_T_STRING, 0, NULL, NULL, "how to obtain or convert the VAE", NULL, NULL},
    {"train_gflops", CONFIG_T_NUMBER, 0, NULL, NULL,
     "training compute of the weights (forward GFLOPs x samples seen, as tools/train.py logs it)", NULL, NULL},
    {NULL, 0, 0, NULL, NULL, NULL, NULL, NULL}};

static const config_field sampler_schema[] = {
    {"steps", CONFIG_T_STRING, 0, NULL, NULL,
     "respacing, \"250\", \"ddim50\", or SPEC@T: SPEC over original steps 0..T-1 (\"5@500\")", "250", "--steps"},
    {"sampler", CONFIG_T_STRING, 0, NULL, samplers, "ddpm or ddim", "ddpm", "--sampler"},
    {"eta", CONFIG_T_NUMBER, 0, NULL, NULL, "DDIM eta (>= 0)", "0", "--eta"},
    {"cfg_scale", CONFIG_T_NUMBER, 0, NULL, NULL, "guidance scale (<= 1: none)", "1.5", "--cfg-scale"},
    {"cfg_mode", CONFIG_T_STRING, 0, NULL, cfg_modes, "dit3 (guidance on eps channels 0..2, as DiT) or all", "dit3",
     "--cfg-mode"},
    {"label_mode", CONFIG_T_STRING, 0, NULL, label_modes, "uniform (drawn from the seed) or balanced (i mod classes)",
     "uniform", "--label-mode"},
    {"labels", CONFIG_T_STRING, 0, NULL, label_modes, "the earlier name of label_mode (still read)", NULL, NULL},
    {"variance", CONFIG_T_STRING, 0, NULL, variances, "DiT: the variance type (default: the model's)", NULL,
     "--variance"},
    {"base_steps", CONFIG_T_STRING, 0, NULL, NULL, "MSF: base stage respacing (default steps)", NULL, "--base-steps"},
    {"residual_steps", CONFIG_T_STRING, 0, NULL, NULL, "MSF: residual stage respacing (default steps)", NULL,
     "--residual-steps"},
    {"base_cfg_scale", CONFIG_T_NUMBER, 0, NULL, NULL, "MSF: base guidance (default cfg_scale)", NULL,
     "--base-cfg-scale"},
    {"residual_cfg_scale", CONFIG_T_NUMBER, 0, NULL, NULL, "MSF: residual guidance (default cfg_scale)", NULL,
     "--residual-cfg-scale"},
    {"base_cfg_mode", CONFIG_T_STRING, 0, NULL, cfg_modes, "MSF: base guidance mode (default cfg_mode)", NULL,
     "--base-cfg-mode"},
    {"residual_cfg_mode", CONFIG_T_STRING, 0, NULL, cfg_modes, "MSF: residual guidance mode (default cfg_mode)", NULL,
     "--residual-cfg-mode"},
    {"base_sampler", CONFIG_T_STRING, 0, NULL, samplers, "MSF: base sampler (default sampler)", NULL, "--base-sampler"},
    {"residual_sampler", CONFIG_T_STRING, 0, NULL, samplers, "MSF: residual sampler (default sampler)", NULL,
     "--residual-sampler"},
    {"base_eta", CONFIG_T_NUMBER, 0, NULL, NULL, "MSF: base DDIM eta (default eta)", NULL, "--base-eta"},
    {"residual_eta", CONFIG_T_NUMBER, 0, NULL, NULL, "MSF: residual DDIM eta (default eta)", NULL, "--residual-eta"},
    {"residual_start", CONFIG_T_STRING, 0, NULL, NULL,
     "MSF: noise, or an original step T: only the residual's spaced steps <= T, from x_T (unit variance)", "noise",
     "--residual-start"},
    {"clip_x0", CONFIG_T_BOOL, 0, NULL, NULL,
     "clamp x0 estimates to [-1, 1] (false, as DiT); only meaningful for pixel-bounded targets", "false", "--clip-x0"},
    {"base_clip_x0", CONFIG_T_BOOL, 0, NULL, NULL, "MSF: the base's clip_x0 (default clip_x0)", NULL, "--base-clip-x0"},
    {"residual_clip_x0", CONFIG_T_BOOL, 0, NULL, NULL,
     "MSF: the residual's clip_x0 (default clip_x0); its target r/residual_scale is not bounded to [-1, 1]", NULL,
     "--residual-clip-x0"},
    {"residual_cond_noise", CONFIG_T_INT, 0, NULL, NULL,
     "MSF: the residual's condition noised to this level 0..1000 (conditioning augmentation)", "0",
     "--residual-cond-noise"},
    {"base_from", CONFIG_T_STRING, 0, NULL, NULL,
     "MSF: the bases instead of the base stage: an HDF5 file (msf sample's base, or latents at the base or full "
     "size), or real (D^(L-1) of evaluator.reference's images; msf run only)",
     NULL, "--base-from"},
    {"residual", CONFIG_T_STRING, 0, NULL, residual_modes,
     "MSF: sample the residual stage(s), or none: the samples are U(base) at full size", "sample", "--residual"},
    {NULL, 0, 0, NULL, NULL, NULL, NULL, NULL}};

static const config_field evaluator_schema[] = {
    {"featnet", CONFIG_T_STRING, 1, NULL, NULL, "feature network weights (inception or fmnist_classifier)", NULL, NULL},
    {"featnet_obtain", CONFIG_T_STRING, 0, NULL, NULL, "how to obtain or convert the feature network", NULL, NULL},
    {"reference", CONFIG_T_STRING, 1, NULL, NULL, "reference batch (.npz images, or statistics)", NULL, NULL},
    {"reference_obtain", CONFIG_T_STRING, 0, NULL, NULL, "how to obtain the reference batch", NULL, NULL},
    {"resize", CONFIG_T_STRING, 0, NULL, resize_modes, "adm, pytorch or clean", "adm", NULL},
    {"batch", CONFIG_T_INT, 0, NULL, NULL, "images per feature network call", "50", NULL},
    {"precision", CONFIG_T_STRING, 0, NULL, precisions,
     "fp32 or bf16: the feature network's convolutions, as msf features --precision (the reference's "
     "features too, unless it is given as statistics)",
     "fp32", NULL},
    {NULL, 0, 0, NULL, NULL, NULL, NULL, NULL}};

static const config_field spectrum_schema[] = {
    {"factorize", CONFIG_T_STRING, 0, NULL, NULL, "msf spectrum --factorize SPEC", NULL, NULL},
    {"max", CONFIG_T_INT, 0, NULL, NULL, "use the first N samples (0: all)", "0", NULL},
    {NULL, 0, 0, NULL, NULL, NULL, NULL, NULL}};

static const config_field reproduces_schema[] = {
    {"model", CONFIG_T_STRING, 1, NULL, NULL, "the model column of paper/reported.csv", NULL, NULL},
    {"resolution", CONFIG_T_INT, 0, NULL, NULL, "its resolution column", NULL, NULL},
    {"cfg_scale", CONFIG_T_NUMBER, 0, NULL, NULL, "its cfg_scale column", NULL, NULL},
    {"steps", CONFIG_T_STRING, 0, NULL, NULL, "its steps column", NULL, NULL},
    {NULL, 0, 0, NULL, NULL, NULL, NULL, NULL}};

const config_field msf_run_schema[] = {
    {"name", CONFIG_T_STRING, 1, NULL, NULL, "the run's name", NULL, NULL},
    {"series", CONFIG_T_STRING, 0, NULL, NULL, "the curve of the plots over seeds this run belongs to (default name)",
     NULL, NULL},
    {"seed", CONFIG_T_INT, 0, NULL, NULL, "sampling seed", "0", "--seed"},
    {"num_samples", CONFIG_T_INT, 0, NULL, NULL, "samples per grid point (required with model)", NULL, "--num-samples"},
    {"batch", CONFIG_T_INT, 0, NULL, NULL, "samples per network call", "8", "--batch"},
    {"shard_size", CONFIG_T_INT, 0, NULL, NULL, "samples per shard file", "1000", NULL},
    {"grid", CONFIG_T_INT, 0, NULL, NULL, "images in the sample grid PNG", "16", NULL},
    {"model", CONFIG_T_MAP, 0, model_schema, NULL,
     "a model mapping (use: ../configs/models/...); required unless samples", NULL, NULL},
    {"samples", CONFIG_T_STRING, 0, NULL, NULL,
     "an external sample batch to evaluate instead of a model's samples (.npz, arr_0 uint8 [N, H, W, C], arr_1 "
     "labels optional)",
     NULL, NULL},
    {"sampler", CONFIG_T_MAP, 0, sampler_schema, NULL, NULL, NULL, NULL},
    {"evaluator", CONFIG_T_MAP, 0, evaluator_schema, NULL, NULL, NULL, NULL},
    {"spectrum", CONFIG_T_MAP, 0, spectrum_schema, NULL, NULL, NULL, NULL},
    {"reproduces", CONFIG_T_MAP, 0, reproduces_schema, NULL, NULL, NULL, NULL},
    {"sweep", CONFIG_T_SWEEP, 0, NULL, NULL, "key paths to lists of values: a grid point per combination", NULL, NULL},
    {NULL, 0, 0, NULL, NULL, NULL, NULL, NULL}};

const config_field msf_experiment_schema[] = {
    {"experiment", CONFIG_T_STRING, 1, NULL, NULL, "the experiment's name (its results folder)", NULL, NULL},
    {"description", CONFIG_T_STRING, 0, NULL, NULL, NULL, NULL, NULL},
    {"defaults", CONFIG_T_MAP, 0, NULL, NULL, NULL, NULL, NULL},  // run keys, checked in each run
    {"runs", CONFIG_T_MAPLIST, 1, NULL, NULL, "a list of runs", NULL, NULL},
    {NULL, 0, 0, NULL, NULL, NULL, NULL, NULL}};

// -----------------------------------------------------------------------------
// Values with the schema's defaults

static const config_field *run_field(const char *path) {
    const config_field *f = config_schema_find(msf_run_schema, path);
    assert(f && f->type != CONFIG_T_MAP && "a run key read by the code is in msf_run_schema");
    return f;
}

const char *msf_run_default(const char *path) { return run_field(path)->def; }

const char *msf_run_str(const config_node *run, const char *path) {
    const config_field *f = run_field(path);
    assert(f->type == CONFIG_T_STRING);
    return config_str(run, path, f->def);
}

int64_t msf_run_int(const config_node *run, const char *path) {
    const config_field *f = run_field(path);
    assert(f->type == CONFIG_T_INT);
    return config_int(run, path, f->def ? strtoll(f->def, NULL, 10) : 0);
}

double msf_run_num(const config_node *run, const char *path) {
    const config_field *f = run_field(path);
    assert(f->type == CONFIG_T_NUMBER);
    return config_num(run, path, f->def ? strtod(f->def, NULL) : NAN);
}

int msf_run_bool(const config_node *run, const char *path) {
    const config_field *f = run_field(path);
    assert(f->type == CONFIG_T_BOOL);
    return config_bool(run, path, f->def && !strcmp(f->def, "true"));
}

static void print_key(void *user, const char *path, const config_field *f) {
    FILE *out = user;
    char type[160];
    snprintf(type, sizeof type, "%s", f->choices ? "" : config_type_name(f->type));
    for (const char *const *c = f->choices; c && *c; c++) {  // a string of given choices: the choices
        size_t n = strlen(type);
        snprintf(type + n, sizeof type - n, "%s%s", c == f->choices ? "" : "|", *c);
    }
    for (char *c = type; *c; c++)
        if (*c == ' ') *c = '_';  // one word per column
    fprintf(out, "%-28s %-36s %-8s %-22s %s%s\n", path, type, f->def ? f->def : "-", f->flag ? f->flag : "-",
            f->required ? "required. " : "", f->doc ? f->doc : "");
}

void msf_run_print_keys(FILE *f) {
    fprintf(f, "%-28s %-36s %-8s %-22s %s\n", "key", "type", "default", "msf sample", "meaning");
    config_schema_visit(msf_run_schema, NULL, f, print_key);
}
