#!/usr/bin/env python3
"""gen_msf.py: golden data for MSF's factorisation, weight file and two-stage sampler (C tests).

Writes DIR/msf_tiny.h5 (DIR = tests/golden unless --out is given) from the
PyTorch reference tools/reference/msf.py, fully deterministic (fixed seeds).
--full writes the same file (the tiny cases already cover every code path).

Layout (datasets float32 unless stated; root attributes version=1 (int64),
generator (str), tolerance=1e-5 (operators: factorisation and forward, rel
error max|got-want|/max|want|), traj_tolerance=1e-4 (trajectories)):
  factor/case{i}/   attributes scale, levels (int64), down, up (str);
                    z [N,C,H,W] (the input), base [N,C,H/s^(L-1),W/s^(L-1)],
                    residual{k} [N,C,H/s^k,W/s^k] for k = 0 (finest) .. L-2
                    (pyramid index, NOT the generation order of the weight
                    groups). Computed in float64 from z, stored float32.
                    Odd C (3, 5), N in {1, 3}, some cases with H != W.
  model/            a tiny MSF model laid out exactly as an MSF weight file
                    (tools/hdf5_msf.py): attributes model="msf",
                    format_version, scale=2, levels=2, channels=4,
                    input_size=8 (int64), down="area", up="bilinear", source
                    (str); model/base/ (DiT, input 4, 4 channels in, 8 out) and
                    model/residual/ (DiT, input 8, 8 in, 8 out, residual_scale
                    0.5); both depth 2, hidden 64, 4 heads, patch 2, 10
                    classes, learn_sigma, every tensor random (see gen_dit.py).
  model_io/base/, model_io/residual/
                    forward cases of each stage DiT on its raw input (the
                    residual's x already holds the 8 concatenated channels):
                    x [3,Cin,h,w], t int64 [3] (0, 500, 999), y int64 [3]
                    (with the null class 10), out [3,8,h,w], computed in float64.
  traj/case{i}/     two-stage sampling runs, computed in float32 as DiT
                    samples. Attributes (per stage p in {base, residual}):
                    p_steps (respacing spec, str), p_sampler (str), p_eta,
                    p_cfg_scale (float64), p_cfg_mode, p_variance (str),
                    p_clip_x0 (int64: x0 clamped to [-1, 1]);
                    residual_start (str: "noise" or the original step t0),
                    residual_start_index (int64: the spaced index k0 the
                    residual loop starts from; steps-1 for "noise"), seed.
                    Datasets: labels int64 [N]; base_x_T [N,4,4,4],
                    base_noise [steps,M,4,4,4]; residual_x_T [N,4,8,8],
                    residual_noise [k0+1,M,4,8,8] (noise[i] used at the i-th
                    step taken; M = 2N with guidance, cfg_scale > 1);
                    base_out [N,4,4,4] (the sampled base); cond [N,4,8,8]
                    (U(base_out)); residual_out [N,4,8,8] (the sampled
                    residual before scaling); out [N,4,8,8] = cond +
                    residual_scale * residual_out (all float32 arithmetic);
                    base_xs [steps,N,4,4,4] and residual_xs [k0+1,N,4,8,8]:
                    x after each step, to find where an implementation departs.
                    Every loop begins at its largest step kept, k0, from
                    float32(sqrt(abar_k0 * v + 1 - abar_k0)) * x_T with v = 1
                    (the target's variance), i.e. from x_T: also with a
                    truncated start (residual_start t0) and a respacing
                    "N@T" whose top step is below 999.
Groups factor/ and traj/ carry an int64 attribute `cases`.

A random network is no denoiser, so sampled values grow large (see gen_dit.py);
float32 and float64 runs of the trajectories agree to the rel error printed.

Usage: /usr/bin/python3 tools/golden/gen_msf.py [--out DIR] [--full]
"""
import argparse
import os
import sys

import numpy as np
import torch

TOOLS = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, TOOLS)
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from gen_dit import forward64, random_model  # noqa: E402
from hdf5_dit import atomic_h5  # noqa: E402
from hdf5_msf import write_msf_group  # noqa: E402
from reference.msf import FactorOptions, MSFModel, Stage, factorize  # noqa: E402

