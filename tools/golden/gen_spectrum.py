#!/usr/bin/env python3
"""gen_spectrum.py: golden data for the frequency diagnostics (eval/wavelet.c,
eval/spectrum.c, src/io/idx.c): PyWavelets' wavedec2 and a NumPy radial power
spectrum, on random arrays and on real Fashion-MNIST test images.

Writes DIR/spectrum_wavelet.h5, DIR/spectrum_radial.h5 and DIR/spectrum_bands.h5
(DIR = tests/golden unless --out is given), deterministic (fixed seeds, fixed image indices).
--full (make check-full) writes the same files with more real images.

Needs python3-numpy, python3-h5py, python3-pywt and the Fashion-MNIST test set
of dataset-fashion-mnist (/usr/share/datasets/fashion-mnist, or --fmnist DIR).

spectrum_wavelet.h5 (root attributes version=1, generator, pywt_version,
tolerance = allowed rel error, cases):
  filters/<name>/dec_lo, dec_hi   float64, pywt.Wavelet(name) filters
  input<j>                        float32 [h, w], the arrays transformed
  case<i>/coeffs                  float64, pywt.wavedec2(x as float64, wavelet,
                                  mode, level) flattened in its order cA_n,
                                  (cH_n, cV_n, cD_n), ..., (cH_1, cV_1, cD_1)
  case<i>/energy                  float64 [1 + 3 levels], sum of squares per subband
  case<i> attributes input (j), wavelet, mode, levels, source ("random" or "fashion-mnist")
  fmnist/index                    int64 [k], test-set indices of the real images
  fmnist/images                   float32 [k, 28, 28] = uint8 pixel / 255
  fmnist/labels                   int64 [k]
  fmnist attributes count (images in the file), rows, cols

spectrum_radial.h5 (root attributes version=1, generator, numpy_version,
tolerance, cases):
  case<i>/x                       float32 [n, h, w]
  case<i>/radius                  float64 [bins], cycles/pixel
  case<i>/count                   int64 [bins], frequencies per bin
  case<i>/bin_energy              float64 [n, bins], sum of |X(k)|^2 / (h w) per bin
  case<i>/power                   float64 [bins], mean over images of
                                  bin_energy / count (the radially averaged spectrum)
  case<i>/band_edge               float64 [bands + 1]
  case<i>/band_energy             float64 [n, bands]
  case<i> attributes spacing, bins (0 = default), window, cuts (text), source

The reference follows the definitions of eval/spectrum.h with numpy.fft.fft2
in float64 over the full grid (no mean removal, no half-spectrum symmetry):
radius r = sqrt((ky/h)^2 + (kx/w)^2) for signed ky, kx (computed with the same
divisions as the C code so bins agree exactly), linear bins floor(r/d + 0.5),
log bins as documented there, periodic Hann scaled to unit mean square.

spectrum_bands.h5 (root attributes version=1, generator, numpy_version,
tolerance, cases): the band table of a spectrum report (bands.csv of
eval/spectrum_report.c) of z, U(base) and the residual z - U(base):
  case<i>/x                       float32 [n, c, h, w], the input (read by the
                                  report as HDF5 latents, dataset case<i>/x)
  case<i>/band                    float64 [3, c, bands], mean over images of the
                                  band energies of z, U(base), residual
  case<i>/energy                  float64 [3, c], mean sum of squares of each
  case<i>/spectrum_energy         float64 [3, c], the same of the windowed image
                                  (w x; = energy without a window): the sum of
                                  the band energies (Parseval)
  case<i>/bands_csv               float64 [bands + 1, 10], bands.csv's numbers per
                                  row (the bands, then 'all'), means over
                                  channels: z, base, residual, cross, base_share,
                                  residual_share, cross_share, z_fraction,
                                  base_fraction, residual_fraction; 'all' holds
                                  spectrum_energy, so every fraction column
                                  adds up to 1 over the bands
  case<i> attributes window, factorize, cuts (text), source
U is applied once (levels 2): area down = s x s block mean; nearest up =
repetition; bilinear up = PyTorch's F.interpolate(align_corners=False)
written out in NumPy (source (i + 0.5) / s - 0.5 clamped at 0).

spectrum_npz_stored.npz and spectrum_npz_deflated.npz: ADM-style image batches
written by np.savez (stored members, zip64 extra fields) and
np.savez_compressed (deflated): arr_0 uint8 [3, 8, 6, 3] and [2, 5, 7]
respectively, element i of the flattened array = (31 i + 7) mod 256, plus a
float array `other` that readers must skip.

Usage: /usr/bin/python3 tools/golden/gen_spectrum.py [--out DIR] [--full] [--fmnist DIR]
"""
import argparse
import gzip
import os
import warnings

