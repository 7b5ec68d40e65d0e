#!/usr/bin/env python3
"""gen_nn.py: golden inputs and outputs for the nn operators (tests/test_nn.c).

Writes DIR/nn_ops.h5 (DIR = tests/golden unless --out is given). With --full
the file holds cases at real model shapes (DiT-XL/2, InceptionV3, SD VAE)
instead of the small awkward sizes committed to the repository; make
check-full runs the same C suite on it.

Layout: one group per operator (linear, conv2d, ...) with an integer
attribute `cases`, and under it groups case0, case1, ... holding float32
datasets (inputs, optional weights, the output `y`) and the operator's
parameters as attributes. Inputs are drawn in float32; the outputs are
computed from them in float64 and stored as float32, so the goldens are more
exact than either C implementation. The TF1 legacy bilinear resize is written
in numpy from the formula in src/nn/nn.h, independently of the C code.
"""
import argparse
import os

import h5py
import numpy as np
import torch
import torch.nn.functional as F

SEED = 1234


class Writer:
    def __init__(self, f, rng):
        self.f = f
        self.rng = rng

    def randn(self, *shape, scale=1.0, offset=0.0):
        return (self.rng.standard_normal(shape) * scale + offset).astype(np.float32)

    def case(self, op, arrays, **attrs):
        """Store one case of `op`; arrays maps dataset name -> float32 array (None: omitted)."""
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
    """float32 numpy array -> float64 torch tensor."""
    return torch.from_numpy(np.asarray(a, dtype=np.float64))


def f32(t):
    return t.numpy().astype(np.float32)


# -----------------------------------------------------------------------------
# Operators


def linear(W, M, K, N, bias=True):
    x = W.randn(M, K)
    w = W.randn(N, K, scale=1.0 / np.sqrt(K))
    b = W.randn(N) if bias else None
    y = F.linear(d(x), d(w), d(b) if bias else None)
    W.case("linear", {"x": x, "w": w, "b": b, "y": f32(y)}, M=M, K=K, N=N)


def conv2d(W, n, c_in, h, w_, c_out, kh, kw, stride=(1, 1), pad=(0, 0, 0, 0), bias=True):
    """pad = (top, bottom, left, right), applied with F.pad so it may be asymmetric."""
    x = W.randn(n, c_in, h, w_)
    w = W.randn(c_out, c_in, kh, kw, scale=1.0 / np.sqrt(c_in * kh * kw))
    b = W.randn(c_out) if bias else None
    top, bottom, left, right = pad
    xp = F.pad(d(x), (left, right, top, bottom))
    y = F.conv2d(xp, d(w), d(b) if bias else None, stride=stride)
    W.case("conv2d", {"x": x, "w": w, "b": b, "y": f32(y)}, n=n, c_in=c_in, h=h, w=w_, c_out=c_out, kh=kh,
           kw=kw, stride_h=stride[0], stride_w=stride[1], pad_top=top, pad_bottom=bottom, pad_left=left,
           pad_right=right)


def group_norm(W, n, c, hw, groups, affine, eps, offset=0.0):
    x = W.randn(n, c, hw, scale=2.0, offset=offset)
    gamma = W.randn(c) if affine else None
    beta = W.randn(c) if affine else None
    y = F.group_norm(d(x), groups, d(gamma) if affine else None, d(beta) if affine else None, eps)
    W.case("group_norm", {"x": x, "gamma": gamma, "beta": beta, "y": f32(y)}, n=n, c=c, hw=hw, groups=groups,
           eps=float(eps))


def layer_norm(W, rows, dim, affine, eps, offset=0.0):
    x = W.randn(rows, dim, scale=3.0, offset=offset)
    gamma = W.randn(dim) if affine else None
    beta = W.randn(dim) if affine else None
    y = F.layer_norm(d(x), (dim,), d(gamma) if affine else None, d(beta) if affine else None, eps)
    W.case("layer_norm", {"x": x, "gamma": gamma, "beta": beta, "y": f32(y)}, rows=rows, dim=dim, eps=float(eps))


