#!/usr/bin/env python3
"""InceptionV3 throughput in PyTorch on given weights, for `make bench`.

bench/bench_inception.c first runs this with --make to write random weights
(tools/reference/inception.py's FIDInceptionV3, the HDF5 format of
tools/convert_inception.py), times its own C network on them, then runs this
again to time PyTorch with the same thread count. The PyTorch side does what
pytorch-fid does per batch: uint8 NHWC images -> float /255, NCHW,
F.interpolate to 299x299 (bilinear, align_corners False), 2x - 1, then the
network (pool_3, the sFID spatial features and the logits). Output on
stdout: "images N seconds S" (the median over --reps timed passes over
--batches batches of --batch images, after a warm-up on --threads images).

With --bf16 the network runs under torch.autocast("cpu", dtype=torch.bfloat16)
(PyTorch's own bf16 path) and the line reads "images N bf16_seconds S".

Usage: inception_torch.py --make W.h5
       inception_torch.py --weights W.h5 --threads T [--batch 50] [--batches 2] [--size 256] [--reps 1] [--bf16]
"""
import contextlib
import argparse
import os
import statistics
import sys
import time

import h5py
import torch
import torch.nn.functional as F

TOOLS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
sys.path.insert(0, TOOLS)
from convert_inception import write_inception_group  # noqa: E402
from h5util import atomic_h5, group_state_dict  # noqa: E402
from reference.inception import FIDInceptionV3, randomize  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--make", help="write random weights to this file and exit")
    ap.add_argument("--weights")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--batch", type=int, default=50)
    ap.add_argument("--batches", type=int, default=2)
    ap.add_argument("--size", type=int, default=256)
    ap.add_argument("--reps", type=int, default=1)
    ap.add_argument("--bf16", action="store_true", help="under torch.autocast(\"cpu\", dtype=torch.bfloat16)")
    args = ap.parse_args()
    if args.make:
        model = randomize(FIDInceptionV3(), 0)
        atomic_h5(args.make, lambda f: write_inception_group(f, model.state_dict(), "bench: random weights, seed 0"))
        return
    torch.set_num_threads(args.threads)
    model = FIDInceptionV3().eval()
    with h5py.File(args.weights, "r") as f:
        missing, unexpected = model.load_state_dict(group_state_dict(f), strict=False)
    assert not unexpected and all(k == "fc.bias" or k.endswith("num_batches_tracked") for k in missing), missing
    gen = torch.Generator().manual_seed(0)
    images = torch.randint(0, 256, (args.batch, args.size, args.size, 3), dtype=torch.uint8, generator=gen)

    def batch(imgs):
        x = imgs.permute(0, 3, 1, 2).float() / 255
        x = F.interpolate(x, size=(299, 299), mode="bilinear", align_corners=False)
        return model(2 * x - 1)

    times = []
    autocast = torch.autocast("cpu", dtype=torch.bfloat16) if args.bf16 else contextlib.nullcontext()
    with torch.no_grad(), autocast:
        batch(images[:args.threads])
        for _ in range(args.reps):
            t0 = time.perf_counter()
            for _ in range(args.batches):
                batch(images)
            times.append(time.perf_counter() - t0)
    key = "bf16_seconds" if args.bf16 else "seconds"
    print(f"images {args.batch * args.batches} {key} {statistics.median(times):.6f}", flush=True)


if __name__ == "__main__":
    main()
