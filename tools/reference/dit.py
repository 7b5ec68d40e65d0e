"""dit.py: a PyTorch reference of the DiT network (Peebles & Xie 2023).

Written from the paper and /work/shared/REFERENCE.md section 1, checked
against facebookresearch/DiT models.py (ed81ce2). Inference only: no label
dropout, no training init. The module tree mirrors the official one, so
state_dict keys and shapes are identical and official checkpoints load with
load_state_dict. The patch embedding, attention and MLP that DiT takes from
timm are written here with timm's parameter names (proj; qkv, proj; fc1, fc2).

The model runs in float32 or float64 (model.double()); the sinusoidal
timestep embedding is always computed in float32, as the official code does,
and then cast to the model's dtype.
"""
import math

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

# name -> (depth, hidden_size, patch_size, num_heads), DiT Table 1.
CONFIGS = {
    f"DiT-{size}/{p}": dict(depth=depth, hidden_size=hidden, patch_size=p, num_heads=heads)
    for size, (depth, hidden, heads) in {"XL": (28, 1152, 16), "L": (24, 1024, 16), "B": (12, 768, 12),
                                         "S": (12, 384, 6)}.items()
    for p in (2, 4, 8)
}

FREQUENCY_EMBEDDING_SIZE = 256


# -----------------------------------------------------------------------------
# Fixed embeddings


