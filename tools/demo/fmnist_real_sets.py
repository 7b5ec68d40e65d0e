#!/usr/bin/env python3
"""fmnist_real_sets.py: real Fashion-MNIST sets for experiments/fmnist_decomposition.yaml.

The same 3 disjoint class-balanced sets of 2,000 training images (file order)
as tools/demo/fmnist_real_floor.py (which scored them against the t10k
features, results/fmnist_compute/real_floor.json), in the models' space: the
28 x 28 image padded by 2 with black to 32 x 32, z = u / 127.5 - 1 in [-1, 1].
For set s, in OUT_DIR:
  real_set{s}.npz        arr_0 uint8 [N, 32, 32, 1] (the padded images: what a
                         pixel model's sample becomes in msf run, since
                         clamp(127.5 z + 128) = u for z = u / 127.5 - 1),
                         arr_1 int64 labels: a point of given samples ("real z").
  real_bases_set{s}.h5   base float32 [N, 1, 16, 16] = D(z), the 2 x 2 mean
                         (the area down operator of the demo MSF, computed in
                         float64 and stored float32), labels int64 [N]: the
                         bases of `sampler.base_from` / `msf sample --base-from`.
Training images, not the t10k reference the metrics use, so that "real" rows
are not the reference compared with itself.
Usage: /usr/bin/python3 tools/demo/fmnist_real_sets.py OUT_DIR [--n 2000] [--sets 3]
"""
import argparse
import os
import sys

import h5py
import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.dirname(HERE))
from fmnist_real_floor import balanced_sets  # noqa: E402
from h5util import atomic_h5  # noqa: E402
from train import FASHION_MNIST_DIR, read_idx_gz  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("out_dir")
    ap.add_argument("--data", default=FASHION_MNIST_DIR)
    ap.add_argument("--n", type=int, default=2000)
    ap.add_argument("--sets", type=int, default=3)
    args = ap.parse_args()
    images = read_idx_gz(os.path.join(args.data, "train-images-idx3-ubyte.gz"))
    labels = read_idx_gz(os.path.join(args.data, "train-labels-idx1-ubyte.gz")).astype(np.int64)
    os.makedirs(args.out_dir, exist_ok=True)
    for s, ix in enumerate(balanced_sets(labels, args.n, args.sets)):
        u = np.pad(images[ix], ((0, 0), (2, 2), (2, 2)))  # 0 = black = -1 after scaling
        npz = os.path.join(args.out_dir, f"real_set{s}.npz")
        tmp = npz + ".tmp.npz"
        np.savez(tmp, arr_0=u[..., None], arr_1=labels[ix])
        os.replace(tmp, npz)
        z = u.astype(np.float64) / 127.5 - 1.0
        base = z.reshape(len(z), 16, 2, 16, 2).mean(axis=(2, 4))[:, None].astype(np.float32)

        def fill(f, base=base, lab=labels[ix]):
            f["base"] = base
            f["labels"] = lab
            f.attrs["generator"] = "tools/demo/fmnist_real_sets.py"
            f.attrs["what"] = f"D(z) (2x2 mean) of {len(lab)} padded Fashion-MNIST training images, set {s}"
        atomic_h5(os.path.join(args.out_dir, f"real_bases_set{s}.h5"), fill)
        print(f"set {s}: {len(ix)} images, labels {np.bincount(labels[ix]).tolist()}")


if __name__ == "__main__":
    main()
