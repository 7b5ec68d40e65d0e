#!/usr/bin/env python3
"""convert_vae.py: convert SD VAE (AutoencoderKL, kl-f8) weights to the msf HDF5 format.

Usage: convert_vae.py WEIGHTS OUT.h5 [--config config.json] [--norm-num-groups 32]
                      [--scaling-factor 0.18215]

WEIGHTS is one of
- a diffusers AutoencoderKL file: diffusion_pytorch_model.safetensors (read
  here without the safetensors package: an 8-byte little-endian header
  length, a JSON header {name: {dtype, shape, data_offsets}}, raw data) or
  diffusion_pytorch_model.bin (torch.load), with either attention naming:
  to_q/to_k/to_v/to_out.0 (diffusers >= 0.14) or query/key/value/proj_attn;
- an original CompVis/Stability LDM checkpoint (.ckpt, .pt or .safetensors:
  vae-ft-ema-560000-ema-pruned.ckpt, a whole Stable Diffusion checkpoint whose
  first_stage_model.* is used), naming encoder.down.{i}.block.{j}, mid.attn_1.q
  (1x1 convs), decoder.up.{i} with i = 0 the HIGHEST resolution, ...
Every tensor is converted to float32 and renamed to diffusers' current keys
(the canonical naming; attention weights become [C, C] Linear weights). The
config comes from --config (diffusers' config.json; a config.json next to
WEIGHTS is used when present) and otherwise from the tensor shapes, with the
group count and scaling factor from the options (defaults 32 and 0.18215:
the values of every kl-f8 VAE). Tensors the VAE does not use at inference
(the LDM training loss: loss.*, model_ema.*) are dropped with a note. Every
tensor is checked against a reference model of that config: on a missing,
mis-shaped or unexpected tensor the tool names it, exits with status 1 and
writes nothing.

HDF5 schema (format_version 1), at the file root or under a group:
- one float32 dataset per canonical state_dict key, e.g.
  "decoder.up_blocks.0.resnets.2.conv1.weight" [512, 512, 3, 3],
  "decoder.mid_block.attentions.0.to_q.weight" [512, 512];
- attributes model="vae", format_version=1, in_channels, out_channels,
  latent_channels, layers_per_block, norm_num_groups (int64),
  block_out_channels (str, "128,256,512,512"), scaling_factor (float64),
  source (str).
"""
import argparse
import json
import os
import re
import struct
import sys

import h5py
import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from h5util import atomic_h5, group_state_dict  # noqa: E402
from reference.vae import AutoencoderKL  # noqa: E402

FORMAT_VERSION = 1
INT_ATTRS = ("in_channels", "out_channels", "latent_channels", "layers_per_block", "norm_num_groups")


class ConvertError(Exception):
    pass


def shape_str(s):
    return "[" + ", ".join(str(int(d)) for d in s) + "]"


# -----------------------------------------------------------------------------
# HDF5 files


def write_vae_group(g, state_dict, config, source):
    """Write a canonical state_dict and its config into an open h5py File or Group."""
    for key, value in state_dict.items():
        a = value.detach().cpu().to(torch.float32).numpy() if torch.is_tensor(value) else np.asarray(value)
        g.create_dataset(key, data=np.ascontiguousarray(a, dtype=np.float32))
    g.attrs["model"] = "vae"
    g.attrs["format_version"] = np.int64(FORMAT_VERSION)
    for name in INT_ATTRS:
        g.attrs[name] = np.int64(config[name])
    g.attrs["block_out_channels"] = ",".join(str(int(c)) for c in config["block_out_channels"])
    g.attrs["scaling_factor"] = np.float64(config["scaling_factor"])
    g.attrs["source"] = str(source)


def save_vae_h5(path, state_dict, config, group=None, source=""):
    atomic_h5(path, lambda f: write_vae_group(f.create_group(group) if group else f, state_dict, config, source))


def read_vae_group(g):
    """(config, canonical state_dict) from an open h5py File or Group."""
    a = g.attrs
    if a.get("model") != "vae":
        raise ValueError(f"{g.file.filename}:{g.name}: attribute model is {a.get('model')!r}, expected 'vae'")
    if int(a.get("format_version", -1)) != FORMAT_VERSION:
        raise ValueError(f"{g.file.filename}:{g.name}: format_version {a.get('format_version')}, "
                         f"expected {FORMAT_VERSION}")
    config = {name: int(a[name]) for name in INT_ATTRS}
    config["block_out_channels"] = tuple(int(c) for c in str(a["block_out_channels"]).split(","))
    config["scaling_factor"] = float(a["scaling_factor"])
    return config, group_state_dict(g)


