#!/usr/bin/env python3
"""make_dit_cli_fixture.py: tests/golden/dit_cli_fixture.h5 for tests/cli_dit.sh.

Copies, from tests/golden/dit_tiny.h5 (made by gen_dit.py), the datasets that
`msf forward --in` and `msf sample --noise-file` read, to the file root where
those commands look for them:
  x, t, y          sigma_io/x, sigma_io/t (int64), sigma_io/y (int64)
  expected         sigma_io/out, the reference forward of the `sigma` model
  x_T, z           traj/case1/x_T and traj/case1/noise [10, 4, 4, 8, 8]
                   (sigma model, ddpm, cfg 4.0 dit3, respacing "10", 2 samples)
  labels           traj/case1/labels (int64)
  expected_traj    traj/case1/out, the reference trajectory's final latents
Root attributes: generator, source, and the traj/case1 sampling attributes
prefixed traj_ (so the shell test can see where the numbers come from).
No torch needed: h5py and numpy only. Deterministic given dit_tiny.h5.

Usage: /usr/bin/python3 tools/golden/make_dit_cli_fixture.py [--golden tests/golden/dit_tiny.h5]
                                                             [--out tests/golden/dit_cli_fixture.h5]
"""
import argparse
import os
import sys

import h5py
import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

COPIES = [
    ("x", "sigma_io/x", np.float32),
    ("t", "sigma_io/t", np.int64),
    ("y", "sigma_io/y", np.int64),
    ("expected", "sigma_io/out", np.float32),
    ("x_T", "traj/case1/x_T", np.float32),
    ("z", "traj/case1/noise", np.float32),
    ("labels", "traj/case1/labels", np.int64),
    ("expected_traj", "traj/case1/out", np.float32),
]
TRAJ = "traj/case1"
TRAJ_EXPECT = dict(model="sigma", sampler="ddpm", cfg_scale=4.0, cfg_mode="dit3", respacing="10",
                   variance="learned_range")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--golden", default=os.path.join(ROOT, "tests/golden/dit_tiny.h5"))
    ap.add_argument("--out", default=os.path.join(ROOT, "tests/golden/dit_cli_fixture.h5"))
    args = ap.parse_args(argv)
    with h5py.File(args.golden, "r") as g:
        attrs = dict(g[TRAJ].attrs)
        for k, v in TRAJ_EXPECT.items():
            got = attrs[k].decode() if isinstance(attrs[k], bytes) else attrs[k]
            if got != v:
                sys.exit(f"{args.golden}: {TRAJ} has {k} = {got!r}, cli_dit.sh expects {v!r}")
        data = {name: np.ascontiguousarray(g[src][()], dtype=dt) for name, src, dt in COPIES}
    tmp = args.out + ".tmp"
    with h5py.File(tmp, "w") as f:
        f.attrs["generator"] = "tools/golden/make_dit_cli_fixture.py"
        f.attrs["source"] = "tests/golden/dit_tiny.h5: sigma_io, traj/case1"
        for k, v in attrs.items():
            f.attrs["traj_" + k] = v
        for name, _, _ in COPIES:
            f.create_dataset(name, data=data[name])
    os.replace(tmp, args.out)
    print(f"wrote {args.out} ({os.path.getsize(args.out)} bytes)")


if __name__ == "__main__":
    main()
