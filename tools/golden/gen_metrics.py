#!/usr/bin/env python3
"""gen_metrics.py: golden data for eval/metrics.c: feature statistics, FID by
scipy.linalg.sqrtm as ADM's evaluator computes it, Inception Score,
precision/recall, KID (clean-fid's formula on given subsets) and class
consistency, on random features, written in NumPy/SciPy float64.

Writes DIR/metrics.h5 (DIR = tests/golden unless --out is given),
deterministic (fixed seeds). --full (make check-full) uses 2048-d features
as Inception's pool_3 has.

metrics.h5 (root attributes version=1, generator, numpy_version, scipy_version):
  stats/feats          float32 [n, d]
  stats/mu, sigma      float64, np.mean(feats as float64, 0), np.cov(feats, rowvar=False)
  fid<i>/mu1, sigma1, mu2, sigma2   float64 statistics
  fid<i> attributes fid (scipy sqrtm, with ADM's 1e-6 retry), tolerance, what
  is/logits            float32 [n, classes]; attributes split, score
  pr/ref, pr/sample    float32 [n, d]; pr/radii_ref, pr/radii_sample float64
                       (3rd-NN squared distance incl. self); attributes k,
                       precision, recall, margin (smallest |d - r| / r over the
                       decisive pairs, so float32 distances decide the same)
  kid/ref, kid/sample  float32; kid/subsets int64 [s, 2, m] (np.random.choice
                       draws: [.,0] into sample, [.,1] into ref); attribute kid
  cc/logits float32 [n, c], cc/labels int64 [n]; attribute consistency

Usage: /usr/bin/python3 tools/golden/gen_metrics.py [--out DIR] [--full]
"""
import argparse
import os
import sys

import h5py
import numpy as np
import scipy
from scipy import linalg

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from h5util import atomic_h5  # noqa: E402


def frechet_adm(mu1, sigma1, mu2, sigma2, eps=1e-6):
    """ADM's FIDStatistics.frechet_distance, restated."""
    diff = mu1 - mu2
    covmean, _ = linalg.sqrtm(sigma1.dot(sigma2), disp=False)
    if not np.isfinite(covmean).all():
        off = np.eye(sigma1.shape[0]) * eps
        covmean = linalg.sqrtm((sigma1 + off).dot(sigma2 + off))
    if np.iscomplexobj(covmean):
        covmean = covmean.real
    return float(diff.dot(diff) + np.trace(sigma1) + np.trace(sigma2) - 2 * np.trace(covmean))


def correlated(rng, n, d, scale=1.0):
    """Features with a non-trivial covariance: z A + b, float32."""
    a = rng.standard_normal((d, d)) / np.sqrt(d)
    return (scale * (rng.standard_normal((n, d)) @ a + rng.standard_normal(d))).astype(np.float32)


def stats(f):
    x = f.astype(np.float64)
    return x.mean(0), np.cov(x, rowvar=False)


def sq_dist(u, v):
    u = u.astype(np.float64)
    v = v.astype(np.float64)
    return np.maximum((u * u).sum(1)[:, None] - 2 * u @ v.T + (v * v).sum(1)[None, :], 0)


def radii(f, k):
    return np.sort(sq_dist(f, f), axis=1)[:, k]


def pr_case(seed, n_ref, n_s, d, k):
    rng = np.random.default_rng(seed)
    ref = correlated(rng, n_ref, d)
    sample = (ref[rng.integers(0, n_ref, n_s)] * 0.9 + 0.8 * rng.standard_normal((n_s, d))).astype(np.float32)
    r_ref, r_s = radii(ref, k), radii(sample, k)
    d_sr = sq_dist(sample, ref)
    in_s = (d_sr <= r_ref[None, :]).any(1)
    in_r = (d_sr.T <= r_s[None, :]).any(1)
    margin = min(np.min(np.abs(d_sr - r_ref[None, :]) / r_ref[None, :]),
                 np.min(np.abs(d_sr.T - r_s[None, :]) / r_s[None, :]))
    return ref, sample, r_ref, r_s, float(in_s.mean()), float(in_r.mean()), float(margin)


