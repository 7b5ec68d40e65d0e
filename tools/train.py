#!/usr/bin/env python3
"""train.py: train a DiT, or MSF's base or residual DiT, and export msf HDF5 weights.

Each model is its own run (MSF's base and residual train independently: the
residual learns from the factorised data, not from base samples):
  train.py --model-type dit          --data SRC --out-dir RUN [--out-h5 dit.h5]
  train.py --model-type msf-base     --data SRC --out-dir RUN_B [--out-h5 base_dit.h5]
  train.py --model-type msf-residual --data SRC --out-dir RUN_R [--residual-level J]
           [--base-ckpt RUN_B/checkpoint.pt --out-h5 msf.h5]
  train.py --export-msf BASE.pt RESIDUAL.pt [...] OUT.h5   (an MSF file from finished runs;
                                                          BASE may be an MSF .h5 file's base)
  train.py --export-dit CKPT.pt OUT.h5                      (one model as a DiT file)
Launch with torchrun for DistributedDataParallel (env RANK, WORLD_SIZE, LOCAL_RANK;
nccl on CUDA, gloo on CPU); --batch is the global batch.

Data (--data):
  fashion-mnist, or a directory holding {train,t10k}-{images-idx3,labels-idx1}-ubyte.gz
    (Debian dataset-fashion-mnist: /usr/share/datasets/fashion-mnist): pixel
    space, 1 channel, 10 classes; pixels scaled to [-1, 1] (u/127.5 - 1) and
    the 28x28 images padded by 2 on each side with -1 (black) to 32x32, so
    that s = 2 or 4 and patch 2 divide every level. --split train|t10k.
  FILE.h5 with datasets `latents` [N, C, H, W] (float) and `labels` [N] (int),
    e.g. VAE latents already multiplied by 0.18215 (else use --latent-scale);
    optional root attribute num_classes. Loaded into memory up to
    --max-memory-gb, else read per batch.
Training, as DiT's train.py: t uniform in [0, 1000); x_t = q_sample(x0, t, eps)
on the linear schedule; loss = MSE(eps) + the variational-bound term of the
learned variance (stop-gradient on the mean, LossType.MSE, not rescaled) when
learn_sigma; labels replaced by the null class with probability
--class-dropout; AdamW (lr 1e-4, weight decay 0); EMA of the weights (decay
0.9999) updated every step; DiT's initialisation (xavier linears, zero adaLN
and output layers). The exported weights are the EMA's (--export-weights).
MSF (options --scale --levels --down --up): the base learns g_{L-1} = D^(L-1)(z);
residual level J (generation order, 1 = coarsest) learns r / residual_scale
with input concat(x_t, U(g_{k+1})), k = L-1-J; residual_scale = population
std of r over --residual-scale-samples training items (fixed by --seed) unless
--residual-scale is given. See tools/reference/msf.py. --cond-aug-max S
(msf's conditioning augmentation, off by default) noises the condition to a
random level 0..S and gives the level to the network (tools/reference/dit.py,
cond_aug); its draws come from their own generator, so t, eps and label
dropout stay those of the run without it.
Determinism: data order is a permutation per epoch from (--seed, epoch),
shared by all ranks; t, eps and label dropout come from a generator seeded by
(--seed, rank, step), so --resume continues exactly the run it stopped.
Checkpoints (RUN/checkpoint.pt, atomic; --keep-ckpts adds RUN/ckpt_STEP.pt):
{"model", "ema", "opt", "step", "args", "config", "model_type", "msf"}, only
plain types, loadable with weights_only; tools/convert_dit.py accepts them.
Logs (rank 0): stdout and RUN/log.txt. Runs on torch 1.13 and current PyTorch.
"""
import argparse
import copy
import gzip
import json
import math
import os
import struct
import sys
import time

import h5py
import numpy as np
import torch
import torch.distributed as dist
import torch.nn as nn

TOOLS = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, TOOLS)
from hdf5_dit import read_dit_group, save_dit_h5  # noqa: E402
from hdf5_msf import save_msf_h5  # noqa: E402
from reference.diffusion import SpacedDiffusion  # noqa: E402
from reference.dit import DiT  # noqa: E402
from reference.msf import FactorOptions, augment_condition, stage_training_pair  # noqa: E402

FASHION_MNIST_DIR = "/usr/share/datasets/fashion-mnist"
MODEL_TYPES = ("dit", "msf-base", "msf-residual")


class TrainError(Exception):
    pass


# -----------------------------------------------------------------------------
# Data


def read_idx_gz(path):
    """An IDX file (gzip) of unsigned bytes -> numpy uint8 array."""
    try:
        with gzip.open(path, "rb") as f:
            data = f.read()
    except OSError as e:
        raise TrainError(f"cannot read {path}: {e}") from None
    if len(data) < 4 or data[0] != 0 or data[1] != 0 or data[2] != 0x08:
        raise TrainError(f"{path}: not an IDX file of unsigned bytes")
    ndim = data[3]
    dims = struct.unpack(">" + "I" * ndim, data[4:4 + 4 * ndim])
    arr = np.frombuffer(data, np.uint8, offset=4 + 4 * ndim)
    if arr.size != int(np.prod(dims)):
        raise TrainError(f"{path}: {arr.size} values, the header says {dims}")
    return arr.reshape(dims)


