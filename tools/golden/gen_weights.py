#!/usr/bin/env python3
"""Write tests/golden/weights_fixture.h5, the fixture of the weight-file tests.

It mimics a converted state_dict: datasets named by state_dict keys (one under
a group, as multi-model files do), several dtypes, and config attributes of
the types h5py writes (int, float, str, bool, int array). Values follow simple
formulas so that tests/test_h5read.c can check them without this script.

Usage: /usr/bin/python3 tools/golden/gen_weights.py [--out DIR] [--full]
(--full is accepted for `make check-full` and writes the same file).
"""
import argparse
import os

import h5py
import numpy as np


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default="tests/golden")
    ap.add_argument("--full", action="store_true")
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    path = os.path.join(args.out, "weights_fixture.h5")
    with h5py.File(path, "w") as f:
        f.attrs["version"] = 1
        f.attrs["generator"] = "tools/golden/gen_weights.py"
        f.attrs["depth"] = np.int64(2)
        f.attrs["hidden_size"] = np.int32(8)
        f.attrs["eps"] = 1e-6
        f.attrs["model"] = "tiny"
        f.attrs["learn_sigma"] = True
        f.attrs["input_size"] = np.array([4, 4], dtype=np.int64)
        # value[i] = 0.25 i - 1 (exact in every float type used here)
        f["x_embedder.proj.weight"] = (0.25 * np.arange(8 * 4 * 2 * 2) - 1).reshape(8, 4, 2, 2).astype(np.float32)
        f["pos_embed"] = (0.25 * np.arange(4 * 8) - 1).reshape(1, 4, 8).astype(np.float64)
        f["y_embedder.embedding_table.weight"] = (0.25 * np.arange(3 * 8) - 1).reshape(3, 8).astype(np.float16)
        f["labels"] = np.arange(5, dtype=np.int64) * 7
        g = f.create_group("base")
        g.attrs["depth"] = np.int64(1)
        g["blocks.0.attn.qkv.weight"] = (0.25 * np.arange(24 * 8) - 1).reshape(24, 8).astype(np.float32)
    print("wrote", path)


if __name__ == "__main__":
    main()
