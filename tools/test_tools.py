#!/usr/bin/env python3
"""test_tools.py: self-check of the PyTorch reference tools (not part of CI).

Checks that tools/reference/dit.py has the official state_dict, that
tools/reference/diffusion.py reproduces REFERENCE.md's check values, and that
tools/convert_dit.py round-trips and rejects broken checkpoints. Where the
official DiT sources are available (a git mirror, DIT_MIRROR), it also runs
them: models.py with a small stand-in for the three timm layers it imports
(PatchEmbed, Attention, Mlp; timm is not installed), and diffusion/ as is, and
requires identical keys, outputs, constants and sampling trajectories.

Usage: /usr/bin/python3 tools/test_tools.py
"""
import argparse
import importlib
import os
import subprocess
import sys
import tempfile

import h5py
import numpy as np
import torch

TOOLS = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, TOOLS)
from hdf5_dit import load_reference_from_h5  # noqa: E402
from reference.diffusion import SpacedDiffusion, space_timesteps  # noqa: E402
from reference.dit import DiT, dit_named  # noqa: E402

MIRROR = os.environ.get("DIT_MIRROR", "/work/.mirror/facebookresearch+DiT/repo")
OFFICIAL_FILES = ("models.py", "diffusion/__init__.py", "diffusion/gaussian_diffusion.py", "diffusion/respace.py",
                  "diffusion/diffusion_utils.py")

# The timm 0.6 layers DiT imports, reduced to what DiT uses (same names and math).
TIMM_STANDIN = '''
import torch.nn as nn

class PatchEmbed(nn.Module):
    def __init__(self, img_size, patch_size, in_chans, embed_dim, bias=True):
        super().__init__()
        self.patch_size = (patch_size, patch_size)
        self.num_patches = (img_size // patch_size) ** 2
        self.proj = nn.Conv2d(in_chans, embed_dim, patch_size, stride=patch_size, bias=bias)

    def forward(self, x):
        return self.proj(x).flatten(2).transpose(1, 2)

class Attention(nn.Module):
    def __init__(self, dim, num_heads=8, qkv_bias=False):
        super().__init__()
        self.num_heads = num_heads
        self.scale = (dim // num_heads) ** -0.5
        self.qkv = nn.Linear(dim, dim * 3, bias=qkv_bias)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x):
        B, N, C = x.shape
        q, k, v = self.qkv(x).reshape(B, N, 3, self.num_heads, C // self.num_heads).permute(2, 0, 3, 1, 4).unbind(0)
        a = ((q @ k.transpose(-2, -1)) * self.scale).softmax(dim=-1)
        return self.proj((a @ v).transpose(1, 2).reshape(B, N, C))

class Mlp(nn.Module):
    def __init__(self, in_features, hidden_features, act_layer, drop=0):
        super().__init__()
        self.fc1 = nn.Linear(in_features, hidden_features)
        self.act = act_layer()
        self.fc2 = nn.Linear(hidden_features, in_features)

    def forward(self, x):
        return self.fc2(self.act(self.fc1(x)))
'''

FAILURES = []


def check(cond, what):
    print(("ok   " if cond else "FAIL ") + what)
    if not cond:
        FAILURES.append(what)


def official_sources(tmp):
    """Import path with the official models.py and diffusion/ (None if no mirror)."""
    if not os.path.isdir(MIRROR):
        return None
    for rel in OFFICIAL_FILES:
        text = subprocess.run(["git", "-C", MIRROR, "show", f"HEAD:{rel}"], check=True, capture_output=True,
                              text=True).stdout
        os.makedirs(os.path.join(tmp, os.path.dirname(rel)), exist_ok=True)
        with open(os.path.join(tmp, rel), "w") as f:
            f.write(text)
    os.makedirs(os.path.join(tmp, "timm", "models"))
    for rel in ("timm/__init__.py", "timm/models/__init__.py"):
        open(os.path.join(tmp, rel), "w").close()
    with open(os.path.join(tmp, "timm/models/vision_transformer.py"), "w") as f:
        f.write(TIMM_STANDIN)
    sys.path.insert(0, tmp)
    return importlib.import_module("models"), importlib.import_module("diffusion")


def randomize(model, seed):
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name != "pos_embed":
                std = 1.0 / np.sqrt(np.prod(p.shape[1:])) if p.dim() >= 2 else 0.1
                p.copy_(torch.randn(p.shape, generator=g) * std)
    return model.eval()


def shapes(model):
    return [(k, tuple(v.shape)) for k, v in model.state_dict().items()]


# -----------------------------------------------------------------------------
# (i) the network


