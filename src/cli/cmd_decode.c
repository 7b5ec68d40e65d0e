// cmd_decode.c: `msf decode`, latents to images with the SD VAE as DiT's
// sample_ddp.py does it, written as an ADM-format sample batch (.npz).
#include <errno.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/cli.h"
#include "core/tensor.h"
#include "core/version.h"
#include "io/images.h"
#include "io/h5read.h"
#include "models/vae.h"

const char cmd_decode_usage[] =
    "usage: msf decode LATENTS.h5 --vae VAE.h5 --out IMAGES.npz [options]\n\n"
    "Decode latents [N, 4, h, w] (dataset `latents`, as `msf sample` writes it)\n"
    "as DiT's sample_ddp.py does: x = decoder(z / 0.18215), pixels =\n"
    "clamp(127.5 x + 128, 0, 255) truncated to uint8. Writes an ADM-format sample\n"
    "batch: IMAGES.npz with arr_0 uint8 [N, 8h, 8w, 3] (the evaluator's input),\n"
    "through a temporary file renamed when complete. Images are decoded one at a\n"
    "time (about 0.85 GB of workspace at 512x512) and streamed to disk.\n\n"
    "  --vae VAE.h5      VAE weights (tools/convert_vae.py; the decoder is loaded)\n"
    "  --group G         read the VAE from group G of the weight file\n"
    "  --dataset NAME    the latents dataset (default latents)\n"
    "  --png-dir DIR     also write image i as DIR/%06d.png (DIR is created)\n"
    "  --grid FILE.png   also write the first up to 256 images as one grid\n"
    "                    (2-pixel black gaps, as torchvision's save_image) and,\n"
    "                    when LATENTS.h5 has `labels` [N] (msf sample writes\n"
    "                    them), its legend FILE.txt: each image's class index,\n"
    "                    row by row (names are not known here)\n"
    "  --grid-cols K     images per grid row (default ceil(sqrt(count)))\n"
    "  --precision P     fp32 (default, exact) or bf16: the decoder's convolutions\n"
    "                    take bf16 inputs and weights, summed in fp32 (oneDNN's\n"
    "                    convolution; about 2x faster with AVX512-BF16 or AMX)\n"
    "\nExit status: 0 on success, 1 on a bad or missing input file or a failed\n"
    "step, 2 on a usage error (an unknown option, a bad value).\n";

int cmd_decode(int argc, char **argv) {
    const char *in = NULL, *vae_path = NULL, *out_path = NULL, *group = NULL, *dataset = "latents";
    const char *png_dir = NULL, *grid_path = NULL;
    long grid_cols = 0;
    nn_precision precision = NN_FP32;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (a[0] != '-') {
            if (in) {
                fprintf(stderr, "msf decode: one latents file expected, got '%s' and '%s'\n\n%s", in, a,
                        cmd_decode_usage);
                return 2;
            }
            in = a;
            continue;
        }
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!v) {
            cli_missing_value("decode", a, cmd_decode_usage);
            return 2;
        }
        if (!strcmp(a, "--vae")) vae_path = v;
        else if (!strcmp(a, "--out")) out_path = v;
        else if (!strcmp(a, "--group")) group = v;
        else if (!strcmp(a, "--dataset")) dataset = v;
        else if (!strcmp(a, "--png-dir")) png_dir = v;
        else if (!strcmp(a, "--grid")) grid_path = v;
        else if (!strcmp(a, "--precision")) {
            if (nn_precision_parse(&precision, v, "--precision")) {
                fprintf(stderr, "msf decode: %s\n", msf_error_message());
                return 2;
            }
        } else if (!strcmp(a, "--grid-cols")) {
            if (!cli_parse_long("decode", a, v, 1, 256, &grid_cols)) return 2;
        } else {
            fprintf(stderr, "msf decode: unknown option '%s'\n\n%s", a, cmd_decode_usage);
            return 2;
        }
        i++;
    }
    if (!in || !vae_path || !out_path) {
        fputs(cmd_decode_usage, stderr);
        return 2;
    }

    if (!cli_output_ok(out_path, "images file") || (grid_path && !cli_output_ok(grid_path, "grid image")))
        return cli_fail("decode");
    cli_decode_opts o = {.precision = precision,
                         .vae = vae_path,
                         .group = group,
                         .out = out_path,
                         .png_dir = png_dir,
                         .grid = grid_path,
                         .grid_cols = (int)grid_cols};
    return cli_decode_file(in, dataset, &o);
}

