#!/usr/bin/env python3
"""fid_scipy.py: FID between two statistics files (mu, sigma) as ADM's
evaluator and pytorch-fid compute it, with scipy.linalg.sqrtm (and the 1e-6
retry), timed; for bench/bench_fid.c. Prints "scipy seconds S fid F".

Usage: /usr/bin/python3 tools/bench/fid_scipy.py A.npz B.npz
"""
import sys
import time

import numpy as np
from scipy import linalg


def main():
    a, b = np.load(sys.argv[1]), np.load(sys.argv[2])
    mu1, s1, mu2, s2 = a["mu"], a["sigma"], b["mu"], b["sigma"]
    t0 = time.perf_counter()
    diff = mu1 - mu2
    covmean, _ = linalg.sqrtm(s1.dot(s2), disp=False)
    if not np.isfinite(covmean).all():
        off = np.eye(s1.shape[0]) * 1e-6
        covmean = linalg.sqrtm((s1 + off).dot(s2 + off))
    if np.iscomplexobj(covmean):
        covmean = covmean.real
    fid = diff.dot(diff) + np.trace(s1) + np.trace(s2) - 2 * np.trace(covmean)
    print(f"scipy seconds {time.perf_counter() - t0:.3f} fid {fid:.12f}")


if __name__ == "__main__":
    main()
