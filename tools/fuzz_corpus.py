#!/usr/bin/env python3
"""fuzz_corpus.py: the seed corpus of the fuzz targets (tests/fuzz/).

Writes small, valid inputs of each reader's format into
tests/fuzz/corpus/NAME/ (NAME: npz, idx, png, yaml, h5), from which libFuzzer
mutates and which `make test` replays through each target:
  npz:  np.savez image batches (uint8 NHWC, with labels), np.savez_compressed
        FID statistics (mu, sigma float64), float32 / int64 arrays, an empty
        archive;
  idx:  IDX3 images and IDX1 labels as Fashion-MNIST ships them (plain; the
        target also gzips every input itself);
  png:  8-bit grey, RGB, RGBA, palette, 16-bit grey, 1-bit (PIL);
  yaml: the repository's own experiment and config files;
  h5:   h5py files shaped as the harness's inputs (weights with attributes,
        features, latents and labels, chunked and compressed datasets) and
        tests/golden/weights_fixture.h5.
Deterministic (fixed seeds); rerun with /usr/bin/python3 tools/fuzz_corpus.py
after changing a format. Inputs found by fuzzing that crashed a target go to
tests/fuzz/regressions/NAME/ by hand, not here.
"""
import glob
import io
import os
import shutil
import struct
import zipfile

import h5py
import numpy as np
from PIL import Image

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "tests", "fuzz", "corpus")


def fresh(name):
    d = os.path.join(OUT, name)
    shutil.rmtree(d, ignore_errors=True)
    os.makedirs(d)
    return d


def npz(d, r):
    np.savez(f"{d}/images.npz", r.integers(0, 256, (3, 8, 8, 3), dtype=np.uint8), r.integers(0, 10, 3))
    np.savez(f"{d}/grey.npz", r.integers(0, 256, (2, 6, 6, 1), dtype=np.uint8))
    np.savez_compressed(f"{d}/stats.npz", mu=r.standard_normal(4), sigma=np.eye(4))
    np.savez(f"{d}/float.npz", arr_0=r.standard_normal((2, 3)).astype(np.float32), mu=np.arange(3, dtype=np.int64))
    np.savez(f"{d}/scalar.npz", mu=np.float64(1.5))
    with zipfile.ZipFile(f"{d}/empty.npz", "w"):
        pass


def idx(d, r):
    images = r.integers(0, 256, (3, 28, 28), dtype=np.uint8)
    with open(f"{d}/images-idx3-ubyte", "wb") as f:
        f.write(struct.pack(">IIII", 0x803, 3, 28, 28) + images.tobytes())
    with open(f"{d}/small-idx3-ubyte", "wb") as f:
        f.write(struct.pack(">IIII", 0x803, 2, 4, 5) + images[:2, :4, :5].tobytes())
    with open(f"{d}/labels-idx1-ubyte", "wb") as f:
        f.write(struct.pack(">II", 0x801, 5) + bytes([3, 1, 4, 1, 5]))


def png(d, r):
    grey = r.integers(0, 256, (6, 5), dtype=np.uint8)
    Image.fromarray(grey, "L").save(f"{d}/grey.png")
    Image.fromarray(r.integers(0, 256, (4, 4, 3), dtype=np.uint8), "RGB").save(f"{d}/rgb.png")
    Image.fromarray(r.integers(0, 256, (3, 4, 4), dtype=np.uint8).transpose(1, 2, 0).copy(), "RGB").convert(
        "RGBA").save(f"{d}/rgba.png")
    Image.fromarray(grey, "L").convert("P").save(f"{d}/palette.png")
    Image.fromarray((grey.astype(np.uint16) * 257).astype(np.uint16)).save(f"{d}/grey16.png")
    Image.fromarray(grey > 127).save(f"{d}/bits.png")


def yaml(d):
    files = sorted(glob.glob(os.path.join(ROOT, "experiments", "*.yaml")) +
                   glob.glob(os.path.join(ROOT, "experiments", "smoke", "*.yaml")) +
                   glob.glob(os.path.join(ROOT, "configs", "*", "*.yaml")))
    for f in files:
        rel = os.path.relpath(f, ROOT).replace(os.sep, "_")
        shutil.copyfile(f, os.path.join(d, rel))


def h5(d, r):
    with h5py.File(f"{d}/weights.h5", "w") as f:
        f.attrs["model"] = "DiT"
        f.attrs["depth"] = 2
        f.attrs["learn_sigma"] = True
        f["blocks.0.attn.qkv.weight"] = r.standard_normal((6, 2)).astype(np.float16)
        f["blocks.0.attn.qkv.bias"] = r.standard_normal(6).astype(np.float32)
        g = f.create_group("vae")
        g.attrs["scale"] = 0.18215
        g["w"] = r.standard_normal((2, 2, 3, 3)).astype(np.float32)
    with h5py.File(f"{d}/features.h5", "w") as f:
        f["pool_3"] = r.standard_normal((4, 8)).astype(np.float32)
        f["logits"] = r.standard_normal((4, 10)).astype(np.float32)
    with h5py.File(f"{d}/latents.h5", "w") as f:
        f.create_dataset("latents", data=r.standard_normal((2, 1, 4, 4)).astype(np.float32), chunks=(1, 1, 4, 4),
                         compression="gzip")
        f["labels"] = np.array([1, 7], np.int64)
        f.attrs["config"] = "{}"
    shutil.copyfile(os.path.join(ROOT, "tests", "golden", "weights_fixture.h5"), f"{d}/weights_fixture.h5")


def main():
    r = np.random.default_rng(20)
    npz(fresh("npz"), r)
    idx(fresh("idx"), r)
    png(fresh("png"), r)
    yaml(fresh("yaml"))
    h5(fresh("h5"), r)
    total = sum(os.path.getsize(f) for f in glob.glob(os.path.join(OUT, "*", "*")))
    print(f"wrote {OUT}: {total} bytes")


if __name__ == "__main__":
    main()