class FashionMNIST:
    """Pixel-space Fashion-MNIST: (N, 1, 32, 32) in [-1, 1], 10 classes."""

    PAD = 2

    def __init__(self, root, split="train"):
        images = read_idx_gz(os.path.join(root, f"{split}-images-idx3-ubyte.gz"))
        labels = read_idx_gz(os.path.join(root, f"{split}-labels-idx1-ubyte.gz"))
        if images.ndim != 3 or labels.shape != (images.shape[0],):
            raise TrainError(f"{root}: images {images.shape} and labels {labels.shape} do not match")
        p = self.PAD
        # uint8 0 maps to -1: padding with 0 before scaling pads with -1.
        self.images = np.pad(images, ((0, 0), (p, p), (p, p)))[:, None]
        self.labels = labels.astype(np.int64)
        self.num_classes = 10
        self.shape = tuple(self.images.shape[1:])
        self.describe = f"Fashion-MNIST {split} ({root}), {len(self)} images, padded to {self.shape[1]}x{self.shape[2]}"

    def __len__(self):
        return len(self.labels)

    def get(self, idx):
        x = torch.from_numpy(self.images[idx].astype(np.float32) / 127.5 - 1.0)
        return x, torch.from_numpy(self.labels[idx])


class LatentsH5:
    """Precomputed latents: datasets `latents` [N, C, H, W] and `labels` [N]."""

    def __init__(self, path, latent_scale=1.0, max_memory_gb=8.0):
        self.path, self.latent_scale = path, float(latent_scale)
        try:
            self.file = h5py.File(path, "r")
        except OSError as e:
            raise TrainError(f"cannot open {path}: {e}") from None
        for name in ("latents", "labels"):
            if name not in self.file:
                raise TrainError(f"{path} has no dataset '{name}' (expected latents [N, C, H, W] and labels [N])")
        lat, lab = self.file["latents"], self.file["labels"]
        if lat.ndim != 4 or lab.shape != (lat.shape[0],):
            raise TrainError(f"{path}: latents {lat.shape} and labels {lab.shape}, expected [N, C, H, W] and [N]")
        self.labels = lab[()].astype(np.int64)
        self.num_classes = int(self.file.attrs.get("num_classes", self.labels.max() + 1))
        self.shape = tuple(lat.shape[1:])
        in_memory = lat.size * 4 <= max_memory_gb * 2 ** 30
        self.latents = lat[()].astype(np.float32) if in_memory else lat
        self.describe = (f"latents {path}, {len(self)} x {list(self.shape)}, {self.num_classes} classes, "
                         f"{'in memory' if in_memory else 'read per batch'}, scale {self.latent_scale:g}")

    def __len__(self):
        return len(self.labels)

    def get(self, idx):
        if isinstance(self.latents, np.ndarray):
            x = self.latents[idx]
        else:
            uniq, inverse = np.unique(idx, return_inverse=True)  # h5py wants increasing indices
            x = self.latents[uniq].astype(np.float32)[inverse]
        return torch.from_numpy(np.ascontiguousarray(x) * np.float32(self.latent_scale)), \
            torch.from_numpy(self.labels[idx])


def open_data(args):
    src = args.data
    if src == "fashion-mnist":
        src = FASHION_MNIST_DIR
    if os.path.isdir(src):
        if not os.path.exists(os.path.join(src, f"{args.split}-images-idx3-ubyte.gz")):
            raise TrainError(f"{src} has no {args.split}-images-idx3-ubyte.gz (Fashion-MNIST IDX files; on Debian: "
                             f"apt-get install dataset-fashion-mnist)")
        return FashionMNIST(src, args.split)
    if os.path.isfile(src):
        return LatentsH5(src, args.latent_scale, args.max_memory_gb)
    raise TrainError(f"--data {args.data}: no such directory or file")


