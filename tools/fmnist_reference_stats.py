#!/usr/bin/env python3
"""fmnist_reference_stats.py: reference statistics of the Fashion-MNIST test
set in the classifier's feature space, and the distances that frame a
sample's FID there.

The numbers come from the C path the harness uses (bin/msf features, stats and
evaluate with --net models/fmnist_classifier.h5, on .npz image batches this
script writes to a temporary directory), and are cross-checked by an
independent one: the classifier in PyTorch float32 (same weights), numpy
statistics, scipy's sqrtm.
  --stats-out (models/fmnist_t10k_stats.npz): mu [F], sigma [F, F] float64
    (mean and covariance with ddof = 1 of the 10,000 t10k images' penultimate
    features), written by `msf stats` (as np.savez_compressed, like
    pytorch-fid's statistics files).
  --json-out (models/fmnist_classifier_stats.json), per image set vs t10k:
    FD, IS-like score, precision/recall (k = 3), KID and class consistency
    from `msf evaluate --kid` (the reference side: the t10k images'
    features from `msf features`), and
    fd_torch_sqrtm / fd_torch_eigen / is_torch from the PyTorch features.
    Sets:
    - train: the 60,000 training images: FD vs t10k is the floor a perfect
      generator of the training distribution would reach; train10k: the
      first 10,000 of them (a sample-sized set: FD is biased upwards at
      small N);
    - t10k itself (FD 0 up to rounding; its class consistency is the test
      accuracy);
    - baselines: noise, 10,000 32x32 images of N(0, 1) pixels in the demo
      models' [-1, 1] space, clipped and turned into uint8 as a sampler's
      output (round((x + 1) * 127.5)); blur_sigma2, the t10k images blurred
      with a Gaussian of sigma 2 pixels (scipy.ndimage, zero (black) outside
      the image, rounded to uint8).
IS-like score: softmax of the 10 logits in float64, splits of 5000 in order,
per split exp(mean KL(p_i || mean p)), the mean over splits (ADM's recipe;
at most 10). FD = |mu1 - mu2|^2 + tr s1 + tr s2 - 2 tr sqrtm(s1 s2); the
torch cross-check uses scipy's sqrtm (real part; 1e-6 added to both
diagonals if not finite) as ADM's evaluator, and the eigenvalue route of
eval/metrics.c. The result files are written to a temporary name, then
renamed.

Usage: /usr/bin/python3 tools/fmnist_reference_stats.py [--msf bin/msf] [--model models/fmnist_classifier.h5]
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile

import h5py
import numpy as np
import scipy
import torch
from scipy import linalg, ndimage

TOOLS = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, TOOLS)
from reference.classifier import CONFIG_INT_KEYS, MODEL_NAME, FmnistClassifier, images_to_input  # noqa: E402
from train import FASHION_MNIST_DIR, read_idx_gz  # noqa: E402

IS_SPLIT = 5000
NOISE_SEED = 2024
BLUR_SIGMA = 2.0


def load_model(path):
    with h5py.File(path, "r") as f:
        if f.attrs.get("model") != MODEL_NAME:
            raise SystemExit(f"{path}: not a {MODEL_NAME} weight file")
        config = {k: int(f.attrs[k]) for k in CONFIG_INT_KEYS}
        state = {k: torch.from_numpy(f[k][()]) for k in f.keys() if isinstance(f[k], h5py.Dataset)}
    model = FmnistClassifier(**config).eval()
    model.load_state_dict(state)
    return model


@torch.no_grad()
def features(model, images, batch=1000):
    feats, logits = [], []
    for i in range(0, len(images), batch):
        f, lg = model.forward_features(images_to_input(images[i:i + batch]))
        feats.append(f.numpy())
        logits.append(lg.numpy())
    return np.concatenate(feats), np.concatenate(logits)


def stats(feats):
    x = feats.astype(np.float64)
    return x.mean(0), np.cov(x, rowvar=False)


def frechet_sqrtm(mu1, s1, mu2, s2, eps=1e-6):
    covmean, _ = linalg.sqrtm(s1.dot(s2), disp=False)
    if not np.isfinite(covmean).all():
        off = np.eye(len(s1)) * eps
        covmean = linalg.sqrtm((s1 + off).dot(s2 + off))
    covmean = covmean.real if np.iscomplexobj(covmean) else covmean
    d = mu1 - mu2
    return float(d.dot(d) + np.trace(s1) + np.trace(s2) - 2 * np.trace(covmean))


def frechet_eigen(mu1, s1, mu2, s2):
    lam, v = np.linalg.eigh(s1)
    w = v * np.sqrt(np.maximum(lam, 0))
    tr = np.sqrt(np.maximum(np.linalg.eigvalsh(w.T @ s2 @ w), 0)).sum()
    d = mu1 - mu2
    return float(d.dot(d) + np.trace(s1) + np.trace(s2) - 2 * tr)


def is_score(logits, split=IS_SPLIT):
    x = logits.astype(np.float64)
    p = np.exp(x - x.max(1, keepdims=True))
    p /= p.sum(1, keepdims=True)
    scores = []
    for i in range(0, len(p), split):
        part = p[i:i + split]
        marg = part.mean(0, keepdims=True)
        kl = np.where(part > 0, part * (np.log(np.where(part > 0, part, 1)) - np.log(marg)), 0).sum(1)
        scores.append(np.exp(kl.mean()))
    return float(np.mean(scores))


def atomic_write(path, write):
    tmp = os.path.join(os.path.dirname(os.path.abspath(path)), f".{os.path.basename(path)}.tmp{os.getpid()}")
    try:
        with open(tmp, "wb") as f:
            write(f)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise


def git_commit():
    try:
        return subprocess.run(["git", "describe", "--always", "--dirty", "--abbrev=12"], cwd=TOOLS,
                              capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def run_msf(cmd):
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed ({r.returncode}):\n{r.stderr}")
    return r


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--msf", default="bin/msf")
    ap.add_argument("--model", default="models/fmnist_classifier.h5")
    ap.add_argument("--data", default=FASHION_MNIST_DIR)
    ap.add_argument("--stats-out", default="models/fmnist_t10k_stats.npz")
    ap.add_argument("--json-out", default="models/fmnist_classifier_stats.json")
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    model = load_model(args.model)
    test = read_idx_gz(os.path.join(args.data, "t10k-images-idx3-ubyte.gz"))
    test_labels = read_idx_gz(os.path.join(args.data, "t10k-labels-idx1-ubyte.gz")).astype(np.int64)
    train = read_idx_gz(os.path.join(args.data, "train-images-idx3-ubyte.gz"))
    train_labels = read_idx_gz(os.path.join(args.data, "train-labels-idx1-ubyte.gz")).astype(np.int64)
    rng = np.random.default_rng(NOISE_SEED)
    noise = rng.standard_normal((len(test), 32, 32))
    noise_u8 = np.clip(np.rint((np.clip(noise, -1, 1) + 1) * 127.5), 0, 255).astype(np.uint8)
    blur = np.stack([ndimage.gaussian_filter(im.astype(np.float64), BLUR_SIGMA, mode="constant", cval=0.0)
                     for im in test])
    blur_u8 = np.clip(np.rint(blur), 0, 255).astype(np.uint8)
    sets = {
        "train": ("the 60,000 training images: the floor", train, train_labels),
        "train10k": ("the first 10,000 training images (a sample-sized set)", train[:10000], train_labels[:10000]),
        "t10k": ("the t10k set itself (FD 0 up to rounding)", test, test_labels),
    }
    baselines = {
        "noise": (f"10,000 32x32 images of N(0, 1) pixels in [-1, 1] space (numpy default_rng({NOISE_SEED})), "
                  "clipped, round((x + 1) * 127.5)", noise_u8, None),
        "blur_sigma2": (f"t10k blurred: scipy.ndimage.gaussian_filter sigma {BLUR_SIGMA}, mode constant 0, "
                        "rounded to uint8", blur_u8, test_labels),
    }

    f_test, _ = features(model, test)
    mu, sigma = stats(f_test)
    # In the destination directory, so that the statistics file can be renamed into place at the end.
    with tempfile.TemporaryDirectory(dir=os.path.dirname(os.path.abspath(args.stats_out))) as tmp:
        def batch(name, images, labels):
            path = os.path.join(tmp, f"{name}.npz")
            arrays = {"arr_0": images[..., None]}
            if labels is not None:
                arrays["arr_1"] = labels
            np.savez(path, **arrays)
            return path

        t10k_npz = batch("t10k_ref", test, None)
        t10k_feats = os.path.join(tmp, "t10k_features.h5")
        run_msf([args.msf, "features", t10k_npz, "--net", args.model, "--out", t10k_feats])
        stats_tmp = os.path.join(tmp, "stats.npz")
        run_msf([args.msf, "stats", t10k_feats, "--out", stats_tmp])

        def entry(name, what, images, labels):
            path = batch(name, images, labels)
            out = os.path.join(tmp, f"{name}.json")
            run_msf([args.msf, "evaluate", t10k_feats, path, "--net", args.model, "--kid", "--json", out])
            with open(out) as f:
                c = json.load(f)
            feats, logits = features(model, images)
            m, s = stats(feats)
            return {"what": what, "n": int(len(images)), "fd": c["fid"], "is": c["inception_score"],
                    "precision": c["precision"], "recall": c["recall"], "kid": c["kid"],
                    "class_consistency": c["class_consistency"],
                    "fd_torch_sqrtm": frechet_sqrtm(m, s, mu, sigma), "fd_torch_eigen": frechet_eigen(m, s, mu, sigma),
                    "is_torch": is_score(logits)}

        sets = {k: entry(k, *v) for k, v in sets.items()}
        baselines = {k: entry(k, *v) for k, v in baselines.items()}
        with np.load(stats_tmp) as z:
            mu_c, sigma_c = z["mu"], z["sigma"]
        os.replace(stats_tmp, args.stats_out)
    with h5py.File(args.model, "r") as f:
        recorded = float(f.attrs["test_accuracy"]) if "test_accuracy" in f.attrs else None
    result = {
        "generator": "tools/fmnist_reference_stats.py",
        "git_commit": git_commit(),
        "model": args.model,
        "stats_file": args.stats_out,
        "feature_dim": int(f_test.shape[1]),
        "fd_train_vs_t10k": sets["train"]["fd"],
        "fd_train10k_vs_t10k": sets["train10k"]["fd"],
        "is_t10k": sets["t10k"]["is"],
        "is_train": sets["train"]["is"],
        "accuracy_t10k": sets["t10k"]["class_consistency"],
        "accuracy_recorded_by_export": recorded,
        "stats_c_vs_torch": {"mu_max_abs_diff": float(np.abs(mu_c - mu).max()),
                             "sigma_max_abs_diff": float(np.abs(sigma_c - sigma).max()),
                             "fd": frechet_sqrtm(mu_c, sigma_c, mu, sigma)},
        "sets": sets,
        "baselines": baselines,
        "how": {
            "c": f"{args.msf} features (t10k), {args.msf} stats of them, {args.msf} evaluate T10K_FEATURES.h5 "
                 "SET.npz --net MODEL --kid: features "
                 "of eval/classifier.c, metrics of eval/metrics.c (KID: our own subset draws)",
            "features": "penultimate (fc1 after ReLU) of the classifier, inputs p / 127.5 - 1 of the 28x28 images "
                        "(32x32 centre-cropped)",
            "stats": "mu = mean, sigma = covariance ddof 1, float64",
            "fd_torch": "PyTorch float32 features, np.cov; sqrtm: scipy.linalg.sqrtm of s1 s2 (real part; 1e-6 "
                        "diagonal retry if not finite) as ADM/pytorch-fid; eigen: eval/metrics.c's route in numpy",
            "is": f"softmax of the 10 logits in float64, splits of {IS_SPLIT} in order, exp(mean KL(p_i || mean p)) "
                  "per split, mean over splits (ADM's Inception Score recipe); at most 10",
        },
        "versions": {"numpy": np.__version__, "scipy": scipy.__version__, "torch": torch.__version__},
    }
    text = json.dumps(result, indent=2) + "\n"
    atomic_write(args.json_out, lambda f: f.write(text.encode()))
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
