#!/usr/bin/env python3
"""gen_inception.py: golden data for the InceptionV3 feature network (tests/test_inception.c).

Writes DIR/inception_blocks.h5 (DIR = tests/golden unless --out is given)
from the PyTorch reference in tools/reference/inception.py, fully
deterministic (fixed seeds), every output computed in float64 from the
float32 inputs and weights. With --full (make check-full) it writes
DIR/inception_full.h5 instead: the real network's shapes with random
weights, nothing of it committed.

inception_blocks.h5 (root attributes version=1, generator, tolerance = the
largest rel error allowed per block, net_tolerance = the same for whole
networks; rel = max|got-want| / max|want|):
  <block>/            one block with reduced widths and random weights + BN
                      statistics; block in stem, a, b, c, d, e1, e2 (E_1 =
                      Mixed_7b with the pad-excluding average pool, E_2 =
                      Mixed_7c with the max pool). Datasets named by the
                      block module's own state_dict keys (stem: Conv2d_1a_3x3
                      ..., blocks: branch1x1.conv.weight, ...), plus
  <block>/widths      int64: the branch widths in the order of eval/inception.h
  <block>/x, <block>/y  float32 input [N, C, H, W] and output (NCHW)
  tiny/               the whole network with every width divided by 16 and
                      63 classes (attributes width_divisor, num_classes),
                      state_dict keys as pytorch-fid's
  tiny_out/pixels_299 uint8 [1, 299, 299, 3] and pixels_small [2, 80, 97, 3]:
                      network input x = (p - 128) / 128 (exact in float32)
  tiny_out/{pool,spatial,logits}_299, {pool,logits}_small

inception_full.h5 (--full): the real network's tensors at the root as
tools/convert_inception.py writes them (model="inception"), random weights;
  out/x75 [2, 3, 75, 75] float32 input (the smallest size the network takes),
  out/x256 [1, 3, 256, 256]; out/pixels299 uint8 [2, 299, 299, 3] (input
  (p - 128) / 128, which is also what ADM-mode preprocessing of 299x299
  images gives); out/{pool,logits}{75,256,299}, out/spatial299.

Usage: /usr/bin/python3 tools/golden/gen_inception.py [--out DIR] [--full]
"""
import argparse
import copy
import os
import sys

import numpy as np
import torch

TOOLS = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, TOOLS)
from convert_inception import write_inception_group  # noqa: E402
from h5util import atomic_h5  # noqa: E402
from reference.inception import (FIDInceptionV3, InceptionA, InceptionB, InceptionC, InceptionD,  # noqa: E402
                                  InceptionE, Stem, randomize)

GENERATOR = "tools/golden/gen_inception.py"

# name -> (module, widths in the C order, input shape [N, C, H, W]). Odd and
# non-square sizes, channel counts that fill no vector exactly.
BLOCKS = {
    "stem": (lambda: Stem(3, (4, 5, 8, 6, 12)), (4, 5, 8, 6, 12), (2, 3, 47, 43)),
    "a": (lambda: InceptionA(10, 3, (4, 3, 5, 4, 6)), (4, 3, 5, 4, 6, 3), (2, 10, 9, 8)),
    "b": (lambda: InceptionB(6, (5, 4, 6)), (5, 4, 6), (2, 6, 9, 10)),
    "c": (lambda: InceptionC(9, 4, (5, 6, 3)), (5, 4, 6, 3), (2, 9, 9, 8)),
    "d": (lambda: InceptionD(8, (4, 5, 3, 6)), (4, 5, 3, 6), (2, 8, 9, 11)),
    "e1": (lambda: InceptionE(8, False, (4, 5, 6, 7, 5, 3)), (4, 5, 6, 7, 5, 3), (2, 8, 5, 6)),
    "e2": (lambda: InceptionE(8, True, (4, 5, 6, 7, 5, 3)), (4, 5, 6, 7, 5, 3), (2, 8, 5, 6)),
}
TINY_DIVISOR, TINY_CLASSES = 16, 63


def f64(model):
    """A float64 copy of a float32 model (the weights are the float32 values exactly)."""
    return copy.deepcopy(model).float().double().eval()


def state32(model):
    return {k: v.float() for k, v in model.state_dict().items() if not k.endswith("num_batches_tracked")}