def test_network(official):
    ref = dit_named("DiT-S/2")
    check(ref.state_dict()["y_embedder.embedding_table.weight"].shape == (1001, 384), "DiT-S/2 label table [1001, 384]")
    check(ref.state_dict()["final_layer.linear.weight"].shape == (32, 384), "DiT-S/2 final linear [32, 384]")
    meta = dit_named("DiT-XL/2", device="meta")
    n_params = sum(p.numel() for p in meta.parameters())
    check(670e6 < n_params < 680e6, f"DiT-XL/2 has ~675M parameters ({n_params})")
    if official is None:
        print("skip official models.py comparison: no mirror at", MIRROR)
        return
    models, _ = official
    for name in ("DiT-S/2", "DiT-B/4", "DiT-XL/8"):
        check(shapes(models.DiT_models[name]()) == shapes(dit_named(name)), f"{name} state_dict keys/shapes = official")
    kw = dict(input_size=12, patch_size=4, in_channels=3, hidden_size=48, depth=2, num_heads=3,
              class_dropout_prob=0.0, num_classes=7, learn_sigma=False)
    check(shapes(models.DiT(**kw)) == shapes(DiT(**kw)), "no-sigma, no-null-class config keys/shapes = official")
    check(torch.equal(models.DiT_models["DiT-S/2"]().pos_embed, ref.pos_embed), "pos_embed = official sin-cos table")

    kw = dict(input_size=8, patch_size=2, in_channels=4, hidden_size=64, depth=2, num_heads=4, num_classes=10)
    ref = randomize(DiT(**kw), 0)
    off = models.DiT(**kw).eval()
    off.load_state_dict(ref.state_dict())
    g = torch.Generator().manual_seed(1)
    x = torch.randn(4, 4, 8, 8, generator=g)
    y = torch.tensor([3, 10, 0, 10])
    with torch.no_grad():
        for t in (torch.tensor([0, 999, 500, 17]), torch.tensor([12.5, 0.25, 998.75, 3.0])):
            check(torch.equal(off(x, t, y), ref(x, t, y)), f"forward = official, bit for bit (t {t.dtype})")
        t = torch.tensor([999, 999, 999, 999])
        check(torch.equal(off.forward_with_cfg(x, t, y, 4.0), ref.forward_with_cfg(x, t, y, 4.0, "dit3")),
              "forward_with_cfg dit3 = official")
        o_all = ref.forward_with_cfg(x, t, y, 4.0, "all")
        plain = ref(torch.cat([x[:2], x[:2]]), t, y)
        guided = plain[2:, :4] + 4.0 * (plain[:2, :4] - plain[2:, :4])
        check(torch.equal(o_all[:2, :4], guided) and torch.equal(o_all[2:, :4], guided)
              and torch.equal(o_all[:, 4:], plain[:, 4:]), "forward_with_cfg all: eps guided, variance unguided")
        x64 = x.double()
        out64 = DiT(**kw).double().eval()
        out64.load_state_dict({k: v.double() for k, v in ref.state_dict().items()})
        diff = (out64(x64, t, y).float() - ref(x, t, y)).abs().max().item()
        check(diff < 1e-5, f"float64 forward agrees with float32 ({diff:.2e})")


# -----------------------------------------------------------------------------
# (ii) respacing and constants, (iii') sampling against the official code