def load_reference_from_h5(path, group=None):
    """The reference AutoencoderKL (float32, eval mode) stored in `path`."""
    with h5py.File(path, "r") as f:
        config, state = read_vae_group(f[group] if group else f)
    model = AutoencoderKL(**config)
    model.load_state_dict(state, strict=True)
    return model.eval()


# -----------------------------------------------------------------------------
# Reading checkpoints

SAFETENSORS_DTYPES = {"F64": np.float64, "F32": np.float32, "F16": np.float16, "BF16": np.uint16,
                      "I64": np.int64, "I32": np.int32, "I16": np.int16, "I8": np.int8, "U8": np.uint8,
                      "BOOL": np.bool_}


def read_safetensors(path):
    """{name: float32 tensor} from a .safetensors file (format: u64 LE header size N, N bytes of
    JSON, then the data block; offsets in the header are relative to the data block)."""
    with open(path, "rb") as f:
        raw = f.read(8)
        if len(raw) != 8:
            raise ConvertError("not a safetensors file: shorter than 8 bytes")
        (n,) = struct.unpack("<Q", raw)
        size = os.fstat(f.fileno()).st_size
        if n > size - 8:
            raise ConvertError(f"not a safetensors file: header length {n} exceeds the file size {size}")
        try:
            header = json.loads(f.read(n))
        except ValueError as e:
            raise ConvertError(f"not a safetensors file: bad JSON header ({e})")
        data = f.read()
    state = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        dtype = SAFETENSORS_DTYPES.get(info.get("dtype"))
        if dtype is None:
            raise ConvertError(f"tensor '{name}' has unsupported dtype {info.get('dtype')}")
        begin, end = info["data_offsets"]
        shape = tuple(info["shape"])
        count = int(np.prod(shape)) if shape else 1
        if end - begin != count * np.dtype(dtype).itemsize or end > len(data):
            raise ConvertError(f"tensor '{name}': data_offsets {begin}..{end} do not fit shape {shape_str(shape)} "
                               f"{info['dtype']} in a data block of {len(data)} bytes")
        a = np.frombuffer(data, dtype=dtype, count=count, offset=begin).reshape(shape)
        if info["dtype"] == "BF16":
            a = (a.astype(np.uint32) << 16).view(np.float32)
        state[name] = torch.from_numpy(np.array(a, dtype=np.float32))
    return state


def read_torch(path):
    try:
        ckpt = torch.load(path, map_location="cpu")
    except Exception as e:  # noqa: BLE001 - any unpickling failure means "not a checkpoint we can read"
        raise ConvertError(f"cannot load with torch.load: {e}")
    if isinstance(ckpt, dict) and "state_dict" in ckpt and isinstance(ckpt["state_dict"], dict):
        ckpt = ckpt["state_dict"]
    if not isinstance(ckpt, dict):
        raise ConvertError(f"holds a {type(ckpt).__name__}, expected a state_dict")
    state = {}
    for k, v in ckpt.items():
        if torch.is_tensor(v):
            state[k] = v.to(torch.float32)
    return state


def read_checkpoint(path):
    """A raw state_dict: safetensors by name or content, else torch.load (zip or legacy pickle)."""
    with open(path, "rb") as f:
        head = f.read(2)
    if not path.endswith(".safetensors") and (head == b"PK" or head[:1] == b"\x80"):
        return read_torch(path)
    return read_safetensors(path)


# -----------------------------------------------------------------------------
# Naming

LDM_RESNET = {"nin_shortcut": "conv_shortcut"}
LDM_ATTN = {"norm": "group_norm", "q": "to_q", "k": "to_k", "v": "to_v", "proj_out": "to_out.0"}
OLD_ATTN = {"query": "to_q", "key": "to_k", "value": "to_v", "proj_attn": "to_out.0"}


