#!/usr/bin/env python3
"""gen_msf_aug.py: golden data for MSF's conditioning augmentation (C tests, tests/test_msf_aug.c).

Writes DIR/msf_cond_aug.h5 (DIR = tests/golden unless --out is given) from the
PyTorch reference (tools/reference/dit.py cond_aug, tools/reference/msf.py
augment_condition and MSFModel.sample with Stage(cond_noise=s)), fully
deterministic (fixed seeds).

Layout (float32 unless stated; root attributes version=1, generator (str),
tolerance=1e-5 (forward, rel error max|got-want|/max|want|), traj_tolerance=1e-4):
  model/            a tiny 2-level MSF file (tools/hdf5_msf.py layout): scale 2,
                    channels 4, input_size 8, area/bilinear; base/ a plain DiT
                    (input 4), residual/ a DiT with cond_aug=1 (input 8, 8 in,
                    8 out, residual_scale 0.5); depth 2, hidden 64, 4 heads,
                    patch 2, 10 classes, learn_sigma; every tensor random
                    (gen_dit.py's random_model), the level embedder included.
  abar              float64 [1001]: abar(s) for s = 0..1000 (cond_aug_abar).
  io/               residual forward: x [4,8,8,8], t int64 [4], y int64 [4],
                    aug [4] (levels 0, 37, 250.5, 1000), out [4,8,8,8] (float64
                    forward, stored float32).
  traj/case{i}/     two-stage sampling in float32 with replayed noise, as
                    gen_msf.py's traj/ (same dataset names) plus attribute
                    residual_cond_noise (int64) and dataset residual_cond_eps
                    [N,4,8,8] (the condition's noise), cond [N,4,8,8] (the clean
                    U(base)), cond_in (the noised condition the network sees).
Usage: /usr/bin/python3 tools/golden/gen_msf_aug.py [--out DIR]
"""
import argparse
import os
import sys

import numpy as np
import torch

TOOLS = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, TOOLS)
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from gen_dit import random_model  # noqa: E402
from gen_msf import stage_attrs  # noqa: E402
from h5util import atomic_h5  # noqa: E402
from hdf5_msf import write_msf_group  # noqa: E402
from reference.dit import DiT  # noqa: E402
from reference.msf import FactorOptions, MSFModel, Stage, augment_condition, cond_aug_abar, up  # noqa: E402

GENERATOR = "tools/golden/gen_msf_aug.py"
C, H, S = 4, 8, 2
BASE = dict(input_size=H // S, patch_size=2, in_channels=C, hidden_size=64, depth=2, num_heads=4, num_classes=10,
            class_dropout_prob=0.1, learn_sigma=True)
RESIDUAL = dict(input_size=H, patch_size=2, in_channels=2 * C, out_channels=2 * C, hidden_size=64, depth=2,
                num_heads=4, num_classes=10, class_dropout_prob=0.1, learn_sigma=True, cond_aug=True)
RESIDUAL_SCALE = 0.5
N = 2
# (base Stage kwargs, residual Stage kwargs)
CASES = [
    (dict(steps="6", sampler="ddpm"), dict(steps="4", sampler="ddpm", cond_noise=50)),
    (dict(steps="6", sampler="ddpm", cfg_scale=2.0), dict(steps="ddim5", sampler="ddim", eta=0.0, cfg_scale=2.0,
                                                         cond_noise=300)),
    (dict(steps="6", sampler="ddpm"), dict(steps="4", sampler="ddpm", cond_noise=0)),
]