def test_diffusion(official):
    m = sorted(space_timesteps(1000, "250"))
    check(m[:3] == [0, 4, 8] and m[41:43] == [164, 169] and m[-2:] == [995, 999] and len(m) == 250,
          "space_timesteps('250') = 0,4,8,...,164,169,...,995,999")
    d = SpacedDiffusion("250")
    close = lambda a, b, tol=1e-8: abs(a - b) <= tol * max(1.0, abs(b))  # noqa: E731
    pv_log = d.posterior_log_variance_clipped
    check(d.timestep_map[0] == 0 and close(d.betas[0], 1.0e-4) and close(pv_log[0], -9.36462816)
          and close(d.log_betas[0], -9.21034037) and d.posterior_mean_coef1[0] == 1.0
          and d.posterior_mean_coef2[0] == 0.0, "REFERENCE k=0 values")
    check(d.timestep_map[1] == 4 and close(d.betas[1], 5.9906556448e-4, 1e-10)
          and close(d.alphas_cumprod[1], 0.99930099434, 1e-10) and close(d.log_betas[1], -7.42013951),
          "REFERENCE k=1 values")
    check(d.timestep_map[249] == 999 and close(d.betas[249], 7.7519344992e-2, 1e-10)
          and close(d.alphas_cumprod[249], 4.0358297654e-5, 1e-10) and close(pv_log[249], -2.55723115)
          and close(d.log_betas[249], -2.55722776), "REFERENCE k=249 values")
    check(sorted(space_timesteps(1000, "ddim50")) == list(range(0, 1000, 20)), "ddim50 = stride 20")
    check(sorted(space_timesteps(300, "10,15,20"))[:3] == [0, 11, 22], "10,15,20 of 300 starts 0,11,22")
    for spec, msg in (("ddim999", "cannot create exactly 1000 steps with an integer stride"),
                      ("2000", "cannot divide section of 1000 steps into 2000")):
        try:
            space_timesteps(1000, spec)
            check(False, f"space_timesteps('{spec}') raises")
        except ValueError as e:
            check(str(e) == msg, f"space_timesteps('{spec}') raises '{msg}'")

    if official is None:
        print("skip official diffusion comparison: no mirror at", MIRROR)
        return
    models, diffusion = official
    specs = ["250", "ddim50", "ddim25", "10,15,20", "1000", "25", "10", "3", "100", "7,1,13", "999", "ddim1000", "2"]
    check(all(diffusion.space_timesteps(1000, s) == space_timesteps(1000, s) for s in specs)
          and diffusion.space_timesteps(300, "10,15,20") == space_timesteps(300, "10,15,20"),
          "space_timesteps = official for " + " ".join(specs))
    for spec in ("ddim1", "ddim999", "1001", "500,600"):
        msgs = []
        for fn in (diffusion.space_timesteps, space_timesteps):
            try:
                fn(1000, spec)
                msgs.append(None)
            except ValueError as e:
                msgs.append(str(e))
        check(msgs[0] is not None and msgs[0] == msgs[1], f"space_timesteps('{spec}') error = official: {msgs[1]}")
    ok = True
    for spec in specs:
        off = diffusion.create_diffusion(spec)
        ref = SpacedDiffusion(spec)
        ok &= list(off.timestep_map) == list(ref.timestep_map)
        for name in SpacedDiffusion.CONSTANTS:
            if name == "log_betas":
                ok &= np.array_equal(np.log(off.betas), ref.log_betas)
            elif name == "fixed_large_log_variance":
                large = np.append(off.posterior_variance[1], off.betas[1:])
                ok &= np.array_equal(np.log(large), ref.fixed_large_log_variance)
            else:
                ok &= np.array_equal(getattr(off, name), getattr(ref, name))
    check(ok, "timestep_map and every float64 constant = official, bit for bit")

    kw = dict(input_size=8, patch_size=2, in_channels=4, hidden_size=64, depth=2, num_heads=4, num_classes=10)
    sig = randomize(DiT(**kw), 2)
    nosig = randomize(DiT(**dict(kw, learn_sigma=False)), 3)
    g = torch.Generator().manual_seed(4)
    n = 2
    x_T = torch.randn(n, 4, 8, 8, generator=g)
    labels = torch.tensor([3, 7])
    cases = [("ddpm", 0.0, 1.0, "learned_range", sig), ("ddpm", 0.0, 4.0, "learned_range", sig),
             ("ddim", 0.0, 4.0, "learned_range", sig), ("ddim", 0.5, 1.5, "learned_range", sig),
             ("ddpm", 0.0, 1.0, "fixed_small", nosig), ("ddpm", 0.0, 2.0, "fixed_large", nosig)]
    for sampler, eta, scale, variance, model in cases:
        steps = 10
        m = 2 * n if scale > 1 else n
        noise = torch.randn(steps, m, 4, 8, 8, generator=g)
        ref = SpacedDiffusion("10", variance).sample_loop(model, x_T, noise, labels, scale, "dit3", sampler, eta)
        off = diffusion.create_diffusion("10", learn_sigma=variance == "learned_range",
                                         sigma_small=variance == "fixed_small")
        if scale > 1:
            z, y = torch.cat([x_T, x_T]), torch.cat([labels, torch.full_like(labels, 10)])
            fn, kwargs = model.forward_with_cfg, dict(y=y, cfg_scale=scale)
        else:
            z, y, fn, kwargs = x_T.clone(), labels, model.forward, dict(y=labels)
        draws = iter(noise)
        randn_like = torch.randn_like
        torch.randn_like = lambda x: next(draws).clone()
        try:
            if sampler == "ddpm":
                out = off.p_sample_loop(fn, z.shape, z, clip_denoised=False, model_kwargs=kwargs, device="cpu")
            else:
                out = off.ddim_sample_loop(fn, z.shape, z, clip_denoised=False, model_kwargs=kwargs, device="cpu",
                                           eta=eta)
        finally:
            torch.randn_like = randn_like
        check(torch.equal(out[:n], ref), f"{sampler} eta {eta} cfg {scale} {variance}: trajectory = official, "
                                         "bit for bit")


