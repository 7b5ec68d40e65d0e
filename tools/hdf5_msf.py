"""hdf5_msf.py: read and write MSF weights (a base DiT + residual DiTs) in the msf HDF5 format.

Schema (format_version 1), at the file root or under a group such as "model/":
- attributes: model="msf", format_version=1, scale, levels, channels (C),
  input_size (the full-resolution side H) (int64); down, up, source (str);
- "base/": a DiT weight set in the schema of tools/hdf5_dit.py over the base
  latents (input_size H/s^(L-1), in_channels C);
- the residual DiTs in generation order: for levels = 2 one group "residual/";
  for levels > 2 "residual1/" (the coarsest residual, side H/s^(L-2)) ..
  "residual{L-1}/" (the finest, side H). Each is a DiT weight set with
  in_channels 2C (input concat(noisy residual, U(lower levels)), residual
  first), out_channels 2C with learn_sigma else C, and a float64 attribute
  residual_scale: the model learns r / residual_scale and a sample s gives
  the level U(lower) + residual_scale * s.
Files are written to a temporary name and renamed when complete.
"""
import os
import sys

import h5py
import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from hdf5_dit import atomic_h5, read_dit_group, write_dit_group  # noqa: E402
from reference.dit import DiT  # noqa: E402
from reference.msf import FactorOptions, MSFModel  # noqa: E402

FORMAT_VERSION = 1


def residual_group_names(levels):
    """Group names of the residual models in generation order."""
    return ["residual"] if levels == 2 else [f"residual{j}" for j in range(1, levels)]


def check_configs(opts, channels, input_size, base_config, residual_configs):
    """Raise ValueError unless the stage configs fit the factorisation."""
    opts.check(input_size, input_size)
    side = input_size // opts.factor()
    if base_config["in_channels"] != channels or base_config["input_size"] != side:
        raise ValueError(f"base: in_channels {base_config['in_channels']}, input_size {base_config['input_size']}; "
                         f"expected {channels}, {side}")
    names = residual_group_names(opts.levels)
    if len(residual_configs) != len(names):
        raise ValueError(f"{opts.levels} levels need {len(names)} residual models, got {len(residual_configs)}")
    for j, (name, cfg) in enumerate(zip(names, residual_configs), start=1):
        side = input_size // opts.scale ** (opts.levels - 1 - j)
        out = cfg.get("out_channels") or (2 * cfg["in_channels"] if cfg["learn_sigma"] else cfg["in_channels"])
        want_out = 2 * channels if cfg["learn_sigma"] else channels
        if cfg["in_channels"] != 2 * channels or cfg["input_size"] != side or out != want_out:
            raise ValueError(f"{name}: in_channels {cfg['in_channels']}, input_size {cfg['input_size']}, "
                             f"out_channels {out}; expected {2 * channels}, {side}, {want_out}")
        if cfg["num_classes"] != base_config["num_classes"]:
            raise ValueError(f"{name} has {cfg['num_classes']} classes, the base {base_config['num_classes']}")


def write_msf_group(g, opts, channels, input_size, base, residuals, source="", dtype="float32"):
    """Write into an open h5py File or Group. base = (state_dict, config);
    residuals = [(state_dict, config, residual_scale), ...] in generation order."""
    check_configs(opts, channels, input_size, base[1], [r[1] for r in residuals])
    g.attrs["model"] = "msf"
    g.attrs["format_version"] = np.int64(FORMAT_VERSION)
    g.attrs["scale"] = np.int64(opts.scale)
    g.attrs["levels"] = np.int64(opts.levels)
    g.attrs["down"] = opts.down
    g.attrs["up"] = opts.up
    g.attrs["channels"] = np.int64(channels)
    g.attrs["input_size"] = np.int64(input_size)
    g.attrs["source"] = str(source)
    write_dit_group(g.create_group("base"), base[0], base[1], source, dtype)
    for name, (state, config, residual_scale) in zip(residual_group_names(opts.levels), residuals):
        if not float(residual_scale) > 0:
            raise ValueError(f"{name}: residual_scale {residual_scale} must be > 0")
        config = dict(config)
        if config.get("out_channels") is None:
            config["out_channels"] = 2 * channels if config["learn_sigma"] else channels
        sub = g.create_group(name)
        write_dit_group(sub, state, config, source, dtype)
        sub.attrs["residual_scale"] = np.float64(residual_scale)


def save_msf_h5(path, opts, channels, input_size, base, residuals, group=None, source="", dtype="float32"):
    """Write one MSF model to a new file `path` (atomically), at the root or under `group`."""
    def fill(f):
        write_msf_group(f.create_group(group) if group else f, opts, channels, input_size, base, residuals, source,
                        dtype)
    atomic_h5(path, fill)


def read_msf_group(g):
    """dict(opts, channels, input_size, source, base=(config, state),
    residuals=[(config, state, residual_scale), ...]) from an open File or Group."""
    a = g.attrs
    where = f"{g.file.filename}:{g.name}"
    if a.get("model") != "msf":
        raise ValueError(f"{where}: attribute model is {a.get('model')!r}, expected 'msf'")
    if int(a.get("format_version", -1)) != FORMAT_VERSION:
        raise ValueError(f"{where}: format_version {a.get('format_version')}, expected {FORMAT_VERSION}")
    opts = FactorOptions(int(a["scale"]), int(a["levels"]), str(a["down"]), str(a["up"]))
    channels, input_size = int(a["channels"]), int(a["input_size"])
    names = residual_group_names(opts.levels)
    for name in ["base"] + names:
        if name not in g:
            raise ValueError(f"{where}: no group '{name}' (levels = {opts.levels})")
    base = read_dit_group(g["base"])
    residuals = []
    for name in names:
        config, state = read_dit_group(g[name])
        if "residual_scale" not in g[name].attrs:
            raise ValueError(f"{where}/{name}: no attribute residual_scale")
        residuals.append((config, state, float(g[name].attrs["residual_scale"])))
    check_configs(opts, channels, input_size, base[0], [r[0] for r in residuals])
    return dict(opts=opts, channels=channels, input_size=input_size, source=str(a.get("source", "")), base=base,
                residuals=residuals)


def msf_from_group_data(data):
    """An MSFModel (float32, eval mode) from read_msf_group's result."""
    def dit(config, state):
        m = DiT(**config)
        m.load_state_dict(state, strict=True)
        return m.eval()
    return MSFModel(dit(*data["base"]), [dit(c, s) for c, s, _ in data["residuals"]],
                    [r[2] for r in data["residuals"]], data["opts"])


def load_msf_reference(path, group=None):
    """The reference MSFModel stored at the root or under `group` of `path`."""
    with h5py.File(path, "r") as f:
        data = read_msf_group(f[group] if group else f)
    return msf_from_group_data(data)
