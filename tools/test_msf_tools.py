#!/usr/bin/env python3
"""test_msf_tools.py: self-check of the MSF Python tools (run by hand, not CI).

Checks tools/reference/msf.py's factorisation by its properties, the MSF
weight file round trip (tools/hdf5_msf.py), the two-stage sampler against a
hand composition of sample_loop calls, tools/train.py's loss against DiT's
official training_losses (where the DiT mirror is available, as in
test_tools.py), tests/golden/msf_tiny.h5 against the reference, and a short
training run of each model type (Fashion-MNIST when installed, else random
latents) that exports and reloads an MSF file, resumes exactly, and runs
under torchrun with two CPU processes.

Usage: /usr/bin/python3 tools/test_msf_tools.py [--quick]   (--quick: no training runs)
"""
import argparse
import os
import socket
import subprocess
import sys
import tempfile
import time

import h5py
import numpy as np
import torch
import torch.nn.functional as F

TOOLS = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(TOOLS)
sys.path.insert(0, TOOLS)
sys.path.insert(0, os.path.join(TOOLS, "golden"))
import train  # noqa: E402
from hdf5_msf import load_msf_reference, read_msf_group, save_msf_h5  # noqa: E402
from reference.diffusion import SpacedDiffusion, space_timesteps, start_scale  # noqa: E402
from reference.dit import DiT  # noqa: E402
from reference.msf import (ConditionedDiT, FactorOptions, MSFModel, Stage, down, factorize, pyramid,  # noqa: E402
                           reconstruct, residual_dit, stage_training_pair, up)

FAILURES = []
FASHION = train.FASHION_MNIST_DIR


def check(cond, what):
    print(("ok   " if cond else "FAIL ") + what)
    if not cond:
        FAILURES.append(what)


def rel(a, b):
    return ((a - b).abs().max() / b.abs().max().clamp(min=1e-30)).item()


def randomize(model, seed):
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name != "pos_embed":
                std = 1.0 / np.sqrt(np.prod(p.shape[1:])) if p.dim() >= 2 else 0.1
                p.copy_(torch.randn(p.shape, generator=g) * std)
    return model.eval()


# -----------------------------------------------------------------------------
# (i) factorisation


