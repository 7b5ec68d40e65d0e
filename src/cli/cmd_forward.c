// cmd_forward.c: `msf forward`, one network forward pass on the datasets of an
// HDF5 file, so anyone can cross-check the C network against another
// implementation.
#include <stdio.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "core/arena.h"
#include "io/h5write.h"
#include "io/h5read.h"
#include "models/dit.h"
#include "models/vae.h"

const char cmd_forward_usage[] =
    "usage: msf forward --weights W.h5 --in IN.h5 --out OUT.h5 [--group G | --stage S] [--batch B]\n"
    "                   [--precision fp32|bf16]\n\n"
    "Run one DiT forward pass on the datasets of IN.h5:\n"
    "  x  float32 [N, C, H, W]   the noisy input\n"
    "  t  int64 or float [N]     the original diffusion step (0..999)\n"
    "  y  int64 [N]              class labels (num_classes = the null class)\n"
    "and write the network output [N, out_channels, H, W] to dataset `out` of\n"
    "OUT.h5 (written to a temporary name, then renamed).\n\n"
    "  --weights W.h5  DiT weights (see `msf info`)\n"
    "  --group G       read the model from group G of the weight file\n"
    "  --stage S       MSF weights: run stage S (base, residual, or residual1..\n"
    "                  for more levels); a residual stage takes x = concat(noisy\n"
    "                  residual, U(base)) with 2C channels\n"
    "  --batch B       samples per forward call (default 8)\n"
    "  --precision P   fp32 (default) or bf16 products (DiT: as msf sample; VAE:\n"
    "                  its convolutions, as msf decode/encode)\n\n"
    "SD VAE weights (model = \"vae\"): x is the decoder's input z [N, 4, h, w]\n"
    "(no latent scaling) or, with --part encoder, images in [-1, 1]\n"
    "[N, 3, H, W]; `out` is the image [N, 3, 8h, 8w] or the encoder moments\n"
    "[N, 8, H/8, W/8] (mean, then log-variance); t and y are not read.\n"
    "  --part P        decoder (default) or encoder\n"
    "\nExit status: 0 on success, 1 on a bad or missing input file or a failed\n"
    "step, 2 on a usage error (an unknown option, a bad value).\n";

// The VAE's raw passes on dataset x of `inf`.
static int forward_vae(msf_h5_reader *wf, msf_h5_reader *inf, const char *group, const char *part, const char *in,
                       const char *out_path, const char *weights, nn_precision precision) {
    vae_config cfg;
    vae_model vae = {0};
    float *x = NULL, *out = NULL;
    msf_h5_writer *writer = NULL;
    int rc = 1, decoder = !part || !strcmp(part, "decoder");
    if (part && !decoder && strcmp(part, "encoder")) {
        fprintf(stderr, "msf forward: --part must be decoder or encoder, got '%s'\n", part);
        return 2;
    }
    if (vae_config_read(&cfg, wf, group)) goto done;
    const msf_h5_tensor *xi = msf_h5_find(inf, "x");
    int want_c = decoder ? cfg.latent_channels : cfg.in_channels, f = vae_factor(&cfg);
    if (!xi || xi->ndim != 4 || xi->shape[1] != want_c || xi->shape[0] < 1 ||
        (!decoder && (xi->shape[2] % f || xi->shape[3] % f))) {
        msf_fail(MSF_ERR_SHAPE, "%s: dataset 'x' must be float32 [N, %d, H, W]%s", in, want_c,
                 decoder ? "" : " with H and W multiples of the VAE's downsampling");
        goto done;
    }
    int64_t N = xi->shape[0], h = xi->shape[2], w = xi->shape[3];
    int64_t oh = decoder ? h * f : h / f, ow = decoder ? w * f : w / f,
            oc = decoder ? cfg.out_channels : 2 * cfg.latent_channels;
    int64_t oshape[4] = {N, oc, oh, ow};
    x = malloc((size_t)(N * want_c * h * w) * sizeof *x);
    out = malloc((size_t)(N * oc * oh * ow) * sizeof *out);
    if (!x || !out) {
        msf_fail(MSF_ERR_NOMEM, "out of memory for %lld inputs", (long long)N);
        goto done;
    }
    if (msf_h5_read(inf, "x", x, 4, xi->shape) ||
        vae_load(&vae, wf, group, decoder ? VAE_DECODER : VAE_ENCODER, (int)(decoder ? oh : h),
                 (int)(decoder ? ow : w)) ||
        vae_set_precision(&vae, precision))
        goto done;
    msf_status s = decoder ? vae_decoder_forward(&vae, out, x, (int)N, (int)h, (int)w)
                           : vae_encoder_forward(&vae, out, x, (int)N, (int)h, (int)w);
    if (s || msf_h5_create(&writer, out_path) || msf_h5_write_f32(writer, "out", 4, oshape, out) ||
        msf_h5_attr_string(writer, NULL, "weights", weights) || msf_h5_attr_string(writer, NULL, "input", in) ||
        msf_h5_attr_string(writer, NULL, "part", decoder ? "decoder" : "encoder") ||
        msf_h5_attr_string(writer, NULL, "precision", nn_precision_name(precision)))
        goto done;
    s = msf_h5_commit(writer);
    writer = NULL;
    if (!s) rc = 0;
done:
    if (rc) cli_fail("forward");
    msf_h5_abort(writer);
    free(x), free(out);
    vae_free(&vae);
    return rc;
}

