#!/bin/sh
# cli_png_pil.sh: a PNG folder written by PIL (Debian's python3-pil) in each
# mode -- L, RGB, RGBA, P (with transparency), LA, 1, I;16; grey content,
# as the Fashion-MNIST classifier takes grey images -- gives exactly
# the features of the same images as an ADM .npz (arr_0 uint8 [N, H, W, 3]
# holding PIL's Image.open(f).convert("RGB") of each file, the way
# pytorch-fid and clean-fid read PNGs), with the tiny classifier as the
# feature network and every resize mode (issue 21). Run from the repository
# root by `make test` with MSF set; needs /usr/bin/python3 with numpy, h5py, PIL.
set -u
MSF=${MSF:-bin/msf}
PY=/usr/bin/python3
NET="--net tests/golden/classifier_tiny.h5"
. tests/testlib.sh

if ! "$PY" -c "import numpy, h5py, PIL" 2>/dev/null; then
    skip "cli_png_pil.sh: needs /usr/bin/python3 with numpy, h5py, PIL (make deps-python)"
    finish cli_png_pil.sh
fi

"$PY" - "$tmp" <<'PYEOF'
import os, sys, warnings
import numpy as np
from PIL import Image
warnings.simplefilter("ignore")
t = sys.argv[1]
r = np.random.default_rng(3)
for mode in ("L", "RGB", "RGBA", "P", "LA", "1", "I;16"):
    d = f"{t}/png_{mode.replace(';', '')}"
    os.mkdir(d)
    rgb = []
    for i in range(6):
        h, w = 28, 28
        if mode == "I;16":
            im = Image.fromarray(r.integers(0, 600, (h, w)).astype(np.uint16), "I;16")
        elif mode == "1":
            im = Image.fromarray(r.integers(0, 2, (h, w)).astype(bool))
        elif mode == "P":
            g = r.integers(0, 256, (h, w), dtype=np.uint8)
            im = Image.fromarray(np.stack([g, g, g], -1), "RGB").quantize(16)
            im.info["transparency"] = 3
        else:
            # Colour modes hold grey content (R = G = B; the classifier takes
            # grey images), with random alpha where there is one.
            c = {"L": 1, "RGB": 3, "RGBA": 4, "LA": 2}[mode]
            g = r.integers(0, 256, (h, w), dtype=np.uint8)
            a = np.stack([g] * min(c, 3) + ([r.integers(0, 256, (h, w), dtype=np.uint8)] if c in (2, 4) else []), -1)
            if c == 2:
                a = np.stack([g, a[..., -1]], -1)
            im = Image.fromarray(a[..., 0] if c == 1 else a, mode)
        path = f"{d}/{i:03d}.png"
        im.save(path)
        with Image.open(path) as back:
            rgb.append(np.asarray(back.convert("RGB"), np.uint8))
    np.savez(f"{d}.npz", np.stack(rgb))
PYEOF

W=$tmp/w
for d in "$tmp"/png_*/; do
    d=${d%/}
    m=${d##*/png_}
    for resize in adm pytorch clean; do
        expect 0 "6 images" "$MSF" features "$d" $NET --resize $resize --out "$W/png_$m.h5"
        expect 0 "6 images" "$MSF" features "$d.npz" $NET --resize $resize --out "$W/npz_$m.h5"
        "$PY" - "$W/png_$m.h5" "$W/npz_$m.h5" <<'PYEOF' || fail "PIL mode $m, resize $resize: PNG folder and .npz features differ"
import sys
import h5py
import numpy as np
a, b = h5py.File(sys.argv[1], "r"), h5py.File(sys.argv[2], "r")
for k in ("pool_3", "logits"):
    if not np.array_equal(a[k][()], b[k][()]):
        sys.exit(f"{k}: max abs difference {np.abs(a[k][()] - b[k][()]).max()}")
PYEOF
    done
done

finish cli_png_pil.sh