class BatchOrder:
    """Global batch `step` of size B over permutations of the data, one per epoch
    from (seed, epoch); rank r takes rows [r*b, (r+1)*b) of it, b = B / world."""

    def __init__(self, n, global_batch, world, rank, seed):
        self.n, self.global_batch, self.world, self.rank, self.seed = n, global_batch, world, rank, seed
        self.perms = {}

    def perm(self, epoch):
        if epoch not in self.perms:
            self.perms = {epoch: torch.randperm(self.n, generator=torch.Generator().manual_seed(
                self.seed * 1000003 + epoch)).numpy()}
        return self.perms[epoch]

    def indices(self, step):
        b = self.global_batch // self.world
        pos = np.arange(step * self.global_batch + self.rank * b, step * self.global_batch + (self.rank + 1) * b)
        out = np.empty(b, dtype=np.int64)
        for epoch in np.unique(pos // self.n):
            sel = pos // self.n == epoch
            out[sel] = self.perm(int(epoch))[pos[sel] % self.n]
        return out


def step_generator(seed, rank, step):
    """The generator of step `step` on `rank`: t, eps and label dropout."""
    return torch.Generator().manual_seed(((seed * 1000003 + rank) * 1000003 + step) % (2 ** 63))


def aug_generator(seed, rank, step):
    """The generator of the conditioning augmentation of step `step` on `rank` (levels, then
    the condition's noise): separate from step_generator, so that t, eps and label dropout
    are those of the same run without augmentation."""
    return torch.Generator().manual_seed(((seed * 1000003 + rank) * 1000003 + step + 0x5EED0A06) % (2 ** 63))


# -----------------------------------------------------------------------------
# Model


def dit_training_init(model):
    """DiT's initialize_weights: xavier-uniform linears (and the patch embedding as
    a linear) with zero bias, N(0, 0.02^2) label table and timestep MLP, zero
    adaLN modulation and output layers; pos_embed is the fixed sin-cos table."""
    for m in model.modules():
        if isinstance(m, nn.Linear):
            nn.init.xavier_uniform_(m.weight)
            nn.init.constant_(m.bias, 0)
    w = model.x_embedder.proj.weight.data
    nn.init.xavier_uniform_(w.view([w.shape[0], -1]))
    nn.init.constant_(model.x_embedder.proj.bias, 0)
    nn.init.normal_(model.y_embedder.embedding_table.weight, std=0.02)
    nn.init.normal_(model.t_embedder.mlp[0].weight, std=0.02)
    nn.init.normal_(model.t_embedder.mlp[2].weight, std=0.02)
    if getattr(model, "cond_aug", False):
        # msf's choice: the level embedder's input layer as DiT's timestep MLP, its output
        # layer zero, so the network starts as the same network without augmentation.
        nn.init.normal_(model.aug_embedder.mlp[0].weight, std=0.02)
        nn.init.constant_(model.aug_embedder.mlp[2].weight, 0)
    for block in model.blocks:
        nn.init.constant_(block.adaLN_modulation[-1].weight, 0)
        nn.init.constant_(block.adaLN_modulation[-1].bias, 0)
    nn.init.constant_(model.final_layer.adaLN_modulation[-1].weight, 0)
    nn.init.constant_(model.final_layer.adaLN_modulation[-1].bias, 0)
    nn.init.constant_(model.final_layer.linear.weight, 0)
    nn.init.constant_(model.final_layer.linear.bias, 0)


def model_config(args, data_shape, num_classes):
    """(DiT config, msf dict or None) for the run."""
    c, h, w = data_shape
    if h != w:
        raise TrainError(f"data of {h}x{w}: DiT needs square inputs")
    arch = dict(patch_size=args.patch, hidden_size=args.hidden, depth=args.depth, num_heads=args.heads,
                mlp_ratio=args.mlp_ratio, class_dropout_prob=args.class_dropout, num_classes=num_classes,
                learn_sigma=args.learn_sigma)
    if args.model_type == "dit":
        return dict(arch, input_size=h, in_channels=c, out_channels=2 * c if args.learn_sigma else c), None
    opts = FactorOptions(args.scale, args.levels, args.down, args.up)
    opts.check(h, w)
    msf = dict(opts.as_dict(), channels=c, input_size=h)
    if args.model_type == "msf-base":
        msf.update(level=0, residual_scale=None)
        return dict(arch, input_size=h // opts.factor(), in_channels=c, out_channels=2 * c if args.learn_sigma
                    else c), msf
    j = args.residual_level
    if not 1 <= j < opts.levels:
        raise TrainError(f"--residual-level {j} outside 1..{opts.levels - 1}")
    msf.update(level=j, residual_scale=None)
    side = h // opts.scale ** (opts.levels - 1 - j)
    config = dict(arch, input_size=side, in_channels=2 * c, out_channels=2 * c if args.learn_sigma else c)
    if args.cond_aug_max:
        if not 0 < args.cond_aug_max <= 1000:
            raise TrainError(f"--cond-aug-max {args.cond_aug_max} outside 1..1000")
        config["cond_aug"] = True
        msf["cond_aug_max"] = args.cond_aug_max
    return config, msf


def msf_options(msf):
    return FactorOptions(msf["scale"], msf["levels"], msf["down"], msf["up"])


def forward_gflops(config):
    """GFLOPs of one forward pass per sample, counted as `msf flops` and DiT's Table 4 count them
    (one multiply-add = one FLOP; linear layers, attention matmuls, patch embedding, conditioning
    MLPs): the same formula as dit_gflops in src/models/dit.c, so training and sampling compute
    are in one unit. Training compute is this times the samples seen (backward not counted)."""
    d, p = config["hidden_size"], config["patch_size"]
    t = (config["input_size"] // p) ** 2
    m = int(config["hidden_size"] * config["mlp_ratio"])
    block = t * d * 3 * d + t * d * d + 2 * t * t * d + 2 * t * d * m + d * 6 * d
    total = (config["depth"] * block + t * d * config["in_channels"] * p * p + d * 256 + d * d
             + d * 2 * d + t * d * p * p * config["out_channels"])
    if config.get("cond_aug"):
        total += d * 256 + d * d  # the condition-level embedder, as the timestep's
    return total * 1e-9


def read_init_weights(path, model_type):
    """(config, state_dict, msf dict or None) of the network in an exported HDF5 file to start
    from: a DiT file for dit (or msf-base), the `base` group of an MSF file for msf-base, its
    `residual` group (2 levels) for msf-residual."""
    try:
        f = h5py.File(path, "r")
    except OSError as e:
        raise TrainError(f"--init-from {path}: cannot open as HDF5 ({e})") from e
    with f:
        kind = f.attrs.get("model")
        if kind == "dit" and model_type != "msf-residual":
            config, state = read_dit_group(f)
            return config, state, None
        if kind != "msf" or model_type == "dit":
            raise TrainError(f"--init-from {path}: holds a {kind!r} model, cannot start a {model_type} run from it")
        a = f.attrs
        msf = dict(scale=int(a["scale"]), levels=int(a["levels"]), down=str(a["down"]), up=str(a["up"]),
                   channels=int(a["channels"]), input_size=int(a["input_size"]))
        if model_type == "msf-base":
            config, state = read_dit_group(f["base"])
            msf.update(level=0, residual_scale=None)
        else:
            if msf["levels"] != 2 or "residual" not in f:
                raise TrainError(f"--init-from {path}: expected a 2-level MSF file with a 'residual' group")
            config, state = read_dit_group(f["residual"])
            msf.update(level=1, residual_scale=float(f["residual"].attrs["residual_scale"]))
        return config, state, msf


def residual_std(data, msf, j, samples, seed, batch=256):
    """Population std of residual level j's r over `samples` items drawn by `seed`."""
    opts = msf_options(msf)
    g = torch.Generator().manual_seed(seed)
    idx = torch.randperm(len(data), generator=g)[:min(samples, len(data))].numpy()
    total, total_sq, count = 0.0, 0.0, 0
    for i in range(0, len(idx), batch):
        z, _ = data.get(np.sort(idx[i:i + batch]))
        r, _ = stage_training_pair(z.double(), opts, j, 1.0)
        total += r.sum().item()
        total_sq += (r * r).sum().item()
        count += r.numel()
    mean = total / count
    return math.sqrt(max(total_sq / count - mean * mean, 0.0))


# -----------------------------------------------------------------------------
# Loss (DiT's GaussianDiffusion.training_losses, LossType.MSE, eps prediction)


class TrainingDiffusion:
    """The 1000-step linear schedule (as create_diffusion("") builds it: respaced to
    all steps, constants recomputed in float64) and DiT's training loss."""

    def __init__(self):
        self.d = SpacedDiffusion("1000")
        self.num_timesteps = self.d.num_timesteps
        self.sqrt_alphas_cumprod = np.sqrt(self.d.alphas_cumprod)
        self.sqrt_one_minus_alphas_cumprod = np.sqrt(1.0 - self.d.alphas_cumprod)

    @staticmethod
    def extract(arr, t, x):
        """arr[t] (float64 -> float32, as _extract_into_tensor), shaped to broadcast over x."""
        v = torch.from_numpy(arr).to(t.device)[t].float()
        return v.view(-1, *([1] * (x.dim() - 1))) + torch.zeros_like(x)

    def q_sample(self, x0, t, noise):
        return self.extract(self.sqrt_alphas_cumprod, t, x0) * x0 \
            + self.extract(self.sqrt_one_minus_alphas_cumprod, t, x0) * noise

    def vb_terms(self, out, x0, x_t, t):
        """KL(q(x_{t-1}|x_t,x0) || p(x_{t-1}|x_t)) in bits per dim, the decoder NLL at t = 0
        (out: frozen eps and the variance values, learned range)."""
        d, e = self.d, self.extract
        c = x0.shape[1]
        true_mean = e(d.posterior_mean_coef1, t, x_t) * x0 + e(d.posterior_mean_coef2, t, x_t) * x_t
        true_logvar = e(d.posterior_log_variance_clipped, t, x_t)
        eps, v = out[:, :c], out[:, c:]
        min_log = e(d.posterior_log_variance_clipped, t, x_t)
        max_log = e(d.log_betas, t, x_t)
        frac = (v + 1) / 2
        model_logvar = frac * max_log + (1 - frac) * min_log
        pred_x0 = e(d.sqrt_recip_alphas_cumprod, t, x_t) * x_t - e(d.sqrt_recipm1_alphas_cumprod, t, x_t) * eps
        model_mean = e(d.posterior_mean_coef1, t, x_t) * pred_x0 + e(d.posterior_mean_coef2, t, x_t) * x_t
        kl = 0.5 * (-1.0 + model_logvar - true_logvar + torch.exp(true_logvar - model_logvar)
                    + (true_mean - model_mean) ** 2 * torch.exp(-model_logvar))
        kl = kl.mean(dim=list(range(1, kl.dim()))) / np.log(2.0)
        nll = -discretized_gaussian_log_likelihood(x0, model_mean, 0.5 * model_logvar)
        nll = nll.mean(dim=list(range(1, nll.dim()))) / np.log(2.0)
        return torch.where(t == 0, nll, kl)

    def losses(self, model, x0, t, y, noise, cond=None, learn_sigma=True, aug=None):
        """Per-sample {"loss", "mse", "vb"}; the model sees cat([x_t, cond]) when cond is given
        (and the condition's noise level aug, for a conditioning-augmented model)."""
        x_t = self.q_sample(x0, t, noise)
        x_in = x_t if cond is None else torch.cat([x_t, cond], dim=1)
        out = model(x_in, t, y) if aug is None else model(x_in, t, y, aug)
        c = x0.shape[1]
        terms = {}
        if learn_sigma:
            eps = out[:, :c]
            frozen = torch.cat([eps.detach(), out[:, c:]], dim=1)
            terms["vb"] = self.vb_terms(frozen, x0, x_t, t)
        else:
            eps = out
        terms["mse"] = ((noise - eps) ** 2).mean(dim=list(range(1, x0.dim())))
        terms["loss"] = terms["mse"] + terms["vb"] if learn_sigma else terms["mse"]
        return terms


def approx_standard_normal_cdf(x):
    return 0.5 * (1.0 + torch.tanh(np.sqrt(2.0 / np.pi) * (x + 0.044715 * torch.pow(x, 3))))


def discretized_gaussian_log_likelihood(x, means, log_scales):
    """Log-likelihood of x under a Gaussian discretised to 8-bit bins of [-1, 1] (nats)."""
    centered = x - means
    inv_stdv = torch.exp(-log_scales)
    cdf_plus = approx_standard_normal_cdf(inv_stdv * (centered + 1.0 / 255.0))
    cdf_min = approx_standard_normal_cdf(inv_stdv * (centered - 1.0 / 255.0))
    log_cdf_plus = torch.log(cdf_plus.clamp(min=1e-12))
    log_one_minus_cdf_min = torch.log((1.0 - cdf_min).clamp(min=1e-12))
    cdf_delta = cdf_plus - cdf_min
    return torch.where(x < -0.999, log_cdf_plus,
                       torch.where(x > 0.999, log_one_minus_cdf_min, torch.log(cdf_delta.clamp(min=1e-12))))


# -----------------------------------------------------------------------------
# Checkpoints and export


def atomic_save(obj, path):
    tmp = os.path.join(os.path.dirname(os.path.abspath(path)), f".{os.path.basename(path)}.tmp{os.getpid()}")
    try:
        torch.save(obj, tmp)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise


def load_checkpoint(path):
    if not os.path.isfile(path):
        raise TrainError(f"no checkpoint {path}")
    try:
        ckpt = torch.load(path, map_location="cpu")
    except Exception as e:  # noqa: BLE001 -- torch raises many types for a bad file
        raise TrainError(f"cannot load checkpoint {path}: {e}") from None
    for key in ("model_type", "config", "ema", "model", "step"):
        if not isinstance(ckpt, dict) or key not in ckpt:
            raise TrainError(f"{path} is not a tools/train.py checkpoint (no '{key}')")
    return ckpt


def export_state(ckpt, which):
    return ckpt["ema" if which == "ema" else "model"]


def source_of(path, ckpt, which):
    # The path as given (relative paths stay relative: a committed file names
    # no directory of the machine that made it).
    if "from_file" in ckpt:
        return f"the base of {path} (its weights as stored; made by: {ckpt['from_file']})"
    return f"tools/train.py {ckpt['model_type']} {path} step {ckpt['step']} ({which} weights)"


def export_dit(ckpt_path, out_path, which="ema", dtype="float32"):
    ckpt = load_checkpoint(ckpt_path)
    save_dit_h5(out_path, export_state(ckpt, which), ckpt["config"], source=source_of(ckpt_path, ckpt, which),
                dtype=dtype)
    return out_path


def base_from_msf_file(path):
    """The base of an exported MSF file as an msf-base checkpoint (model and EMA: the weights the
    file holds), so a new residual can be paired with a base whose run is not at hand."""
    config, state, msf = read_init_weights(path, "msf-base")
    with h5py.File(path, "r") as f:
        source = str(f.attrs.get("source", ""))
    return {"model_type": "msf-base", "config": config, "model": state, "ema": state, "msf": msf,
            "step": None, "from_file": source}


def export_msf(ckpt_paths, out_path, which="ema", dtype="float32"):
    """An MSF file from one msf-base and L-1 msf-residual checkpoints (any order). The base may
    also be an exported MSF file (.h5): its base group, as stored."""
    ckpts = [(p, base_from_msf_file(p) if str(p).endswith(".h5") else load_checkpoint(p)) for p in ckpt_paths]
    for p, c in ckpts:
        if c["model_type"] not in ("msf-base", "msf-residual"):
            raise TrainError(f"{p} is a {c['model_type']} checkpoint, expected msf-base or msf-residual")
    bases = [(p, c) for p, c in ckpts if c["model_type"] == "msf-base"]
    if len(bases) != 1:
        raise TrainError(f"--export-msf needs exactly one msf-base checkpoint, got {len(bases)}")
    base_path, base = bases[0]
    # The base learns D^(L-1)(z), which does not involve the up operator: one
    # base pairs with residuals trained for any U (all residuals must agree).
    key = ("scale", "levels", "down", "channels", "input_size")
    want = {k: base["msf"][k] for k in key}
    by_level, up = {}, None
    for p, c in ckpts:
        got = {k: c["msf"][k] for k in key}
        if got != want:
            raise TrainError(f"{p} was trained with {got}, {base_path} with {want}")
        if c["model_type"] == "msf-residual":
            ups = {r["msf"]["up"] for _, r in ckpts if r["model_type"] == "msf-residual"}
            if len(ups) != 1:
                raise TrainError(f"the residual checkpoints were trained with different up operators {sorted(ups)}")
            up = c["msf"]["up"]
            if c["msf"]["level"] in by_level:
                raise TrainError(f"{p} and {by_level[c['msf']['level']][0]} both train residual level "
                                 f"{c['msf']['level']}")
            by_level[c["msf"]["level"]] = (p, c)
    levels = want["levels"]
    missing = [j for j in range(1, levels) if j not in by_level]
    if missing:
        raise TrainError(f"{levels} levels need residual levels 1..{levels - 1}; missing {missing}")
    want["up"] = up
    residuals = [(export_state(c, which), c["config"], c["msf"]["residual_scale"])
                 for _, c in (by_level[j] for j in range(1, levels))]
    source = "; ".join(source_of(p, c, which) for p, c in [(base_path, base)] + [by_level[j] for j in
                                                                                   range(1, levels)])
    save_msf_h5(out_path, msf_options(want), want["channels"], want["input_size"],
                (export_state(base, which), base["config"]), residuals, source=source, dtype=dtype)
    return out_path


# -----------------------------------------------------------------------------
# Training


class Logger:
    def __init__(self, path, active):
        self.path, self.active = path, active

    def __call__(self, msg):
        if not self.active:
            return
        line = f"[{time.strftime('%Y-%m-%d %H:%M:%S')}] {msg}"
        print(line, flush=True)
        with open(self.path, "a") as f:
            f.write(line + "\n")


def distributed_setup(device_arg):
    """(rank, world, device); initialises the process group under torchrun."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    local = int(os.environ.get("LOCAL_RANK", "0"))
    if device_arg == "auto":
        device_arg = "cuda" if torch.cuda.is_available() else "cpu"
    if device_arg == "cuda":
        if not torch.cuda.is_available():
            raise TrainError("--device cuda: no CUDA device available")
        device = torch.device("cuda", local)
        torch.cuda.set_device(device)
    else:
        device = torch.device("cpu")
    if world > 1:
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
    return rank, world, device


def update_ema(ema, model, decay):
    with torch.no_grad():
        for e, p in zip(ema.parameters(), model.parameters()):
            e.mul_(decay).add_(p.detach(), alpha=1 - decay)


def train(args):
    rank, world, device = distributed_setup(args.device)
    if device.type == "cuda":
        # As DiT's train.py: TF32 matmuls and convolutions (--no-tf32 for full float32).
        torch.backends.cuda.matmul.allow_tf32 = args.tf32
        torch.backends.cudnn.allow_tf32 = args.tf32
    if args.batch % world:
        raise TrainError(f"--batch {args.batch} is not divisible by the {world} processes")
    if rank == 0:
        os.makedirs(args.out_dir, exist_ok=True)
    if world > 1:
        dist.barrier()
    log = Logger(os.path.join(args.out_dir, "log.txt"), rank == 0)
    ckpt_path = os.path.join(args.out_dir, "checkpoint.pt")

    resume = None
    if args.resume:
        resume = load_checkpoint(ckpt_path if args.resume == "auto" else args.resume)
        if resume["model_type"] != args.model_type:
            raise TrainError(f"--resume: the checkpoint is a {resume['model_type']} run, not {args.model_type}")
    data = open_data(args)
    init = None
    if resume:
        config, msf = resume["config"], resume["msf"]
    else:
        config, msf = model_config(args, data.shape, args.num_classes or data.num_classes)
        if args.init_from:
            init_config, init_state, init_msf = read_init_weights(args.init_from, args.model_type)
            # The file decides the network; it must be the one these arguments describe.
            # A conditioning-augmented run may start from a network without it (the level
            # embedder then starts with a zero output layer: the same function at first).
            want = {k: v for k, v in config.items() if k not in ("mlp_ratio", "cond_aug")}
            have = {k: init_config.get(k) for k in want}
            if have != want or float(init_config["mlp_ratio"]) != float(config["mlp_ratio"]):
                raise TrainError(f"--init-from {args.init_from}: the file's network {json.dumps(init_config)} is not "
                                 f"the one the arguments describe {json.dumps(config)}")
            if init_msf is not None:
                mismatch = [k for k in ("scale", "levels", "down", "up", "channels", "input_size")
                            if init_msf[k] != msf[k]]
                if mismatch:
                    raise TrainError(f"--init-from {args.init_from}: MSF options {', '.join(mismatch)} differ "
                                     f"from the arguments'")
                msf["residual_scale"] = init_msf["residual_scale"]
            init = init_state
    if args.cond_aug_max and args.model_type != "msf-residual":
        raise TrainError("--cond-aug-max is an option of msf-residual runs (it noises the residual's condition)")
    if args.model_type == "msf-residual" and args.out_h5 and (not args.base_ckpt or msf["levels"] != 2):
        raise TrainError("--out-h5 of an msf-residual run writes the MSF file: it needs --base-ckpt and 2 levels "
                         "(with more levels, use --export-msf once every level is trained)")
    if int(data.labels.max()) >= config["num_classes"] or int(data.labels.min()) < 0:
        raise TrainError(f"labels span {data.labels.min()}..{data.labels.max()}, the model has "
                         f"{config['num_classes']} classes")

    level = msf["level"] if msf else 0
    if msf and level > 0 and msf["residual_scale"] is None:
        msf["residual_scale"] = float(args.residual_scale) if args.residual_scale else \
            residual_std(data, msf, level, args.residual_scale_samples, args.seed)
        if not msf["residual_scale"] > 0:
            raise TrainError(f"residual std {msf['residual_scale']}: the data has no detail at this level")
    opts = msf_options(msf) if msf else None

    torch.manual_seed(args.seed)
    model = DiT(**config)
    dit_training_init(model)
    model.to(device)
    ema = copy.deepcopy(model).eval()
    for p in ema.parameters():
        p.requires_grad_(False)
    opt = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=args.weight_decay)
    step = 0
    fwd_gflops = forward_gflops(config)
    train_gflops = 0.0
    if resume:
        model.load_state_dict(resume["model"])
        ema.load_state_dict(resume["ema"])
        opt.load_state_dict(resume["opt"])
        step = int(resume["step"])
        # Checkpoints from before compute counting: the steps so far at this batch size.
        train_gflops = float(resume.get("train_gflops", step * args.batch * fwd_gflops))
    elif init is not None:
        # Model and EMA both start from the file's weights, AdamW's moments from zero; the
        # data order and noise continue at --init-step (they are functions of seed and step).
        # Only a conditioning-augmented run may find tensors missing: its level embedder's.
        for m in (model, ema):
            missing, unexpected = m.load_state_dict(init, strict=False)
            if unexpected or any(not k.startswith("aug_embedder.") for k in missing) or \
                    (missing and not config.get("cond_aug")):
                raise TrainError(f"--init-from {args.init_from}: tensors missing {missing}, unexpected {unexpected}")
        step = args.init_step
        train_gflops = step * args.batch * fwd_gflops
    milestones = sorted(set(args.milestone_steps or []))
    # The warm-up counts from the step this run started at; a --resume keeps that origin.
    start_step = int(resume.get("warmup_start", 0)) if resume else step
    net = nn.parallel.DistributedDataParallel(model, device_ids=[device.index] if device.type == "cuda" else None) \
        if world > 1 else model
    net.train()
    diffusion = TrainingDiffusion()
    order = BatchOrder(len(data), args.batch, world, rank, args.seed)
    n_params = sum(p.numel() for p in model.parameters() if p.requires_grad)
    log(f"{'resuming' if resume else 'starting'} {args.model_type} at step {step} of {args.steps}: {data.describe}")
    log(f"model {json.dumps(config)}, {n_params:,} trainable parameters, device {device}, {world} process(es), "
        f"global batch {args.batch}")
    if msf:
        log(f"msf {json.dumps(msf)}")
    if init is not None:
        log(f"initialised from {args.init_from} (model and EMA; fresh AdamW moments) as step {step}")
    log(f"compute: {fwd_gflops:.6g} forward GFLOPs per sample (as msf flops counts them) x {args.batch} per step; "
        f"training GFLOPs so far {train_gflops:.6g}" + (f"; milestones at steps {milestones}" if milestones else ""))
    ckpt_args = {k: v for k, v in vars(args).items()}

    def save():
        if rank != 0:
            return
        ckpt = {"model": model.state_dict(), "ema": ema.state_dict(), "opt": opt.state_dict(), "step": step,
                "args": ckpt_args, "config": config, "model_type": args.model_type, "msf": msf,
                "train_gflops": train_gflops, "forward_gflops": fwd_gflops, "warmup_start": start_step}
        atomic_save(ckpt, ckpt_path)
        if args.keep_ckpts or step in milestones:
            kept = os.path.join(args.out_dir, f"ckpt_{step:07d}.pt")
            atomic_save(ckpt, kept)
            if step in milestones:
                log(f"milestone: kept {kept} (step {step}, training GFLOPs {train_gflops:.6g})")
        log(f"saved {ckpt_path} (step {step})")

    sums, count, t_start = torch.zeros(3, dtype=torch.float64), 0, time.time()
    while step < args.steps:
        x, y = data.get(order.indices(step))
        g = step_generator(args.seed, rank, step)
        if args.hflip:
            flip = torch.rand(len(x), generator=g) < 0.5
            x = torch.where(flip[:, None, None, None], x.flip(3), x)
        x, y = x.to(device), y.to(device)
        cond, aug = None, None
        if opts:
            x, cond = stage_training_pair(x, opts, level, msf["residual_scale"] or 1.0)
            if msf.get("cond_aug_max"):
                ga = aug_generator(args.seed, rank, step)
                levels = torch.randint(0, msf["cond_aug_max"] + 1, (len(x),), generator=ga)
                cond_noise = torch.randn(cond.shape, generator=ga).to(device)
                cond = augment_condition(cond, levels, cond_noise)
                aug = levels.to(torch.float32).to(device)
        t = torch.randint(0, diffusion.num_timesteps, (len(x),), generator=g).to(device)
        noise = torch.randn(x.shape, generator=g).to(device)
        if config["class_dropout_prob"] > 0:
            drop = (torch.rand(len(y), generator=g) < config["class_dropout_prob"]).to(device)
            y = torch.where(drop, torch.full_like(y, config["num_classes"]), y)
        if args.warmup_steps:
            # Linear warm-up from this run's first step (after --init-from, AdamW's moments are new).
            for group in opt.param_groups:
                group["lr"] = args.lr * min(1.0, (step - start_step + 1) / args.warmup_steps)
        terms = diffusion.losses(net, x, t, y, noise, cond, config["learn_sigma"], aug)
        loss = terms["loss"].mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        update_ema(ema, model, args.ema)
        step += 1
        train_gflops += len(x) * world * fwd_gflops
        sums += torch.tensor([loss.item(), terms["mse"].mean().item(),
                              terms["vb"].mean().item() if "vb" in terms else 0.0], dtype=torch.float64)
        count += 1
        if step % args.log_every == 0 or step == args.steps:
            avg = sums / count
            if world > 1:
                avg = avg.to(device)
                dist.all_reduce(avg)
                avg = avg.cpu() / world
            if device.type == "cuda":
                torch.cuda.synchronize()
            rate = count / (time.time() - t_start)
            log(f"step {step:7d}  loss {avg[0]:.5f}  mse {avg[1]:.5f}  vb {avg[2]:.5f}  steps/s {rate:.3f}  "
                f"train_GFLOPs {train_gflops:.6g}")
            sums, count, t_start = torch.zeros(3, dtype=torch.float64), 0, time.time()
        if step % args.ckpt_every == 0 or step == args.steps or step in milestones:
            save()
            if world > 1:
                dist.barrier()

    if rank == 0 and args.out_h5:
        if args.model_type == "msf-residual" and args.base_ckpt:
            export_msf([args.base_ckpt, ckpt_path], args.out_h5, args.export_weights, args.export_dtype)
            log(f"wrote MSF file {args.out_h5} ({args.base_ckpt} + {ckpt_path}, {args.export_weights} weights)")
        else:
            export_dit(ckpt_path, args.out_h5, args.export_weights, args.export_dtype)
            log(f"wrote DiT file {args.out_h5} ({args.export_weights} weights)")
    if world > 1:
        dist.barrier()
        dist.destroy_process_group()


def parse_args(argv=None):
    ap = argparse.ArgumentParser(description="Train a DiT or MSF's base/residual DiT; export msf HDF5 weights.",
                                 formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    mode = ap.add_argument_group("export only (no training)")
    mode.add_argument("--export-msf", nargs="+", metavar="PATH",
                      help="BASE.pt RESIDUAL.pt [...] OUT.h5: write an MSF file from finished runs "
                           "(BASE may be an exported MSF .h5 file: its base, as stored)")
    mode.add_argument("--export-dit", nargs=2, metavar=("CKPT", "OUT"), help="write one run's model as a DiT file")
    ap.add_argument("--model-type", choices=MODEL_TYPES, default="dit")
    ap.add_argument("--data", help="fashion-mnist, a Fashion-MNIST IDX directory, or a latents .h5 file")
    ap.add_argument("--split", default="train", choices=("train", "t10k"), help="Fashion-MNIST split")
    ap.add_argument("--latent-scale", type=float, default=1.0, help="multiplies latents read from a .h5 file")
    ap.add_argument("--max-memory-gb", type=float, default=8.0, help="load a latents file if it fits this")
    ap.add_argument("--num-classes", type=int, help="default: 10 for Fashion-MNIST, else max label + 1")
    ap.add_argument("--out-dir", help="run directory: checkpoint.pt, log.txt")
    ap.add_argument("--out-h5", help="at the end, export: a DiT file (dit, msf-base), or the MSF file "
                                     "(msf-residual with --base-ckpt)")
    ap.add_argument("--base-ckpt", help="the msf-base checkpoint to pair with this residual for --out-h5")
    ap.add_argument("--export-weights", choices=("ema", "model"), default="ema")
    ap.add_argument("--export-dtype", choices=("float32", "float16"), default="float32",
                    help="storage of the exported tensors (float16 halves the file; readers widen to float32)")
    ap.add_argument("--resume", nargs="?", const="auto", help="continue from OUT_DIR/checkpoint.pt (or PATH); the "
                                                              "model config and MSF options come from it")
    ap.add_argument("--steps", type=int, default=1000, help="total optimiser steps (also with --resume)")
    ap.add_argument("--batch", type=int, default=32, help="global batch size")
    ap.add_argument("--lr", type=float, default=1e-4)
    ap.add_argument("--weight-decay", type=float, default=0.0)
    ap.add_argument("--ema", type=float, default=0.9999, help="EMA decay")
    ap.add_argument("--class-dropout", type=float, default=0.1, help="label dropout (0: no null class)")
    ap.add_argument("--hflip", action="store_true", help="random horizontal flips (DiT does it on images)")
    ap.add_argument("--depth", type=int, default=12)
    ap.add_argument("--hidden", type=int, default=384)
    ap.add_argument("--heads", type=int, default=6)
    ap.add_argument("--patch", type=int, default=2)
    ap.add_argument("--mlp-ratio", type=float, default=4.0)
    ap.add_argument("--no-learn-sigma", dest="learn_sigma", action="store_false",
                    help="predict eps only (default: eps + learned-range variance, with the VB loss term)")
    ap.add_argument("--scale", type=int, default=2, help="MSF scale factor s")
    ap.add_argument("--levels", type=int, default=2, help="MSF levels L")
    ap.add_argument("--down", default="area", choices=("area", "bilinear"))
    ap.add_argument("--up", default="bilinear", choices=("bilinear", "nearest"))
    ap.add_argument("--residual-level", type=int, default=1, help="msf-residual: level in generation order "
                                                                   "(1 = coarsest residual .. L-1 = finest)")
    ap.add_argument("--residual-scale", type=float, help="default: the std of the residual over the data")
    ap.add_argument("--residual-scale-samples", type=int, default=4096)
    ap.add_argument("--cond-aug-max", type=int, default=0, metavar="S",
                    help="msf-residual: conditioning augmentation; each item's condition U(base) is noised to a "
                         "level s uniform in 0..S, sqrt(abar(s)) U + sqrt(1 - abar(s)) eps with abar(s) = "
                         "prod_{i<s} (1 - beta_i) on the linear schedule, and s is given to the network through a "
                         "second timestep embedder (0: off)")
    ap.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda"))
    ap.add_argument("--no-tf32", dest="tf32", action="store_false", help="CUDA: full float32 matmuls (default: "
                                                                          "TF32, as DiT's train.py)")
    ap.add_argument("--threads", type=int, help="torch CPU threads")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--log-every", type=int, default=100)
    ap.add_argument("--ckpt-every", type=int, default=5000)
    ap.add_argument("--keep-ckpts", action="store_true", help="also keep OUT_DIR/ckpt_STEP.pt at each save")
    ap.add_argument("--milestone-steps", type=lambda v: [int(x) for x in v.split(",") if x],
                    help="S1,S2,..: save and keep OUT_DIR/ckpt_STEP.pt (model and EMA) at these steps, e.g. the "
                         "steps where the training compute reaches fixed fractions of a budget")
    ap.add_argument("--init-from", metavar="H5", help="start (no checkpoint to resume) from the weights of an "
                    "exported HDF5 file: a DiT file, or an MSF file's base (msf-base) or residual (msf-residual) "
                    "group; AdamW starts afresh")
    ap.add_argument("--warmup-steps", type=int, default=0, help="linear learning-rate warm-up over the first N "
                    "steps from where the run started (0 or --init-step; a --resume keeps that origin)")
    ap.add_argument("--init-step", type=int, default=0, help="with --init-from: the step those weights were "
                    "trained to (data order, noise and the compute count continue from it)")
    args = ap.parse_args(argv)
    if not args.export_msf and not args.export_dit:
        for name in ("data", "out_dir"):
            if getattr(args, name) is None:
                ap.error(f"--{name.replace('_', '-')} is required for training")
    if args.init_step and not args.init_from:
        ap.error("--init-step needs --init-from")
    if args.init_from and args.resume:
        ap.error("--init-from starts a run; --resume continues one: give one of them")
    if not 0 <= args.init_step <= args.steps:
        ap.error(f"--init-step {args.init_step} outside 0..--steps ({args.steps})")
    if args.export_msf and len(args.export_msf) < 3:
        ap.error("--export-msf needs BASE.pt, at least one RESIDUAL.pt and OUT.h5")
    return args


def main(argv=None):
    args = parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    try:
        if args.export_msf:
            out = export_msf(args.export_msf[:-1], args.export_msf[-1], args.export_weights, args.export_dtype)
            print(f"wrote {out}")
        elif args.export_dit:
            out = export_dit(*args.export_dit, args.export_weights, args.export_dtype)
            print(f"wrote {out}")
        else:
            train(args)
    except (TrainError, ValueError, OSError) as e:
        print(f"train.py: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
