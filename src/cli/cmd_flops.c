// cmd_flops.c: `msf flops`, the cost of a DiT forward pass and of a sampling run.
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "io/weights.h"
#include "models/dit.h"

const char cmd_flops_usage[] =
    "usage: msf flops (--weights W.h5 [--group G] | --model DiT-XL/2 [--input-size 32])\n"
    "                 [--steps N] [--cfg-scale S]\n\n"
    "Print the GFLOPs of one DiT forward pass per sample, counting one\n"
    "multiply-add as one FLOP as DiT's Table 4 does (matmuls of the linear\n"
    "layers and attention, patch embedding, conditioning MLPs). With --steps,\n"
    "also the cost per sample of a sampling run: steps x forward x 2 when\n"
    "guidance doubles the batch (--cfg-scale > 1).\n"
    "--input-size is the latent side (32 for 256px images, 64 for 512px).\n";

int cmd_flops(int argc, char **argv) {
    const char *weights = NULL, *group = NULL, *name = NULL;
    long input_size = 32, steps = 0;
    double cfg_scale = 1.0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!v) {
            fprintf(stderr, "msf flops: %s needs a value\n\n%s", a, cmd_flops_usage);
            return 2;
        }
        int ok = 1;
        if (!strcmp(a, "--weights")) weights = v;
        else if (!strcmp(a, "--group")) group = v;
        else if (!strcmp(a, "--model")) name = v;
        else if (!strcmp(a, "--input-size")) ok = cli_parse_long("flops", a, v, 1, 4096, &input_size);
        else if (!strcmp(a, "--steps")) ok = cli_parse_long("flops", a, v, 1, 100000, &steps);
        else if (!strcmp(a, "--cfg-scale")) ok = cli_parse_double("flops", a, v, &cfg_scale);
        else {
            fprintf(stderr, "msf flops: unknown option '%s'\n\n%s", a, cmd_flops_usage);
            return 2;
        }
        if (!ok) return 2;
        i++;
    }
    if (!weights == !name) {
        fputs(cmd_flops_usage, stderr);
        return 2;
    }
    dit_config c;
    if (weights) {
        msf_weights *w;
        if (msf_weights_open(&w, weights)) return cli_fail("flops");
        msf_status s = dit_config_read(&c, w, group);
        msf_weights_close(w);
        if (s) return cli_fail("flops");
    } else if (dit_config_named(&c, name, (int)input_size)) {
        return cli_fail("flops");
    }
    double g = dit_gflops(&c);
    printf("DiT depth %d, hidden %d, heads %d, patch %d, input %dx%dx%d, %d tokens\n", c.depth, c.hidden_size,
           c.num_heads, c.patch_size, c.in_channels, c.input_size, c.input_size, dit_tokens(&c));
    printf("forward: %.2f GFLOPs per sample\n", g);
    if (steps) {
        int factor = cfg_scale > 1.0 ? 2 : 1;
        printf("sampling: %ld steps x %.2f x %d = %.1f GFLOPs per sample\n", steps, g, factor, steps * g * factor);
    }
    return 0;
}