import h5py
import numpy as np
import pywt

GENERATOR = "tools/golden/gen_spectrum.py"
WAVELETS = ("haar", "db2", "db4", "sym4")
MODES = ("periodization", "symmetric")
# (h, w, levels): even, Fashion-MNIST's 28, odd and unequal, and shorter than
# db4's 8 taps (the extension wraps more than once).
RANDOM_SHAPES = ((32, 32, 3), (28, 28, 3), (17, 23, 2), (5, 7, 2))
TOLERANCE = 1e-5


def read_idx_images(path):
    with gzip.open(path, "rb") as f:
        data = f.read()
    magic, n, rows, cols = np.frombuffer(data[:16], dtype=">u4")
    assert magic == 0x803, f"{path}: magic {magic:#x}"
    return np.frombuffer(data[16:], dtype=np.uint8).reshape(n, rows, cols)


def read_idx_labels(path):
    with gzip.open(path, "rb") as f:
        data = f.read()
    magic, n = np.frombuffer(data[:8], dtype=">u4")
    assert magic == 0x801, f"{path}: magic {magic:#x}"
    return np.frombuffer(data[8:], dtype=np.uint8).astype(np.int64)


def atomic_h5(path, fill):
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


# -----------------------------------------------------------------------------
# Wavelets

def wavedec2_flat(x, wavelet, mode, levels):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # level above dwt_max_level: intended
        c = pywt.wavedec2(x.astype(np.float64), wavelet, mode=mode, level=levels)
    bands = [c[0]] + [a for t in c[1:] for a in t]
    return np.concatenate([b.ravel() for b in bands]), np.array([np.sum(b * b) for b in bands])


def fill_wavelet(f, real, idx, labels):
    f.attrs["version"] = np.int64(1)
    f.attrs["generator"] = GENERATOR
    f.attrs["pywt_version"] = pywt.__version__
    f.attrs["tolerance"] = TOLERANCE
    for name in WAVELETS:
        w = pywt.Wavelet(name)
        f[f"filters/{name}/dec_lo"] = np.array(w.dec_lo, dtype=np.float64)
        f[f"filters/{name}/dec_hi"] = np.array(w.dec_hi, dtype=np.float64)
    rng = np.random.default_rng(7)
    inputs = [(rng.standard_normal((h, w)).astype(np.float32), lv, "random") for h, w, lv in RANDOM_SHAPES]
    for img in real[:2]:
        inputs.append((img, 3, "fashion-mnist"))
        inputs.append((np.pad(img, 2), 3, "fashion-mnist padded to 32"))
    k = 0
    for j, (x, levels, source) in enumerate(inputs):
        f[f"input{j}"] = x
        for wavelet in WAVELETS:
            for mode in MODES:
                coeffs, energy = wavedec2_flat(x, wavelet, mode, levels)
                g = f.create_group(f"case{k}")
                g.attrs["wavelet"], g.attrs["mode"], g.attrs["source"] = wavelet, mode, source
                g.attrs["levels"], g.attrs["input"] = np.int64(levels), np.int64(j)
                g["coeffs"] = coeffs
                g["energy"] = energy
                k += 1
    f.attrs["cases"] = np.int64(k)
    g = f.create_group("fmnist")
    g["index"] = idx
    g["images"] = real
    g["labels"] = labels
    g.attrs["count"] = np.int64(10000)
    g.attrs["rows"], g.attrs["cols"] = np.int64(28), np.int64(28)