def batch_norm(W, n, c, hw, affine, eps):
    x = W.randn(n, c, hw, scale=2.0, offset=0.5)
    mean = W.randn(c)
    var = np.abs(W.randn(c)) + 0.1
    gamma = W.randn(c) if affine else None
    beta = W.randn(c) if affine else None
    y = F.batch_norm(d(x), d(mean), d(var), d(gamma) if affine else None, d(beta) if affine else None, False,
                     0.0, eps)
    W.case("batch_norm", {"x": x, "mean": mean, "var": var, "gamma": gamma, "beta": beta, "y": f32(y)}, n=n, c=c,
           hw=hw, eps=float(eps))


def softmax(W, rows, dim, scale, offset=0.0):
    x = W.randn(rows, dim, scale=scale, offset=offset)
    W.case("softmax", {"x": x, "y": f32(F.softmax(d(x), dim=-1))}, rows=rows, dim=dim)


def attention(W, n, t, heads, head_dim):
    D = heads * head_dim
    qkv = W.randn(n, t, 3 * D)
    q, k, v = d(qkv).reshape(n, t, 3, heads, head_dim).permute(2, 0, 3, 1, 4)  # (n, heads, t, head_dim) each
    p = torch.softmax(q @ k.transpose(-2, -1) / np.sqrt(head_dim), dim=-1)
    out = (p @ v).transpose(1, 2).reshape(n, t, D)
    W.case("attention", {"qkv": qkv, "y": f32(out)}, n=n, t=t, heads=heads, head_dim=head_dim)


def activations(W, x):
    count = x.size
    xd = d(x)
    W.case("gelu", {"x": x, "y": f32(F.gelu(xd))}, count=count)
    W.case("gelu_tanh", {"x": x, "y": f32(F.gelu(xd, approximate="tanh"))}, count=count)
    W.case("silu", {"x": x, "y": f32(F.silu(xd))}, count=count)
    W.case("relu", {"x": x, "y": f32(F.relu(xd))}, count=count)


def pool(W, op, n, c, h, w, k, stride, pad, count_include_pad=1):
    x = W.randn(n, c, h, w)
    if op == "max_pool2d":
        y = F.max_pool2d(d(x), k, stride, pad)
    else:
        y = F.avg_pool2d(d(x), k, stride, pad, count_include_pad=bool(count_include_pad))
    W.case(op, {"x": x, "y": f32(y)}, n=n, c=c, h=h, w=w, kh=k, kw=k, stride_h=stride, stride_w=stride, pad_h=pad,
           pad_w=pad, count_include_pad=count_include_pad)


def resize(W, op, n, c, h, w, out_h, out_w, mode=0):
    x = W.randn(n, c, h, w)
    if op == "upsample_nearest":
        # In float32, as the models run: PyTorch's float64 kernel computes the
        # source index in double for some shapes (26 -> 22 picks row 13, not
        # the float scale's 12). Nearest only copies, so nothing is rounded.
        y = F.interpolate(torch.from_numpy(x), size=(out_h, out_w), mode="nearest").numpy()
    elif op == "resize_area":
        y = f32(F.interpolate(d(x), size=(out_h, out_w), mode="area"))
    elif mode == 0:
        y = f32(F.interpolate(d(x), size=(out_h, out_w), mode="bilinear", align_corners=False))
    else:
        y = tf1_legacy_bilinear(x, out_h, out_w)
    W.case(op, {"x": x, "y": y}, n=n, c=c, h=h, w=w, out_h=out_h, out_w=out_w, mode=mode)


def tf1_legacy_taps(out, inp):
    src = np.arange(out, dtype=np.float64) * (inp / out)
    i0 = np.floor(src).astype(np.int64)
    i1 = np.minimum(i0 + 1, inp - 1)
    return i0, i1, src - i0


def tf1_legacy_bilinear(x, out_h, out_w):
    """TF1 resize_bilinear(align_corners=False, half_pixel_centers=False), in float64."""
    x = x.astype(np.float64)
    y0, y1, fy = tf1_legacy_taps(out_h, x.shape[2])
    x0, x1, fx = tf1_legacy_taps(out_w, x.shape[3])
    top = x[:, :, y0][:, :, :, x0] * (1 - fx) + x[:, :, y0][:, :, :, x1] * fx
    bot = x[:, :, y1][:, :, :, x0] * (1 - fx) + x[:, :, y1][:, :, :, x1] * fx
    return (top * (1 - fy)[:, None] + bot * fy[:, None]).astype(np.float32)


