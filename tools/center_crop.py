#!/usr/bin/env python3
"""center_crop.py: centre-crop an image folder to SIZE x SIZE as ADM and DiT do.

The crop is the one guided-diffusion's image_datasets.py (center_crop_arr) and
DiT's train.py apply to ImageNet before training and before building reference
batches: the image (converted to RGB) is halved with PIL's BOX filter while
its shorter side is at least 2 x SIZE, then resized with BICUBIC so that its
shorter side is SIZE (the other side rounded), then the central SIZE x SIZE
window is cut out (offsets (H - SIZE) // 2 and (W - SIZE) // 2).

SRC is a folder of class folders (ImageNet layout; class k = the k-th folder
in byte order of the names, as torchvision's ImageFolder numbers them; for
ImageNet's train set the same classes as guided-diffusion's, which takes them
from the synset prefix of the file names) or a flat folder of images (no
labels). Images are the files PIL reads (.jpeg, .jpg, .png, ...), in byte
order of their names within a folder.

Output, written under a temporary name and renamed when complete:
  --out OUT.npz     arr_0 uint8 [N, SIZE, SIZE, 3] (an ADM-style batch, what
                    `msf encode`, `msf features` and `msf evaluate` read) and,
                    with class folders, arr_1 int64 [N] labels; written image
                    by image (memory does not grow with N)
  --png-dir DIR     DIR/CLASS/NAME.png (or DIR/NAME.png for a flat folder):
                    the layout `msf encode` reads, labels from the folders

Usage: /usr/bin/python3 tools/center_crop.py SRC --size 256 --out imagenet256.npz
"""
import argparse
import os
import shutil
import sys
import zipfile

import numpy as np
from PIL import Image

RESAMPLE = getattr(Image, "Resampling", Image)  # Pillow >= 9.1 names the filters there
IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".ppm", ".bmp", ".pgm", ".tif", ".tiff", ".webp")


class CropError(Exception):
    pass


def center_crop(image, size):
    """The SIZE x SIZE centre crop of a PIL image as uint8 [SIZE, SIZE, 3]."""
    image = image.convert("RGB")
    # Halve with a box filter while the image is at least twice the target.
    while min(image.size) >= 2 * size:
        image = image.resize((image.size[0] // 2, image.size[1] // 2), resample=RESAMPLE.BOX)
    scale = size / min(image.size)
    image = image.resize(tuple(round(side * scale) for side in image.size), resample=RESAMPLE.BICUBIC)
    pixels = np.asarray(image)
    top, left = (pixels.shape[0] - size) // 2, (pixels.shape[1] - size) // 2
    return np.ascontiguousarray(pixels[top:top + size, left:left + size])


def list_images(folder):
    names = sorted(n for n in os.listdir(folder)
                   if not n.startswith(".") and n.lower().endswith(IMAGE_EXTENSIONS)
                   and os.path.isfile(os.path.join(folder, n)))
    return names


def list_dataset(src):
    """[(relative path, label or None)] and the class names ([] for a flat folder)."""
    if not os.path.isdir(src):
        raise CropError(f"{src} is not a folder")
    classes = sorted(n for n in os.listdir(src) if not n.startswith(".") and os.path.isdir(os.path.join(src, n)))
    if not classes:
        files = [(n, None) for n in list_images(src)]
        if not files:
            raise CropError(f"{src} holds neither images nor class folders")
        return files, []
    files = []
    for label, name in enumerate(classes):
        images = list_images(os.path.join(src, name))
        if not images:
            raise CropError(f"class folder {os.path.join(src, name)} holds no images")
        files += [(os.path.join(name, n), label) for n in images]
    return files, classes


def write_npz(path, src, files, size, with_labels):
    """arr_0 (and arr_1) as np.savez writes them (stored, not compressed),
    streamed image by image."""
    tmp = f"{path}.tmp-{os.getpid()}"
    try:
        with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_STORED, allowZip64=True) as z:
            with z.open("arr_0.npy", "w", force_zip64=True) as f:
                header = {"descr": np.dtype(np.uint8).str, "fortran_order": False, "shape": (len(files), size, size, 3)}
                np.lib.format.write_array_header_1_0(f, header)
                for rel, _ in files:
                    with Image.open(os.path.join(src, rel)) as image:
                        f.write(center_crop(image, size).tobytes())
            if with_labels:
                with z.open("arr_1.npy", "w") as f:
                    np.lib.format.write_array(f, np.array([label for _, label in files], dtype=np.int64))
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise


def write_png_dir(out, src, files, size):
    if os.path.exists(out):
        raise CropError(f"{out} exists; give a new folder")
    tmp = f"{out}.tmp-{os.getpid()}"
    try:
        for rel, _ in files:
            dst = os.path.join(tmp, os.path.splitext(rel)[0] + ".png")
            os.makedirs(os.path.dirname(dst), exist_ok=True)
            with Image.open(os.path.join(src, rel)) as image:
                Image.fromarray(center_crop(image, size)).save(dst)
        os.rename(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__)
    ap.add_argument("src", help="a folder of class folders of images, or of images")
    ap.add_argument("--size", type=int, required=True, help="the side of the crops")
    out = ap.add_mutually_exclusive_group(required=True)
    out.add_argument("--out", help="an .npz batch: arr_0 uint8 [N, SIZE, SIZE, 3], arr_1 int64 labels")
    out.add_argument("--png-dir", help="a new folder of PNG files (class folders kept)")
    ap.add_argument("--limit", type=int, default=0, help="only the first N images (in the order above)")
    args = ap.parse_args(argv)
    if args.size < 1:
        ap.error("--size must be >= 1")
    if args.out and not args.out.endswith(".npz"):
        ap.error("--out must name an .npz file")
    try:
        files, classes = list_dataset(args.src)
        if args.limit > 0:
            files = files[:args.limit]
        if args.out:
            write_npz(args.out, args.src, files, args.size, bool(classes))
        else:
            write_png_dir(args.png_dir, args.src, files, args.size)
    except (CropError, OSError) as e:
        print(f"center_crop.py: {e}", file=sys.stderr)
        return 1
    what = f"{len(files)} images {args.size}x{args.size}"
    what += f", {len(classes)} classes" if classes else ", no labels (a flat folder)"
    print(f"wrote {args.out or args.png_dir}: {what}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