int cli_decode_file(const char *in, const char *dataset, const cli_decode_opts *o) {
    msf_h5_reader *lf = NULL;
    float *latents = NULL;
    int64_t *labels = NULL;
    if (msf_h5_open_as(&lf, in, "latents file")) goto done;
    const msf_h5_tensor *li = msf_h5_find(lf, dataset);
    if (!li) {
        msf_fail(MSF_ERR_NOT_FOUND, "%s has no dataset '%s' (expected float32 latents [N, C, h, w])", in, dataset);
        goto done;
    }
    if (li->ndim != 4 || li->shape[0] < 1) {
        char got[96];
        msf_shape_str(got, sizeof got, li->ndim, li->shape);
        msf_fail(MSF_ERR_SHAPE, "dataset '%s' of %s has shape %s, expected latents [N, C, h, w]", dataset, in, got);
        goto done;
    }
    size_t count = (size_t)li->shape[0] * li->shape[1] * li->shape[2] * li->shape[3];
    latents = malloc(count * sizeof *latents);
    if (!latents) {
        msf_fail(MSF_ERR_NOMEM, "out of memory for the latents of %s", in);
        goto done;
    }
    if (msf_h5_read(lf, dataset, latents, 4, li->shape)) goto done;
    // The labels for the grid's legend.
    const msf_h5_tensor *yi = o->grid ? msf_h5_find(lf, "labels") : NULL;
    if (yi) {
        if (yi->ndim != 1 || yi->shape[0] != li->shape[0]) {
            char got[96];
            msf_shape_str(got, sizeof got, yi->ndim, yi->shape);
            msf_fail(MSF_ERR_SHAPE, "%s: dataset 'labels' has shape %s, expected [%lld] (one per latent)", in, got,
                     (long long)li->shape[0]);
            goto done;
        }
        if (!(labels = malloc((size_t)li->shape[0] * sizeof *labels))) {
            msf_fail(MSF_ERR_NOMEM, "out of memory for the labels of %s", in);
            goto done;
        }
        if (msf_h5_read_i64(lf, "labels", labels, 1, yi->shape)) goto done;
    }
    char source[512];
    snprintf(source, sizeof source, "dataset '%s' of %s", dataset, in);
    cli_decode_opts named = *o;
    named.source = source;
    named.labels = labels;
    int rc = cli_decode_latents(&named, latents, li->shape[0], (int)li->shape[1], (int)li->shape[2], (int)li->shape[3]);
    msf_h5_close(lf);
    free(latents), free(labels);
    return rc;
done:
    cli_fail("decode");
    msf_h5_close(lf);
    free(latents), free(labels);
    return 1;
}

// -----------------------------------------------------------------------------

