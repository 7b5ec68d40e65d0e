"""h5util.py: HDF5 helpers shared by the weight-file tools (hdf5_dit.py,
hdf5_msf.py, convert_vae.py)."""
import os

import h5py
import numpy as np
import torch


def atomic_h5(path, fill):
    """Create `path` by calling fill(h5py.File) on a temporary file in the same
    directory and renaming it when complete; on any error nothing is left behind."""
    d = os.path.dirname(os.path.abspath(path))
    tmp = os.path.join(d, f".{os.path.basename(path)}.tmp{os.getpid()}")
    try:
        with h5py.File(tmp, "w") as f:
            fill(f)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise


def group_state_dict(g):
    """Every dataset under the h5py group g, by its path relative to g, as float32 tensors."""
    state = {}

    def visit(name, obj):
        if isinstance(obj, h5py.Dataset):
            state[name] = torch.from_numpy(obj[()].astype(np.float32))
    g.visititems(visit)
    return state