def kid_clean(ref, sample, subsets):
    """clean-fid's kernel_distance (feats1 = ref, feats2 = sample) on given subsets, float64."""
    n = ref.shape[1]
    m = subsets.shape[2]
    t = 0.0
    for s in range(subsets.shape[0]):
        x = sample[subsets[s, 0]].astype(np.float64)
        y = ref[subsets[s, 1]].astype(np.float64)
        a = (x @ x.T / n + 1) ** 3 + (y @ y.T / n + 1) ** 3
        b = (x @ y.T / n + 1) ** 3
        t += (a.sum() - np.diag(a).sum()) / (m - 1) - b.sum() * 2 / m
    return float(t / subsets.shape[0] / m)


def inception_score(logits, split):
    x = logits.astype(np.float64)
    p = np.exp(x - x.max(1, keepdims=True))
    p /= p.sum(1, keepdims=True)
    scores = []
    for i in range(0, len(p), split):
        part = p[i:i + split]
        kl = part * (np.log(part) - np.log(np.expand_dims(np.mean(part, 0), 0)))
        scores.append(np.exp(np.mean(np.sum(kl, 1))))
    return float(np.mean(scores))


def fill(f, full):
    f.attrs["version"] = 1
    f.attrs["generator"] = "tools/golden/gen_metrics.py"
    f.attrs["numpy_version"] = np.__version__
    f.attrs["scipy_version"] = scipy.__version__
    rng = np.random.default_rng(6)
    d = 2048 if full else 24

    feats = correlated(rng, 3 * d + 7, d, 3.0)
    mu, sigma = stats(feats)
    g = f.create_group("stats")
    g["feats"], g["mu"], g["sigma"] = feats, mu, sigma

    # FID cases: well-conditioned (n >> d), singular (n < d) on both sides,
    # and identical statistics (FID 0 up to rounding).
    cases = [("well-conditioned", 6 * d, 5 * d, 1e-6), ("singular n < d", d // 2, d // 2 + 3, 1e-4 if full else 1e-6),
             ("identical", 4 * d, None, 1e-6)]
    for i, (what, n1, n2, tol) in enumerate(cases):
        a = correlated(rng, n1, d)
        b = a if n2 is None else correlated(rng, n2, d) * np.float32(1.3)
        m1, s1 = stats(a)
        m2, s2 = stats(b)
        g = f.create_group(f"fid{i}")
        g["mu1"], g["sigma1"], g["mu2"], g["sigma2"] = m1, s1, m2, s2
        g.attrs["fid"] = frechet_adm(m1, s1, m2, s2)
        g.attrs["tolerance"] = tol
        g.attrs["what"] = what
    f.attrs["fid_cases"] = len(cases)

    logits = (3 * rng.standard_normal((1200, 40))).astype(np.float32)
    g = f.create_group("is")
    g["logits"] = logits
    g.attrs["split"] = 500
    g.attrs["score"] = inception_score(logits, 500)

    k = 3
    for seed in range(100):
        ref, sample, r_ref, r_s, prec, rec, margin = pr_case(100 + seed, 300, 260, d, k)
        if margin > 1e-4:
            break
    else:
        raise SystemExit("no precision/recall case with a safe margin")
    g = f.create_group("pr")
    g["ref"], g["sample"], g["radii_ref"], g["radii_sample"] = ref, sample, r_ref, r_s
    g.attrs["k"], g.attrs["precision"], g.attrs["recall"], g.attrs["margin"] = k, prec, rec, margin

    ref = correlated(rng, 130, d)
    sample = (correlated(rng, 110, d) * 1.1).astype(np.float32)
    m = 60
    subsets = np.stack([np.stack([rng.choice(110, m, replace=False), rng.choice(130, m, replace=False)])
                        for _ in range(7)]).astype(np.int64)
    g = f.create_group("kid")
    g["ref"], g["sample"], g["subsets"] = ref, sample, subsets
    g.attrs["kid"] = kid_clean(ref, sample, subsets)

    logits = rng.standard_normal((97, 10)).astype(np.float32)
    labels = np.where(rng.random(97) < 0.6, logits.argmax(1), rng.integers(0, 10, 97)).astype(np.int64)
    g = f.create_group("cc")
    g["logits"], g["labels"] = logits, labels
    g.attrs["consistency"] = float(np.mean(logits.argmax(1) == labels))


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default="tests/golden")
    ap.add_argument("--full", action="store_true", help="2048-d features (for make check-full)")
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    path = os.path.join(args.out, "metrics.h5")
    atomic_h5(path, lambda f: fill(f, args.full))
    print("wrote", path)


if __name__ == "__main__":
    main()
