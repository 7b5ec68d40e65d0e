"""hdf5_dit.py: read and write DiT weights in the msf HDF5 format.

Schema (format_version 1), at the file root or under a group such as "base/":
- one float32 dataset per state_dict key, named by the key, same shape
  (e.g. "blocks.3.attn.qkv.weight" [3D, D], "pos_embed" [1, T, D]); float16
  datasets are accepted too (written with dtype=float16 to halve a file; the
  readers widen them to float32, the C loader through HDF5's conversion);
- attributes on that root or group:
    model="dit", format_version=1, input_size, patch_size, in_channels,
    hidden_size, depth, num_heads, num_classes (without the null class),
    learn_sigma (0/1), frequency_embedding_size=256, out_channels (all int64);
    mlp_ratio, class_dropout_prob (float64); source (str, where the weights
    came from).
out_channels is written always (2 * in_channels with learn_sigma, else
in_channels, unless the model sets it, as MSF's residual DiT does: 2C in, 2C
out); a reader takes that default when the attribute is absent (older files).
cond_aug=1 (int64, written only when set) marks a network with conditioning
augmentation: tensors aug_embedder.mlp.{0,2}.{weight,bias} embed the noise
level of its (noised) condition as t_embedder embeds t, added to c.
The label table has num_classes + (class_dropout_prob > 0) rows; the extra
last row is the null class used for classifier-free guidance.
"""
import os
import sys

import h5py
import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from h5util import atomic_h5, group_state_dict  # noqa: E402
from reference.dit import DiT, FREQUENCY_EMBEDDING_SIZE  # noqa: E402

FORMAT_VERSION = 1
INT_ATTRS = ("input_size", "patch_size", "in_channels", "hidden_size", "depth", "num_heads", "num_classes")
FLOAT_ATTRS = ("mlp_ratio", "class_dropout_prob")


def write_dit_group(g, state_dict, config, source, dtype="float32"):
    """Write a state_dict and its config into an open h5py File or Group `g`;
    dtype "float16" stores every tensor rounded to half precision."""
    if dtype not in ("float32", "float16"):
        raise ValueError(f"weights dtype {dtype!r}: expected float32 or float16")
    for key, value in state_dict.items():
        a = value.detach().cpu().to(torch.float32).numpy() if torch.is_tensor(value) else np.asarray(value)
        a = np.ascontiguousarray(a, dtype=np.float32)
        if dtype == "float16":
            if np.any(np.abs(a) > np.finfo(np.float16).max):
                raise ValueError(f"tensor {key} exceeds the float16 range: store it as float32")
            a = a.astype(np.float16)
        g.create_dataset(key, data=a)
    g.attrs["model"] = "dit"
    g.attrs["format_version"] = np.int64(FORMAT_VERSION)
    for name in INT_ATTRS:
        g.attrs[name] = np.int64(config[name])
    g.attrs["learn_sigma"] = np.int64(1 if config["learn_sigma"] else 0)
    for name in FLOAT_ATTRS:
        g.attrs[name] = np.float64(config[name])
    g.attrs["frequency_embedding_size"] = np.int64(FREQUENCY_EMBEDDING_SIZE)
    out_channels = config.get("out_channels")
    if out_channels is None:
        out_channels = 2 * config["in_channels"] if config["learn_sigma"] else config["in_channels"]
    g.attrs["out_channels"] = np.int64(out_channels)
    if config.get("cond_aug"):
        g.attrs["cond_aug"] = np.int64(1)
    g.attrs["source"] = str(source)


def save_dit_h5(path, state_dict, config, group=None, source="", dtype="float32"):
    """Write one model to a new file `path`, at the root or under `group`."""
    def fill(f):
        write_dit_group(f.create_group(group) if group else f, state_dict, config, source, dtype)
    atomic_h5(path, fill)


def read_dit_group(g):
    """(config dict, state_dict of float32 tensors) from an open h5py File or Group."""
    a = g.attrs
    if a.get("model") != "dit":
        raise ValueError(f"{g.file.filename}:{g.name}: attribute model is {a.get('model')!r}, expected 'dit'")
    if int(a.get("format_version", -1)) != FORMAT_VERSION:
        raise ValueError(f"{g.file.filename}:{g.name}: format_version {a.get('format_version')}, "
                         f"expected {FORMAT_VERSION}")
    config = {name: int(a[name]) for name in INT_ATTRS}
    config.update({name: float(a[name]) for name in FLOAT_ATTRS})
    config["learn_sigma"] = bool(int(a["learn_sigma"]))
    if "out_channels" in a:
        config["out_channels"] = int(a["out_channels"])
    if int(a.get("cond_aug", 0)):
        config["cond_aug"] = True
    return config, group_state_dict(g)


def load_reference_from_h5(path, group=None):
    """The reference DiT (float32, eval mode) stored at the root or under `group` of `path`."""
    with h5py.File(path, "r") as f:
        config, state = read_dit_group(f[group] if group else f)
    model = DiT(**config)
    model.load_state_dict(state, strict=True)
    return model.eval()
