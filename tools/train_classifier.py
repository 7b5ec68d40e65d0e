#!/usr/bin/env python3
"""train_classifier.py: train the Fashion-MNIST feature network and export it.

The network (tools/reference/classifier.py) replaces Inception in the
Fashion-MNIST metrics: its penultimate features serve FID / precision /
recall / KID, its logits an IS-like score and class consistency. It trains
on the 60,000 training images (28 x 28, p / 127.5 - 1) on the CPU, fully
determined by --seed: Adam, cosine learning-rate decay to 0 per step,
dropout on the features, the data order a permutation per epoch from a
generator seeded by --seed. The test
accuracy on the 10,000 t10k images must reach --min-accuracy, else nothing
is written and the exit status is 1.

Outputs (both written to a temporary name, then renamed):
  --out (models/fmnist_classifier.h5): one float32 dataset per state_dict key
    (conv1.weight [c1, 1, 3, 3], conv1.bias, conv2.*, conv3.*, fc1.weight
    [features, 9 c3], fc1.bias, fc2.weight [classes, features], fc2.bias);
    root attributes model = "fmnist_classifier", format_version, input_size,
    conv1_channels, conv2_channels, conv3_channels, features, num_classes,
    test_accuracy, the training command, seed, epochs, torch version and
    data_sha256 (JSON: file name -> sha256 of the .gz); and group check/ with
    the float32 model's results on the first --check-count t10k images
    (t10k_pred int64, t10k_logits float32 [n, classes]) for
    tests/test_classifier.c.
  --log (models/fmnist_classifier.log): the training log (also on stdout).

--ckpt PATH also saves the trained state_dict with torch.save.

Usage: /usr/bin/python3 tools/train_classifier.py [--epochs 10] [--seed 0]
"""
import argparse
import hashlib
import json
import math
import os
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F

TOOLS = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, TOOLS)
from h5util import atomic_h5  # noqa: E402
from reference.classifier import CONFIG_INT_KEYS, DEFAULT_CONFIG, INPUT_SIZE, MODEL_NAME, FmnistClassifier, \
    images_to_input  # noqa: E402
from train import FASHION_MNIST_DIR, TrainError, read_idx_gz  # noqa: E402

FORMAT_VERSION = 1
SPLIT_FILES = ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz", "t10k-images-idx3-ubyte.gz",
               "t10k-labels-idx1-ubyte.gz")


