#!/usr/bin/env python3
"""Time the PyTorch reference SD VAE on given weights and inputs, for `make bench`.

bench/bench_vae.c runs this on the weights and inputs it times itself, with
the same thread count, and prints both side by side. Inputs (--inputs, HDF5):
z256 [1, 4, 32, 32] and z512 [1, 4, 64, 64] latents (unscaled: the decoder's
own input) and x256 [1, 3, 256, 256] an image in [-1, 1]. Output on stdout,
one line per case: "decode 256 seconds S", "decode 512 seconds S",
"encode 256 seconds S" (median over --reps timed runs after one warm-up; the
512 decode is timed once, without warm-up, as it takes tens of seconds on a
small machine). With --outputs, the results (dec256, dec512 decoded images,
enc256 the posterior mean) are
written there so the benchmark can compare them with its own.

Usage: vae_torch.py --weights W.h5 --inputs IN.h5 --threads T [--reps 3] [--outputs OUT.h5]
"""
import argparse
import os
import statistics
import sys
import time

import h5py
import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from convert_vae import load_reference_from_h5  # noqa: E402


def timed(fn, reps, warmup):
    times, out = [], None
    with torch.no_grad():
        if warmup:
            fn()
        for _ in range(reps):
            t0 = time.perf_counter()
            out = fn()
            times.append(time.perf_counter() - t0)
    return statistics.median(times), out


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--weights", required=True)
    ap.add_argument("--inputs", required=True)
    ap.add_argument("--threads", type=int, required=True)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--outputs")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    model = load_reference_from_h5(args.weights).float().eval()
    with h5py.File(args.inputs, "r") as f:
        z256, z512, x256 = (torch.from_numpy(f[k][()]) for k in ("z256", "z512", "x256"))
    results = {}
    sec, results["dec256"] = timed(lambda: model.decode(z256), args.reps, True)
    print(f"decode 256 seconds {sec:.6f}", flush=True)
    sec, results["dec512"] = timed(lambda: model.decode(z512), 1, False)
    print(f"decode 512 seconds {sec:.6f}", flush=True)
    sec, (mean, logvar) = timed(lambda: model.moments(x256), args.reps, True)
    results["enc256"] = mean
    print(f"encode 256 seconds {sec:.6f}", flush=True)
    if args.outputs:
        with h5py.File(args.outputs, "w") as f:
            for k, v in results.items():
                f[k] = v.numpy()
    # PyTorch's own bf16 path for the decode at 256: torch.autocast("cpu", bfloat16)
    # (torch 1.13's autocast fails inside group_norm on this model: said, not fatal).
    try:
        with torch.autocast("cpu", dtype=torch.bfloat16):
            sec, _ = timed(lambda: model.decode(z256), args.reps, True)
        print(f"decode 256 bf16_seconds {sec:.6f}", flush=True)
    except RuntimeError as e:
        print(f"decode 256 bf16_failed {str(e).splitlines()[0]}", flush=True)


if __name__ == "__main__":
    main()
