#!/usr/bin/env python3
"""gen_vae.py: golden data for the SD VAE (tests/test_vae.c).

Writes DIR/vae_tiny.h5 (DIR = tests/golden unless --out is given) from the
PyTorch reference in tools/reference/vae.py, fully deterministic (fixed
seeds). The tiny model has two levels, block_out_channels (16, 32),
layers_per_block 2 and 8 groups; its inputs have odd sizes at some level
(the C convolution works on 2x2 output tiles) and enough positions for the
attention to span several blocks of 64 query rows in the C code: decoder
latents 24x22 and 7x5, encoder images 54x46 (27x23 at the lower level).
With --full (make check-full), the model is the
real kl-f8 architecture (128, 256, 512, 512) with random weights, one 32x32
latent (a 256x256 image) and one 256x256 image; nothing of it is committed.

Layout (float32 unless stated; root attributes version=1, generator,
tolerance = the largest allowed rel error of tests/testutil.h,
pixel_fraction = the largest share of uint8 pixels that may differ, by at
most one level):
  vae/            the model in the weight schema of tools/convert_vae.py
                  (every tensor random: weights N(0, 1/fan_in), biases 0.1 N,
                  GroupNorm gamma 1 + 0.1 N; conv_out of the decoder rescaled
                  so decoded values have std ~0.5 and most pixels do not clip)
  dec/z           [N, 4, h, w] latents as DiT samples them (scaled)
  dec/x           [N, 3, 8h, 8w] decoder(z / scaling_factor), float64 math
  dec/pixels      uint8 [N, 8h, 8w, 3] = clamp(127.5 x + 128, 0, 255) truncated
                  (x rounded to float32 first, the formula in float32)
  dec_odd/        the same for odd-sized latents (tiny only)
  enc/pixels      uint8 [N, H, W, 3] input images
  enc/moments     [N, 8, H/8, W/8] quant_conv(encoder(x)), x = (p/255 - 0.5)/0.5,
                  float64 math (logvar not clamped)
  enc/latents     [N, 4, H/8, W/8] posterior mean * scaling_factor

Usage: /usr/bin/python3 tools/golden/gen_vae.py [--out DIR] [--full]
"""
import argparse
import os
import sys

import numpy as np
import torch

TOOLS = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, TOOLS)
from convert_vae import atomic_h5, write_vae_group  # noqa: E402
from reference.vae import SD_VAE_CONFIG, AutoencoderKL, images_to_input, pixels_from_decoded, randomize  # noqa: E402

GENERATOR = "tools/golden/gen_vae.py"
TINY = dict(SD_VAE_CONFIG, block_out_channels=(16, 32), layers_per_block=2, norm_num_groups=8)
TINY_DEC = (2, 24, 22)   # N, latent h, w
TINY_DEC_ODD = (1, 7, 5)
TINY_ENC = (2, 54, 46)   # N, image H, W
FULL_DEC = (1, 32, 32)
FULL_ENC = (1, 256, 256)


def double_copy(model):
    m64 = AutoencoderKL(**model.config()).double().eval()
    m64.load_state_dict({k: v.double() for k, v in model.state_dict().items()})
    return m64


def make_model(config, seed, z):
    """Random model whose decoder output has std ~0.5 on latents like z."""
    model = randomize(AutoencoderKL(**config), seed)
    with torch.no_grad():
        x = model.decode(torch.from_numpy(z) / model.config()["scaling_factor"])
        gain = 0.5 / float(x.std())
        model.decoder.conv_out.weight.mul_(gain)
        model.decoder.conv_out.bias.mul_(gain)
    return model


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default="tests/golden")
    ap.add_argument("--full", action="store_true", help="the real kl-f8 architecture (for make check-full)")
    args = ap.parse_args()
    torch.set_num_threads(min(2, torch.get_num_threads()))
    os.makedirs(args.out, exist_ok=True)
    path = os.path.join(args.out, "vae_tiny.h5")
    config = SD_VAE_CONFIG if args.full else TINY
    (nd, h, w), (ne, H, W) = (FULL_DEC, FULL_ENC) if args.full else (TINY_DEC, TINY_ENC)
    rng = np.random.default_rng(500)
    z = rng.standard_normal((nd, config["latent_channels"], h, w)).astype(np.float32)
    # Smooth-ish images: a random low-resolution field upsampled, plus noise.
    coarse = rng.uniform(0, 255, (ne, (H + 3) // 4, (W + 3) // 4, 3))
    smooth = np.repeat(np.repeat(coarse, 4, axis=1), 4, axis=2)[:, :H, :W]
    pixels = np.clip(smooth + rng.normal(0, 20, (ne, H, W, 3)), 0, 255)
    pixels = pixels.astype(np.uint8)

    model = make_model(config, 501, z)
    m64 = double_copy(model)
    sf = config["scaling_factor"]
    decodes = {"dec": z}
    if not args.full:
        n_odd, h_odd, w_odd = TINY_DEC_ODD
        decodes["dec_odd"] = rng.standard_normal((n_odd, config["latent_channels"], h_odd, w_odd)).astype(np.float32)
    with torch.no_grad():
        xs = {name: m64.decode(torch.from_numpy(zz).double() / sf).float() for name, zz in decodes.items()}
        x_in = images_to_input(pixels).double()
        moments = m64.quant_conv(m64.encoder(x_in)).float()
    lat = config["latent_channels"]

    def fill(f):
        f.attrs["version"] = np.int64(1)
        f.attrs["generator"] = GENERATOR
        f.attrs["tolerance"] = np.float64(1e-4 if args.full else 1e-5)
        f.attrs["pixel_fraction"] = np.float64(1e-3)
        write_vae_group(f.create_group("vae"), model.state_dict(), model.config(),
                        source=f"{GENERATOR}: random weights{' (full architecture)' if args.full else ''}")
        for name, zz in decodes.items():
            d = f.create_group(name)
            d["z"] = zz
            d["x"] = xs[name].numpy()
            d["pixels"] = pixels_from_decoded(xs[name])
        e = f.create_group("enc")
        e["pixels"] = pixels
        e["moments"] = moments.numpy()
        e["latents"] = (moments[:, :lat] * np.float32(sf)).numpy()

    atomic_h5(path, fill)
    print(f"wrote {path} ({os.path.getsize(path)} bytes)")


if __name__ == "__main__":
    main()
