#!/usr/bin/env python3
"""test_center_crop.py: tools/center_crop.py against PIL calls made here.

Synthetic images of odd sizes and modes (RGB, grey, RGBA, palette; sides
below, near and far above 2 x SIZE, landscape and portrait) in class folders
and in a flat folder. The expected crop is computed here step by step with
PIL alone (Image.resize with BOX while the shorter side is >= 2 x SIZE,
BICUBIC to a shorter side of SIZE, Image.crop of the centred box), and the
.npz (arr_0 uint8 [N, S, S, 3], arr_1 int64 labels in class-folder order) and
the PNG folder written by center_crop.py must equal it byte for byte.
tests/cli_center_crop.sh runs it in `make test` (exit 0 = pass).

Usage: /usr/bin/python3 tools/test_center_crop.py
"""
import os
import subprocess
import sys
import tempfile
import zipfile

import numpy as np
from PIL import Image

TOOLS = os.path.dirname(os.path.abspath(__file__))
SIZE = 24
# (class, name, width, height, mode)
IMAGES = [("n02_b", "z.png", 37, 53, "RGB"), ("n02_b", "a.jpeg", 301, 77, "RGB"), ("n01_a", "img_9.png", 24, 24, "L"),
          ("n01_a", "img_10.png", 1031, 513, "RGBA"), ("n01_a", "x.bmp", 49, 200, "P"), ("n03_c", "q.png", 48, 95, "RGB")]
RS = getattr(Image, "Resampling", Image)


def synthetic(w, h, mode, seed):
    rng = np.random.default_rng(seed)
    # Smooth gradients plus noise: resampling errors show, JPEG does not blur them away.
    yy, xx = np.mgrid[0:h, 0:w]
    base = np.stack([(xx * 255 // max(w - 1, 1)), (yy * 255 // max(h - 1, 1)), ((xx + yy) * 7) % 256], -1)
    rgb = np.clip(base + rng.integers(-40, 40, base.shape), 0, 255).astype(np.uint8)
    image = Image.fromarray(rgb, "RGB")
    if mode == "L":
        return image.convert("L")
    if mode == "RGBA":
        alpha = Image.fromarray(rng.integers(0, 256, (h, w)).astype(np.uint8), "L")
        image.putalpha(alpha)
        return image
    if mode == "P":
        return image.convert("P")
    return image


def expected(path):
    """The crop, with PIL only."""
    with Image.open(path) as im:
        im = im.convert("RGB")
        while min(im.size) >= 2 * SIZE:
            im = im.resize((im.width // 2, im.height // 2), resample=RS.BOX)
        s = SIZE / min(im.size)
        im = im.resize((round(im.width * s), round(im.height * s)), resample=RS.BICUBIC)
        left, top = (im.width - SIZE) // 2, (im.height - SIZE) // 2
        return np.asarray(im.crop((left, top, left + SIZE, top + SIZE)))


def run(*args):
    return subprocess.run([sys.executable, os.path.join(TOOLS, "center_crop.py"), *args], capture_output=True,
                          text=True)


def main():
    failures = []

    def check(cond, what):
        if not cond:
            failures.append(what)
            print(f"FAIL: {what}")

    with tempfile.TemporaryDirectory() as tmp:
        src = os.path.join(tmp, "src")
        for i, (cls, name, w, h, mode) in enumerate(IMAGES):
            os.makedirs(os.path.join(src, cls), exist_ok=True)
            synthetic(w, h, mode, i).save(os.path.join(src, cls, name))
        os.makedirs(os.path.join(src, ".hidden"))
        # Class folders in byte order; files in byte order within each.
        order = sorted(((cls, name) for cls, name, *_ in IMAGES))
        classes = sorted({cls for cls, *_ in IMAGES})
        want = np.stack([expected(os.path.join(src, c, n)) for c, n in order])
        want_labels = np.array([classes.index(c) for c, _ in order], np.int64)

        out = os.path.join(tmp, "crops.npz")
        r = run(src, "--size", str(SIZE), "--out", out)
        check(r.returncode == 0 and f"wrote {out}: {len(IMAGES)} images {SIZE}x{SIZE}, 3 classes" in r.stdout,
              f"center_crop.py --out: exit {r.returncode}, {r.stdout}{r.stderr}")
        with np.load(out) as z:
            check(sorted(z.files) == ["arr_0", "arr_1"], f"npz arrays {z.files}")
            check(z["arr_0"].dtype == np.uint8 and z["arr_0"].shape == (len(IMAGES), SIZE, SIZE, 3),
                  f"arr_0 {z['arr_0'].dtype} {z['arr_0'].shape}")
            check(np.array_equal(z["arr_0"], want), "arr_0 differs from the PIL computation")
            check(z["arr_1"].dtype == np.int64 and np.array_equal(z["arr_1"], want_labels),
                  f"arr_1 {z['arr_1']} != {want_labels}")
        with zipfile.ZipFile(out) as z:
            check(all(i.compress_type == zipfile.ZIP_STORED for i in z.infolist()), "npz members are compressed")

        pngs = os.path.join(tmp, "pngs")
        r = run(src, "--size", str(SIZE), "--png-dir", pngs)
        check(r.returncode == 0, f"center_crop.py --png-dir: exit {r.returncode}, {r.stderr}")
        for k, (c, n) in enumerate(order):
            path = os.path.join(pngs, c, os.path.splitext(n)[0] + ".png")
            check(os.path.exists(path) and np.array_equal(np.asarray(Image.open(path)), want[k]),
                  f"{path} missing or different from the PIL computation")
        r = run(src, "--size", str(SIZE), "--png-dir", pngs)
        check(r.returncode == 1 and "exists" in r.stderr, "an existing --png-dir is not refused")

        # A flat folder: no labels; --limit takes the first images.
        flat = os.path.join(src, "n01_a")
        r = run(flat, "--size", str(SIZE), "--out", os.path.join(tmp, "flat.npz"), "--limit", "2")
        check(r.returncode == 0 and "no labels" in r.stdout, f"flat folder: {r.stdout}{r.stderr}")
        with np.load(os.path.join(tmp, "flat.npz")) as z:
            names = sorted(n for c, n in order if c == "n01_a")[:2]
            check(z.files == ["arr_0"] and np.array_equal(z["arr_0"], np.stack([expected(os.path.join(flat, n))
                                                                                 for n in names])),
                  "flat folder crops")
        r = run(os.path.join(tmp, "nothing"), "--size", "8", "--out", os.path.join(tmp, "n.npz"))
        check(r.returncode == 1 and "not a folder" in r.stderr and not os.path.exists(os.path.join(tmp, "n.npz")),
              "a missing folder")
        os.makedirs(os.path.join(tmp, "empty", "cls"))
        r = run(os.path.join(tmp, "empty"), "--size", "8", "--out", os.path.join(tmp, "e.npz"))
        check(r.returncode == 1 and "holds no images" in r.stderr, "an empty class folder")
        check(not [f for f in os.listdir(tmp) if ".tmp-" in f], "temporary files left")
    if failures:
        print(f"test_center_crop.py: {len(failures)} failure(s)")
        return 1
    print("test_center_crop.py: all passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