# -----------------------------------------------------------------------------
# (iii) convert_dit.py


def run_convert(*args):
    p = subprocess.run([sys.executable, os.path.join(TOOLS, "convert_dit.py"), *args], capture_output=True, text=True)
    return p.returncode, p.stdout + p.stderr


def test_convert(tmp):
    kw = dict(input_size=8, patch_size=2, in_channels=4, hidden_size=64, depth=2, num_heads=4, num_classes=10)
    model = randomize(DiT(**kw), 5)
    state = model.state_dict()
    bare = os.path.join(tmp, "bare.pt")
    train = os.path.join(tmp, "train.pt")
    torch.save(state, bare)
    torch.save({"model": randomize(DiT(**kw), 6).state_dict(), "ema": state, "opt": {},
                "args": argparse.Namespace(model="tiny")}, train)
    for src, extra in ((bare, ["--num-heads", "4"]), (train, ["--num-heads", "4"])):
        out = os.path.join(tmp, "out.h5")
        rc, log = run_convert(src, out, *extra)
        check(rc == 0, f"convert {os.path.basename(src)} exits 0")
        if rc:
            print(log)
            continue
        if src == train:
            check("ema" in log, "training checkpoint: says it uses 'ema'")
        back = load_reference_from_h5(out)
        check(all(torch.equal(back.state_dict()[k], v) for k, v in state.items()) and back.config() == model.config(),
              f"convert {os.path.basename(src)}: config and every tensor round-trip")
        with h5py.File(out) as f:
            a = f.attrs
            check(a["model"] == "dit" and a["format_version"] == 1 and a["num_classes"] == 10
                  and a["learn_sigma"] == 1 and a["frequency_embedding_size"] == 256 and a["input_size"] == 8
                  and a["mlp_ratio"] == 4.0 and a["class_dropout_prob"] == 0.1 and a["source"] == src,
                  f"convert {os.path.basename(src)}: attributes as the schema says")
        os.remove(out)

    rc, log = run_convert(bare, os.path.join(tmp, "heads.h5"))
    check(rc == 1 and "--num-heads" in log, "hidden 64 without --num-heads: error asks for it")
    meta = dit_named("DiT-S/4", input_size=16, device="meta")
    s_state = {k: torch.zeros(v.shape) for k, v in meta.state_dict().items()}
    s_path = os.path.join(tmp, "s4.pt")
    torch.save(s_state, s_path)
    rc, log = run_convert(s_path, os.path.join(tmp, "s4.h5"))
    check(rc == 0 and "num_heads = 6" in log and "input_size = 16" in log and "patch_size = 4" in log,
          "DiT-S/4 at 128px: heads from the table, input and patch inferred")
    rc, log = run_convert(s_path, os.path.join(tmp, "s4b.h5"), "--model", "DiT-B/4")
    check(rc == 1 and "hidden_size" in log and not os.path.exists(os.path.join(tmp, "s4b.h5")),
          "--model that disagrees with the shapes: rejected")

    broken = {
        "missing": ({k: v for k, v in state.items() if k != "blocks.1.attn.qkv.weight"},
                    "missing tensor blocks.1.attn.qkv.weight"),
        "misshaped": (dict(state, **{"blocks.0.mlp.fc2.weight": torch.zeros(64, 255)}),
                      "tensor 'blocks.0.mlp.fc2.weight' has shape [64, 255], expected [64, 256]"),
        "unexpected": (dict(state, **{"blocks.0.norm1.weight": torch.zeros(64)}),
                       "unexpected tensor blocks.0.norm1.weight"),
    }
    for name, (sd, msg) in broken.items():
        src = os.path.join(tmp, f"{name}.pt")
        out = os.path.join(tmp, f"{name}.h5")
        torch.save(sd, src)
        rc, log = run_convert(src, out, "--num-heads", "4")
        left = [f for f in os.listdir(tmp) if f.startswith(f"{name}.h5") or f.startswith(f".{name}.h5")]
        check(rc == 1 and msg in log and not left, f"{name} tensor: exit 1, '{msg}', no output left")


def main():
    torch.set_num_threads(min(2, torch.get_num_threads()))
    with tempfile.TemporaryDirectory() as tmp:
        official = official_sources(os.path.join(tmp, "official"))
        test_network(official)
        test_diffusion(official)
        test_convert(tmp)
    print(f"\n{len(FAILURES)} failure(s)" if FAILURES else "\nall checks passed")
    return 1 if FAILURES else 0


if __name__ == "__main__":
    sys.exit(main())
