#!/usr/bin/env python3
"""gen_kernels.py: PyTorch goldens for the model-sized kernels of src/nn
(tests/test_nn_kernels.c): the 3x3 Winograd convolution, the fused GroupNorm
+ SiLU, blocked self-attention, and the NHWC convolution (+ ReLU) and 3x3
pools of InceptionV3.

Writes DIR/nn_kernels.h5 (DIR = tests/golden unless --out is given); with
--full, cases at SD VAE and InceptionV3 shapes instead of the small awkward
sizes committed. Layout as tools/golden/gen_nn.py: one group per operator with
an integer attribute `cases`, groups case0, case1, ... holding float32 inputs
and the output `y`, parameters as attributes. Outputs are computed in float64
from the float32 inputs and stored as float32. NHWC tensors are stored NHWC
(one image, (h, w, c)); the NHWC conv weight is (c_out, kh, kw, c_in).
"""
import argparse
import os

import h5py
import numpy as np
import torch
import torch.nn.functional as F

SEED = 4321


class Writer:
    def __init__(self, f, rng):
        self.f = f
        self.rng = rng

    def randn(self, *shape, scale=1.0, offset=0.0):
        return (self.rng.standard_normal(shape) * scale + offset).astype(np.float32)

    def case(self, op, arrays, **attrs):
        grp = self.f.require_group(op)
        k = int(grp.attrs.get("cases", 0))
        c = grp.create_group(f"case{k}")
        for name, a in arrays.items():
            if a is not None:
                c.create_dataset(name, data=np.ascontiguousarray(a, dtype=np.float32))
        for name, v in attrs.items():
            c.attrs[name] = np.float64(v) if isinstance(v, float) else np.int64(v)
        grp.attrs["cases"] = np.int64(k + 1)


def d(a):
    return torch.from_numpy(np.asarray(a, dtype=np.float64))


def f32(t):
    return t.numpy().astype(np.float32)


def conv3x3(W, c_in, c_out, h, w, bias=True):
    x = W.randn(c_in, h, w)
    wt = W.randn(c_out, c_in, 3, 3, scale=1.0 / np.sqrt(9 * c_in))
    b = W.randn(c_out) if bias else None
    y = F.conv2d(d(x)[None], d(wt), d(b) if bias else None, padding=1)[0]
    W.case("conv3x3", {"x": x, "w": wt, "b": b, "y": f32(y)}, c_in=c_in, c_out=c_out, h=h, w=w)


def group_norm_silu(W, n, c, hw, groups, eps, scale=2.0, offset=0.0):
    x = W.randn(n, c, hw, scale=scale, offset=offset)
    gamma, beta = W.randn(c, scale=3.0), W.randn(c)
    y = F.silu(F.group_norm(d(x), groups, d(gamma), d(beta), eps))
    W.case("group_norm_silu", {"x": x, "gamma": gamma, "beta": beta, "y": f32(y)}, n=n, c=c, hw=hw, groups=groups,
           eps=float(eps))


def attention_rows(W, n, t, heads, head_dim, block_rows, scale=1.0):
    D = heads * head_dim
    qkv = W.randn(n, t, 3 * D, scale=scale)
    q, k, v = d(qkv).reshape(n, t, 3, heads, head_dim).permute(2, 0, 3, 1, 4)
    p = torch.softmax(q @ k.transpose(-2, -1) / np.sqrt(head_dim), dim=-1)
    out = (p @ v).transpose(1, 2).reshape(n, t, D)
    W.case("attention_rows", {"qkv": qkv, "y": f32(out)}, n=n, t=t, heads=heads, head_dim=head_dim,
           block_rows=block_rows)


def conv_nhwc(W, h, w, c_in, c_out, kh, kw, stride, pad_h, pad_w):
    x = W.randn(h, w, c_in)
    wt = W.randn(c_out, kh, kw, c_in, scale=1.0 / np.sqrt(kh * kw * c_in))
    b = W.randn(c_out, scale=0.3)
    xn = d(x).permute(2, 0, 1)[None]             # NCHW
    wn = d(wt).permute(0, 3, 1, 2)               # (c_out, c_in, kh, kw)
    y = F.relu(F.conv2d(xn, wn, d(b), stride=stride, padding=(pad_h, pad_w)))[0].permute(1, 2, 0)
    W.case("conv_nhwc_relu", {"x": x, "w": wt, "b": b, "y": f32(y)}, h=h, w=w, c_in=c_in, c_out=c_out, kh=kh, kw=kw,
           stride=stride, pad_h=pad_h, pad_w=pad_w)


