#!/bin/sh
# cli_center_crop.sh: tools/center_crop.py (tools/test_center_crop.py: ADM's
# centre crop against PIL step by step) and the labels `msf encode` writes
# (issue 22, items 4 and 5): class folders -> center_crop.py -> .npz with
# arr_1 -> msf encode -> latents + labels + num_classes, the same from the
# PNG class folders; tools/train.py's LatentsH5 reads the file; an input
# without labels gets no labels dataset; labels outside --num-classes fail.
# Run from the repository root by `make test` with MSF set to the binary.
# Needs /usr/bin/python3 with numpy, h5py and PIL (torch for the train.py
# part); without them it prints a skip line and passes.
set -u
MSF=${MSF:-bin/msf}
PY=/usr/bin/python3
. tests/testlib.sh
if ! "$PY" -c 'import numpy, h5py, PIL' >/dev/null 2>&1; then
    skip "cli_center_crop.sh: no $PY with numpy, h5py and PIL (make deps-python)"
    finish cli_center_crop.sh
fi

expect 0 "test_center_crop.py: all passed" "$PY" tools/test_center_crop.py

# Class folders of odd-sized images, three classes (numbered in sorted order).
"$PY" - "$tmp/src" <<'EOF' || fail "cannot write the image folders"
import os, sys
import numpy as np
from PIL import Image
rng = np.random.default_rng(1)
for cls, names in (("zebra", ("b.png", "a.jpg")), ("ant", ("x.png",)), ("bee", ("k.png", "j.png"))):
    os.makedirs(os.path.join(sys.argv[1], cls))
    for n in names:
        w, h = rng.integers(17, 90, 2)
        Image.fromarray(rng.integers(0, 256, (h, w, 3)).astype(np.uint8)).save(os.path.join(sys.argv[1], cls, n))
EOF
VAE="--vae tests/golden/vae_tiny.h5 --group vae"
W=$tmp/w
expect 0 "wrote $W/c.npz: 5 images 16x16, 3 classes" "$PY" tools/center_crop.py "$tmp/src" --size 16 --out "$W/c.npz"
expect 0 "wrote $W/png: 5 images 16x16, 3 classes" "$PY" tools/center_crop.py "$tmp/src" --size 16 --png-dir "$W/png"
expect 0 "wrote $W/l_npz.h5: latents float32 \[5, 4, 8, 8\], labels int64 \[5\] (3 classes)" \
    "$MSF" encode "$W/c.npz" $VAE --out "$W/l_npz.h5"
expect 0 "wrote $W/l_png.h5: latents float32 \[5, 4, 8, 8\], labels int64 \[5\] (3 classes)" \
    "$MSF" encode "$W/png" $VAE --out "$W/l_png.h5"
expect 0 "wrote $W/l_k.h5: .* (12 classes)" "$MSF" encode "$W/c.npz" $VAE --num-classes 12 --out "$W/l_k.h5"
expect_err 1 "msf encode: $W/c.npz: label 2 is not below --num-classes 2" \
    "$MSF" encode "$W/c.npz" $VAE --num-classes 2 --out "$tmp/e/o.h5"
expect_err 2 "expects an integer" "$MSF" encode "$W/c.npz" $VAE --num-classes x --out "$tmp/e/o.h5"
# No labels: a flat folder, an .npz without arr_1.
expect 0 "wrote $W/flat.npz: 2 images 16x16, no labels" "$PY" tools/center_crop.py "$tmp/src/bee" --size 16 --out "$W/flat.npz"
expect 0 "wrote $W/l_flat.h5: latents float32 \[2, 4, 8, 8\]$" "$MSF" encode "$W/flat.npz" $VAE --out "$W/l_flat.h5"
expect 0 "wrote $W/l_flatpng.h5: latents float32 \[2, 4, 8, 8\]$" "$MSF" encode "$W/png/bee" $VAE --out "$W/l_flatpng.h5"
"$PY" - "$W" >"$tmp/py.log" 2>&1 <<'EOF' || { fail "encode labels"; sed 's/^/    /' "$tmp/py.log"; }
import sys, h5py, numpy as np
w = sys.argv[1]
want = np.array([0, 1, 1, 2, 2], np.int64)  # ant; bee (j, k); zebra (a, b)
a, b = h5py.File(f"{w}/l_npz.h5", "r"), h5py.File(f"{w}/l_png.h5", "r")
assert np.array_equal(np.load(f"{w}/c.npz")["arr_1"], want)
for f in (a, b):
    assert f["labels"].dtype == np.int64 and np.array_equal(f["labels"][()], want), f["labels"][()]
    assert f.attrs["num_classes"] == 3, f.attrs["num_classes"]
assert np.array_equal(a["latents"][()], b["latents"][()]), "the .npz and its PNG folder gave other latents"
assert h5py.File(f"{w}/l_k.h5", "r").attrs["num_classes"] == 12
for name in ("l_flat.h5", "l_flatpng.h5"):
    f = h5py.File(f"{w}/{name}", "r")
    assert "labels" not in f and "num_classes" not in f.attrs, name
EOF
if "$PY" -c 'import torch' >/dev/null 2>&1; then
    "$PY" - "$W/l_png.h5" >"$tmp/py.log" 2>&1 <<'EOF' || { fail "tools/train.py LatentsH5 on msf encode output"; sed 's/^/    /' "$tmp/py.log"; }
import sys
sys.path.insert(0, "tools")
import numpy as np
from train import LatentsH5
d = LatentsH5(sys.argv[1])
assert d.num_classes == 3 and len(d) == 5 and d.shape == (4, 8, 8), (d.num_classes, len(d), d.shape)
x, y = d.get(np.arange(5))
assert y.tolist() == [0, 1, 1, 2, 2] and tuple(x.shape) == (5, 4, 8, 8)
EOF
else
    skip "cli_center_crop.sh: tools/train.py's reader (no torch)"
fi
expect 0 "class folders" "$MSF" encode --help

finish cli_center_crop.sh
