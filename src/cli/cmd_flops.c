// cmd_flops.c: `msf flops`, the cost of a DiT forward pass and of a sampling run.
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "io/h5read.h"
#include "models/dit.h"
#include "msf/msf_model.h"

const char cmd_flops_usage[] =
    "usage: msf flops (--weights W.h5 [--group G] | --model DiT-XL/2 [--input-size 32])\n"
    "                 [--steps N] [--cfg-scale S]\n"
    "       msf flops --weights MSF.h5 [--base-steps N] [--residual-steps N]\n"
    "                 [--base-cfg-scale S] [--residual-cfg-scale S] [--compare DiT-XL/2]\n"
    "       msf flops --model DiT-XL/2 --residual-model DiT-B/2 [--input-size 32]\n"
    "                 [--channels 4] [--scale 2] [the MSF options above]\n\n"
    "Print the GFLOPs of one DiT forward pass per sample, counting one\n"
    "multiply-add as one FLOP as DiT's Table 4 does (matmuls of the linear\n"
    "layers and attention, patch embedding, conditioning MLPs; 5 significant\n"
    "digits). With --steps (1..1000, the diffusion's timesteps),\n"
    "also the cost per sample of a sampling run: steps x forward x 2 when\n"
    "guidance doubles the batch (--cfg-scale > 1).\n"
    "--input-size is the latent side (32 for 256px images, 64 for 512px).\n"
    "For an MSF model: GFLOPs per forward of each stage, the cost per sample\n"
    "of a run (each stage: steps x forward x guidance factor; steps default to\n"
    "--steps, guidance to --cfg-scale), and the ratio to a DiT at the full\n"
    "resolution with the same steps and guidance as the base stage: by default\n"
    "the base stage's architecture, or --compare NAME (an official config).\n"
    "--residual-model prices an MSF model without weights: a base --model on\n"
    "C x (side/scale)^2 latents and a residual --residual-model on 2C x side^2\n"
    "(noisy residual + U(base)), both with learned sigma (2 levels).\n"
    "\nExit status: 0 on success, 1 on a bad or missing input file or a failed\n"
    "step, 2 on a usage error (an unknown option, a bad value, an unknown DiT\n"
    "config name).\n";

// The cost of sampling m (weights or only its layout) and the ratio to a DiT.
static int flops_msf(msf_model *mp, long base_steps, long residual_steps, double base_cfg, double residual_cfg,
                     const char *compare) {
    msf_model m = *mp;
    char spec[MSF_MAX_LEVELS][16];
    diff_stage_opts st[MSF_MAX_LEVELS];
    for (int k = 0; k < m.num_stages; k++) {
        snprintf(spec[k], sizeof spec[k], "%ld", k == 0 ? base_steps : residual_steps);
        st[k] = (diff_stage_opts){.steps = spec[k], .cfg_scale = (float)(k == 0 ? base_cfg : residual_cfg)};
    }
    double per_stage[MSF_MAX_LEVELS], total = msf_sample_gflops(&m, st, per_stage);
    for (int k = 0; k < m.num_stages; k++) {
        const dit_config *c = &m.stage[k].config;
        printf(
            "stage %-10s DiT depth %d hidden %d patch %d on %dx%dx%d: %.5g GFLOPs per forward; "
            "%s steps, cfg %.3g: %.1f GFLOPs per sample\n",
            m.group[k], c->depth, c->hidden_size, c->patch_size, c->in_channels, c->input_size, c->input_size,
            dit_gflops(c), spec[k], st[k].cfg_scale, per_stage[k]);
    }
    printf("MSF total: %.1f GFLOPs per sample\n", total);
    dit_config ref = m.stage[0].config;
    if (compare && dit_config_named(&ref, compare, m.size)) {
        cli_fail("flops");
        return 2;  // a bad --compare value
    }
    ref.input_size = m.size;
    ref.in_channels = m.channels;
    ref.out_channels = ref.learn_sigma ? 2 * m.channels : m.channels;
    double dit = (double)base_steps * dit_gflops(&ref) * (base_cfg > 1.0 ? 2 : 1);
    printf(
        "DiT depth %d hidden %d patch %d on %dx%dx%d, %ld steps, cfg %.3g: %.1f GFLOPs per sample; "
        "DiT / MSF = %.2fx\n",
        ref.depth, ref.hidden_size, ref.patch_size, ref.in_channels, ref.input_size, ref.input_size, base_steps,
        base_cfg, dit, dit / total);
    return 0;
}

static int flops_msf_file(const char *weights, long base_steps, long residual_steps, double base_cfg,
                          double residual_cfg, const char *compare) {
    msf_h5_reader *w;
    if (msf_h5_open(&w, weights)) return cli_fail("flops");
    msf_model m;
    msf_status s = msf_model_read_layout(&m, w, NULL);
    msf_h5_close(w);
    if (s) return cli_fail("flops");
    int rc = flops_msf(&m, base_steps, residual_steps, base_cfg, residual_cfg, compare);
    msf_model_free(&m);
    return rc;
}