def pools_nhwc(W, h, w, c, stride, pad):
    x = W.randn(h, w, c)
    xn = d(x).permute(2, 0, 1)[None]
    y = F.max_pool2d(xn, 3, stride, pad)[0].permute(1, 2, 0)
    W.case("max_pool3_nhwc", {"x": x, "y": f32(y)}, h=h, w=w, c=c, stride=stride, pad=pad)
    y = F.avg_pool2d(xn, 3, 1, 1, count_include_pad=False)[0].permute(1, 2, 0)
    W.case("avg_pool3_nhwc", {"x": x, "y": f32(y)}, h=h, w=w, c=c)


def small_cases(W):
    for c_in, c_out, h, w in [(3, 5, 7, 9), (16, 8, 8, 8), (8, 16, 1, 1), (4, 4, 2, 3), (5, 7, 13, 1),
                              (2, 3, 3, 2051)]:  # the last: one tile row longer than a chunk
        conv3x3(W, c_in, c_out, h, w, bias=(c_in != 4))
    group_norm_silu(W, 1, 32, 49, 8, 1e-6)
    group_norm_silu(W, 2, 12, 10, 3, 1e-6, offset=3.0)
    group_norm_silu(W, 1, 8, 300, 2, 1e-5, scale=40.0)  # SiLU far into both tails
    attention_rows(W, 1, 100, 1, 24, 64)   # the SD VAE's form: one head, blocks of 64 rows
    attention_rows(W, 2, 37, 3, 8, 5)
    attention_rows(W, 1, 50, 2, 16, 50)
    attention_rows(W, 1, 33, 1, 8, 1, scale=3.0)
    conv_nhwc(W, 9, 11, 5, 6, 3, 3, 1, 1, 1)
    conv_nhwc(W, 9, 11, 5, 6, 3, 3, 2, 0, 0)
    conv_nhwc(W, 8, 7, 6, 4, 1, 7, 1, 0, 3)
    conv_nhwc(W, 8, 7, 6, 4, 7, 1, 1, 3, 0)
    conv_nhwc(W, 6, 5, 7, 9, 1, 1, 1, 0, 0)
    pools_nhwc(W, 9, 10, 5, 2, 0)
    pools_nhwc(W, 7, 7, 3, 1, 1)


def full_cases(W):
    conv3x3(W, 512, 512, 64, 64)
    conv3x3(W, 128, 128, 131, 67)
    group_norm_silu(W, 1, 512, 64 * 64, 32, 1e-6)
    attention_rows(W, 1, 1024, 1, 512, 64)  # the VAE's at 256x256 (4096 positions at 512: the reference takes too long)
    attention_rows(W, 2, 1024, 16, 72, 1024)  # DiT-XL/2 at 512x512: whole rows
    conv_nhwc(W, 35, 35, 288, 384, 3, 3, 2, 0, 0)
    conv_nhwc(W, 17, 17, 768, 192, 1, 7, 1, 0, 3)
    pools_nhwc(W, 35, 35, 288, 2, 0)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default="tests/golden", help="output directory (default tests/golden)")
    ap.add_argument("--full", action="store_true", help="full-size cases at real model shapes")
    args = ap.parse_args()
    torch.set_num_threads(max(1, min(4, os.cpu_count() or 1)))
    os.makedirs(args.out, exist_ok=True)
    path = os.path.join(args.out, "nn_kernels.h5")
    with h5py.File(path, "w") as f:
        f.attrs["version"] = np.int64(1)
        f.attrs["generator"] = "tools/golden/gen_kernels.py"
        f.attrs["seed"] = np.int64(SEED)
        f.attrs["full"] = np.int64(args.full)
        f.attrs["torch_version"] = str(torch.__version__)
        W = Writer(f, np.random.default_rng(SEED))
        (full_cases if args.full else small_cases)(W)
    print(f"wrote {path} ({os.path.getsize(path) / 1e6:.2f} MB)")


if __name__ == "__main__":
    main()
