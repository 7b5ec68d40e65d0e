#!/usr/bin/env python3
"""fmnist_real_floor.py: what real images score at a sample count, in the
metrics `msf run` reports for Fashion-MNIST points.

A generator's FD at N samples is biased upwards by the finite sample; the
floor at N = 60,000 (models/fmnist_classifier_stats.json) says little about
a point of 2,000 samples. This script takes K disjoint, class-balanced sets
of N training images (N / 10 of each class, in file order, set k starting
after set k - 1) and scores each with the harness's own evaluator
(`msf evaluate` against the t10k features, `--net` the classifier), so the
numbers are those of a perfect generator of the training distribution at
that sample count: FD, the IS-like score, precision, recall and class
consistency, each set and the mean and sample standard deviation (n - 1).

Usage: /usr/bin/python3 tools/demo/fmnist_real_floor.py [--n 2000] [--sets 3]
           [--msf bin/msf] [--model models/fmnist_classifier.h5] --out FILE.json
The output is written to a temporary name in its directory, then renamed.
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile

import numpy as np

TOOLS = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, TOOLS)
from train import FASHION_MNIST_DIR, read_idx_gz  # noqa: E402

KEYS = ("fid", "inception_score", "precision", "recall", "class_consistency")


def run(cmd):
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode != 0:
        sys.exit(f"fmnist_real_floor.py: {' '.join(cmd)} failed ({r.returncode}):\n{r.stderr}")


def balanced_sets(labels, n, k):
    """K disjoint index sets of n / 10 images per class, in file order."""
    if n % 10:
        sys.exit(f"fmnist_real_floor.py: --n {n} is not a multiple of the 10 classes")
    per = n // 10
    by_class = [np.flatnonzero(labels == c) for c in range(10)]
    if any(len(ix) < per * k for ix in by_class):
        sys.exit(f"fmnist_real_floor.py: the training set has too few images of a class for {k} sets of {n}")
    return [np.sort(np.concatenate([ix[s * per:(s + 1) * per] for ix in by_class])) for s in range(k)]


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--msf", default="bin/msf")
    ap.add_argument("--model", default="models/fmnist_classifier.h5")
    ap.add_argument("--data", default=FASHION_MNIST_DIR)
    ap.add_argument("--n", type=int, default=2000)
    ap.add_argument("--sets", type=int, default=3)
    ap.add_argument("--out", required=True)
    args = ap.parse_args()
    test = read_idx_gz(os.path.join(args.data, "t10k-images-idx3-ubyte.gz"))
    train = read_idx_gz(os.path.join(args.data, "train-images-idx3-ubyte.gz"))
    labels = read_idx_gz(os.path.join(args.data, "train-labels-idx1-ubyte.gz")).astype(np.int64)
    out_dir = os.path.dirname(os.path.abspath(args.out))
    rows = []
    with tempfile.TemporaryDirectory(dir=out_dir) as tmp:
        ref = os.path.join(tmp, "t10k.npz")
        np.savez(ref, arr_0=test[..., None])
        ref_feats = os.path.join(tmp, "t10k_features.h5")
        run([args.msf, "--quiet", "features", ref, "--net", args.model, "--out", ref_feats])
        for s, ix in enumerate(balanced_sets(labels, args.n, args.sets)):
            path = os.path.join(tmp, f"set{s}.npz")
            np.savez(path, arr_0=train[ix][..., None], arr_1=labels[ix])
            js = os.path.join(tmp, f"set{s}.json")
            run([args.msf, "--quiet", "evaluate", ref_feats, path, "--net", args.model, "--json", js])
            with open(js) as f:
                m = json.load(f)
            rows.append({k: m[k] for k in KEYS})
            print(f"set {s}: " + ", ".join(f"{k} {rows[-1][k]:.4g}" for k in KEYS))
        summary = {k: {"mean": float(np.mean([r[k] for r in rows])),
                       "sd": float(np.std([r[k] for r in rows], ddof=1)) if len(rows) > 1 else None}
                   for k in KEYS}
        doc = {"generator": "tools/demo/fmnist_real_floor.py", "model": args.model,
               "what": f"{args.sets} disjoint class-balanced sets of {args.n} Fashion-MNIST training images "
                       "(file order) against the t10k features",
               "n": args.n, "sets": rows, "over_sets": summary}
        tmp_out = os.path.join(tmp, "out.json")
        with open(tmp_out, "w") as f:
            json.dump(doc, f, indent=1)
            f.write("\n")
        os.replace(tmp_out, args.out)
    for k in KEYS:
        sd = summary[k]["sd"]
        print(f"{k}: {summary[k]['mean']:.4g} +- {sd:.2g}" if sd is not None else f"{k}: {summary[k]['mean']:.4g}")


if __name__ == "__main__":
    main()