int cmd_forward(int argc, char **argv) {
    const char *weights = NULL, *in = NULL, *out_path = NULL, *group = NULL, *part = NULL;
    nn_precision precision = NN_FP32;
    long batch = 8;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!v) {
            cli_missing_value("forward", a, cmd_forward_usage);
            return 2;
        }
        if (!strcmp(a, "--weights")) weights = v;
        else if (!strcmp(a, "--in")) in = v;
        else if (!strcmp(a, "--out")) out_path = v;
        else if (!strcmp(a, "--group") || !strcmp(a, "--stage")) group = v;
        else if (!strcmp(a, "--part")) part = v;
        else if (!strcmp(a, "--precision")) {
            if (nn_precision_parse(&precision, v, "--precision")) {
                fprintf(stderr, "msf forward: %s\n", msf_error_message());
                return 2;
            }
        } else if (!strcmp(a, "--batch")) {
            if (!cli_parse_long("forward", a, v, 1, 4096, &batch)) return 2;
        } else {
            fprintf(stderr, "msf forward: unknown option '%s'\n\n%s", a, cmd_forward_usage);
            return 2;
        }
        i++;
    }
    if (!weights || !in || !out_path) {
        fputs(cmd_forward_usage, stderr);
        return 2;
    }
    if (!cli_output_ok(out_path, "output file")) return cli_fail("forward");

    msf_h5_reader *wf = NULL, *inf = NULL;
    dit_model model = {0};
    float *x = NULL, *t = NULL, *out = NULL;
    int64_t *y = NULL;
    msf_h5_writer *writer = NULL;
    int rc = 1;
    if (msf_h5_open(&wf, weights)) goto done;
    char kind[16] = "";
    if (msf_h5_get_attr_string(wf, group, "model", kind, sizeof kind) == MSF_OK && !strcmp(kind, "vae")) {
        if (msf_h5_open_as(&inf, in, "input file")) goto done;
        rc = forward_vae(wf, inf, group, part, in, out_path, weights, precision);
        msf_h5_close(inf);
        msf_h5_close(wf);
        return rc;
    }
    if (part) {
        msf_fail(MSF_ERR_INVALID, "--part applies to VAE weights; %s holds a DiT", weights);
        goto done;
    }
    if (dit_load(&model, wf, group, (int)batch) || dit_set_precision(&model, precision)) goto done;
    const dit_config *c = &model.config;
    if (msf_h5_open_as(&inf, in, "input file")) goto done;
    const msf_h5_tensor *xi = msf_h5_find(inf, "x");
    if (!xi) {
        msf_fail(MSF_ERR_NOT_FOUND, "%s has no dataset 'x' (expected float32 [N, %d, %d, %d])", in, c->in_channels,
                 c->input_size, c->input_size);
        goto done;
    }
    int64_t N = xi->ndim == 4 ? xi->shape[0] : -1;
    int64_t xshape[4] = {N, c->in_channels, c->input_size, c->input_size}, vshape[1] = {N};
    int64_t oshape[4] = {N, c->out_channels, c->input_size, c->input_size};
    size_t xs = (size_t)c->in_channels * c->input_size * c->input_size;
    size_t os = (size_t)c->out_channels * c->input_size * c->input_size;
    x = malloc((size_t)(N > 0 ? N : 1) * xs * sizeof *x);
    t = malloc((size_t)(N > 0 ? N : 1) * sizeof *t);
    y = malloc((size_t)(N > 0 ? N : 1) * sizeof *y);
    out = malloc((size_t)(N > 0 ? N : 1) * os * sizeof *out);
    if (!x || !t || !y || !out) {
        msf_fail(MSF_ERR_NOMEM, "out of memory for %lld inputs", (long long)N);
        goto done;
    }
    if (msf_h5_read(inf, "x", x, 4, xshape) || msf_h5_read(inf, "t", t, 1, vshape) ||
        msf_h5_read_i64(inf, "y", y, 1, vshape))
        goto done;
    // Inputs checked as read: finite x, timesteps of the 1000-step diffusion
    // (fractional ones are allowed: the embedding is continuous).
    for (size_t i = 0; i < (size_t)N * xs; i++)
        if (!isfinite(x[i])) {
            msf_fail(MSF_ERR_NUMERIC, "%s: dataset 'x' element %zu (sample %zu) is %g (expected finite values)", in, i,
                     i / xs, x[i]);
            goto done;
        }
    for (int64_t i = 0; i < N; i++)
        if (!(t[i] >= 0.0f && t[i] <= 999.0f)) {
            msf_fail(MSF_ERR_INVALID, "%s: dataset 't' element %lld is %g (expected timesteps in 0..999)", in,
                     (long long)i, t[i]);
            goto done;
        }
    for (int64_t b = 0; b < N; b += batch) {
        int n = (int)(N - b < batch ? N - b : batch);
        if (dit_forward(&model, out + (size_t)b * os, x + (size_t)b * xs, t + b, y + b, n)) goto done;
    }
    if (msf_h5_create(&writer, out_path) || msf_h5_write_f32(writer, "out", 4, oshape, out) ||
        msf_h5_attr_string(writer, NULL, "weights", weights) || msf_h5_attr_string(writer, NULL, "input", in) ||
        msf_h5_attr_string(writer, NULL, "precision", nn_precision_name(precision)))
        goto done;
    msf_status s = msf_h5_commit(writer);
    writer = NULL;
    if (s) goto done;
    rc = 0;
done:
    if (rc) cli_fail("forward");
    msf_h5_abort(writer);
    free(x), free(t), free(y), free(out);
    dit_free(&model);
    msf_h5_close(inf);
    msf_h5_close(wf);
    return rc;
}