// A 2-level MSF layout of named DiT configs (no weights).
static int flops_msf_named(const char *base, const char *residual, long size, long channels, long scale,
                           long base_steps, long residual_steps, double base_cfg, double residual_cfg,
                           const char *compare) {
    if (size % scale) {
        fprintf(stderr, "msf flops: --input-size %ld is not a multiple of --scale %ld\n", size, scale);
        return 2;
    }
    msf_model m;
    memset(&m, 0, sizeof m);
    m.num_stages = 2;
    m.channels = (int)channels;
    m.size = (int)size;
    m.factor = (nn_pyramid_opts){.scale = (int)scale, .levels = 2};
    const char *names[2] = {base, residual};
    for (int k = 0; k < 2; k++) {
        dit_config *c = &m.stage[k].config;
        msf_stage_group(m.group[k], sizeof m.group[k], 2, k);
        if (dit_config_named(c, names[k], k == 0 ? (int)(size / scale) : (int)size)) {
            cli_fail("flops");
            return 2;  // a bad --model / --residual-model value
        }
        if (c->input_size % c->patch_size) {
            fprintf(stderr, "msf flops: %s's patch %d does not divide the %s side %d\n", names[k], c->patch_size,
                    m.group[k], c->input_size);
            return 2;
        }
        c->in_channels = k == 0 ? (int)channels : 2 * (int)channels;
        c->out_channels = 2 * (int)channels;
    }
    return flops_msf(&m, base_steps, residual_steps, base_cfg, residual_cfg, compare);
}

int cmd_flops(int argc, char **argv) {
    const char *weights = NULL, *group = NULL, *name = NULL, *compare = NULL, *residual_name = NULL;
    long input_size = 32, steps = 0, base_steps = -1, residual_steps = -1, channels = 4, scale = 2;
    double cfg_scale = 1.0, base_cfg = NAN, residual_cfg = NAN;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!v) {
            cli_missing_value("flops", a, cmd_flops_usage);
            return 2;
        }
        int ok = 1;
        if (!strcmp(a, "--weights")) weights = v;
        else if (!strcmp(a, "--group")) group = v;
        else if (!strcmp(a, "--model")) name = v;
        else if (!strcmp(a, "--residual-model")) residual_name = v;
        else if (!strcmp(a, "--channels")) ok = cli_parse_long("flops", a, v, 1, 4096, &channels);
        else if (!strcmp(a, "--scale")) ok = cli_parse_long("flops", a, v, 2, 64, &scale);
        else if (!strcmp(a, "--input-size")) ok = cli_parse_long("flops", a, v, 1, 4096, &input_size);
        else if (!strcmp(a, "--steps")) ok = cli_parse_long("flops", a, v, 1, 1000, &steps);
        else if (!strcmp(a, "--cfg-scale")) ok = cli_parse_double("flops", a, v, &cfg_scale);
        else if (!strcmp(a, "--base-steps")) ok = cli_parse_long("flops", a, v, 1, 1000, &base_steps);
        else if (!strcmp(a, "--residual-steps")) ok = cli_parse_long("flops", a, v, 1, 1000, &residual_steps);
        else if (!strcmp(a, "--base-cfg-scale")) ok = cli_parse_double("flops", a, v, &base_cfg);
        else if (!strcmp(a, "--residual-cfg-scale")) ok = cli_parse_double("flops", a, v, &residual_cfg);
        else if (!strcmp(a, "--compare")) compare = v;
        else {
            fprintf(stderr, "msf flops: unknown option '%s'\n\n%s", a, cmd_flops_usage);
            return 2;
        }
        if (!ok) return 2;
        i++;
    }
    if (!weights == !name || (residual_name && !name)) {
        fputs(cmd_flops_usage, stderr);
        return 2;
    }
    long st = steps ? steps : 250;
    double bc = isnan(base_cfg) ? cfg_scale : base_cfg, rc = isnan(residual_cfg) ? cfg_scale : residual_cfg;
    if (residual_name)
        return flops_msf_named(name, residual_name, input_size, channels, scale, base_steps > 0 ? base_steps : st,
                               residual_steps > 0 ? residual_steps : st, bc, rc, compare);
    dit_config c;
    if (weights) {
        msf_h5_reader *w;
        if (msf_h5_open(&w, weights)) return cli_fail("flops");
        if (msf_h5_is_msf(w)) {
            msf_h5_close(w);
            return flops_msf_file(weights, base_steps > 0 ? base_steps : st, residual_steps > 0 ? residual_steps : st,
                                  bc, rc, compare);
        }
        msf_status s = dit_config_read(&c, w, group);
        msf_h5_close(w);
        if (s) return cli_fail("flops");
    } else if (dit_config_named(&c, name, (int)input_size)) {
        cli_fail("flops");
        return 2;  // a bad --model value
    }
    double g = dit_gflops(&c);
    printf("DiT depth %d, hidden %d, heads %d, patch %d, input %dx%dx%d, %d tokens\n", c.depth, c.hidden_size,
           c.num_heads, c.patch_size, c.in_channels, c.input_size, c.input_size, dit_tokens(&c));
    printf("forward: %.5g GFLOPs per sample\n", g);
    if (steps) {
        int factor = cfg_scale > 1.0 ? 2 : 1;
        printf("sampling: %ld steps x %.5g x %d = %.1f GFLOPs per sample\n", steps, g, factor, steps * g * factor);
    }
    return 0;
}
