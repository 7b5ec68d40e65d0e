#!/usr/bin/env python3
"""gen_dit.py: golden data for the DiT network and the DiT sampler (C tests).

Writes DIR/dit_tiny.h5 (DIR = tests/golden unless --out is given) from the
PyTorch reference in tools/reference/, fully deterministic (fixed seeds).
With --full, for make check-full, the model is one of XL width (hidden 1152,
16 heads, depth 2, input 32) and only one trajectory is written.

Layout (all datasets float32 unless stated; root attributes version=1,
generator, tolerance = the largest allowed rel error of tests/testutil.h):
  sigma/, nosigma/          tiny models in the weight schema of tools/hdf5_dit.py
                            (every tensor random, including the adaLN and final
                            layers that DiT's training init zeroes)
  <model>_io/               forward cases: x [3,C,H,W], t int64 [3] (with 0 and
                            999), y int64 [3] (with the null class), t_freq
                            [3,256] (PyTorch's float32 sinusoidal embedding of t),
                            out [3,out_channels,H,W]; attribute model
  sigma_io_tfloat/          the same with t float32 (fractional steps)
  respacing/case{i}/        attribute spec; timestep_map int64 and the spaced
                            constants (float64) of tools/reference/diffusion.py.
                            msf's "SPEC@T" cases are checked here to keep what
                            DiT's space_timesteps(T, SPEC) keeps, the largest
                            step below T
  traj/case{i}/             sampling runs with 10 respaced steps: attributes
                            model, sampler, eta, respacing, cfg_scale, cfg_mode,
                            variance, seed; x_T [N,C,H,W], noise [steps,M,C,H,W]
                            (noise[i] used at the i-th step, k = steps-1-i; M = 2N
                            with guidance), labels int64 [N], out [N,C,H,W], and
                            xs [steps,N,C,H,W], x after each step (xs[-1] = out),
                            to find the first step where an implementation departs
Groups respacing/ and traj/ carry an int64 attribute `cases`.

The forward outputs are computed in float64 from the float32 weights and
inputs, except the sinusoidal timestep embedding, which DiT computes in
float32: at t near 999 its arguments reach 999 rad, so one ulp of difference
in a float32 exp or cos moves the embedding by up to ~3e-5 and the output by
~1e-6 relative (PyTorch 1.13 and 2.11 differ by that much). t_freq lets a test
check the embedding on its own. The trajectories are computed in float32, as
DiT samples. A random network is no denoiser: its x0 estimates are far off,
so trajectories end with |x| up to ~2e3 (float32 and float64 runs agree to
~5e-7 in the rel measure).

Usage: /usr/bin/python3 tools/golden/gen_dit.py [--out DIR] [--full]
"""
import argparse
import os
import sys

import numpy as np
import torch

TOOLS = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, TOOLS)
from hdf5_dit import atomic_h5, write_dit_group  # noqa: E402
from reference.diffusion import SpacedDiffusion, space_timesteps  # noqa: E402
from reference.dit import DiT, timestep_frequencies  # noqa: E402

GENERATOR = "tools/golden/gen_dit.py"
TINY_MODELS = {
    "sigma": dict(input_size=8, patch_size=2, in_channels=4, hidden_size=64, depth=2, num_heads=4,
                  num_classes=10, class_dropout_prob=0.1, learn_sigma=True),
    "nosigma": dict(input_size=12, patch_size=4, in_channels=3, hidden_size=48, depth=2, num_heads=3,
                    num_classes=7, class_dropout_prob=0.1, learn_sigma=False),
}
FULL_MODELS = {
    "sigma": dict(input_size=32, patch_size=2, in_channels=4, hidden_size=1152, depth=2, num_heads=16,
                  num_classes=1000, class_dropout_prob=0.1, learn_sigma=True),
}
RESPACINGS = ("250", "ddim50", "10,15,20", "1000", "25", "5@500", "2@250", "ddim5@500")
# (model, sampler, eta, cfg_scale, cfg_mode, variance)
TINY_TRAJ = [
    ("sigma", "ddpm", 0.0, 1.0, "dit3", "learned_range"),
    ("sigma", "ddpm", 0.0, 4.0, "dit3", "learned_range"),
    ("sigma", "ddpm", 0.0, 4.0, "all", "learned_range"),
    ("sigma", "ddim", 0.0, 4.0, "dit3", "learned_range"),
    ("sigma", "ddim", 0.5, 3.0, "all", "learned_range"),
    ("nosigma", "ddpm", 0.0, 1.0, "dit3", "fixed_small"),
    ("nosigma", "ddpm", 0.0, 2.0, "all", "fixed_large"),
]
FULL_TRAJ = [("sigma", "ddpm", 0.0, 4.0, "dit3", "learned_range")]
TRAJ_RESPACING = "10"
TRAJ_N = 2