def sincos_1d(dim, pos):
    """pos (M,) float64 -> (M, dim): [sin(pos w), cos(pos w)], w_k = 10000^(-k/(dim/2))."""
    k = np.arange(dim // 2, dtype=np.float64)
    w = 1.0 / 10000 ** (k / (dim / 2.0))
    a = np.outer(pos, w)
    return np.concatenate([np.sin(a), np.cos(a)], axis=1)


def sincos_2d(dim, grid):
    """(grid*grid, dim) float64 position table. Token h*grid+w: first half encodes
    the column w, second half the row h (the MAE/DiT convention)."""
    assert dim % 4 == 0, "hidden size must be a multiple of 4 for the 2-D sin-cos table"
    rows, cols = np.meshgrid(np.arange(grid, dtype=np.float64), np.arange(grid, dtype=np.float64), indexing="ij")
    return np.concatenate([sincos_1d(dim // 2, cols.reshape(-1)), sincos_1d(dim // 2, rows.reshape(-1))], axis=1)


def timestep_frequencies(t, dim=FREQUENCY_EMBEDDING_SIZE, max_period=10000):
    """t (N,) int or float -> (N, dim) float32 [cos(t f), sin(t f)], f_k = exp(-ln(max_period) k / (dim/2)).
    Always float32, whatever the model dtype, as in the official code."""
    half = dim // 2
    freqs = torch.exp(-math.log(max_period) * torch.arange(half, dtype=torch.float32) / half).to(t.device)
    args = t.float()[:, None] * freqs[None]
    emb = torch.cat([torch.cos(args), torch.sin(args)], dim=-1)
    if dim % 2:
        emb = torch.cat([emb, torch.zeros_like(emb[:, :1])], dim=-1)
    return emb


def modulate(x, shift, scale):
    """x (N,T,D); shift, scale (N,D)."""
    return x * (1 + scale.unsqueeze(1)) + shift.unsqueeze(1)


# -----------------------------------------------------------------------------
# Layers (timm names)


class PatchEmbed(nn.Module):
    """Conv with kernel = stride = p, then tokens in row-major order h*G+w."""

    def __init__(self, input_size, patch_size, in_channels, hidden_size, device=None):
        super().__init__()
        self.patch_size = patch_size
        self.grid = input_size // patch_size
        self.num_patches = self.grid * self.grid
        self.proj = nn.Conv2d(in_channels, hidden_size, patch_size, stride=patch_size, bias=True, device=device)

    def forward(self, x):  # (N,C,H,W) -> (N,T,D)
        return self.proj(x).flatten(2).transpose(1, 2)


class Attention(nn.Module):
    """Multi-head self-attention. qkv rows: [q | k | v], each split into heads of D/H."""

    def __init__(self, hidden_size, num_heads, device=None):
        super().__init__()
        assert hidden_size % num_heads == 0, "hidden size must be divisible by num_heads"
        self.num_heads = num_heads
        self.head_dim = hidden_size // num_heads
        self.scale = self.head_dim ** -0.5
        self.qkv = nn.Linear(hidden_size, 3 * hidden_size, bias=True, device=device)
        self.proj = nn.Linear(hidden_size, hidden_size, bias=True, device=device)

    def forward(self, x):  # (N,T,D)
        n, t, d = x.shape
        q, k, v = self.qkv(x).reshape(n, t, 3, self.num_heads, self.head_dim).permute(2, 0, 3, 1, 4)
        # Scale after the product, as the timm version DiT was released with.
        att = (q @ k.transpose(-2, -1)) * self.scale
        att = att.softmax(dim=-1)
        y = (att @ v).transpose(1, 2).reshape(n, t, d)
        return self.proj(y)


class Mlp(nn.Module):
    def __init__(self, hidden_size, mlp_hidden, device=None):
        super().__init__()
        self.fc1 = nn.Linear(hidden_size, mlp_hidden, bias=True, device=device)
        self.fc2 = nn.Linear(mlp_hidden, hidden_size, bias=True, device=device)

    def forward(self, x):
        return self.fc2(F.gelu(self.fc1(x), approximate="tanh"))


# -----------------------------------------------------------------------------
# Conditioning


class TimestepEmbedder(nn.Module):
    def __init__(self, hidden_size, frequency_embedding_size=FREQUENCY_EMBEDDING_SIZE, device=None):
        super().__init__()
        self.frequency_embedding_size = frequency_embedding_size
        self.mlp = nn.Sequential(
            nn.Linear(frequency_embedding_size, hidden_size, bias=True, device=device),
            nn.SiLU(),
            nn.Linear(hidden_size, hidden_size, bias=True, device=device),
        )

    def forward(self, t):
        emb = timestep_frequencies(t, self.frequency_embedding_size)
        return self.mlp(emb.to(self.mlp[0].weight.dtype))


class LabelEmbedder(nn.Module):
    """Label table; with class dropout the extra last row is the null class."""

    def __init__(self, num_classes, hidden_size, class_dropout_prob, device=None):
        super().__init__()
        self.num_classes = num_classes
        self.embedding_table = nn.Embedding(num_classes + int(class_dropout_prob > 0), hidden_size, device=device)

    def forward(self, y):
        return self.embedding_table(y)


# -----------------------------------------------------------------------------
# Blocks


class DiTBlock(nn.Module):
    """adaLN-Zero block. Modulation chunks: shift/scale/gate for attention, then for the MLP."""

    def __init__(self, hidden_size, num_heads, mlp_ratio, device=None):
        super().__init__()
        self.attn = Attention(hidden_size, num_heads, device=device)
        self.mlp = Mlp(hidden_size, int(hidden_size * mlp_ratio), device=device)
        self.adaLN_modulation = nn.Sequential(nn.SiLU(), nn.Linear(hidden_size, 6 * hidden_size, bias=True,
                                                                   device=device))

    def forward(self, x, c):
        d = x.shape[-1]
        shift_msa, scale_msa, gate_msa, shift_mlp, scale_mlp, gate_mlp = self.adaLN_modulation(c).chunk(6, dim=1)
        h = modulate(F.layer_norm(x, (d,), eps=1e-6), shift_msa, scale_msa)
        x = x + gate_msa.unsqueeze(1) * self.attn(h)
        h = modulate(F.layer_norm(x, (d,), eps=1e-6), shift_mlp, scale_mlp)
        x = x + gate_mlp.unsqueeze(1) * self.mlp(h)
        return x


class FinalLayer(nn.Module):
    """adaLN (shift first, then scale) and a linear map to p*p*out_channels per token."""

    def __init__(self, hidden_size, patch_size, out_channels, device=None):
        super().__init__()
        self.linear = nn.Linear(hidden_size, patch_size * patch_size * out_channels, bias=True, device=device)
        self.adaLN_modulation = nn.Sequential(nn.SiLU(), nn.Linear(hidden_size, 2 * hidden_size, bias=True,
                                                                   device=device))

    def forward(self, x, c):
        shift, scale = self.adaLN_modulation(c).chunk(2, dim=1)
        return self.linear(modulate(F.layer_norm(x, (x.shape[-1],), eps=1e-6), shift, scale))


class DiT(nn.Module):
    """DiT with the official constructor arguments. `device="meta"` builds the
    module tree without storage (used to list expected tensors cheaply).
    Weights are PyTorch's default init except pos_embed (the fixed sin-cos
    table); load a state_dict before use."""

    def __init__(self, input_size=32, patch_size=2, in_channels=4, hidden_size=1152, depth=28, num_heads=16,
                 mlp_ratio=4.0, class_dropout_prob=0.1, num_classes=1000, learn_sigma=True, out_channels=None,
                 cond_aug=False, device=None):
        super().__init__()
        if input_size % patch_size:
            raise ValueError(f"input_size {input_size} is not a multiple of patch_size {patch_size}")
        self.input_size = input_size
        self.patch_size = patch_size
        self.in_channels = in_channels
        # out_channels is explicit for a conditional model whose input carries extra
        # channels (MSF's residual DiT: 2C in, eps [+ variance] of C channels out).
        self.out_channels = int(out_channels) if out_channels is not None else \
            (2 * in_channels if learn_sigma else in_channels)
        if learn_sigma and self.out_channels % 2:
            raise ValueError(f"learn_sigma needs an even out_channels, got {self.out_channels}")
        self.hidden_size = hidden_size
        self.depth = depth
        self.num_heads = num_heads
        self.mlp_ratio = float(mlp_ratio)
        self.class_dropout_prob = float(class_dropout_prob)
        self.num_classes = num_classes
        self.learn_sigma = bool(learn_sigma)
        # Conditioning augmentation (msf's option, not in DiT): a second timestep
        # embedder takes the noise level s of the model's noised condition and its
        # output is added to c, as cascaded diffusion gives the level to the model.
        self.cond_aug = bool(cond_aug)

        self.x_embedder = PatchEmbed(input_size, patch_size, in_channels, hidden_size, device=device)
        self.t_embedder = TimestepEmbedder(hidden_size, device=device)
        self.y_embedder = LabelEmbedder(num_classes, hidden_size, class_dropout_prob, device=device)
        if self.cond_aug:
            self.aug_embedder = TimestepEmbedder(hidden_size, device=device)
        grid = input_size // patch_size
        pos = torch.from_numpy(sincos_2d(hidden_size, grid)).float().unsqueeze(0)
        # A frozen Parameter (not a buffer) as in the official model: same key, and
        # model.double() converts it with the rest.
        self.pos_embed = nn.Parameter(pos.to(device) if device is not None else pos, requires_grad=False)
        self.blocks = nn.ModuleList([DiTBlock(hidden_size, num_heads, mlp_ratio, device=device)
                                     for _ in range(depth)])
        self.final_layer = FinalLayer(hidden_size, patch_size, self.out_channels, device=device)

    def config(self):
        """Constructor arguments, as stored in our HDF5 attributes (cond_aug only when set)."""
        c = dict(input_size=self.input_size, patch_size=self.patch_size, in_channels=self.in_channels,
                 hidden_size=self.hidden_size, depth=self.depth, num_heads=self.num_heads,
                 mlp_ratio=self.mlp_ratio, class_dropout_prob=self.class_dropout_prob,
                 num_classes=self.num_classes, learn_sigma=self.learn_sigma, out_channels=self.out_channels)
        if self.cond_aug:
            c["cond_aug"] = True
        return c

    @property
    def eps_channels(self):
        """Channels of the predicted noise: out_channels, halved with learn_sigma."""
        return self.out_channels // 2 if self.learn_sigma else self.out_channels

    def unpatchify(self, x):
        """(N, T, p*p*C) -> (N, C, H, W); within a token the channel index is fastest."""
        n, p, c, g = x.shape[0], self.patch_size, self.out_channels, self.input_size // self.patch_size
        x = x.reshape(n, g, g, p, p, c).permute(0, 5, 1, 3, 2, 4)
        return x.reshape(n, c, g * p, g * p)

    def forward(self, x, t, y, aug=None):
        """x (N,C,H,W), t (N,) original diffusion step (int or float), y (N,) labels
        (num_classes = null) -> (N, out_channels, H, W). aug (N,): the noise level
        of the condition, required by (and only for) a cond_aug model."""
        if self.cond_aug != (aug is not None):
            raise ValueError("a cond_aug model needs the condition's noise level (aug)" if self.cond_aug else
                             "aug given to a model without conditioning augmentation")
        h = self.x_embedder(x) + self.pos_embed
        c = self.t_embedder(t) + self.y_embedder(y)
        if self.cond_aug:
            c = c + self.aug_embedder(aug)
        for block in self.blocks:
            h = block(h, c)
        return self.unpatchify(self.final_layer(h, c))

    def forward_with_cfg(self, x, t, y, cfg_scale, mode="dit3", aug=None):
        """Classifier-free guidance on a batch [x_cond; x_uncond] with labels [y; null].
        As the official code, both halves are evaluated on the FIRST half of x.
        mode "dit3": guide eps channels 0..2 only (official DiT); "all": guide all
        eps channels (eps_channels: in_channels for a plain DiT). Variance channels
        are never guided: each half keeps its own. The guided eps is written to
        both halves."""
        if mode == "dit3":
            g = min(3, self.eps_channels)
        elif mode == "all":
            g = self.eps_channels
        else:
            raise ValueError(f"unknown guidance mode '{mode}' (expected 'dit3' or 'all')")
        half = x[: len(x) // 2]
        out = self.forward(torch.cat([half, half], dim=0), t, y, aug)
        eps, rest = out[:, :g], out[:, g:]
        cond, uncond = torch.split(eps, len(eps) // 2, dim=0)
        guided = uncond + cfg_scale * (cond - uncond)
        return torch.cat([torch.cat([guided, guided], dim=0), rest], dim=1)


def dit_named(name, **kwargs):
    """A DiT of an official config, e.g. dit_named("DiT-XL/2", input_size=32)."""
    if name not in CONFIGS:
        raise ValueError(f"unknown DiT config '{name}' (known: {', '.join(CONFIGS)})")
    return DiT(**CONFIGS[name], **kwargs)
