"""make_run_fixture.py: fixtures of tests/cli_run.sh (the `msf run` smoke
experiment with metrics): tests/golden/run_pixel_dit.h5, a tiny random-weight
pixel-space DiT (1 x 32 x 32 grey images in [-1, 1], 7 classes, like the
Fashion-MNIST demo models but tiny), and tests/golden/run_reference.npz, an
ADM-style reference batch of 40 random grey 32 x 32 images (arr_0 uint8
[40, 32, 32, 1]). With tests/golden/classifier_tiny.h5 (7 classes) as the
feature network, `msf run experiments/smoke/pixels_metrics.yaml` computes
every metric in seconds.

Run: /usr/bin/python3 tools/golden/make_run_fixture.py [--out tests/golden]
"""
import argparse
import os
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from hdf5_dit import save_dit_h5  # noqa: E402
from reference.dit import DiT  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default="tests/golden")
    ap.add_argument("--full", action="store_true", help="ignored (no full-size version)")
    args = ap.parse_args()
    if args.full:
        return
    torch.manual_seed(11)
    config = dict(input_size=32, patch_size=8, in_channels=1, hidden_size=32, depth=1, num_heads=2,
                  mlp_ratio=4.0, class_dropout_prob=0.1, num_classes=7, learn_sigma=True)
    model = DiT(**config)
    # Random weights everywhere (DiT zero-initialises its adaLN and final
    # layers, which would make every sample the same noise).
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name != "pos_embed":
                p.normal_(0.0, 0.2)
    save_dit_h5(os.path.join(args.out, "run_pixel_dit.h5"), model.state_dict(), model.config(),
                source="tools/golden/make_run_fixture.py: random weights")
    rng = np.random.default_rng(12)
    ref = rng.integers(0, 256, size=(40, 32, 32, 1), dtype=np.uint8)
    np.savez(os.path.join(args.out, "run_reference.npz"), arr_0=ref)


if __name__ == "__main__":
    main()