def images(rng, n, h, w):
    """Smooth-ish uint8 images: a random coarse field upsampled, plus noise."""
    coarse = rng.uniform(0, 255, (n, (h + 7) // 8, (w + 7) // 8, 3))
    smooth = np.repeat(np.repeat(coarse, 8, axis=1), 8, axis=2)[:, :h, :w]
    return np.clip(smooth + rng.normal(0, 25, (n, h, w, 3)), 0, 255).astype(np.uint8)


def to_input(pixels):
    return ((torch.from_numpy(pixels).double() - 128) / 128).permute(0, 3, 1, 2).contiguous()


def run(model, x):
    with torch.no_grad():
        return [None if t is None else t.float().numpy() for t in model(x)]


def write_blocks(path):
    rng = np.random.default_rng(600)
    cases = {}
    for i, (name, (make, widths, shape)) in enumerate(BLOCKS.items()):
        model = randomize(make(), 610 + i)
        x = rng.standard_normal(shape).astype(np.float32)
        with torch.no_grad():
            y = f64(model)(torch.from_numpy(x).double()).float().numpy()
        cases[name] = (state32(model), widths, x, y)

    tiny = randomize(FIDInceptionV3(TINY_DIVISOR, TINY_CLASSES), 620)
    t64 = f64(tiny)
    px299, pxs = images(rng, 1, 299, 299), images(rng, 2, 80, 97)
    pool, spatial, logits = run(t64, to_input(px299))
    pool_s, spatial_s, logits_s = run(t64, to_input(pxs))
    assert spatial_s is None

    def fill(f):
        f.attrs["version"] = np.int64(1)
        f.attrs["generator"] = GENERATOR
        f.attrs["tolerance"] = np.float64(1e-5)
        f.attrs["net_tolerance"] = np.float64(1e-4)
        for name, (state, widths, x, y) in cases.items():
            g = f.create_group(name)
            for k, v in state.items():
                g[k] = v.numpy()
            g["widths"] = np.array(widths, dtype=np.int64)
            g["x"], g["y"] = x, y
        g = f.create_group("tiny")
        for k, v in state32(tiny).items():
            g[k] = v.numpy()
        g.attrs["width_divisor"] = np.int64(TINY_DIVISOR)
        g.attrs["num_classes"] = np.int64(TINY_CLASSES)
        o = f.create_group("tiny_out")
        o.create_dataset("pixels_299", data=px299, compression="gzip")
        o["pixels_small"] = pxs
        o["pool_299"], o["spatial_299"], o["logits_299"] = pool, spatial, logits
        o["pool_small"], o["logits_small"] = pool_s, logits_s

    atomic_h5(path, fill)


def write_full(path):
    rng = np.random.default_rng(700)
    model = randomize(FIDInceptionV3(), 701)
    m64 = f64(model)
    x75 = rng.uniform(-1, 1, (2, 3, 75, 75)).astype(np.float32)
    x256 = rng.uniform(-1, 1, (1, 3, 256, 256)).astype(np.float32)
    px299 = images(rng, 2, 299, 299)
    outs = {"75": run(m64, torch.from_numpy(x75).double()), "256": run(m64, torch.from_numpy(x256).double()),
            "299": run(m64, to_input(px299))}

    def fill(f):
        write_inception_group(f, model.state_dict(), f"{GENERATOR}: random weights (full architecture)")
        f.attrs["version"] = np.int64(1)
        f.attrs["generator"] = GENERATOR
        f.attrs["net_tolerance"] = np.float64(1e-4)
        o = f.create_group("out")
        o["x75"], o["x256"], o["pixels299"] = x75, x256, px299
        for size, (pool, spatial, logits) in outs.items():
            o[f"pool{size}"], o[f"logits{size}"] = pool, logits
            if spatial is not None:
                o[f"spatial{size}"] = spatial

    atomic_h5(path, fill)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default="tests/golden")
    ap.add_argument("--full", action="store_true", help="the real network's shapes (for make check-full)")
    args = ap.parse_args()
    torch.set_num_threads(min(2, torch.get_num_threads()))
    os.makedirs(args.out, exist_ok=True)
    path = os.path.join(args.out, "inception_full.h5" if args.full else "inception_blocks.h5")
    (write_full if args.full else write_blocks)(path)
    print(f"wrote {path} ({os.path.getsize(path)} bytes)")


if __name__ == "__main__":
    main()