GENERATOR = "tools/golden/gen_msf.py"
# (scale, levels, down, up, N, C, H, W)
FACTOR_CASES = [
    (2, 2, "area", "bilinear", 3, 3, 8, 8),
    (2, 2, "area", "nearest", 3, 5, 8, 12),
    (2, 2, "bilinear", "bilinear", 3, 5, 8, 8),
    (2, 2, "bilinear", "nearest", 3, 3, 12, 8),
    (4, 2, "area", "bilinear", 3, 3, 16, 16),
    (4, 2, "area", "nearest", 1, 5, 16, 8),
    (4, 2, "bilinear", "bilinear", 3, 5, 16, 16),
    (4, 2, "bilinear", "nearest", 3, 3, 8, 16),
    (2, 3, "area", "bilinear", 3, 3, 16, 16),
    (2, 3, "bilinear", "nearest", 3, 5, 8, 16),
]
C, H, S = 4, 8, 2
BASE = dict(input_size=H // S, patch_size=2, in_channels=C, hidden_size=64, depth=2, num_heads=4, num_classes=10,
            class_dropout_prob=0.1, learn_sigma=True)
RESIDUAL = dict(input_size=H, patch_size=2, in_channels=2 * C, out_channels=2 * C, hidden_size=64, depth=2,
                num_heads=4, num_classes=10, class_dropout_prob=0.1, learn_sigma=True)
RESIDUAL_SCALE = 0.5
TRAJ_N = 2
# (base Stage kwargs, residual Stage kwargs)
TRAJ_CASES = [
    (dict(steps="10", sampler="ddpm"), dict(steps="5", sampler="ddpm")),
    (dict(steps="10", sampler="ddpm", cfg_scale=4.0, cfg_mode="dit3"), dict(steps="5", sampler="ddpm")),
    (dict(steps="10", sampler="ddim", eta=0.0, cfg_scale=3.0, cfg_mode="all"),
     dict(steps="5", sampler="ddim", eta=0.5, cfg_scale=2.0, cfg_mode="all")),
    (dict(steps="10", sampler="ddpm"), dict(steps="10", sampler="ddpm", cfg_scale=2.0, cfg_mode="dit3", start=400)),
    # "5@500": steps 0, 125, 250, 374, 499, the loop starting at 499 without residual_start.
    (dict(steps="10", sampler="ddpm"), dict(steps="5@500", sampler="ddpm", cfg_scale=2.0, cfg_mode="all")),
    # x0 clamped to [-1, 1]: the base with DDIM, the residual with DDPM from a truncated
    # start on "ddim4@300" (0, 75, 150, 225; t0 = 200 keeps 0, 75, 150).
    (dict(steps="10", sampler="ddim", eta=0.0, cfg_scale=3.0, cfg_mode="dit3", clip_x0=True),
     dict(steps="ddim4@300", sampler="ddpm", clip_x0=True, start=200)),
]


def write_factor(f):
    grp = f.create_group("factor")
    for i, (s, levels, dn, upop, n, c, h, w) in enumerate(FACTOR_CASES):
        rng = np.random.default_rng(500 + i)
        z = rng.standard_normal((n, c, h, w)).astype(np.float32)
        opts = FactorOptions(s, levels, dn, upop)
        base, residuals = factorize(torch.from_numpy(z).double(), opts)
        g = grp.create_group(f"case{i}")
        g.attrs["scale"] = np.int64(s)
        g.attrs["levels"] = np.int64(levels)
        g.attrs["down"] = dn
        g.attrs["up"] = upop
        g["z"] = z
        g["base"] = base.float().numpy()
        for k, r in enumerate(residuals):
            g[f"residual{k}"] = r.float().numpy()
    grp.attrs["cases"] = np.int64(len(FACTOR_CASES))


def write_model_io(f, models):
    grp = f.create_group("model_io")
    for j, (name, model) in enumerate(models.items()):
        rng = np.random.default_rng(600 + j)
        cfg = model.config()
        x = rng.standard_normal((3, cfg["in_channels"], cfg["input_size"], cfg["input_size"])).astype(np.float32)
        t = np.array([0, 500, 999], dtype=np.int64)
        y = np.array([1, cfg["num_classes"], cfg["num_classes"] - 1], dtype=np.int64)
        g = grp.create_group(name)
        g["x"], g["t"], g["y"] = x, t, y
        g["out"] = forward64(model, x, t, y)