def test_factorize():
    g = torch.Generator().manual_seed(0)
    worst64, worst32 = 0.0, 0.0
    for s in (2, 3, 4):
        for levels in (2, 3):
            for dn in ("area", "bilinear"):
                for u in ("bilinear", "nearest"):
                    opts = FactorOptions(s, levels, dn, u)
                    f = s ** (levels - 1)
                    z = torch.randn(3, 5, 2 * f, 3 * f, generator=g, dtype=torch.float64)
                    base, res = factorize(z, opts)
                    ok_shapes = base.shape == (3, 5, 2, 3) and all(
                        r.shape == (3, 5, 2 * f // s ** k, 3 * f // s ** k) for k, r in enumerate(res))
                    check(ok_shapes, f"factorize {opts}: shapes") if not ok_shapes else None
                    worst64 = max(worst64, rel(reconstruct(base, res, opts), z))
                    b32, r32 = factorize(z.float(), opts)
                    worst32 = max(worst32, rel(reconstruct(b32, r32, opts), z.float()))
                    if dn == "area" and u == "nearest":
                        zero = max(F.avg_pool2d(r, s).abs().max().item() for r in res)
                        check(zero < 1e-13, f"{opts}: every residual has zero mean in each {s}x{s} block ({zero:.1e})")
    check(worst64 < 1e-14, f"reconstruct(factorize(z)) = z in float64 for s 2,3,4, L 2,3, all operators "
                           f"(rel {worst64:.1e})")
    check(worst32 < 1e-6, f"... and in float32 (rel {worst32:.1e})")
    z = torch.randn(2, 3, 16, 8, generator=g, dtype=torch.float64)
    for s in (2, 4):
        lo = down(z, s, "area")
        check(torch.equal(up(lo, s, "nearest"), F.interpolate(lo, scale_factor=s, mode="nearest")),
              f"s={s}: nearest up = F.interpolate(mode='nearest')")
        check(rel(lo, F.avg_pool2d(z, s)) < 1e-15, f"s={s}: area down = s x s average")
    check(rel(down(z, 2, "bilinear"), down(z, 2, "area")) < 1e-15,
          "s=2: bilinear down (align_corners=False) = area down (it samples each 2x2 block's centre)")
    check(rel(down(z, 4, "bilinear"), F.avg_pool2d(z[:, :, 1::4, 1::4] + z[:, :, 2::4, 2::4] + z[:, :, 1::4, 2::4]
                                                   + z[:, :, 2::4, 1::4], 1) / 4) < 1e-15,
          "s=4: bilinear down = mean of each 4x4 block's middle 2x2 (no antialias)")
    lo = torch.randn(1, 1, 3, 3, generator=g, dtype=torch.float64)
    hi = up(lo, 2, "bilinear")
    check(abs(hi[0, 0, 1, 1].item() - (9 * lo[0, 0, 0, 0] + 3 * lo[0, 0, 0, 1] + 3 * lo[0, 0, 1, 0]
                                         + lo[0, 0, 1, 1]).item() / 16) < 1e-15
          and abs(hi[0, 0, 0, 0].item() - lo[0, 0, 0, 0].item()) < 1e-15,
          "bilinear up: half-pixel weights 9/16, 3/16, 3/16, 1/16, edges clamped")
    try:
        factorize(torch.zeros(1, 1, 12, 10), FactorOptions(2, 3))
        check(False, "12x10 with s=2, L=3 is rejected")
    except ValueError as e:
        check("multiples of 4" in str(e), f"12x10 with s=2, L=3 is rejected: {e}")
    for bad in (dict(scale=1), dict(levels=1), dict(down="max"), dict(up="bicubic")):
        try:
            FactorOptions(**bad)
            check(False, f"FactorOptions({bad}) is rejected")
        except ValueError:
            pass
    z = torch.randn(2, 3, 16, 16, generator=g, dtype=torch.float64)
    opts = FactorOptions(2, 3)
    gs = pyramid(z, opts)
    x0, cond = stage_training_pair(z, opts, 1, 0.5)
    check(torch.allclose(x0 * 0.5 + cond, gs[1]) and cond.shape == (2, 3, 8, 8),
          "L=3 residual level 1 (coarsest): 0.5 * target + cond = g_1 at 8x8")
    x0, cond = stage_training_pair(z, opts, 2, 2.0)
    check(torch.allclose(x0 * 2.0 + cond, z), "L=3 residual level 2 (finest): 2 * target + cond = z")


# -----------------------------------------------------------------------------
# (ii) weight file


def tiny_msf(levels=2, seed=10, learn_sigma=True):
    c, h, s = 3, 16, 2
    opts = FactorOptions(s, levels, "area", "bilinear")
    kw = dict(patch_size=2, hidden_size=32, depth=1, num_heads=2, num_classes=5)
    base = randomize(DiT(input_size=h // s ** (levels - 1), in_channels=c, **kw), seed)
    res = [randomize(residual_dit(c, h // s ** (levels - 1 - j), learn_sigma=learn_sigma, **kw), seed + j)
           for j in range(1, levels)]
    return MSFModel(base, res, [0.5 + j for j in range(levels - 1)], opts)


def save_model(path, m, **kw):
    save_msf_h5(path, m.opts, m.channels, m.input_size, (m.base.state_dict(), m.base.config()),
                [(r.state_dict(), r.config(), s) for r, s in zip(m.residuals, m.residual_scales)], **kw)


def same_model(a, b):
    pairs = [(a.base, b.base)] + list(zip(a.residuals, b.residuals))
    return (a.opts == b.opts and a.residual_scales == b.residual_scales and a.channels == b.channels
            and a.input_size == b.input_size and all(
                x.config() == y.config() and all(torch.equal(v, y.state_dict()[k]) for k, v in x.state_dict().items())
                for x, y in pairs))


def test_hdf5(tmp):
    for levels, learn_sigma in ((2, True), (3, True), (2, False)):
        m = tiny_msf(levels, learn_sigma=learn_sigma)
        path = os.path.join(tmp, f"msf{levels}.h5")
        save_model(path, m, source="test")
        back = load_msf_reference(path)
        with h5py.File(path) as f:
            names = sorted(f.keys())
            a = f.attrs
            attrs_ok = (a["model"] == "msf" and a["format_version"] == 1 and a["scale"] == 2
                        and a["levels"] == levels and a["down"] == "area" and a["up"] == "bilinear"
                        and a["channels"] == 3 and a["input_size"] == 16 and a["source"] == "test")
            res_names = [n for n in names if n.startswith("residual")]
            group_ok = all(f[n].attrs["in_channels"] == 6 and f[n].attrs["out_channels"] == (6 if learn_sigma else 3)
                           and "residual_scale" in f[n].attrs for n in res_names) \
                and "residual_scale" not in f["base"].attrs and f["base"].attrs["out_channels"] == 2 * 3
        want = ["base", "residual"] if levels == 2 else ["base"] + [f"residual{j}" for j in range(1, levels)]
        check(names == want and attrs_ok and group_ok,
              f"L={levels} learn_sigma={learn_sigma}: groups {names}, root and group attributes as specified")
        check(same_model(m, back), f"L={levels} learn_sigma={learn_sigma}: every tensor, config and scale "
                                   "round-trips")
    m = tiny_msf(2)
    path = os.path.join(tmp, "grp.h5")
    save_model(path, m, group="model")
    check(same_model(m, load_msf_reference(path, "model")), "MSF model under a group ('model/') round-trips")

    def rejected(what, fn, msg):
        out = os.path.join(tmp, "bad.h5")
        try:
            fn(out)
            check(False, f"{what}: rejected")
        except ValueError as e:
            left = [n for n in os.listdir(tmp) if "bad.h5" in n]
            check(msg in str(e) and not left, f"{what}: rejected, nothing written ({e})")
    bad = tiny_msf(2)
    rejected("residual of the wrong side",
             lambda p: save_msf_h5(p, bad.opts, 3, 32, (bad.base.state_dict(), bad.base.config()),
                                   [(bad.residuals[0].state_dict(), bad.residuals[0].config(), 0.5)]),
             "base: in_channels 3, input_size 8; expected 3, 16")
    rejected("zero residual_scale",
             lambda p: save_msf_h5(p, bad.opts, 3, 16, (bad.base.state_dict(), bad.base.config()),
                                   [(bad.residuals[0].state_dict(), bad.residuals[0].config(), 0.0)]),
             "residual_scale 0.0 must be > 0")
    rejected("one residual for three levels",
             lambda p: save_msf_h5(p, FactorOptions(2, 3), 3, 16, (bad.base.state_dict(), bad.base.config()),
                                   [(bad.residuals[0].state_dict(), bad.residuals[0].config(), 0.5)]),
             "base: in_channels 3, input_size 8; expected 3, 4")
    path = os.path.join(tmp, "msf2.h5")
    with h5py.File(path, "a") as f:
        del f["residual"].attrs["residual_scale"]
    try:
        with h5py.File(path) as f:
            read_msf_group(f)
        check(False, "missing residual_scale: rejected")
    except ValueError as e:
        check("no attribute residual_scale" in str(e), f"missing residual_scale: rejected ({e})")


# -----------------------------------------------------------------------------
# (iii) sampling


def test_sampling():
    m = tiny_msf(2)
    g = torch.Generator().manual_seed(3)
    n = 2
    labels = torch.tensor([1, 4])
    stages = [Stage("10", "ddpm", cfg_scale=3.0, cfg_mode="dit3"), Stage("5", "ddim", 0.3, 2.0, "all")]
    noises = [(torch.randn(xs, generator=g), torch.randn(zs, generator=g)) for xs, zs in m.noise_shapes(n, stages)]
    r = m.sample(labels, stages, noises)
    base = SpacedDiffusion("10").sample_loop(m.base, *noises[0], labels, 3.0, "dit3", "ddpm")
    cond = up(base, 2, "bilinear")
    d = SpacedDiffusion("5")
    res = d.sample_loop(ConditionedDiT(m.residuals[0], cond), *noises[1], labels, 2.0, "all", "ddim", 0.3)
    check(torch.equal(r["stages"][0], base) and torch.equal(r["stages"][1], res)
          and torch.equal(r["out"], cond + torch.tensor(0.5) * res),
          "sample = base loop, then residual loop on cat([x, U(base)]), out = U(base) + 0.5 * residual")

    x = torch.randn(2 * n, 3, 16, 16, generator=g)
    t = torch.full((2 * n,), 500)
    y = torch.cat([labels, torch.full_like(labels, 5)])
    out = ConditionedDiT(m.residuals[0], cond).forward_with_cfg(x, t, y, 2.0, "all")
    plain = m.residuals[0](torch.cat([torch.cat([x[:n], x[:n]]), torch.cat([cond, cond])], 1), t, y)
    guided = plain[n:, :3] + 2.0 * (plain[:n, :3] - plain[n:, :3])
    check(out.shape == (2 * n, 6, 16, 16) and torch.equal(out[:n, :3], guided) and torch.equal(out[n:, :3], guided)
          and torch.equal(out[:, 3:], plain[:, 3:]),
          "residual guidance 'all': the C eps channels guided (not 2C = in_channels), variance unguided, "
          "both halves conditioned on U(base)")
    out3 = ConditionedDiT(m.residuals[0], cond).forward_with_cfg(x, t, y, 2.0, "dit3")
    check(torch.equal(out3[:, :3], out[:, :3]), "with C = 3, dit3 = all")

    d = SpacedDiffusion("10")
    check(d.start_index(400) == 3 and d.start_index(333) == 3 and d.start_index(332) == 2 and d.start_index(0) == 0
          and d.start_index(999) == 9 and d.start_index("noise") == 9,
          "truncated start: k0 = largest spaced index with map[k] <= t0 (map 0,111,222,333,...)")
    st = [Stage("10"), Stage("10", start=400)]
    shapes = m.noise_shapes(n, st)
    check(shapes[1][1] == (4, n, 3, 16, 16), "truncated start t0=400 of '10': 4 noise steps")
    noises = [(torch.randn(xs, generator=g), torch.randn(zs, generator=g)) for xs, zs in shapes]
    r = m.sample(labels, st, noises)
    base = d.sample_loop(m.base, *noises[0], labels)
    cond = up(base, 2, "bilinear")
    trace = []
    res = d.sample_loop(ConditionedDiT(m.residuals[0], cond), *noises[1], labels, start=400, trace=trace)
    check(torch.equal(r["stages"][1], res) and len(trace) == 4,
          "truncated start: 4 steps k = 3..0 from x_T (the unit-variance marginal)")
    abar = d.alphas_cumprod[3]
    check(start_scale(abar) == 1.0 and start_scale(abar, 0.0) == np.sqrt(1 - abar)
          and float(torch.tensor(start_scale(abar), dtype=torch.float64).float()) == 1.0,
          "start scale sqrt(abar v + 1 - abar): 1 for v = 1, sqrt(1 - abar) for v = 0")
    d5 = SpacedDiffusion("5@500")
    check(d5.timestep_map.tolist() == [0, 125, 250, 374, 499] and d5.start_index() == 4
          and sorted(space_timesteps(500, [5])) == [0, 125, 250, 374, 499],
          "'5@500' keeps DiT's space_timesteps(500, [5]) and starts at 499")
    st = [Stage("10", clip_x0=True), Stage("5@500", "ddim", clip_x0=True)]
    noises = [(torch.randn(xs, generator=g), torch.randn(zs, generator=g)) for xs, zs in m.noise_shapes(n, st)]
    r = m.sample(labels, st, noises)
    x = noises[1][0]
    out = ConditionedDiT(m.residuals[0], up(r["stages"][0], 2, "bilinear"))(x, torch.full((n,), 499), labels)
    x0s = d5._mean_logvar(out, x, 4, clip_x0=True)[0]
    check(r["stages"][0].abs().max() <= 1 and x0s.abs().max() <= 1 and noises[1][1].shape[0] == 5,
          "clip_x0: x0 estimates (and a DDPM base's last step) within [-1, 1]")
    for bad, msg in ((lambda: Stage(start=-1), "residual start -1"), (lambda: Stage(start="x"), "residual start 'x'"),
                     (lambda: m.sample(labels, [Stage("10", start=5), Stage("5")], noises), "base stage")):
        try:
            bad()
            check(False, f"rejected: {msg}")
        except ValueError as e:
            check(msg in str(e), f"rejected: {e}")

    m3 = tiny_msf(3)
    st = [Stage("4"), Stage("3", cfg_scale=2.0), Stage("2")]
    noises = [(torch.randn(xs, generator=g), torch.randn(zs, generator=g)) for xs, zs in m3.noise_shapes(n, st)]
    r = m3.sample(labels, st, noises)
    check([tuple(v.shape) for v in r["levels"]] == [(n, 3, 4, 4), (n, 3, 8, 8), (n, 3, 16, 16)]
          and torch.equal(r["levels"][2], r["conds"][1] + torch.tensor(1.5) * r["stages"][2])
          and torch.equal(r["conds"][1], up(r["levels"][1], 2, "bilinear")),
          "L=3: the stages chain 4x4 -> 8x8 -> 16x16, each on U(the accumulated level)")


# -----------------------------------------------------------------------------
# (iv) the training loss against the official DiT code


def test_loss(tmp):
    m = randomize(DiT(input_size=8, patch_size=2, in_channels=4, hidden_size=32, depth=1, num_heads=2,
                      num_classes=10), 7)
    g = torch.Generator().manual_seed(8)
    x0 = torch.rand(6, 4, 8, 8, generator=g) * 2 - 1
    x0[0, 0, 0, :3] = torch.tensor([-1.0, 1.0, 0.9995])
    t = torch.tensor([0, 1, 10, 500, 998, 999])
    y = torch.tensor([0, 1, 2, 10, 4, 5])
    noise = torch.randn(x0.shape, generator=g)
    d = train.TrainingDiffusion()
    ours = d.losses(m, x0, t, y, noise)
    check(ours["loss"].shape == (6,) and torch.isfinite(ours["loss"]).all().item(), "loss: finite, one per sample")
    try:
        import test_tools
        official = test_tools.official_sources(os.path.join(tmp, "official"))
    except Exception as e:  # noqa: BLE001
        print(f"skip official training_losses comparison: {e}")
        return
    if official is None:
        print("skip official training_losses comparison: no DiT mirror")
        return
    _, diffusion = official
    ref = diffusion.create_diffusion("").training_losses(m, x0, t, dict(y=y), noise=noise)
    for k in ("loss", "mse", "vb"):
        check(rel(ours[k], ref[k]) < 1e-6, f"training loss '{k}' = official training_losses "
                                           f"(rel {rel(ours[k], ref[k]):.1e})")
    nos = randomize(DiT(input_size=8, patch_size=2, in_channels=4, hidden_size=32, depth=1, num_heads=2,
                        num_classes=10, learn_sigma=False), 9)
    ref = diffusion.create_diffusion("", learn_sigma=False).training_losses(nos, x0, t, dict(y=y), noise=noise)
    check(rel(d.losses(nos, x0, t, y, noise, learn_sigma=False)["loss"], ref["loss"]) < 1e-6,
          "no learn_sigma: loss = MSE = official")


# -----------------------------------------------------------------------------
# (v) the golden file


def test_golden():
    path = os.path.join(REPO, "tests", "golden", "msf_tiny.h5")
    if not os.path.exists(path):
        print(f"skip golden check: no {path}")
        return
    with h5py.File(path) as f:
        a = f.attrs
        check(a["version"] == 1 and a["tolerance"] == 1e-5 and a["traj_tolerance"] == 1e-4,
              "msf_tiny.h5: version 1, tolerances 1e-5 / 1e-4")
        worst = 0.0
        for i in range(int(f["factor"].attrs["cases"])):
            c = f[f"factor/case{i}"]
            opts = FactorOptions(int(c.attrs["scale"]), int(c.attrs["levels"]), c.attrs["down"], c.attrs["up"])
            base, res = factorize(torch.from_numpy(c["z"][()]).double(), opts)
            got = [base] + res
            want = [c["base"][()]] + [c[f"residual{k}"][()] for k in range(opts.levels - 1)]
            worst = max([worst] + [rel(gv.float(), torch.from_numpy(w)) for gv, w in zip(got, want)])
        check(worst < 1e-7, f"factor cases reproduce (rel {worst:.1e})")
        msf = load_msf_reference(path, "model")
        check(msf.residual_scales == [0.5] and msf.input_size == 8 and msf.channels == 4
              and msf.residuals[0].out_channels == 8, "model/: an MSF file (C 4, H 8, residual_scale 0.5)")
        for name, model in (("base", msf.base), ("residual", msf.residuals[0])):
            c = f[f"model_io/{name}"]
            m64 = DiT(**model.config()).double().eval()
            m64.load_state_dict({k: v.double() for k, v in model.state_dict().items()})
            with torch.no_grad():
                out = m64(torch.from_numpy(c["x"][()]).double(), torch.from_numpy(c["t"][()]),
                          torch.from_numpy(c["y"][()]))
            err = rel(out.float(), torch.from_numpy(c["out"][()]))
            check(err < 1e-5, f"model_io/{name} reproduces (rel {err:.1e})")
        for i in range(int(f["traj"].attrs["cases"])):
            c = f[f"traj/case{i}"]
            a = c.attrs
            stages = [Stage(a[f"{p}_steps"], a[f"{p}_sampler"], a[f"{p}_eta"], a[f"{p}_cfg_scale"],
                            a[f"{p}_cfg_mode"], a[f"{p}_variance"], "noise" if p == "base" else a["residual_start"],
                            bool(a[f"{p}_clip_x0"]))
                      for p in ("base", "residual")]
            noises = [(c["base_x_T"][()], c["base_noise"][()]), (c["residual_x_T"][()], c["residual_noise"][()])]
            r = msf.sample(c["labels"][()], stages, noises)
            errs = [rel(r["stages"][0], torch.from_numpy(c["base_out"][()])),
                    rel(r["stages"][1], torch.from_numpy(c["residual_out"][()])),
                    rel(r["out"], torch.from_numpy(c["out"][()]))]
            k0 = int(a["residual_start_index"])
            check(max(errs) < 1e-4 and c["residual_noise"].shape[0] == k0 + 1,
                  f"traj/case{i} (residual start {a['residual_start']}, k0 {k0}) reproduces (rel {max(errs):.1e})")


# -----------------------------------------------------------------------------
# (vi) training runs


def run(*args):
    t0 = time.time()
    p = subprocess.run([sys.executable, os.path.join(TOOLS, "train.py"), *args], capture_output=True, text=True)
    return p.returncode, p.stdout + p.stderr, time.time() - t0


def run_distributed(*args, world=2):
    """train.py in `world` processes with the environment torchrun sets (RANK, WORLD_SIZE,
    LOCAL_RANK, MASTER_ADDR, MASTER_PORT): Debian's torch 1.13 torchrun fails on Python
    3.11 before starting any worker ('NoneType' object has no attribute 'get', in
    torch/distributed/elastic/multiprocessing/api.py)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    t0 = time.time()
    procs = []
    for rank in range(world):
        env = dict(os.environ, RANK=str(rank), LOCAL_RANK=str(rank), WORLD_SIZE=str(world), LOCAL_WORLD_SIZE=str(world),
                   MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), OMP_NUM_THREADS="1")
        procs.append(subprocess.Popen([sys.executable, os.path.join(TOOLS, "train.py"), *args], env=env,
                                      stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True))
    logs = [p.communicate(timeout=300)[0] for p in procs]
    rc = max(p.returncode for p in procs)
    return rc, "\n".join(logs), time.time() - t0


def same_weights(a, b, key="model"):
    sa, sb = torch.load(a)[key], torch.load(b)[key]
    return all(torch.equal(v, sb[k]) for k, v in sa.items())


def test_training(tmp):
    if os.path.exists(os.path.join(FASHION, "t10k-images-idx3-ubyte.gz")):
        data = ["--data", FASHION, "--split", "t10k"]
        print(f"training data: Fashion-MNIST t10k ({FASHION})")
    else:
        path = os.path.join(tmp, "latents.h5")
        g = np.random.default_rng(0)
        with h5py.File(path, "w") as f:
            f["latents"] = g.standard_normal((64, 1, 32, 32)).astype(np.float32)
            f["labels"] = g.integers(0, 10, 64)
            f.attrs["num_classes"] = 10
        data = ["--data", path]
        print(f"training data: random latents ({FASHION} missing)")
    tiny = data + ["--steps", "2", "--batch", "4", "--depth", "1", "--hidden", "32", "--heads", "2", "--patch", "2",
                   "--log-every", "1", "--threads", "2", "--residual-scale-samples", "256", "--device", "cpu"]
    runs = {}
    for mt in ("dit", "msf-base", "msf-residual"):
        extra = ["--base-ckpt", f"{tmp}/msf-base/checkpoint.pt"] if mt == "msf-residual" else []
        out_h5 = f"{tmp}/{'msf' if mt == 'msf-residual' else mt}.h5"
        rc, log, secs = run("--model-type", mt, *tiny, "--out-dir", f"{tmp}/{mt}", "--out-h5", out_h5, *extra)
        runs[mt] = secs
        check(rc == 0 and "step       2  loss" in log and os.path.exists(out_h5),
              f"train {mt}: 2 steps, exported {os.path.basename(out_h5)} ({secs:.1f} s)")
        if rc:
            print(log)
    check(os.path.exists(f"{tmp}/msf-base/log.txt") and "steps/s" in open(f"{tmp}/msf-base/log.txt").read(),
          "log file with loss and steps/s")
    try:
        msf = load_msf_reference(f"{tmp}/msf.h5")
        n = 1
        st = [Stage("3"), Stage("2")]
        noises = [(torch.randn(xs), torch.randn(zs)) for xs, zs in msf.noise_shapes(n, st)]
        out = msf.sample(torch.tensor([3]), st, noises)["out"]
        check(out.shape == (1, 1, 32, 32) and torch.isfinite(out).all().item() and 0 < msf.residual_scales[0] < 1,
              f"exported MSF file loads and samples one image (residual_scale {msf.residual_scales[0]:.4f})")
    except Exception as e:  # noqa: BLE001
        check(False, f"exported MSF file loads and samples: {e}")
    rc, log, _ = run("--export-msf", f"{tmp}/msf-residual/checkpoint.pt", f"{tmp}/msf-base/checkpoint.pt",
                     f"{tmp}/msf2.h5")
    check(rc == 0 and same_model(load_msf_reference(f"{tmp}/msf.h5"), load_msf_reference(f"{tmp}/msf2.h5")),
          "--export-msf (checkpoints in any order) = the --out-h5 export")
    rc, log, _ = run("--export-msf", f"{tmp}/msf.h5", f"{tmp}/msf-residual/checkpoint.pt", f"{tmp}/msf3.h5")
    check(rc == 0 and same_model(load_msf_reference(f"{tmp}/msf.h5"), load_msf_reference(f"{tmp}/msf3.h5")),
          f"--export-msf with the base from an exported MSF file = the --out-h5 export {log.strip()[-200:]}")
    rc, log, _ = run("--export-msf", f"{tmp}/msf-base/checkpoint.pt", f"{tmp}/dit/checkpoint.pt", f"{tmp}/bad.h5")
    check(rc == 1 and "is a dit checkpoint" in log and not os.path.exists(f"{tmp}/bad.h5"),
          f"--export-msf with a dit checkpoint: exit 1 ({log.strip()})")

    rc3, _, _ = run("--model-type", "msf-residual", *tiny, "--steps", "3", "--out-dir", f"{tmp}/r3")
    rc2, _, _ = run("--model-type", "msf-residual", *tiny, "--out-dir", f"{tmp}/r23")
    rcr, log, _ = run("--model-type", "msf-residual", *tiny, "--steps", "3", "--out-dir", f"{tmp}/r23", "--resume")
    check(rc3 == rc2 == rcr == 0 and "resuming msf-residual at step 2 of 3" in log
          and same_weights(f"{tmp}/r3/checkpoint.pt", f"{tmp}/r23/checkpoint.pt")
          and same_weights(f"{tmp}/r3/checkpoint.pt", f"{tmp}/r23/checkpoint.pt", "ema"),
          "2 steps + --resume to 3 = 3 steps, bit for bit (model and EMA)")

    # Conditioning augmentation: the level embedder is trained and exported; the same
    # t, eps and label dropout as without it (its draws have their own generator), so
    # from a file without it, at step 0 of a run, model and file agree.
    # (4 steps: with DiT's zero output and adaLN layers, c gets its first gradient at step 3.)
    rc, log, _ = run("--model-type", "msf-residual", *tiny, "--steps", "4", "--out-dir", f"{tmp}/aug",
                     "--cond-aug-max", "50",
                     "--base-ckpt", f"{tmp}/msf-base/checkpoint.pt", "--out-h5", f"{tmp}/aug.h5")
    ok = rc == 0
    if ok:
        msf = load_msf_reference(f"{tmp}/aug.h5")
        r = msf.residuals[0]
        with h5py.File(f"{tmp}/aug.h5", "r") as f:
            attr = int(f["residual"].attrs.get("cond_aug", 0))
        st = [Stage("3"), Stage("2", cond_noise=20)]
        noises = [tuple(torch.randn(sh) for sh in shapes) for shapes in msf.noise_shapes(1, st)]
        out = msf.sample(torch.tensor([3]), st, noises)["out"]
        ok = (r.cond_aug and attr == 1 and len(noises[1]) == 3 and torch.isfinite(out).all().item()
              and r.aug_embedder.mlp[2].weight.abs().max().item() > 0
              and torch.load(f"{tmp}/aug/checkpoint.pt")["msf"]["cond_aug_max"] == 50)
    check(ok, "--cond-aug-max 50: trains the level embedder, exports cond_aug=1, samples with a noised condition")
    rc, log, _ = run("--model-type", "msf-base", *tiny, "--out-dir", f"{tmp}/augb", "--cond-aug-max", "50")
    check(rc == 1 and "--cond-aug-max" in log, f"--cond-aug-max on msf-base: exit 1 ({log.strip()[-90:]})")
    rc, log, _ = run("--model-type", "msf-residual", *tiny, "--out-dir", f"{tmp}/augi", "--cond-aug-max", "50",
                     "--steps", "1", "--lr", "0", "--init-from", f"{tmp}/msf.h5")
    ok = rc == 0
    if ok:
        plain, aug = load_msf_reference(f"{tmp}/msf.h5").residuals[0], torch.load(f"{tmp}/augi/checkpoint.pt")
        ok = all(torch.equal(v, aug["model"][k]) for k, v in plain.state_dict().items()) and \
            aug["model"]["aug_embedder.mlp.2.weight"].abs().max().item() == 0
    check(ok, "--cond-aug-max, --init-from a file without it, 1 step at lr 0: its weights, level output layer zero")

    lat = os.path.join(tmp, "lat4.h5")
    g = np.random.default_rng(1)
    with h5py.File(lat, "w") as f:
        f["latents"] = g.standard_normal((16, 4, 16, 16)).astype(np.float16)
        f["labels"] = g.integers(0, 7, 16)
    small = ["--data", lat, "--steps", "2", "--batch", "4", "--depth", "1", "--hidden", "32", "--heads", "2",
             "--threads", "2", "--device", "cpu", "--latent-scale", "0.5", "--scale", "4", "--down", "bilinear",
             "--up", "nearest"]
    rc, log, _ = run("--model-type", "msf-base", *small, "--out-dir", f"{tmp}/lb")
    rc2, log2, _ = run("--model-type", "msf-residual", *small, "--out-dir", f"{tmp}/lr", "--no-learn-sigma",
                       "--base-ckpt", f"{tmp}/lb/checkpoint.pt", "--out-h5", f"{tmp}/lat_msf.h5")
    ok = rc == rc2 == 0
    if ok:
        msf = load_msf_reference(f"{tmp}/lat_msf.h5")
        ok = (msf.opts == FactorOptions(4, 2, "bilinear", "nearest") and msf.base.input_size == 4
              and msf.residuals[0].out_channels == 4 and msf.base.num_classes == 7)
    check(ok, "latents .h5 (float16, C 4, 7 classes), s=4 bilinear/nearest, residual without learn_sigma")
    if not ok:
        print(log, log2)

    rc, log, secs = run_distributed("--model-type", "msf-base", *tiny, "--threads", "1", "--out-dir", f"{tmp}/ddp",
                                    "--out-h5", f"{tmp}/ddp.h5")
    check(rc == 0 and "2 process(es)" in log and os.path.exists(f"{tmp}/ddp.h5"),
          f"DistributedDataParallel, 2 CPU processes (gloo, torchrun's environment): trains and exports "
          f"({secs:.1f} s)")
    if rc:
        print(log[-3000:])
    print("training smoke timings: " + ", ".join(f"{k} {v:.1f} s" for k, v in runs.items()))


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="skip the training runs")
    args = ap.parse_args()
    torch.set_num_threads(min(2, torch.get_num_threads()))
    with tempfile.TemporaryDirectory() as tmp:
        test_factorize()
        test_hdf5(tmp)
        test_sampling()
        test_loss(tmp)
        test_golden()
        if not args.quick:
            test_training(tmp)
    print(f"\n{len(FAILURES)} failure(s)" if FAILURES else "\nall checks passed")
    return 1 if FAILURES else 0


if __name__ == "__main__":
    sys.exit(main())
