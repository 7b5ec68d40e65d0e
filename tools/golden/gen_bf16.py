#!/usr/bin/env python3
"""gen_bf16.py: PyTorch goldens for the bf16 linear layer (src/nn/linear_bf16.c,
tests/test_bf16.c).

Writes DIR/linear_bf16.h5 (DIR = tests/golden unless --out is given; --full:
DiT-XL/2 layer shapes for make check-full): group
`linear`, integer attribute `cases`, groups case0, case1, ... with float32 x
[M, K], w [N, K], b [N] (absent: no bias), and
  x_bf16, w_bf16   x and w rounded to bfloat16 by torch (Tensor.bfloat16(),
                   round to nearest even), stored as float32 (exact);
  y_bf16           bf16(x) bf16(w)^T + b computed in float64: what a bf16
                   matmul with exact products and exact accumulation gives;
  y_fp32           x w^T + b in float64 from the float32 inputs;
  y_autocast       torch.nn.functional.linear under torch.autocast("cpu",
                   dtype=torch.bfloat16), as PyTorch's own bf16 path computes
                   it (its output is bf16, so rounded to 8 mantissa bits);
attributes M, K, N. Also `convert`: float32 values (normal, tiny, huge, ties,
+-Inf, NaN) and torch's bf16 of each as float32, for the conversion.

Group `dit`: a DiT with bf16 linear layers (src/models/dit.c,
dit_set_precision). `dit/model` is the tiny "sigma" DiT of gen_dit.py (its
random weights, seed 1718) in the weight schema; x [3,C,H,W], t int64 [3],
y int64 [3] as gen_dit.py's forward cases, and
  out_fp32      the forward in float64 (gen_dit.py's forward64);
  out_bf16      the forward in float64 where every linear layer and the patch
                embedding take bf16(input) and bf16(weights), bias exact, and
                the attention takes bf16 q, k, v and bf16 softmax weights
                (the scale after q k^T, softmax in float64): the arithmetic
                msf's bf16 mode specifies, up to its float32 accumulation and
                activations;
  out_autocast  the float32 model under torch.autocast("cpu", bfloat16),
                PyTorch's bf16 path (it also rounds each linear's output and
                runs other ops in bf16), for comparison.
"""
import argparse
import os

import sys

import h5py
import numpy as np
import torch
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.dirname(HERE))
from gen_dit import TINY_MODELS, forward64, random_model  # noqa: E402
from hdf5_dit import write_dit_group  # noqa: E402
from reference.dit import Attention, DiT  # noqa: E402

SEED = 1717
DIT_SEED = 1718


def bf(a):
    """a rounded to bfloat16 (through float32, as msf rounds its float32 activations), as float64."""
    return a.float().bfloat16().double()


def attention_bf16(self, x):
    """reference.dit.Attention.forward with bf16 operands in both products."""
    n, t, d = x.shape
    q, k, v = self.qkv(x).reshape(n, t, 3, self.num_heads, self.head_dim).permute(2, 0, 3, 1, 4)
    att = (bf(q) @ bf(k).transpose(-2, -1)) * self.scale
    att = att.softmax(dim=-1)
    out = (bf(att) @ bf(v)).transpose(1, 2).reshape(n, t, d)
    return self.proj(out)


def forward_bf16(model, x, t, y):
    """`model`'s output in float64 with bf16 inputs and weights in every Linear and Conv2d and bf16
    operands in the attention's products."""
    m64 = DiT(**model.config()).double().eval()
    m64.load_state_dict({k: v.double() for k, v in model.state_dict().items()})
    for mod in m64.modules():
        if isinstance(mod, torch.nn.Linear):
            mod.forward = (lambda m: lambda v: F.linear(bf(v), bf(m.weight), m.bias))(mod)
        elif isinstance(mod, torch.nn.Conv2d):
            mod.forward = (lambda m: lambda v: F.conv2d(bf(v), bf(m.weight), m.bias, stride=m.stride))(mod)
        elif isinstance(mod, Attention):
            mod.forward = (lambda m: lambda v: attention_bf16(m, v))(mod)
    with torch.no_grad():
        out = m64(torch.from_numpy(x).double(), torch.from_numpy(t), torch.from_numpy(y))
    return out.float().numpy()