def random_model(config, seed):
    """A reference DiT whose every tensor but pos_embed (the fixed sin-cos table) is
    random: weights N(0, 1/fan_in) so that activations stay O(1) at any width,
    biases N(0, 0.1^2), label rows N(0, 0.5^2)."""
    model = DiT(**config).eval()
    rng = np.random.default_rng(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name == "pos_embed":
                continue
            if name == "y_embedder.embedding_table.weight":
                std = 0.5
            elif p.dim() >= 2:
                std = 1.0 / np.sqrt(np.prod(p.shape[1:]))
            else:
                std = 0.1
            p.copy_(torch.from_numpy((rng.standard_normal(tuple(p.shape)) * std).astype(np.float32)))
    return model


def forward64(model, x, t, y):
    """Output of `model` computed in float64 (its float32 weights promoted), as float32."""
    m64 = DiT(**model.config()).double().eval()
    m64.load_state_dict({k: v.double() for k, v in model.state_dict().items()})
    with torch.no_grad():
        out = m64(torch.from_numpy(x).double(), torch.from_numpy(t), torch.from_numpy(y))
    return out.float().numpy()


def write_io(f, name, model_name, model, t, seed):
    rng = np.random.default_rng(seed)
    cfg = model.config()
    n = len(t)
    x = rng.standard_normal((n, cfg["in_channels"], cfg["input_size"], cfg["input_size"])).astype(np.float32)
    y = np.array([1, cfg["num_classes"], cfg["num_classes"] - 1], dtype=np.int64)[:n]
    g = f.create_group(name)
    g.attrs["model"] = model_name
    g["x"] = x
    g["t"] = t
    g["y"] = y
    g["t_freq"] = timestep_frequencies(torch.from_numpy(t)).numpy()
    g["out"] = forward64(model, x, t, y)


def write_respacing(f):
    grp = f.create_group("respacing")
    for i, spec in enumerate(RESPACINGS):
        d = SpacedDiffusion(spec)
        if "@" in spec:
            inner, top = spec.split("@")
            # DiT's rule on a range of T steps (counts as a list, not through the "@" parser).
            want = sorted(space_timesteps(int(top), inner if inner.startswith("ddim") else [int(inner)]))
            assert d.timestep_map.tolist() == want and want[-1] < int(top), (spec, d.timestep_map, want)
        c = grp.create_group(f"case{i}")
        c.attrs["spec"] = spec
        c["timestep_map"] = d.timestep_map.astype(np.int64)
        for name in SpacedDiffusion.CONSTANTS:
            c[name] = getattr(d, name).astype(np.float64)
    grp.attrs["cases"] = np.int64(len(RESPACINGS))


def write_traj(f, models, cases, seed0):
    grp = f.create_group("traj")
    for i, (model_name, sampler, eta, cfg_scale, cfg_mode, variance) in enumerate(cases):
        model = models[model_name]
        cfg = model.config()
        d = SpacedDiffusion(TRAJ_RESPACING, variance)
        seed = seed0 + i
        rng = np.random.default_rng(seed)
        c, s = cfg["in_channels"], cfg["input_size"]
        m = 2 * TRAJ_N if cfg_scale > 1 else TRAJ_N
        x_T = rng.standard_normal((TRAJ_N, c, s, s)).astype(np.float32)
        noise = rng.standard_normal((d.num_timesteps, m, c, s, s)).astype(np.float32)
        labels = rng.integers(0, cfg["num_classes"], TRAJ_N).astype(np.int64)
        trace = []
        out = d.sample_loop(model, x_T, noise, labels, cfg_scale, cfg_mode, sampler, eta, trace=trace).numpy()
        g = grp.create_group(f"case{i}")
        for k, v in dict(model=model_name, sampler=sampler, respacing=TRAJ_RESPACING, cfg_mode=cfg_mode,
                         variance=variance).items():
            g.attrs[k] = v
        g.attrs["eta"] = np.float64(eta)
        g.attrs["cfg_scale"] = np.float64(cfg_scale)
        g.attrs["seed"] = np.int64(seed)
        g["x_T"] = x_T
        g["noise"] = noise
        g["labels"] = labels
        g["out"] = out
        g["xs"] = torch.stack(trace).numpy()
    grp.attrs["cases"] = np.int64(len(cases))


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default="tests/golden")
    ap.add_argument("--full", action="store_true", help="one model at DiT-XL width (for make check-full)")
    args = ap.parse_args()
    torch.set_num_threads(min(2, torch.get_num_threads()))
    os.makedirs(args.out, exist_ok=True)
    path = os.path.join(args.out, "dit_tiny.h5")
    configs = FULL_MODELS if args.full else TINY_MODELS
    models = {name: random_model(cfg, seed=100 + j) for j, (name, cfg) in enumerate(configs.items())}

    def fill(f):
        f.attrs["version"] = np.int64(1)
        f.attrs["generator"] = GENERATOR
        f.attrs["tolerance"] = np.float64(1e-4 if args.full else 1e-5)
        for name, model in models.items():
            write_dit_group(f.create_group(name), model.state_dict(), model.config(),
                            source=f"{GENERATOR}: random weights")
        for j, (name, model) in enumerate(models.items()):
            write_io(f, f"{name}_io", name, model, np.array([0, 500, 999], dtype=np.int64), seed=200 + j)
        write_io(f, "sigma_io_tfloat", "sigma", models["sigma"], np.array([12.5, 0.25, 998.75], dtype=np.float32),
                 seed=210)
        write_respacing(f)
        write_traj(f, models, FULL_TRAJ if args.full else TINY_TRAJ, seed0=300)

    atomic_h5(path, fill)
    print(f"wrote {path} ({os.path.getsize(path)} bytes)")


if __name__ == "__main__":
    main()
