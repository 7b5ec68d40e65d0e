#!/usr/bin/env python3
"""gen_resize.py: golden data for eval/resize.c, the image preprocessing in
front of the feature networks, in its three modes:

  adm      TF1's legacy ResizeBilinear (align_corners=False,
           half_pixel_centers=False) restated in NumPy float32 as TensorFlow's
           resize_bilinear_op.cc computes it (no TensorFlow here): scale =
           float(in)/float(out), src = float(i) * scale, lower = floor(src),
           upper = min(ceil(src), in - 1), lerp = src - floor(src), then
           top + (bottom - top) * y_lerp of a + (b - a) * x_lerp; on pixels in
           [0, 255]; then (x - 128) / 128
  pytorch  torch.nn.functional.interpolate(x / 255, bilinear,
           align_corners=False) as pytorch-fid, then 2 x - 1
  clean    clean-fid's "clean": per channel PIL Image.fromarray(float32, 'F')
           .resize((out_w, out_h), BICUBIC), clip [0, 255], (x - 128) / 128

Writes DIR/resize.h5 (DIR = tests/golden unless --out is given),
deterministic. --full adds a 256 -> 299 case as ADM sees ImageNet samples.

resize.h5 (root attributes version=1, generator, torch_version, pil_version, cases):
  case<i>/images            uint8 [n, h, w, c] (c = 1, 3 or 4; alpha is dropped)
  case<i>/adm, pytorch, clean  float32 [n, out_c, out_h, out_w]
  case<i> attributes out_c, out_h, out_w, what

Usage: /usr/bin/python3 tools/golden/gen_resize.py [--out DIR] [--full]
"""
import argparse
import os
import sys

import numpy as np
import PIL
import torch
import torch.nn.functional as F
from PIL import Image

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from h5util import atomic_h5  # noqa: E402


def planes(images, out_c):
    """uint8 NHWC -> float32 NCHW with out_c channels (grey replicated, alpha dropped)."""
    x = images.astype(np.float32).transpose(0, 3, 1, 2)
    if x.shape[1] == 1:
        return np.repeat(x, out_c, axis=1)
    return x[:, :3]


def tf1_legacy_axis(in_size, out_size):
    scale = np.float32(in_size) / np.float32(out_size)
    src = np.arange(out_size, dtype=np.float32) * scale
    lower = np.floor(src).astype(np.int64)
    upper = np.minimum(np.ceil(src).astype(np.int64), in_size - 1)
    lerp = (src - np.floor(src)).astype(np.float32)
    return lower, upper, lerp


def adm(images, out_c, oh, ow):
    x = planes(images, out_c)
    y0, y1, yl = tf1_legacy_axis(x.shape[2], oh)
    x0, x1, xl = tf1_legacy_axis(x.shape[3], ow)
    tl, tr = x[:, :, y0][:, :, :, x0], x[:, :, y0][:, :, :, x1]
    bl, br = x[:, :, y1][:, :, :, x0], x[:, :, y1][:, :, :, x1]
    top = tl + (tr - tl) * xl
    bottom = bl + (br - bl) * xl
    out = top + (bottom - top) * yl[:, None]
    return ((out - np.float32(128)) / np.float32(128)).astype(np.float32)


def pytorch(images, out_c, oh, ow):
    x = torch.from_numpy(planes(images, out_c)) / 255
    y = F.interpolate(x, size=(oh, ow), mode="bilinear", align_corners=False)
    return (2 * y - 1).numpy().astype(np.float32)


def clean(images, out_c, oh, ow):
    x = planes(images, out_c)
    out = np.empty((x.shape[0], out_c, oh, ow), np.float32)
    for i in range(x.shape[0]):
        for c in range(out_c):
            img = Image.fromarray(x[i, c], mode="F").resize((ow, oh), resample=Image.BICUBIC)
            out[i, c] = np.asarray(img).clip(0, 255)
    return ((out - np.float32(128)) / np.float32(128)).astype(np.float32)


def fill(f, full):
    f.attrs["version"] = 1
    f.attrs["generator"] = "tools/golden/gen_resize.py"
    f.attrs["torch_version"] = str(torch.__version__)
    f.attrs["pil_version"] = PIL.__version__
    rng = np.random.default_rng(11)
    # (what, n, h, w, c, out_c, out_h, out_w)
    cases = [("rgb upsample 28x28 -> 75x75", 2, 28, 28, 3, 3, 75, 75),
             ("rgb downsample (antialias) 64x48 -> 21x30", 2, 64, 48, 3, 3, 21, 30),
             ("grey replicated 16x20 -> 23x31", 2, 16, 20, 1, 3, 23, 31),
             ("grey to grey 20x20 -> 13x27", 1, 20, 20, 1, 1, 13, 27),
             ("rgba, alpha dropped, 12x10 -> 12x17 (one axis unchanged)", 1, 12, 10, 4, 3, 12, 17),
             ("identity 9x11", 2, 9, 11, 3, 3, 9, 11)]
    if full:
        cases.append(("imagenet 256 -> 299", 2, 256, 256, 3, 3, 299, 299))
    for i, (what, n, h, w, c, out_c, oh, ow) in enumerate(cases):
        images = rng.integers(0, 256, (n, h, w, c), dtype=np.uint8)
        # Smooth regions too, so interpolation is exercised on gradients.
        images[0] = (np.linspace(0, 255, h * w * c).reshape(h, w, c)).astype(np.uint8)
        g = f.create_group(f"case{i}")
        g["images"] = images
        g["adm"] = adm(images, out_c, oh, ow)
        g["pytorch"] = pytorch(images, out_c, oh, ow)
        g["clean"] = clean(images, out_c, oh, ow)
        g.attrs["out_c"], g.attrs["out_h"], g.attrs["out_w"], g.attrs["what"] = out_c, oh, ow, what
    f.attrs["cases"] = len(cases)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default="tests/golden")
    ap.add_argument("--full", action="store_true", help="add a 256 -> 299 case (for make check-full)")
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    path = os.path.join(args.out, "resize.h5")
    atomic_h5(path, lambda f: fill(f, args.full))
    print("wrote", path)


if __name__ == "__main__":
    main()