def write_dit(f):
    model = random_model(TINY_MODELS["sigma"], DIT_SEED)
    cfg = model.config()
    rng = np.random.default_rng(DIT_SEED)
    x = rng.standard_normal((3, cfg["in_channels"], cfg["input_size"], cfg["input_size"])).astype(np.float32)
    t = np.array([0, 421, 999], dtype=np.int64)
    y = np.array([1, cfg["num_classes"], cfg["num_classes"] - 1], dtype=np.int64)
    g = f.create_group("dit")
    write_dit_group(g.create_group("model"), model.state_dict(), cfg, "tools/golden/gen_bf16.py")
    g["x"], g["t"], g["y"] = x, t, y
    g["out_fp32"] = forward64(model, x, t, y)
    g["out_bf16"] = forward_bf16(model, x, t, y)
    with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16):
        g["out_autocast"] = model(torch.from_numpy(x), torch.from_numpy(t), torch.from_numpy(y)).float().numpy()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--full", action="store_true", help="DiT-XL/2 layer shapes (make check-full) instead of the "
                    "small committed ones")
    ap.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "..", "..", "tests", "golden"))
    args = ap.parse_args()
    rng = np.random.default_rng(SEED)
    path = os.path.join(args.out, "linear_bf16.h5")
    with h5py.File(path + ".tmp", "w") as f:
        g = f.create_group("linear")
        shapes = [(5, 64, 48, True), (33, 1152, 40, True), (2, 17, 3, False), (48, 256, 160, True)]
        if args.full:  # DiT-XL/2 at batch 2: qkv, fc2, a tiny one, proj
            shapes = [(512, 1152, 3456, True), (512, 4608, 1152, True), (2, 17, 3, False), (512, 1152, 1152, True)]
        for k, (M, K, N, bias) in enumerate(shapes):
            x = rng.standard_normal((M, K)).astype(np.float32)
            w = (rng.standard_normal((N, K)) / np.sqrt(K)).astype(np.float32)
            b = rng.standard_normal(N).astype(np.float32) if bias else None
            xb = torch.from_numpy(x).bfloat16().float().numpy()
            wb = torch.from_numpy(w).bfloat16().float().numpy()
            bd = b.astype(np.float64) if bias else 0.0
            y_bf16 = xb.astype(np.float64) @ wb.astype(np.float64).T + bd
            y_fp32 = x.astype(np.float64) @ w.astype(np.float64).T + bd
            with torch.autocast("cpu", dtype=torch.bfloat16):
                ya = torch.nn.functional.linear(torch.from_numpy(x), torch.from_numpy(w),
                                                torch.from_numpy(b) if bias else None)
            c = g.create_group(f"case{k}")
            for name, a in (("x", x), ("w", w), ("b", b), ("x_bf16", xb), ("w_bf16", wb),
                            ("y_bf16", y_bf16), ("y_fp32", y_fp32), ("y_autocast", ya.float().numpy())):
                if a is not None:
                    c.create_dataset(name, data=np.asarray(a, dtype=np.float32))
            for name, v in (("M", M), ("K", K), ("N", N)):
                c.attrs[name] = np.int64(v)
        g.attrs["cases"] = np.int64(len(shapes))
        one = np.float32(1.0)
        ulp = np.float32(2.0 ** -8)  # half a bf16 step at 1
        vals = np.array([0.0, -0.0, 1.0, -2.5, one + ulp, one + 3 * ulp, one + ulp * np.float32(1.5), 3.14159265,
                         1e-40, -1e-38, 3.0e38, 3.4e38, np.inf, -np.inf, np.nan, 65504.0, 1e-3, 123456.789],
                        dtype=np.float32)
        vals = np.concatenate([vals, rng.standard_normal(4096).astype(np.float32) * np.float32(100.0)])
        cv = f.create_group("convert")
        cv.create_dataset("x", data=vals)
        cv.create_dataset("bf16", data=torch.from_numpy(vals).bfloat16().float().numpy())
        write_dit(f)
        f.attrs["generator"] = "tools/golden/gen_bf16.py"
    os.replace(path + ".tmp", path)
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