def concat(W, n, ca, cb, hw):
    a, b = W.randn(n, ca, hw), W.randn(n, cb, hw)
    W.case("concat", {"a": a, "b": b, "y": np.concatenate([a, b], axis=1)}, n=n, ca=ca, cb=cb, hw=hw)


# -----------------------------------------------------------------------------
# Case lists


def small_cases(W):
    linear(W, 37, 53, 29)
    linear(W, 1, 64, 300)                  # M = 1 (adaLN-style), split over N
    linear(W, 300, 17, 5, bias=False)      # split over M
    linear(W, 70, 45, 600)                 # several column blocks
    linear(W, 600, 33, 70, bias=False)     # several row blocks

    conv2d(W, 2, 3, 11, 13, 5, 3, 3, pad=(1, 1, 1, 1))
    conv2d(W, 1, 4, 9, 10, 6, 5, 5, pad=(2, 2, 2, 2), bias=False)
    conv2d(W, 2, 5, 7, 9, 3, 1, 7, pad=(0, 0, 3, 3))
    conv2d(W, 1, 6, 10, 7, 4, 7, 1, pad=(3, 3, 0, 0))
    conv2d(W, 2, 7, 5, 6, 9, 1, 1)                                     # pointwise path
    conv2d(W, 1, 4, 12, 11, 5, 3, 3, stride=(2, 2), pad=(0, 1, 0, 1))  # SD VAE downsample
    conv2d(W, 2, 3, 15, 17, 4, 3, 3, stride=(2, 2), bias=False)
    conv2d(W, 2, 8, 40, 45, 16, 3, 3, pad=(1, 1, 1, 1))               # several row blocks per image
    conv2d(W, 1, 5, 9, 9, 3, 1, 1, stride=(2, 2))                      # 1x1 through im2col
    conv2d(W, 1, 16, 50, 50, 7, 1, 1, bias=False)                      # pointwise, several blocks

    group_norm(W, 2, 6, 35, 3, True, 1e-5)
    group_norm(W, 1, 8, 17, 4, False, 1e-6)
    group_norm(W, 3, 12, 63, 12, True, 1e-6)
    group_norm(W, 1, 32, 64, 8, True, 1e-6, offset=50.0)  # mean far from 0

    layer_norm(W, 7, 53, True, 1e-6)
    layer_norm(W, 5, 33, False, 1e-6)
    layer_norm(W, 3, 100, True, 1e-5, offset=100.0)

    batch_norm(W, 2, 5, 23, True, 1e-3)
    batch_norm(W, 1, 7, 10, False, 1e-5)

    softmax(W, 6, 37, 1.0)                # spread-out probabilities
    softmax(W, 5, 37, 30.0)
    softmax(W, 3, 1000, 100.0)
    softmax(W, 4, 1, 1.0)
    softmax(W, 2, 50, 10.0, offset=1e4)

    attention(W, 1, 7, 1, 16)
    attention(W, 2, 13, 3, 8)
    attention(W, 2, 33, 4, 72)  # head_dim > 64: the reference's block loop

    activations(W, W.randn(1001, scale=2.0))
    # Extremes in a case of their own: rel is normalised by the largest output.
    activations(W, np.array([0.0, -0.0, 1e-8, -1e-8, 1e-30, 5.0, -5.0, 12.0, -12.0, 30.0, -30.0, 100.0, -100.0],
                            dtype=np.float32))

    pool(W, "max_pool2d", 2, 3, 11, 13, 3, 2, 0)
    pool(W, "max_pool2d", 1, 2, 9, 8, 3, 1, 1)
    pool(W, "avg_pool2d", 2, 3, 9, 8, 3, 1, 1, count_include_pad=1)
    pool(W, "avg_pool2d", 2, 3, 9, 8, 3, 1, 1, count_include_pad=0)
    pool(W, "avg_pool2d", 1, 2, 10, 11, 2, 2, 0)

    resize(W, "upsample_nearest", 2, 3, 5, 6, 10, 12)
    resize(W, "upsample_nearest", 1, 2, 5, 7, 8, 11)
    resize(W, "upsample_nearest", 1, 2, 9, 10, 4, 3)
    resize(W, "upsample_nearest", 1, 2, 26, 39, 22, 33)  # float scale picks row 12 for dst 11, exact 13
    resize(W, "resize_bilinear", 1, 2, 13, 17, 31, 23, mode=0)
    resize(W, "resize_bilinear", 1, 2, 37, 29, 11, 19, mode=0)
    resize(W, "resize_bilinear", 1, 2, 13, 17, 41, 37, mode=1)
    resize(W, "resize_bilinear", 1, 2, 37, 29, 11, 19, mode=1)
    resize(W, "resize_area", 2, 3, 10, 12, 5, 6)
    resize(W, "resize_area", 1, 2, 17, 17, 5, 5)
    resize(W, "resize_area", 1, 2, 17, 9, 5, 4)

    concat(W, 2, 3, 5, 42)