def ldm_to_canonical(key, num_levels):
    """Canonical key of an LDM key (None: not part of the VAE)."""
    m = re.fullmatch(r"(encoder|decoder)\.(.*)", key)
    if not m:
        return key if key.split(".")[0] in ("quant_conv", "post_quant_conv") else None
    part, rest = m.groups()
    simple = {"conv_in": "conv_in", "conv_out": "conv_out", "norm_out": "conv_norm_out"}
    head, _, tail = rest.partition(".")
    if head in simple:
        return f"{part}.{simple[head]}.{tail}"
    m = re.fullmatch(r"mid\.block_([12])\.(\w+)\.(weight|bias)", rest)
    if m:
        layer = LDM_RESNET.get(m.group(2), m.group(2))
        return f"{part}.mid_block.resnets.{int(m.group(1)) - 1}.{layer}.{m.group(3)}"
    m = re.fullmatch(r"mid\.attn_1\.(\w+)\.(weight|bias)", rest)
    if m and m.group(1) in LDM_ATTN:
        return f"{part}.mid_block.attentions.0.{LDM_ATTN[m.group(1)]}.{m.group(2)}"
    m = re.fullmatch(r"(down|up)\.(\d+)\.block\.(\d+)\.(\w+)\.(weight|bias)", rest)
    if m:
        kind, level, j, layer, wb = m.groups()
        # LDM's decoder.up[i] is level i counted from the full resolution; diffusers'
        # up_blocks run from the lowest resolution.
        i = int(level) if kind == "down" else num_levels - 1 - int(level)
        blocks = "down_blocks" if kind == "down" else "up_blocks"
        return f"{part}.{blocks}.{i}.resnets.{j}.{LDM_RESNET.get(layer, layer)}.{wb}"
    m = re.fullmatch(r"down\.(\d+)\.downsample\.conv\.(weight|bias)", rest)
    if m:
        return f"{part}.down_blocks.{m.group(1)}.downsamplers.0.conv.{m.group(2)}"
    m = re.fullmatch(r"up\.(\d+)\.upsample\.conv\.(weight|bias)", rest)
    if m:
        return f"{part}.up_blocks.{num_levels - 1 - int(m.group(1))}.upsamplers.0.conv.{m.group(2)}"
    return key  # left as is: reported as unexpected by the shape check


def canonical_state(state):
    """(naming, canonical state_dict, dropped keys) from a raw state_dict of any supported naming."""
    prefix = "first_stage_model."
    if any(k.startswith(prefix) for k in state):
        state = {k[len(prefix):]: v for k, v in state.items() if k.startswith(prefix)}
    dropped = sorted(k for k in state if k.split(".")[0] in ("loss", "model_ema"))
    state = {k: v for k, v in state.items() if k not in dropped}
    if any(k.startswith("encoder.down.") or k.startswith("decoder.up.") for k in state):
        levels = {int(k.split(".")[2]) for k in state if k.startswith("encoder.down.")}
        num_levels = max(levels) + 1 if levels else 0
        naming, out = "ldm", {}
        for k, v in state.items():
            new = ldm_to_canonical(k, num_levels)
            if new is None:
                raise ConvertError(f"unexpected tensor {k}")
            out[new] = v
    else:
        naming = "diffusers"
        out = {}
        for k, v in state.items():
            m = re.fullmatch(r"(.*\.attentions\.\d+)\.(query|key|value|proj_attn)\.(weight|bias)", k)
            if m:
                naming = "diffusers (query/key/value/proj_attn)"
                k = f"{m.group(1)}.{OLD_ATTN[m.group(2)]}.{m.group(3)}"
            out[k] = v
    # Attention projections are 1x1 convs in the LDM code: [C, C, 1, 1] -> [C, C].
    for k, v in out.items():
        if re.search(r"\.attentions\.\d+\.(to_q|to_k|to_v|to_out\.0)\.weight$", k) and v.dim() == 4:
            if v.shape[2:] != (1, 1):
                raise ConvertError(f"tensor '{k}' has shape {shape_str(v.shape)}, expected [C, C] or [C, C, 1, 1]")
            out[k] = v[:, :, 0, 0]
    return naming, {k: v.contiguous() for k, v in out.items()}, dropped


# -----------------------------------------------------------------------------
# Config


def need(state, key):
    if key not in state:
        raise ConvertError(f"missing tensor {key}")
    return state[key]


