#!/usr/bin/env python3
"""convert_dit.py: convert a DiT PyTorch checkpoint to the msf HDF5 weight format.

Usage: convert_dit.py CKPT.pt OUT.h5 [--model DiT-XL/2] [--num-heads N] [--class-dropout-prob P]

CKPT is an official DiT checkpoint (a bare state_dict) or a training checkpoint
of DiT's train.py ({"model", "ema", "opt", "args"}), whose "ema" weights are
used, as DiT's own sample scripts do. The config is inferred from tensor
shapes; the number of heads cannot be, so it comes from --model, else
--num-heads, else the official config of that hidden size. Every tensor is
checked against a reference DiT of the inferred config; on any mismatch the
tool names the tensor, exits with status 1 and writes nothing.
"""
import argparse
import math
import os
import pickle
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from hdf5_dit import save_dit_h5  # noqa: E402
from reference.dit import CONFIGS, DiT  # noqa: E402

HEADS_BY_HIDDEN = {384: 6, 768: 12, 1024: 16, 1152: 16}


class ConvertError(Exception):
    pass


def shape_str(s):
    return "[" + ", ".join(str(int(d)) for d in s) + "]"


def need(state, key):
    if key not in state:
        raise ConvertError(f"missing tensor {key}")
    return state[key]


def infer_config(state, model=None, num_heads=None, class_dropout_prob=0.1):
    """DiT constructor arguments from the shapes of a state_dict."""
    w = need(state, "x_embedder.proj.weight")
    if w.dim() != 4 or w.shape[2] != w.shape[3]:
        raise ConvertError(f"tensor 'x_embedder.proj.weight' has shape {shape_str(w.shape)}, expected [D, C, p, p]")
    hidden, in_channels, patch = int(w.shape[0]), int(w.shape[1]), int(w.shape[2])
    pos = need(state, "pos_embed")
    tokens = int(pos.shape[1]) if pos.dim() == 3 else -1
    grid = math.isqrt(tokens) if tokens > 0 else 0
    if pos.dim() != 3 or grid * grid != tokens:
        raise ConvertError(f"tensor 'pos_embed' has shape {shape_str(pos.shape)}, expected [1, T, D] "
                           f"with T a square")
    blocks = {int(k.split(".")[1]) for k in state if k.startswith("blocks.") and k.split(".")[1].isdigit()}
    depth = max(blocks) + 1 if blocks else 0
    out_rows = int(need(state, "final_layer.linear.weight").shape[0])
    if out_rows == patch * patch * 2 * in_channels:
        learn_sigma = True
    elif out_rows == patch * patch * in_channels:
        learn_sigma = False
    else:
        raise ConvertError(f"tensor 'final_layer.linear.weight' has {out_rows} rows, expected "
                           f"{patch * patch * 2 * in_channels} (learn_sigma) or {patch * patch * in_channels}")
    mlp_ratio = int(need(state, "blocks.0.mlp.fc1.weight").shape[0]) / hidden
    rows = int(need(state, "y_embedder.embedding_table.weight").shape[0])
    num_classes = rows - 1 if class_dropout_prob > 0 else rows

    if model is not None:
        if model not in CONFIGS:
            raise ConvertError(f"unknown --model '{model}' (known: {', '.join(CONFIGS)})")
        named = CONFIGS[model]
        for name, value in (("hidden_size", hidden), ("patch_size", patch), ("depth", depth)):
            if named[name] != value:
                raise ConvertError(f"--model {model} has {name} {named[name]}, the checkpoint has {value}")
        heads = named["num_heads"]
    elif num_heads is not None:
        heads = num_heads
    elif hidden in HEADS_BY_HIDDEN:
        heads = HEADS_BY_HIDDEN[hidden]
    else:
        raise ConvertError(f"hidden size {hidden} matches no official config: give --model or --num-heads")
    if heads <= 0 or hidden % heads:
        raise ConvertError(f"hidden size {hidden} is not divisible by {heads} heads")
    return dict(input_size=grid * patch, patch_size=patch, in_channels=in_channels, hidden_size=hidden,
                depth=depth, num_heads=heads, mlp_ratio=mlp_ratio, class_dropout_prob=class_dropout_prob,
                num_classes=num_classes, learn_sigma=learn_sigma)


def check_tensors(state, config):
    """Compare against a reference DiT of `config` (built without storage)."""
    expected = {k: tuple(v.shape) for k, v in DiT(**config, device="meta").state_dict().items()}
    for key, shape in expected.items():
        if key not in state:
            raise ConvertError(f"missing tensor {key}")
        if tuple(state[key].shape) != shape:
            raise ConvertError(f"tensor '{key}' has shape {shape_str(state[key].shape)}, expected {shape_str(shape)}")
    unexpected = sorted(set(state) - set(expected))
    if unexpected:
        raise ConvertError(f"unexpected tensor{'s' if len(unexpected) > 1 else ''} " + ", ".join(unexpected))


def load_state_dict(path):
    try:
        ckpt = torch.load(path, map_location="cpu")
    except pickle.UnpicklingError:
        # PyTorch >= 2.6 loads weights only by default, which refuses the argparse
        # Namespace that train.py stores; such a checkpoint is the user's own.
        print(f"{path}: not loadable with weights_only, loading it as a full pickle", file=sys.stderr)
        ckpt = torch.load(path, map_location="cpu", weights_only=False)
    if not isinstance(ckpt, dict):
        raise ConvertError(f"{path} holds a {type(ckpt).__name__}, expected a state_dict or a training checkpoint")
    if "ema" in ckpt:
        print(f"{path}: training checkpoint, using its 'ema' weights", file=sys.stderr)
        ckpt = ckpt["ema"]
    state = {}
    for k, v in ckpt.items():
        if not torch.is_tensor(v):
            raise ConvertError(f"entry '{k}' of {path} is a {type(v).__name__}, not a tensor")
        state[k] = v
    return state


def convert(ckpt_path, out_path, model=None, num_heads=None, class_dropout_prob=0.1):
    state = load_state_dict(ckpt_path)
    config = infer_config(state, model, num_heads, class_dropout_prob)
    check_tensors(state, config)
    save_dit_h5(out_path, state, config, source=os.path.abspath(ckpt_path))
    return config


def main(argv=None):
    ap = argparse.ArgumentParser(description="Convert a DiT checkpoint (.pt) to msf HDF5 weights.")
    ap.add_argument("ckpt", help="DiT checkpoint: bare state_dict or train.py checkpoint (its 'ema' is used)")
    ap.add_argument("out", help="output .h5 file")
    ap.add_argument("--model", help=f"official config name ({', '.join(CONFIGS)}): sets the number of heads")
    ap.add_argument("--num-heads", type=int, help="attention heads, when --model is not given")
    ap.add_argument("--class-dropout-prob", type=float, default=0.1,
                    help="training label dropout; > 0 means the label table has a null-class row (default 0.1)")
    args = ap.parse_args(argv)
    try:
        config = convert(args.ckpt, args.out, args.model, args.num_heads, args.class_dropout_prob)
    except (ConvertError, OSError, RuntimeError) as e:
        print(f"convert_dit.py: {args.ckpt}: {e}", file=sys.stderr)
        return 1
    print(f"wrote {args.out}")
    for k, v in config.items():
        print(f"  {k} = {v}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