def full_cases(W):
    # DiT-XL/2 at 256x256: 256 tokens, hidden 1152, 16 heads of 72.
    linear(W, 256, 1152, 3456)  # qkv
    linear(W, 256, 1152, 4608)  # mlp fc1
    linear(W, 256, 4608, 1152)  # mlp fc2
    linear(W, 2, 1152, 6912)    # adaLN modulation
    attention(W, 1, 256, 16, 72)
    attention(W, 2, 256, 16, 72)
    layer_norm(W, 512, 1152, False, 1e-6)
    activations(W, W.randn(256 * 4608, scale=2.0))
    softmax(W, 4096, 256, 10.0)

    # InceptionV3 (pytorch-fid / ADM layout).
    conv2d(W, 1, 32, 149, 149, 32, 3, 3, bias=False)                     # Conv2d_2a
    conv2d(W, 1, 32, 147, 147, 64, 3, 3, pad=(1, 1, 1, 1), bias=False)   # Conv2d_2b
    conv2d(W, 1, 64, 73, 73, 80, 1, 1, bias=False)                       # Conv2d_3b
    conv2d(W, 2, 128, 17, 17, 128, 1, 7, pad=(0, 0, 3, 3), bias=False)   # Mixed_6b 1x7
    conv2d(W, 2, 128, 17, 17, 128, 7, 1, pad=(3, 3, 0, 0), bias=False)   # Mixed_6b 7x1
    conv2d(W, 1, 3, 299, 299, 32, 3, 3, stride=(2, 2), bias=False)       # Conv2d_1a
    batch_norm(W, 1, 64, 147 * 147, True, 1e-3)
    pool(W, "max_pool2d", 1, 64, 147, 147, 3, 2, 0)
    pool(W, "avg_pool2d", 2, 192, 35, 35, 3, 1, 1, count_include_pad=0)
    resize(W, "resize_bilinear", 1, 3, 256, 256, 299, 299, mode=0)
    resize(W, "resize_bilinear", 1, 3, 256, 256, 299, 299, mode=1)
    concat(W, 2, 192, 256, 35 * 35)

    # SD VAE decoder at 32x32 latents.
    conv2d(W, 1, 512, 32, 32, 512, 3, 3, pad=(1, 1, 1, 1))
    conv2d(W, 1, 128, 64, 64, 128, 3, 3, stride=(2, 2), pad=(0, 1, 0, 1))
    group_norm(W, 1, 512, 32 * 32, 32, True, 1e-6)
    group_norm(W, 1, 128, 128 * 128, 32, True, 1e-6)
    resize(W, "upsample_nearest", 1, 512, 32, 32, 64, 64)
    resize(W, "resize_area", 1, 3, 256, 256, 64, 64)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default="tests/golden", help="output directory (default tests/golden)")
    ap.add_argument("--full", action="store_true", help="full-size cases at real model shapes")
    args = ap.parse_args()
    torch.set_num_threads(max(1, min(4, os.cpu_count() or 1)))
    os.makedirs(args.out, exist_ok=True)
    path = os.path.join(args.out, "nn_ops.h5")
    with h5py.File(path, "w") as f:
        f.attrs["version"] = np.int64(1)
        f.attrs["generator"] = "tools/golden/gen_nn.py"
        f.attrs["seed"] = np.int64(SEED)
        f.attrs["full"] = np.int64(args.full)
        f.attrs["torch_version"] = str(torch.__version__)
        W = Writer(f, np.random.default_rng(SEED))
        (full_cases if args.full else small_cases)(W)
    print(f"wrote {path} ({os.path.getsize(path) / 1e6:.1f} MB)")


if __name__ == "__main__":
    main()