# -----------------------------------------------------------------------------
# Radial spectrum

def signed_freq(n):
    k = np.arange(n)
    return np.where(k <= n // 2, k, k - n)


def hann(n):
    w = 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(n) / n)
    return w / np.sqrt(np.mean(w * w))


def radial_reference(x, spacing, bins, window, cuts):
    n, h, w = x.shape
    fy = signed_freq(h) / h
    fx = signed_freq(w) / w
    FY, FX = np.meshgrid(fy, fx, indexing="ij")
    r = np.sqrt(FY * FY + FX * FX)
    r_max = r.max()
    r_lo = r[r > 0].min()
    if spacing == "linear":
        delta = r_max / (bins - 1) if bins else 1.0 / max(h, w)
        idx = np.floor(r / delta + 0.5).astype(np.int64)
        nb = bins if bins else int(np.floor(r_max / delta + 0.5)) + 1
        radius = np.arange(nb) * delta
    else:
        nb = bins if bins else 16
        with np.errstate(divide="ignore"):
            t = np.log(r / r_lo) / np.log(r_max / r_lo)
        j = np.clip(np.floor((nb - 1) * t), 0, nb - 2)
        idx = np.where(r == 0, 0, 1 + j).astype(np.int64)
        radius = np.concatenate([[0.0], r_lo * np.exp((np.arange(1, nb) - 0.5) / (nb - 1) * np.log(r_max / r_lo))])
    count = np.bincount(idx.ravel(), minlength=nb)
    edges = np.concatenate([[0.0], 0.5 * np.asarray(cuts), [r_max]])
    band = np.zeros_like(idx)
    for c in edges[1:-1]:
        band += (r > c).astype(np.int64)
    xw = x.astype(np.float64)
    if window == "hann":
        xw = xw * np.outer(hann(h), hann(w))[None]
    P = np.abs(np.fft.fft2(xw)) ** 2 / (h * w)
    bin_energy = np.stack([np.bincount(idx.ravel(), weights=p.ravel(), minlength=nb) for p in P])
    band_energy = np.stack([np.bincount(band.ravel(), weights=p.ravel(), minlength=len(edges) - 1) for p in P])
    with np.errstate(invalid="ignore"):
        power = np.mean(bin_energy / count[None], axis=0)
    return radius, count, bin_energy, power, edges, band_energy


def parse_cuts(text):
    out = []
    for part in text.split(","):
        a, _, b = part.partition("/")
        out.append(float(a) / float(b) if b else float(a))
    return out


def fill_radial(f, real):
    f.attrs["version"] = np.int64(1)
    f.attrs["generator"] = GENERATOR
    f.attrs["numpy_version"] = np.__version__
    f.attrs["tolerance"] = TOLERANCE
    rng = np.random.default_rng(11)
    k_real = len(real)
    padded = np.pad(real, ((0, 0), (2, 2), (2, 2)))
    # (x, spacing, bins, window, cuts, source)
    cases = [
        (rng.standard_normal((4, 32, 32)).astype(np.float32) + 0.5, "linear", 0, "none", "1/3,2/3", "random"),
        (rng.standard_normal((3, 28, 28)).astype(np.float32), "linear", 0, "hann", "1/3,2/3", "random"),
        (rng.standard_normal((3, 16, 24)).astype(np.float32), "log", 12, "none", "0.5", "random"),
        (rng.standard_normal((2, 15, 17)).astype(np.float32), "linear", 10, "hann", "0.25,0.5,0.75", "random"),
        (padded[:k_real], "linear", 0, "none", "1/3,2/3", "fashion-mnist padded to 32"),
        (padded[:k_real], "log", 0, "hann", "1/3,2/3", "fashion-mnist padded to 32"),
        (real[:k_real], "linear", 0, "none", "1/3,2/3", "fashion-mnist"),
    ]
    for k, (x, spacing, bins, window, cuts, source) in enumerate(cases):
        radius, count, bin_energy, power, edges, band_energy = radial_reference(x, spacing, bins, window,
                                                                              parse_cuts(cuts))
        g = f.create_group(f"case{k}")
        g.attrs["spacing"], g.attrs["window"], g.attrs["cuts"], g.attrs["source"] = spacing, window, cuts, source
        g.attrs["bins"] = np.int64(bins)
        g["x"] = x
        g["radius"] = radius
        g["count"] = count.astype(np.int64)
        g["bin_energy"] = bin_energy
        g["power"] = power
        g["band_edge"] = edges
        g["band_energy"] = band_energy
    f.attrs["cases"] = np.int64(len(cases))


