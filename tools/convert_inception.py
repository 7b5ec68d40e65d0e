#!/usr/bin/env python3
"""convert_inception.py: pytorch-fid's InceptionV3 weights to the msf HDF5 format.

Usage: convert_inception.py pt_inception-2015-12-05-6726825d.pth OUT.h5

The input is pytorch-fid's weights file (the TF inception-2015-12-05 graph
ported to torchvision's Inception3 layout with num_classes 1008 and no aux
logits). pytorch-fid passes what torch.load returns straight to
load_state_dict, so the file is a bare state_dict; that is the only form
accepted here (a dict wrapping one, such as {"state_dict": ...}, is refused
with a message). Every tensor of tools/reference/inception.py's
FIDInceptionV3 must be present with its shape; a missing, mis-shaped or
unexpected tensor is named, the tool exits with status 1 and writes nothing.
BatchNorm's num_batches_tracked counters are dropped (not used at
inference), and so is fc.bias: the logits of ADM's evaluator (and of our
featnet) are pool_3 . fc.weight^T without it.

HDF5 schema (format_version 1), at the file root:
- one float32 dataset per kept state_dict key, named by it, same shape
  (e.g. "Conv2d_1a_3x3.conv.weight" [32, 3, 3, 3],
  "Mixed_6d.branch1x1.bn.running_var" [192], "fc.weight" [1008, 2048]);
- attributes model="inception", format_version=1 (int64), source (str: the
  input file), sha256 (str: of the input file's bytes).
"""
import argparse
import hashlib
import os
import pickle
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from h5util import atomic_h5  # noqa: E402
from reference.inception import FIDInceptionV3  # noqa: E402

FORMAT_VERSION = 1


class ConvertError(Exception):
    pass


def shape_str(s):
    return "[" + ", ".join(str(int(d)) for d in s) + "]"


def kept(key):
    return not key.endswith("num_batches_tracked") and key != "fc.bias"


def expected_shapes():
    return {k: tuple(v.shape) for k, v in FIDInceptionV3().state_dict().items() if kept(k)}


def write_inception_group(g, state_dict, source, sha256=""):
    """Write the kept tensors of a FIDInceptionV3 state_dict into an open h5py File or Group."""
    for key, value in state_dict.items():
        if kept(key):
            a = value.detach().cpu().to(torch.float32).numpy()
            g.create_dataset(key, data=np.ascontiguousarray(a, dtype=np.float32))
    g.attrs["model"] = "inception"
    g.attrs["format_version"] = np.int64(FORMAT_VERSION)
    g.attrs["source"] = str(source)
    g.attrs["sha256"] = str(sha256)


def load_state_dict(path):
    obj = torch.load(path, map_location="cpu")
    if not isinstance(obj, dict):
        raise ConvertError(f"holds a {type(obj).__name__}, expected a state_dict (pytorch-fid's "
                           f"pt_inception-2015-12-05-6726825d.pth is one)")
    for k, v in obj.items():
        if not torch.is_tensor(v):
            raise ConvertError(f"entry '{k}' is a {type(v).__name__}, not a tensor: expected a bare state_dict "
                               f"as in pytorch-fid's pt_inception-2015-12-05-6726825d.pth")
    return obj


def check_tensors(state):
    expected = expected_shapes()
    for key, shape in expected.items():
        if key not in state:
            raise ConvertError(f"missing tensor {key}")
        if tuple(state[key].shape) != shape:
            raise ConvertError(f"tensor '{key}' has shape {shape_str(state[key].shape)}, expected {shape_str(shape)}")
    unexpected = sorted(k for k in state if kept(k) and k not in expected)
    if unexpected:
        raise ConvertError(f"unexpected tensor{'s' if len(unexpected) > 1 else ''} " + ", ".join(unexpected))
    bad = [k for k in expected if not torch.isfinite(state[k]).all()]
    if bad:
        raise ConvertError(f"tensor '{bad[0]}' holds NaN or Inf")


def file_sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def convert(path, out_path):
    state = load_state_dict(path)
    check_tensors(state)
    digest = file_sha256(path)
    atomic_h5(out_path, lambda f: write_inception_group(f, state, os.path.abspath(path), digest))
    return digest


def main(argv=None):
    ap = argparse.ArgumentParser(description="Convert pytorch-fid's InceptionV3 weights (.pth) to msf HDF5.")
    ap.add_argument("weights", help="pt_inception-2015-12-05-6726825d.pth (a bare state_dict)")
    ap.add_argument("out", help="output .h5 file")
    args = ap.parse_args(argv)
    try:
        digest = convert(args.weights, args.out)
    except (ConvertError, OSError, RuntimeError, ValueError, EOFError, pickle.UnpicklingError) as e:
        print(f"convert_inception.py: {args.weights}: {e}", file=sys.stderr)
        return 1
    print(f"wrote {args.out} (sha256 of the input {digest})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