def double(m):
    d = DiT(**m.config()).double().eval()
    d.load_state_dict({k: v.double() for k, v in m.state_dict().items()})
    return d


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default="tests/golden")
    ap.add_argument("--full", action="store_true", help="accepted for make check-full; writes the same file")
    args = ap.parse_args()
    torch.set_num_threads(min(2, torch.get_num_threads()))
    base = random_model(BASE, seed=410)
    residual = random_model(RESIDUAL, seed=411)
    opts = FactorOptions(S, 2, "area", "bilinear")
    msf = MSFModel(base, [residual], [RESIDUAL_SCALE], opts)
    msf64 = MSFModel(double(base), [double(residual)], [RESIDUAL_SCALE], opts)

    def fill(f):
        f.attrs["version"] = np.int64(1)
        f.attrs["generator"] = GENERATOR
        f.attrs["tolerance"] = np.float64(1e-5)
        f.attrs["traj_tolerance"] = np.float64(1e-4)
        write_msf_group(f.create_group("model"), opts, C, H, (base.state_dict(), base.config()),
                        [(residual.state_dict(), residual.config(), RESIDUAL_SCALE)],
                        source=f"{GENERATOR}: random weights")
        f["abar"] = np.array([cond_aug_abar(s) for s in range(1001)], dtype=np.float64)
        rng = np.random.default_rng(900)
        x = rng.standard_normal((4, 2 * C, H, H)).astype(np.float32)
        t = np.array([0, 500, 999, 250], dtype=np.int64)
        y = np.array([1, 10, 9, 3], dtype=np.int64)
        aug = np.array([0, 37, 250.5, 1000], dtype=np.float32)
        with torch.no_grad():
            out = double(residual)(torch.from_numpy(x).double(), torch.from_numpy(t), torch.from_numpy(y),
                                   torch.from_numpy(aug).double())
            plain = double(residual)(torch.from_numpy(x).double(), torch.from_numpy(t), torch.from_numpy(y),
                                     torch.zeros(4, dtype=torch.float64))
        g = f.create_group("io")
        g["x"], g["t"], g["y"], g["aug"], g["out"] = x, t, y, aug, out.float().numpy()
        print(f"io: the level changes the output by {(out - plain).abs().max().item():.3g} (max |out| "
              f"{out.abs().max().item():.3g})")
        grp = f.create_group("traj")
        for i, (bk, rk) in enumerate(CASES):
            stages = [Stage(variance="learned_range", **bk), Stage(variance="learned_range", **rk)]
            seed = 910 + i
            rng = np.random.default_rng(seed)
            labels = rng.integers(0, 10, N).astype(np.int64)
            noises = [tuple(rng.standard_normal(shape).astype(np.float32) for shape in st)
                      for st in msf.noise_shapes(N, stages)]
            traces = []
            r = msf.sample(labels, stages, noises, traces=traces)
            r64 = msf64.sample(labels, stages, noises, dtype=torch.float64)
            rel = (r64["out"].float() - r["out"]).abs().max().item() / r["out"].abs().max().item()
            g = grp.create_group(f"case{i}")
            stage_attrs(g, "base", stages[0])
            stage_attrs(g, "residual", stages[1])
            g.attrs["residual_cond_noise"] = np.int64(stages[1].cond_noise)
            g.attrs["seed"] = np.int64(seed)
            g["labels"] = labels
            g["base_x_T"], g["base_noise"] = noises[0]
            g["residual_x_T"], g["residual_noise"] = noises[1][:2]
            cond = up(r["stages"][0], opts.scale, opts.up)
            cond_in = cond
            if stages[1].cond_noise:
                g["residual_cond_eps"] = noises[1][2]
                cond_in = augment_condition(cond, [stages[1].cond_noise] * N, torch.from_numpy(noises[1][2]))
            g["base_out"] = r["stages"][0].numpy()
            g["cond"] = r["conds"][0].numpy()
            g["cond_in"] = cond_in.numpy()
            g["residual_out"] = r["stages"][1].numpy()
            g["out"] = r["out"].numpy()
            print(f"traj/case{i}: {stages[1]}: max|out| {r['out'].abs().max().item():.4g}, float64 rel {rel:.2e}")
        grp.attrs["cases"] = np.int64(len(CASES))

    os.makedirs(args.out, exist_ok=True)
    path = os.path.join(args.out, "msf_cond_aug.h5")
    atomic_h5(path, fill)
    print(f"wrote {path} ({os.path.getsize(path)} bytes)")


if __name__ == "__main__":
    main()