def sha256_file(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def load_split(root, split):
    images = read_idx_gz(os.path.join(root, f"{split}-images-idx3-ubyte.gz"))
    labels = read_idx_gz(os.path.join(root, f"{split}-labels-idx1-ubyte.gz"))
    if images.ndim != 3 or images.shape[1:] != (INPUT_SIZE, INPUT_SIZE) or labels.shape != (images.shape[0],):
        raise TrainError(f"{root}: {split} holds images {images.shape} and labels {labels.shape}, expected "
                         f"[N, 28, 28] and [N]")
    return images_to_input(images), torch.from_numpy(labels.astype(np.int64))


@torch.no_grad()
def evaluate(model, x, batch=1000):
    model.eval()
    feats, logits = [], []
    for i in range(0, len(x), batch):
        f, lg = model.forward_features(x[i:i + batch])
        feats.append(f)
        logits.append(lg)
    return torch.cat(feats), torch.cat(logits)


def train(args, log):
    torch.manual_seed(args.seed)
    gen = torch.Generator().manual_seed(args.seed)
    x_train, y_train = load_split(args.data, "train")
    x_test, y_test = load_split(args.data, "t10k")
    log(f"data {args.data}: train {len(x_train)}, t10k {len(x_test)}")
    model = FmnistClassifier(**DEFAULT_CONFIG)
    log(f"model {model.config()}, {sum(p.numel() for p in model.parameters())} parameters")
    opt = torch.optim.Adam(model.parameters(), lr=args.lr)
    steps_per_epoch = math.ceil(len(x_train) / args.batch)
    total = args.epochs * steps_per_epoch
    step = 0
    for epoch in range(args.epochs):
        model.train()
        t0 = time.time()
        perm = torch.randperm(len(x_train), generator=gen)
        loss_sum, correct = 0.0, 0
        for i in range(0, len(x_train), args.batch):
            idx = perm[i:i + args.batch]
            x, y = x_train[idx], y_train[idx]
            for group in opt.param_groups:
                group["lr"] = args.lr * 0.5 * (1 + math.cos(math.pi * step / total))
            logits = model(x)
            loss = F.cross_entropy(logits, y)
            opt.zero_grad()
            loss.backward()
            opt.step()
            step += 1
            loss_sum += float(loss) * len(idx)
            correct += int((logits.argmax(1) == y).sum())
        _, test_logits = evaluate(model, x_test)
        acc = float((test_logits.argmax(1) == y_test).float().mean())
        log(f"epoch {epoch + 1}/{args.epochs}: loss {loss_sum / len(x_train):.4f}, train acc "
            f"{correct / len(x_train):.4f}, test acc {acc:.4f}, {time.time() - t0:.1f} s")
    _, logits = evaluate(model, x_test)
    acc = float((logits.argmax(1) == y_test).float().mean())
    return model, acc, logits


def export(path, model, acc, logits, args, command):
    sha = {name: sha256_file(os.path.join(args.data, name)) for name in SPLIT_FILES}
    n = args.check_count

    def fill(f):
        for key, value in model.state_dict().items():
            f.create_dataset(key, data=value.detach().to(torch.float32).numpy())
        f.attrs["model"] = MODEL_NAME
        f.attrs["format_version"] = np.int64(FORMAT_VERSION)
        f.attrs["input_size"] = np.int64(INPUT_SIZE)
        for key in CONFIG_INT_KEYS:
            f.attrs[key] = np.int64(model.config()[key])
        f.attrs["test_accuracy"] = np.float64(acc)
        f.attrs["training_command"] = command
        f.attrs["seed"] = np.int64(args.seed)
        f.attrs["epochs"] = np.int64(args.epochs)
        f.attrs["torch_version"] = str(torch.__version__)
        f.attrs["data_sha256"] = json.dumps(sha, sort_keys=True)
        f.attrs["source"] = "tools/train_classifier.py"
        c = f.create_group("check")
        c.attrs["description"] = (f"the exported float32 model in PyTorch on the first {n} t10k images "
                                  "(tests/test_classifier.c)")
        c["t10k_pred"] = logits[:n].argmax(1).numpy().astype(np.int64)
        c["t10k_logits"] = logits[:n].numpy().astype(np.float32)
    atomic_h5(path, fill)


def write_text_atomic(path, text):
    tmp = os.path.join(os.path.dirname(os.path.abspath(path)), f".{os.path.basename(path)}.tmp{os.getpid()}")
    with open(tmp, "w") as f:
        f.write(text)
    os.replace(tmp, path)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default=FASHION_MNIST_DIR)
    ap.add_argument("--epochs", type=int, default=10)
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--min-accuracy", type=float, default=0.90)
    ap.add_argument("--check-count", type=int, default=1000)
    ap.add_argument("--out", default="models/fmnist_classifier.h5")
    ap.add_argument("--log", default="models/fmnist_classifier.log")
    ap.add_argument("--ckpt", default="")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    command = " ".join(["tools/train_classifier.py"] + sys.argv[1:])
    lines = []

    def log(msg):
        print(msg, flush=True)
        lines.append(msg)

    log(f"command: {command}")
    log(f"torch {torch.__version__}, {args.threads} threads, seed {args.seed}")
    try:
        model, acc, logits = train(args, log)
    except TrainError as e:
        print(f"train_classifier.py: {e}", file=sys.stderr)
        return 1
    log(f"final test accuracy {acc:.4f} ({round(acc * 10000)} / 10000)")
    if args.ckpt:
        torch.save(model.state_dict(), args.ckpt)
    if acc < args.min_accuracy:
        print(f"train_classifier.py: test accuracy {acc:.4f} is below --min-accuracy {args.min_accuracy}; "
              "nothing written", file=sys.stderr)
        return 1
    export(args.out, model, acc, logits, args, command)
    log(f"wrote {args.out} ({os.path.getsize(args.out)} bytes)")
    write_text_atomic(args.log, "\n".join(lines) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