def infer_config(state, config_json=None, norm_num_groups=None, scaling_factor=None):
    levels = sorted({int(k.split(".")[2]) for k in state if k.startswith("encoder.down_blocks.")})
    if not levels or levels != list(range(len(levels))):
        raise ConvertError("cannot find encoder.down_blocks.0 .. N-1: not an AutoencoderKL state_dict")
    block_out = tuple(int(need(state, f"encoder.down_blocks.{i}.resnets.0.conv1.weight").shape[0]) for i in levels)
    layers = len({k.split(".")[4] for k in state if k.startswith("encoder.down_blocks.0.resnets.")})
    cfg = dict(in_channels=int(need(state, "encoder.conv_in.weight").shape[1]),
               out_channels=int(need(state, "decoder.conv_out.weight").shape[0]),
               latent_channels=int(need(state, "post_quant_conv.weight").shape[0]),
               block_out_channels=block_out, layers_per_block=layers, norm_num_groups=32, scaling_factor=0.18215)
    if config_json:
        with open(config_json) as f:
            js = json.load(f)
        if js.get("_class_name", "AutoencoderKL") != "AutoencoderKL":
            raise ConvertError(f"{config_json} describes a {js['_class_name']}, expected AutoencoderKL")
        for key in ("in_channels", "out_channels", "latent_channels", "layers_per_block", "norm_num_groups"):
            if key in js:
                if key != "norm_num_groups" and int(js[key]) != cfg[key]:
                    raise ConvertError(f"{config_json}: {key} = {js[key]}, the tensors have {cfg[key]}")
                cfg[key] = int(js[key])
        if "block_out_channels" in js and tuple(js["block_out_channels"]) != block_out:
            raise ConvertError(f"{config_json}: block_out_channels = {js['block_out_channels']}, the tensors have "
                               f"{list(block_out)}")
        if js.get("scaling_factor") is not None:
            cfg["scaling_factor"] = float(js["scaling_factor"])
        for flag in ("use_quant_conv", "use_post_quant_conv", "mid_block_add_attention"):
            if js.get(flag, True) is not True:
                raise ConvertError(f"{config_json}: {flag} = {js[flag]} is not supported (kl-f8 VAEs have it true)")
        if js.get("act_fn", "silu") != "silu":
            raise ConvertError(f"{config_json}: act_fn {js['act_fn']} is not supported (expected silu)")
    if norm_num_groups is not None:
        cfg["norm_num_groups"] = norm_num_groups
    if scaling_factor is not None:
        cfg["scaling_factor"] = scaling_factor
    for c in block_out:
        if c % cfg["norm_num_groups"]:
            raise ConvertError(f"block_out_channels {list(block_out)}: {c} is not divisible by "
                               f"{cfg['norm_num_groups']} groups")
    return cfg


def check_tensors(state, config):
    expected = {k: tuple(v.shape) for k, v in AutoencoderKL(**config).state_dict().items()}
    for key, shape in expected.items():
        if key not in state:
            raise ConvertError(f"missing tensor {key}")
        if tuple(state[key].shape) != shape:
            raise ConvertError(f"tensor '{key}' has shape {shape_str(state[key].shape)}, expected {shape_str(shape)}")
    unexpected = sorted(set(state) - set(expected))
    if unexpected:
        raise ConvertError(f"unexpected tensor{'s' if len(unexpected) > 1 else ''} " + ", ".join(unexpected))


def convert(path, out_path, config_json=None, norm_num_groups=None, scaling_factor=None, log=sys.stderr):
    if config_json is None:
        guess = os.path.join(os.path.dirname(os.path.abspath(path)), "config.json")
        if os.path.exists(guess):
            config_json = guess
    naming, state, dropped = canonical_state(read_checkpoint(path))
    if dropped:
        print(f"{path}: dropping {len(dropped)} tensors not used at inference ({dropped[0]}, ...)", file=log)
    config = infer_config(state, config_json, norm_num_groups, scaling_factor)
    check_tensors(state, config)
    save_vae_h5(out_path, state, config, source=os.path.abspath(path))
    return naming, config


def main(argv=None):
    ap = argparse.ArgumentParser(description="Convert SD VAE weights (diffusers or LDM) to msf HDF5 weights.")
    ap.add_argument("weights", help=".safetensors, .bin, .ckpt or .pt")
    ap.add_argument("out", help="output .h5 file")
    ap.add_argument("--config", help="diffusers config.json (default: config.json next to WEIGHTS, if any)")
    ap.add_argument("--norm-num-groups", type=int, help="GroupNorm groups (default: config, else 32)")
    ap.add_argument("--scaling-factor", type=float, help="latent scale (default: config, else 0.18215)")
    args = ap.parse_args(argv)
    try:
        naming, config = convert(args.weights, args.out, args.config, args.norm_num_groups, args.scaling_factor)
    except (ConvertError, OSError, RuntimeError, ValueError) as e:
        print(f"convert_vae.py: {args.weights}: {e}", file=sys.stderr)
        return 1
    print(f"wrote {args.out} (from {naming} naming)")
    for k, v in config.items():
        print(f"  {k} = {v}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
