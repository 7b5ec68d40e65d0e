#!/usr/bin/env python3
"""Time the PyTorch reference DiT forward on given weights, for `make bench`.

bench/bench_dit.c runs this on the weights it times itself, with the same
thread count, and prints both side by side. Output: one line per batch,
"batch B seconds S" (median over --reps after one warm-up), on stdout; with
--bf16 the forward runs under torch.autocast("cpu", dtype=torch.bfloat16),
PyTorch's own bf16 path (oneDNN underneath), and the lines read
"batch B bf16_seconds S".

Usage: dit_torch.py --weights W.h5 --batches 2,8 --threads T [--reps 3] [--bf16]
"""
import contextlib
import argparse
import os
import statistics
import sys
import time

import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from hdf5_dit import load_reference_from_h5  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--weights", required=True)
    ap.add_argument("--batches", default="2,8")
    ap.add_argument("--threads", type=int, required=True)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--bf16", action="store_true", help="under torch.autocast(\"cpu\", dtype=torch.bfloat16)")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    model = load_reference_from_h5(args.weights).float().eval()
    cfg = dict(channels=model.in_channels, size=model.x_embedder.grid * model.x_embedder.patch_size)
    gen = torch.Generator().manual_seed(0)
    for batch in [int(b) for b in args.batches.split(",")]:
        x = torch.randn(batch, cfg["channels"], cfg["size"], cfg["size"], generator=gen)
        t = torch.randint(0, 1000, (batch,), generator=gen)
        y = torch.randint(0, 1000, (batch,), generator=gen)
        times = []
        autocast = torch.autocast("cpu", dtype=torch.bfloat16) if args.bf16 else contextlib.nullcontext()
        with torch.no_grad(), autocast:
            model(x, t, y)
            for _ in range(args.reps):
                t0 = time.perf_counter()
                model(x, t, y)
                times.append(time.perf_counter() - t0)
        key = "bf16_seconds" if args.bf16 else "seconds"
        print(f"batch {batch} {key} {statistics.median(times):.6f}", flush=True)


if __name__ == "__main__":
    main()