def stage_attrs(g, prefix, st):
    g.attrs[f"{prefix}_steps"] = st.steps
    g.attrs[f"{prefix}_sampler"] = st.sampler
    g.attrs[f"{prefix}_eta"] = np.float64(st.eta)
    g.attrs[f"{prefix}_cfg_scale"] = np.float64(st.cfg_scale)
    g.attrs[f"{prefix}_cfg_mode"] = st.cfg_mode
    g.attrs[f"{prefix}_variance"] = st.variance
    g.attrs[f"{prefix}_clip_x0"] = np.int64(st.clip_x0)


def write_traj(f, msf):
    grp = f.create_group("traj")
    worst = 0.0
    for i, (base_kw, res_kw) in enumerate(TRAJ_CASES):
        stages = [Stage(variance="learned_range", **base_kw), Stage(variance="learned_range", **res_kw)]
        seed = 700 + i
        rng = np.random.default_rng(seed)
        labels = rng.integers(0, BASE["num_classes"], TRAJ_N).astype(np.int64)
        noises = [(rng.standard_normal(xs).astype(np.float32), rng.standard_normal(zs).astype(np.float32))
                  for xs, zs in msf.noise_shapes(TRAJ_N, stages)]
        traces = []
        r = msf.sample(labels, stages, noises, traces=traces)
        r64 = msf_double(msf).sample(labels, stages, noises, dtype=torch.float64)
        rel = (r64["out"].float() - r["out"]).abs().max().item() / r["out"].abs().max().item()
        worst = max(worst, rel)
        g = grp.create_group(f"case{i}")
        stage_attrs(g, "base", stages[0])
        stage_attrs(g, "residual", stages[1])
        g.attrs["residual_start"] = str(stages[1].start)
        g.attrs["residual_start_index"] = np.int64(noises[1][1].shape[0] - 1)
        g.attrs["seed"] = np.int64(seed)
        g["labels"] = labels
        g["base_x_T"], g["base_noise"] = noises[0]
        g["residual_x_T"], g["residual_noise"] = noises[1]
        g["base_out"] = r["stages"][0].numpy()
        g["cond"] = r["conds"][0].numpy()
        g["residual_out"] = r["stages"][1].numpy()
        g["out"] = r["out"].numpy()
        g["base_xs"] = torch.stack(traces[0]).numpy()
        g["residual_xs"] = torch.stack(traces[1]).numpy()
        print(f"traj/case{i}: {stages[0]} | {stages[1]}: max|out| {r['out'].abs().max().item():.4g}, "
              f"float64 run rel {rel:.2e}")
    grp.attrs["cases"] = np.int64(len(TRAJ_CASES))
    return worst


def msf_double(msf):
    """The same MSF model in float64."""
    def dbl(m):
        d = type(m)(**m.config()).double().eval()
        d.load_state_dict({k: v.double() for k, v in m.state_dict().items()})
        return d
    return MSFModel(dbl(msf.base), [dbl(m) for m in msf.residuals], msf.residual_scales, msf.opts)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default="tests/golden")
    ap.add_argument("--full", action="store_true", help="accepted for make check-full; writes the same file")
    args = ap.parse_args()
    torch.set_num_threads(min(2, torch.get_num_threads()))
    os.makedirs(args.out, exist_ok=True)
    path = os.path.join(args.out, "msf_tiny.h5")
    base = random_model(BASE, seed=400)
    residual = random_model(RESIDUAL, seed=401)
    opts = FactorOptions(S, 2, "area", "bilinear")
    msf = MSFModel(base, [residual], [RESIDUAL_SCALE], opts)

    def fill(f):
        f.attrs["version"] = np.int64(1)
        f.attrs["generator"] = GENERATOR
        f.attrs["tolerance"] = np.float64(1e-5)
        f.attrs["traj_tolerance"] = np.float64(1e-4)
        write_factor(f)
        write_msf_group(f.create_group("model"), opts, C, H, (base.state_dict(), base.config()),
                        [(residual.state_dict(), residual.config(), RESIDUAL_SCALE)],
                        source=f"{GENERATOR}: random weights")
        write_model_io(f, {"base": base, "residual": residual})
        worst = write_traj(f, msf)
        print(f"float32 vs float64 trajectories: worst rel {worst:.2e} (traj_tolerance 1e-4)")

    atomic_h5(path, fill)
    print(f"wrote {path} ({os.path.getsize(path)} bytes)")


if __name__ == "__main__":
    main()