# -----------------------------------------------------------------------------
# Band table of the base vs residual report

def upsample_bilinear_1d(x, s, axis):
    n = x.shape[axis]
    src = np.maximum((np.arange(n * s) + 0.5) / s - 0.5, 0.0)
    i0 = np.floor(src).astype(np.int64)
    i1 = np.minimum(i0 + 1, n - 1)
    lam = src - i0
    shape = [1] * x.ndim
    shape[axis] = n * s
    lam = lam.reshape(shape)
    return np.take(x, i0, axis=axis) * (1 - lam) + np.take(x, i1, axis=axis) * lam


def factor_up_base(x, s, up):
    """U(D(x)) for images [..., h, w] in float64: area down, then nearest or bilinear up."""
    h, w = x.shape[-2:]
    base = x.reshape(*x.shape[:-2], h // s, s, w // s, s).mean(axis=(-3, -1))
    if up == "nearest":
        return np.repeat(np.repeat(base, s, axis=-2), s, axis=-1)
    return upsample_bilinear_1d(upsample_bilinear_1d(base, s, x.ndim - 2), s, x.ndim - 1)


def band_table(x, window, s, up, cuts):
    n, c, h, w = x.shape
    z = x.astype(np.float64)
    ub = factor_up_base(z, s, up)
    series = np.stack([z, ub, z - ub])  # [3, n, c, h, w]
    fy, fx = signed_freq(h) / h, signed_freq(w) / w
    FY, FX = np.meshgrid(fy, fx, indexing="ij")
    r = np.sqrt(FY * FY + FX * FX)
    edges = np.concatenate([[0.0], 0.5 * np.asarray(cuts), [r.max()]])
    band_of = np.zeros(r.shape, np.int64)
    for cut in edges[1:-1]:
        band_of += (r > cut).astype(np.int64)
    nb = len(edges) - 1
    win = np.outer(hann(h), hann(w)) if window == "hann" else np.ones((h, w))
    P = np.abs(np.fft.fft2(series * win)) ** 2 / (h * w)  # [3, n, c, h, w]
    band = np.stack([P[..., band_of == b].sum(axis=-1) for b in range(nb)], axis=-1).mean(axis=1)  # [3, c, nb]
    energy = (series ** 2).sum(axis=(-2, -1)).mean(axis=1)  # [3, c]
    spectrum_energy = ((series * win) ** 2).sum(axis=(-2, -1)).mean(axis=1)
    rows = []
    for b in range(nb + 1):
        e = spectrum_energy.mean(axis=1) if b == nb else band[:, :, b].mean(axis=1)
        cross = e[0] - e[1] - e[2]
        total = spectrum_energy.mean(axis=1)
        rows.append([e[0], e[1], e[2], cross, e[1] / e[0], e[2] / e[0], cross / e[0], *(e / total)])
    return band, energy, spectrum_energy, np.array(rows)


def fill_bands(f, real):
    f.attrs["version"] = np.int64(1)
    f.attrs["generator"] = GENERATOR
    f.attrs["numpy_version"] = np.__version__
    f.attrs["tolerance"] = TOLERANCE
    rng = np.random.default_rng(13)
    x0 = (rng.standard_normal((3, 2, 16, 16)) + 0.3).astype(np.float32)
    padded = np.pad(real, ((0, 0), (2, 2), (2, 2)))[:, None]
    # (x, window, up, cuts, source); s = 2, levels = 2, down = area throughout.
    cases = [
        (x0, "none", "nearest", "1/3,2/3", "random"),
        (x0, "hann", "nearest", "1/3,2/3", "random"),
        (padded, "hann", "bilinear", "1/3,2/3", "fashion-mnist padded to 32"),
        (padded, "none", "bilinear", "1/3,2/3", "fashion-mnist padded to 32"),
        (rng.standard_normal((2, 1, 12, 20)).astype(np.float32), "hann", "bilinear", "0.25,0.5,0.75", "random"),
    ]
    for k, (x, window, up, cuts, source) in enumerate(cases):
        band, energy, spectrum_energy, rows = band_table(x, window, 2, up, parse_cuts(cuts))
        g = f.create_group(f"case{k}")
        g.attrs["window"], g.attrs["cuts"], g.attrs["source"] = window, cuts, source
        g.attrs["factorize"] = f"s=2,levels=2,down=area,up={up}"
        g["x"] = x
        g["band"] = band
        g["energy"] = energy
        g["spectrum_energy"] = spectrum_energy
        g["bands_csv"] = rows
    f.attrs["cases"] = np.int64(len(cases))


def write_npz(path, save, shape):
    n = int(np.prod(shape))
    arr = ((31 * np.arange(n, dtype=np.int64) + 7) % 256).astype(np.uint8).reshape(shape)
    tmp = path + f".tmp{os.getpid()}.npz"
    save(tmp, other=np.linspace(0, 1, 5), arr_0=arr)
    os.replace(tmp, path)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default="tests/golden")
    ap.add_argument("--full", action="store_true", help="more real images (for make check-full)")
    ap.add_argument("--fmnist", default="/usr/share/datasets/fashion-mnist",
                    help="folder with t10k-images-idx3-ubyte.gz (package dataset-fashion-mnist)")
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    images = read_idx_images(os.path.join(args.fmnist, "t10k-images-idx3-ubyte.gz"))
    labels = read_idx_labels(os.path.join(args.fmnist, "t10k-labels-idx1-ubyte.gz"))
    # Spread over the test set: the first images and some far in.
    idx = np.array([0, 1, 2, 3, 4, 5, 6, 7, 1000, 2500, 4999, 5000, 7777, 8888, 9998, 9999], dtype=np.int64)
    if args.full:
        idx = np.concatenate([idx, np.arange(100, 228, dtype=np.int64)])
    real = (images[idx].astype(np.float32) / np.float32(255)).astype(np.float32)
    atomic_h5(os.path.join(args.out, "spectrum_wavelet.h5"), lambda f: fill_wavelet(f, real, idx, labels[idx]))
    atomic_h5(os.path.join(args.out, "spectrum_radial.h5"), lambda f: fill_radial(f, real))
    atomic_h5(os.path.join(args.out, "spectrum_bands.h5"), lambda f: fill_bands(f, real))
    write_npz(os.path.join(args.out, "spectrum_npz_stored.npz"), np.savez, (3, 8, 6, 3))
    write_npz(os.path.join(args.out, "spectrum_npz_deflated.npz"), np.savez_compressed, (2, 5, 7))
    print(f"wrote {args.out}/spectrum_wavelet.h5, spectrum_radial.h5, spectrum_bands.h5 ({len(idx)} Fashion-MNIST images) "
          "and spectrum_npz_*.npz")


if __name__ == "__main__":
    main()
