#!/usr/bin/env python3
"""gen_classifier.py: golden data for the Fashion-MNIST classifier (tests/test_classifier.c).

Writes DIR/classifier_tiny.h5 (DIR = tests/golden unless --out is given)
from the PyTorch reference in tools/reference/classifier.py, deterministic
(fixed seeds). The file is itself a classifier weight file (what
tools/train_classifier.py writes, without the training attributes) with
random weights (PyTorch's default initialisation, seeded) and small widths
(conv 4, 6, 8, features 12, 7 classes); with --full (make check-full) the
trained model's widths (16, 32, 64, 128, 10) and more images. The references
are computed in float64 from the float32 weights.

Layout (root attributes: the classifier's, plus version=1, generator,
tolerance = the largest allowed rel error of tests/testutil.h):
  <state_dict keys>        float32 weights
  check/images32           uint8 [37, 32, 32, 1] random pixels, border included
                           (the classifier must ignore it: centre crop)
  check/features32         [37, features] penultimate features (after ReLU)
  check/logits32           [37, classes]
  check/images28           uint8 [5, 28, 28, 1]
  check/features28, check/logits28
37 images span two of the C code's 32-image chunks.

Usage: /usr/bin/python3 tools/golden/gen_classifier.py [--out DIR] [--full]
"""
import argparse
import os
import sys

import numpy as np
import torch

TOOLS = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, TOOLS)
from h5util import atomic_h5  # noqa: E402
from reference.classifier import CONFIG_INT_KEYS, INPUT_SIZE, MODEL_NAME, FmnistClassifier, images_to_input  # noqa

GENERATOR = "tools/golden/gen_classifier.py"
TINY = dict(conv1_channels=4, conv2_channels=6, conv3_channels=8, features=12, num_classes=7)
FULL = dict(conv1_channels=16, conv2_channels=32, conv3_channels=64, features=128, num_classes=10)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default="tests/golden")
    ap.add_argument("--full", action="store_true", help="the trained model's widths (for make check-full)")
    args = ap.parse_args()
    torch.set_num_threads(min(2, torch.get_num_threads()))
    os.makedirs(args.out, exist_ok=True)
    config = FULL if args.full else TINY
    n32, n28 = (300, 50) if args.full else (37, 5)
    torch.manual_seed(900)
    model = FmnistClassifier(**config).eval()
    with torch.no_grad():
        for p in model.parameters():  # biases large enough that ReLU cuts at varied places
            if p.ndim == 1:
                p.uniform_(-0.2, 0.2)
    m64 = FmnistClassifier(**config).double().eval()
    m64.load_state_dict({k: v.double() for k, v in model.state_dict().items()})
    rng = np.random.default_rng(901)
    images32 = rng.integers(0, 256, (n32, 32, 32, 1), dtype=np.uint8)
    images28 = rng.integers(0, 256, (n28, 28, 28, 1), dtype=np.uint8)
    outs = {}
    with torch.no_grad():
        for name, imgs in (("32", images32), ("28", images28)):
            f, lg = m64.forward_features(images_to_input(imgs).double())
            outs[name] = (f.float().numpy(), lg.float().numpy())

    def fill(f):
        for key, value in model.state_dict().items():
            f.create_dataset(key, data=value.numpy().astype(np.float32))
        f.attrs["model"] = MODEL_NAME
        f.attrs["format_version"] = np.int64(1)
        f.attrs["input_size"] = np.int64(INPUT_SIZE)
        for key in CONFIG_INT_KEYS:
            f.attrs[key] = np.int64(config[key])
        f.attrs["source"] = f"{GENERATOR}: random weights"
        f.attrs["version"] = np.int64(1)
        f.attrs["generator"] = GENERATOR
        f.attrs["tolerance"] = np.float64(1e-5)
        c = f.create_group("check")
        c["images32"], c["images28"] = images32, images28
        for name, (feats, logits) in outs.items():
            c[f"features{name}"] = feats
            c[f"logits{name}"] = logits
    path = os.path.join(args.out, "classifier_tiny.h5")
    atomic_h5(path, fill)
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
