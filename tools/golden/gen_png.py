#!/usr/bin/env python3
"""gen_png.py: golden data for the PNG reader (src/io/images.c,
msf_png_read_rgb): PNG files of every colour type and bit depth, with and
without gAMA, sRGB, tRNS and interlacing, and what PIL gives for
Image.open(path).convert("RGB") -- how pytorch-fid and clean-fid read a PNG
folder, so our features of the same folder equal theirs.

The PNG bytes are written here chunk by chunk (zlib + struct), not by PIL, so
that every colour type, bit depth and ancillary chunk is present exactly as
stated; PIL only decodes them.

Writes DIR/png_decode.h5 (DIR = tests/golden unless --out is given),
deterministic:
  root attributes version=1, generator, pil_version, cases
  case<i>/png   uint8 [bytes]   the file
  case<i>/rgb   uint8 [h, w, 3] PIL's convert("RGB") of it
  case<i> attribute what
--full is accepted (make check-full passes it) and changes nothing.

Usage: /usr/bin/python3 tools/golden/gen_png.py [--out DIR]
"""
import argparse
import io
import os
import struct
import sys
import zlib

import numpy as np
import PIL
from PIL import Image

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from h5util import atomic_h5  # noqa: E402

CHANNELS = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}  # colour type -> samples per pixel


def chunk(kind, data):
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def pack_row(samples, depth):
    """One row of samples (ints) at a bit depth, MSB first, padded to a byte."""
    if depth == 16:
        return np.asarray(samples, ">u2").tobytes()
    if depth == 8:
        return np.asarray(samples, np.uint8).tobytes()
    bits = "".join(format(int(v), f"0{depth}b") for v in samples)
    bits += "0" * (-len(bits) % 8)
    return bytes(int(bits[i:i + 8], 2) for i in range(0, len(bits), 8))


ADAM7 = [(0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2), (0, 1, 1, 2)]


def png_bytes(a, depth, ctype, extra=(), interlace=False):
    """a: [h, w, channels] integer samples."""
    h, w, _ = a.shape
    if interlace:
        raw = b""
        for x0, y0, dx, dy in ADAM7:
            sub = a[y0::dy, x0::dx]
            if sub.size == 0:
                continue
            raw += b"".join(b"\0" + pack_row(row.reshape(-1), depth) for row in sub)
    else:
        raw = b"".join(b"\0" + pack_row(row.reshape(-1), depth) for row in a)
    ihdr = struct.pack(">IIBBBBB", w, h, depth, ctype, 0, 0, 1 if interlace else 0)
    body = chunk(b"IHDR", ihdr)
    for kind, data in extra:
        body += chunk(kind, data)
    return b"\x89PNG\r\n\x1a\n" + body + chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b"")


def cases(r):
    h, w = 5, 7
    out = []

    def add(what, depth, ctype, extra=(), interlace=False, maxval=None):
        top = maxval if maxval is not None else (1 << depth) - 1
        a = r.integers(0, top + 1, (h, w, CHANNELS[ctype]))
        if ctype == 3:
            a = r.integers(0, top + 1, (h, w, 1))
        out.append((what, png_bytes(a, depth, ctype, extra, interlace)))

    gama = (b"gAMA", struct.pack(">I", 100000))  # file gamma 1.0: a decoder that applies it changes every value
    srgb = (b"sRGB", b"\0")
    pal = (b"PLTE", r.integers(0, 256, 16 * 3).astype(np.uint8).tobytes())
    for d in (1, 2, 4, 8, 16):
        add(f"grey {d}-bit", d, 0)
    add("grey 8-bit, gAMA 1.0", 8, 0, [gama])
    add("grey 8-bit, tRNS", 8, 0, [(b"tRNS", struct.pack(">H", 7))])
    add("grey 16-bit, values below 256 too", 16, 0, maxval=600)
    add("grey 16-bit, tRNS", 16, 0, [(b"tRNS", struct.pack(">H", 300))], maxval=1000)
    add("grey+alpha 8-bit", 8, 4)
    add("grey+alpha 16-bit", 16, 4)
    add("RGB 8-bit", 8, 2)
    add("RGB 8-bit, gAMA 1.0 and sRGB", 8, 2, [gama, srgb])
    add("RGB 16-bit", 16, 2)
    add("RGB 8-bit, tRNS", 8, 2, [(b"tRNS", struct.pack(">HHH", 1, 2, 3))])
    add("RGBA 8-bit", 8, 6)
    add("RGBA 16-bit", 16, 6)
    add("palette 8-bit (16 entries)", 8, 3, [pal], maxval=15)
    add("palette 4-bit, tRNS", 4, 3, [pal, (b"tRNS", bytes(range(0, 256, 32)))], maxval=15)
    add("palette 2-bit", 2, 3, [pal])
    add("RGB 8-bit, Adam7 interlaced", 8, 2, interlace=True)
    add("grey 16-bit, Adam7 interlaced", 16, 0, interlace=True, maxval=400)
    return out


def fill(f):
    r = np.random.default_rng(1234)
    cs = cases(r)
    f.attrs["version"] = 1
    f.attrs["generator"] = "tools/golden/gen_png.py"
    f.attrs["pil_version"] = PIL.__version__
    f.attrs["cases"] = len(cs)
    for i, (what, data) in enumerate(cs):
        with Image.open(io.BytesIO(data)) as im:
            rgb = np.asarray(im.convert("RGB"), np.uint8)
        g = f.create_group(f"case{i}")
        g.attrs["what"] = what
        g["png"] = np.frombuffer(data, np.uint8)
        g["rgb"] = rgb


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default="tests/golden")
    ap.add_argument("--full", action="store_true", help="accepted for make check-full; changes nothing")
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    path = os.path.join(args.out, "png_decode.h5")
    import warnings
    warnings.simplefilter("ignore")  # PIL's note on palettes with byte transparency
    atomic_h5(path, fill)
    print("wrote", path)


if __name__ == "__main__":
    main()