int cli_decode_latents(const cli_decode_opts *o, const float *latents, int64_t N, int C, int h, int w) {
    const char *vae_path = o->vae, *group = o->group, *out_path = o->out, *png_dir = o->png_dir, *grid_path = o->grid;
    msf_h5_reader *vf = NULL;
    vae_model vae = {0};
    uint8_t *pixels = NULL;
    msf_npz_writer *npz = NULL;
    msf_png_grid g = {0};
    int rc = 1, made_dir = 0, grid_written = 0, legend_written = 0;
    char legend[4200] = "";
    int64_t pngs = 0;  // PNGs written to png_dir, removed again on failure
    vae_config cfg;
    if (msf_h5_open(&vf, vae_path) || vae_config_read(&cfg, vf, group)) goto done;
    if (C != cfg.latent_channels) {
        msf_fail(MSF_ERR_SHAPE, "%s has %d channels; the VAE %s takes %d latent channels",
                 o->source ? o->source : "latents", C, vae_path, cfg.latent_channels);
        goto done;
    }
    int f = vae_factor(&cfg);
    if ((int64_t)h * f > 16384 || (int64_t)w * f > 16384 || h < 1 || w < 1) {
        msf_fail(MSF_ERR_SHAPE, "latents of %dx%d give images over 16384 pixels a side", h, w);
        goto done;
    }
    int H = h * f, W = w * f;
    size_t zs = (size_t)cfg.latent_channels * h * w, ps = (size_t)3 * H * W;
    if (cfg.out_channels != 3) {
        msf_fail(MSF_ERR_FORMAT, "%s: the decoder makes %d channels; images need 3", vae_path, cfg.out_channels);
        goto done;
    }
    pixels = malloc(ps);
    if (!pixels) {
        msf_fail(MSF_ERR_NOMEM, "out of memory for a %dx%d image", H, W);
        goto done;
    }
    if (vae_load(&vae, vf, group, VAE_DECODER, H, W) || vae_set_precision(&vae, o->precision)) goto done;
    if (png_dir) {
        made_dir = mkdir(png_dir, 0777) == 0;
        if (!made_dir && errno != EEXIST) {
            msf_fail(MSF_ERR_IO, "cannot create directory %s: %s", png_dir, strerror(errno));
            goto done;
        }
    }
    if (grid_path && msf_png_grid_init(&g, N, 256, o->grid_cols, H, W)) goto done;
    int64_t shape[4] = {N, H, W, 3};
    if (msf_npz_create_u8(&npz, out_path, "arr_0", 4, shape)) goto done;
    msf_log(MSF_LOG_INFO, "decoding %lld latents %dx%d -> %dx%d images with %s (%d threads, OpenMP)", (long long)N, h,
            w, H, W, vae_path, omp_get_max_threads());
    cli_progress_bar bar;
    cli_progress_bar_init(&bar, stderr);
    msf_progress prog = cli_progress_bar_callback(&bar);
    msf_progress_report(&prog, "decode", 0, N);
    for (int64_t i = 0; i < N; i++) {
        if (vae_decode(&vae, pixels, NULL, latents + (size_t)i * zs, 1, h, w, i)) goto done;
        if (msf_npz_append(npz, pixels, ps)) goto done;
        if (png_dir) {
            char path[4096];
            snprintf(path, sizeof path, "%s/%06lld.png", png_dir, (long long)i);
            if (msf_png_write_rgb(path, pixels, H, W)) goto done;
            pngs = i + 1;
        }
        if (g.canvas) msf_png_grid_paste(&g, i, pixels, 3);
        msf_progress_report(&prog, "decode", i + 1, N);
    }
    // The .npz last: if any output cannot be written, none is left.
    if (g.canvas) {
        if (msf_png_grid_write(&g, grid_path)) goto done;
        grid_written = 1;
        if (o->labels) {
            const char *slash = strrchr(grid_path, '/');
            msf_png_grid_legend_path(legend, sizeof legend, grid_path);
            if (msf_png_grid_write_legend(&g, legend, slash ? slash + 1 : grid_path, o->labels, NULL, 0,
                                          "class names: not known to msf decode (for DiT's ImageNet models the "
                                          "index is ImageNet's class index)"))
                goto done;
            legend_written = 1;
        }
    }
    msf_status s = msf_npz_commit(npz);
    npz = NULL;
    if (s) goto done;
    printf("wrote %s: arr_0 uint8 [%lld, %d, %d, 3] (msf %s, commit %s, VAE %s)\n", out_path, (long long)N, H, W,
           msf_version(), msf_git_commit(), vae_path);
    if (legend_written) printf("wrote %s: the classes of the images of %s\n", legend, grid_path);
    rc = 0;
done:
    if (rc) {
        cli_fail("decode");
        for (int64_t i = 0; i < pngs; i++) {
            char path[4096];
            snprintf(path, sizeof path, "%s/%06lld.png", png_dir, (long long)i);
            unlink(path);
        }
        if (made_dir) rmdir(png_dir);
        if (grid_written) unlink(grid_path);
        if (legend_written) unlink(legend);
    }
    msf_npz_abort(npz);
    free(pixels);
    msf_png_grid_free(&g);
    vae_free(&vae);
    msf_h5_close(vf);
    return rc;
}
