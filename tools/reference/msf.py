"""msf.py: a PyTorch reference of MSF, multi-scale latent factorisation (arXiv 2501.13349).

No MSF code is public; this file implements the recipe of
/work/shared/REFERENCE.md section 5 with every unstated choice a named option
(see paper/ASSUMPTIONS.md). It is the reference the C side (src/msf/) is
checked against, through tools/golden/gen_msf.py.

Factorisation (src/nn/pyramid.h): a Laplacian-style pyramid g_0 = z,
g_{k+1} = D(g_k); the base is g_{L-1}; residual k (k = 0 finest .. L-2) is
r_k = g_k - U(g_{k+1}); reconstruction g_k = U(g_{k+1}) + r_k.
  D: "area" (s x s average, F.interpolate mode='area', the default) or
     "bilinear" (F.interpolate bilinear, align_corners=False, no antialias;
     at s = 2 it samples the centre of each 2 x 2 block, i.e. equals area).
  U: "bilinear" (align_corners=False, the default) or "nearest" (each value
     repeated s x s; area + nearest makes r the Haar detail, zero mean per block).

Model: a base DiT over the base latents, and one residual DiT per residual
level, in generation order (level 1 = coarsest residual ... L-1 = finest).
Residual level j (pyramid index k = L-1-j) sees concat(noisy r_k / scale_j,
U(g_{k+1})) along channels, noisy residual FIRST (2C channels in; C or 2C out).

Two-stage sampling (stage 0 = base, stage j = residual level j): each stage
has its own respacing, sampler, eta, guidance scale and mode, variance type
and clip_x0 (clamp x0 estimates to [-1, 1], ADM's clip_denoised; off as in
DiT, and only meaningful for pixel-bounded targets, not for the residual
r / residual_scale), and is run by tools/reference/diffusion.py's sample_loop
in float32 as DiT samples. Stage j conditions on c = U(g_{k+1}) of the same
sample (both halves of a guided batch use it) and returns g_k = c + scale_j *
sample.
Residual start: "noise" (every spaced step, the default) or an original step
t0 ("truncated start", OUR INTERPRETATION of "start from the noised base at a
chosen timestep"): only the spaced steps whose original step is <= t0 are
taken. A loop starts at its largest step kept, k0 (also when the respacing's
top step is below 999, e.g. "5@500" starts at 499), from the forward-noised
marginal there of the target treated as a zero-mean Gaussian of variance v:
x = sqrt(abar_k0 * v + 1 - abar_k0) * x_T (diffusion.start_scale, float64,
rounded to float32, multiplied in float32). The residual target r / scale_j
has unit variance (that is what residual_scale is for), so v = 1 and the
factor is 1: x = x_T. (Before, the start was sqrt(1 - abar_k0) * x_T, the
noised zero residual, whose variance 1 - abar is too small: 0.48 at t = 250.)
Noise per stage, as in tools/golden/dit_tiny.h5's trajectories: x_T
[N, C, h, w] and noise [steps taken, M, C, h, w], noise[i] used at the i-th
step taken, M = 2N with guidance (cfg_scale > 1), else N.
"""
import numpy as np
import torch
import torch.nn.functional as F

from .diffusion import SpacedDiffusion
from .dit import DiT

DOWN_OPS = ("area", "bilinear")
UP_OPS = ("bilinear", "nearest")
RESIDUAL_STARTS = "noise or an integer original step t0 >= 0"


# -----------------------------------------------------------------------------
# Factorisation


class FactorOptions:
    """scale s >= 2, levels L >= 2, down in DOWN_OPS, up in UP_OPS."""

    def __init__(self, scale=2, levels=2, down="area", up="bilinear"):
        if int(scale) < 2 or int(levels) < 2:
            raise ValueError(f"invalid factorisation: scale {scale} and levels {levels} must be >= 2")
        if down not in DOWN_OPS:
            raise ValueError(f"unknown down operator '{down}' (expected {' or '.join(DOWN_OPS)})")
        if up not in UP_OPS:
            raise ValueError(f"unknown up operator '{up}' (expected {' or '.join(UP_OPS)})")
        self.scale, self.levels, self.down, self.up = int(scale), int(levels), str(down), str(up)

    def as_dict(self):
        return dict(scale=self.scale, levels=self.levels, down=self.down, up=self.up)

    def __repr__(self):
        return f"s={self.scale},levels={self.levels},down={self.down},up={self.up}"

    def __eq__(self, other):
        return isinstance(other, FactorOptions) and self.as_dict() == other.as_dict()

    def factor(self):
        """s^(L-1): the ratio between the full resolution and the base."""
        return self.scale ** (self.levels - 1)

    def check(self, h, w):
        f = self.factor()
        if h % f or w % f:
            raise ValueError(f"a {h}x{w} tensor cannot be factorised {self.levels - 1} times by {self.scale} "
                             f"(sides must be multiples of {f})")


def down(x, scale, op="area"):
    """(N, C, H, W) -> (N, C, H/s, W/s)."""
    size = (x.shape[2] // scale, x.shape[3] // scale)
    if op == "area":
        return F.interpolate(x, size=size, mode="area")
    if op == "bilinear":
        return F.interpolate(x, size=size, mode="bilinear", align_corners=False)
    raise ValueError(f"unknown down operator '{op}'")


def up(x, scale, op="bilinear"):
    """(N, C, h, w) -> (N, C, h*s, w*s)."""
    if op == "nearest":
        # F.interpolate(mode='nearest') indexes floor(i * (in/out)) in floating point;
        # the integer form is the definition (identical for s = 2 and 4).
        return x.repeat_interleave(scale, dim=2).repeat_interleave(scale, dim=3)
    if op == "bilinear":
        return F.interpolate(x, size=(x.shape[2] * scale, x.shape[3] * scale), mode="bilinear", align_corners=False)
    raise ValueError(f"unknown up operator '{op}'")


def factorize(z, opts):
    """z (N, C, H, W) -> (base (N, C, H/s^(L-1), W/s^(L-1)), [r_0, .., r_{L-2}]),
    r_k (N, C, H/s^k, W/s^k); in the dtype of z."""
    opts.check(z.shape[2], z.shape[3])
    g = z
    residuals = []
    for _ in range(opts.levels - 1):
        coarse = down(g, opts.scale, opts.down)
        residuals.append(g - up(coarse, opts.scale, opts.up))
        g = coarse
    return g, residuals


def reconstruct(base, residuals, opts):
    """The inverse of factorize: g_k = U(g_{k+1}) + r_k from the base up to g_0 = z."""
    if len(residuals) != opts.levels - 1:
        raise ValueError(f"{len(residuals)} residuals given, {opts.levels - 1} expected")
    g = base
    for r in reversed(residuals):
        g = up(g, opts.scale, opts.up) + r
    return g


def pyramid(z, opts):
    """[g_0 = z, g_1, .., g_{L-1} = base]."""
    gs = [z]
    for _ in range(opts.levels - 1):
        gs.append(down(gs[-1], opts.scale, opts.down))
    return gs


def stage_training_pair(z, opts, j, residual_scale=1.0):
    """What stage j learns from clean latents z (N, C, H, W): (target x0, cond).
    The base (j = 0): (g_{L-1}, None). Residual level j (generation order, 1 =
    coarsest residual; pyramid index k = L-1-j): (r_k / residual_scale, U(g_{k+1}))."""
    gs = pyramid(z, opts)
    if j == 0:
        return gs[-1], None
    if not 1 <= j < opts.levels:
        raise ValueError(f"residual level {j} outside 1..{opts.levels - 1}")
    k = opts.levels - 1 - j
    cond = up(gs[k + 1], opts.scale, opts.up)
    return (gs[k] - cond) / residual_scale, cond


# -----------------------------------------------------------------------------
# Sampling


def cond_aug_abar(s):
    """abar(s) = prod_{i<s} (1 - beta_i) on DiT's linear schedule (abar(0) = 1), float64."""
    s = int(s)
    if not 0 <= s <= 1000:
        raise ValueError(f"condition noise level {s} outside 0..1000")
    if s == 0:
        return 1.0
    # DiT's alphas_cumprod: np.cumprod of 1 - linspace(1e-4, 0.02, 1000) (float64).
    return float(np.cumprod(1.0 - np.linspace(1e-4, 0.02, 1000, dtype=np.float64))[s - 1])


def augment_condition(cond, levels, eps):
    """Conditioning augmentation (msf's option, as in cascaded diffusion): the
    condition noised to level s per sample, sqrt(abar(s)) * cond + sqrt(1 -
    abar(s)) * eps; both coefficients computed in float64, rounded to float32,
    then applied in float32 (a * cond first, then + b * eps)."""
    levels = [int(v) for v in torch.as_tensor(levels).reshape(-1).tolist()]
    ab = [cond_aug_abar(v) for v in levels]
    shape = (len(levels),) + (1,) * (cond.dim() - 1)
    a = torch.tensor([np.sqrt(v) for v in ab], dtype=torch.float64).float().reshape(shape).to(cond.dtype)
    b = torch.tensor([np.sqrt(1.0 - v) for v in ab], dtype=torch.float64).float().reshape(shape).to(cond.dtype)
    return a * cond + b * eps.to(cond.dtype)


class ConditionedDiT:
    """A residual DiT bound to a per-sample condition `cond` (N, C, h, w), with the
    interface sample_loop expects: model_fn(x, t, y) = dit(cat([x, cond], 1), t, y);
    with guidance the doubled batch [x; x] is paired with [cond; cond]. A
    cond_aug model also gets the condition's noise level `aug` (N,)."""

    def __init__(self, dit, cond, aug=None):
        self.dit = dit
        self.cond = cond
        self.aug = aug
        self.num_classes = dit.num_classes

    def _input(self, x):
        cond = self.cond if len(x) == len(self.cond) else torch.cat([self.cond] * (len(x) // len(self.cond)))
        return torch.cat([x, cond.to(x.dtype)], dim=1)

    def _aug(self, x):
        if self.aug is None:
            return None
        a = torch.as_tensor(self.aug, dtype=torch.float32).reshape(-1)
        return a if len(x) == len(a) else torch.cat([a] * (len(x) // len(a)))

    def __call__(self, x, t, y):
        return self.dit(self._input(x), t, y, self._aug(x))

    def forward_with_cfg(self, x, t, y, cfg_scale, mode="dit3"):
        return self.dit.forward_with_cfg(self._input(x), t, y, cfg_scale, mode, self._aug(x))


class Stage:
    """Sampling options of one stage. steps: a respacing spec ("250", "ddim25", "5@500", ...);
    variance None = learned_range for a learn_sigma model, else fixed_small;
    start: "noise" or an original step t0 (residual stages only); clip_x0: clamp x0
    estimates to [-1, 1]."""

    def __init__(self, steps="250", sampler="ddpm", eta=0.0, cfg_scale=1.0, cfg_mode="dit3", variance=None,
                 start="noise", clip_x0=False, cond_noise=0):
        if not 0 <= int(cond_noise) <= 1000:
            raise ValueError(f"condition noise level {cond_noise} outside 0..1000")
        self.cond_noise = int(cond_noise)
        if sampler not in ("ddpm", "ddim"):
            raise ValueError(f"unknown sampler '{sampler}' (expected ddpm or ddim)")
        if cfg_mode not in ("dit3", "all"):
            raise ValueError(f"unknown guidance mode '{cfg_mode}' (expected dit3 or all)")
        if start != "noise":
            try:
                start = int(start)
            except (TypeError, ValueError):
                raise ValueError(f"residual start '{start}': expected {RESIDUAL_STARTS}") from None
            if start < 0:
                raise ValueError(f"residual start {start}: expected {RESIDUAL_STARTS}")
        self.steps, self.sampler, self.eta = str(steps), sampler, float(eta)
        self.cfg_scale, self.cfg_mode, self.variance, self.start = float(cfg_scale), cfg_mode, variance, start
        self.clip_x0 = bool(clip_x0)

    def diffusion(self, model):
        variance = self.variance or ("learned_range" if model.learn_sigma else "fixed_small")
        return SpacedDiffusion(self.steps, variance)

    def guided(self):
        return self.cfg_scale > 1

    def __repr__(self):
        return (f"steps={self.steps},sampler={self.sampler},eta={self.eta:g},cfg_scale={self.cfg_scale:g},"
                f"cfg_mode={self.cfg_mode},variance={self.variance},start={self.start},clip_x0={self.clip_x0}" +
                (f",cond_noise={self.cond_noise}" if self.cond_noise else ""))


class MSFModel:
    """A base DiT, residual DiTs in generation order (residuals[0] = level 1, the
    coarsest residual), their residual scales, and the factorisation options."""

    def __init__(self, base, residuals, residual_scales, opts):
        if len(residuals) != opts.levels - 1 or len(residual_scales) != len(residuals):
            raise ValueError(f"{opts.levels} levels need {opts.levels - 1} residual models and scales, "
                             f"got {len(residuals)} and {len(residual_scales)}")
        self.base, self.residuals, self.opts = base, list(residuals), opts
        self.residual_scales = [float(s) for s in residual_scales]
        self.channels = base.in_channels
        self.input_size = base.input_size * opts.factor()
        for j, (m, s) in enumerate(zip(self.residuals, self.residual_scales), start=1):
            side = self.level_side(j)
            if m.in_channels != 2 * self.channels or m.input_size != side or m.eps_channels != self.channels:
                raise ValueError(f"residual level {j}: in_channels {m.in_channels}, input_size {m.input_size}, "
                                 f"eps channels {m.eps_channels}; expected {2 * self.channels}, {side}, "
                                 f"{self.channels}")
            if m.num_classes != base.num_classes:
                raise ValueError(f"residual level {j} has {m.num_classes} classes, the base {base.num_classes}")
            if not s > 0:
                raise ValueError(f"residual level {j}: residual_scale {s} must be > 0")

    def level_side(self, j):
        """Side of stage j's latents (j = 0: the base, j = L-1: the full resolution)."""
        return self.input_size // self.opts.scale ** (self.opts.levels - 1 - j)

    def stage_model(self, j):
        return self.base if j == 0 else self.residuals[j - 1]

    def noise_shapes(self, n, stages):
        """Per stage, the shapes of (x_T, noise) that sample() takes, and a third, the
        condition's noise (N, C, h, w), for a residual stage with cond_noise > 0."""
        shapes = []
        for j, st in enumerate(stages):
            d = st.diffusion(self.stage_model(j))
            side = self.level_side(j)
            m = 2 * n if st.guided() else n
            shape = ((n, self.channels, side, side), (d.start_index(st.start) + 1, m, self.channels, side, side))
            if j > 0 and st.cond_noise:
                shape += ((n, self.channels, side, side),)
            shapes.append(shape)
        return shapes

    def training_pair(self, z, j):
        """stage_training_pair with this model's options and residual scale."""
        return stage_training_pair(z, self.opts, j, self.residual_scales[j - 1] if j else 1.0)

    def sample(self, labels, stages, noises, dtype=torch.float32, traces=None):
        """Generate N latents. stages: one Stage per stage (base first); noises: per
        stage (x_T, noise) of noise_shapes(N, stages); labels (N,).
        Returns a dict: "stages" (each stage's raw sample, the residuals before
        scaling), "conds" (U of the accumulated lower levels, per residual stage),
        "levels" (g after each stage), "out" (the final z, float of `dtype`).
        traces: a list, gets one list per stage of x after each step."""
        if len(stages) != self.opts.levels or len(noises) != self.opts.levels:
            raise ValueError(f"{self.opts.levels} levels need {self.opts.levels} stages and noise sets")
        if stages[0].start != "noise":
            raise ValueError("the base stage starts from noise")
        n = len(labels)
        shapes = self.noise_shapes(n, stages)
        result = dict(stages=[], conds=[], levels=[])
        g = None
        for j, (st, stage_noise, want) in enumerate(zip(stages, noises, shapes)):
            if len(stage_noise) != len(want):
                raise ValueError(f"stage {j}: {len(stage_noise)} noise arrays, expected {len(want)}")
            x_T, noise, want_x, want_z = stage_noise[0], stage_noise[1], want[0], want[1]
            x_T = torch.as_tensor(np.asarray(x_T)).to(dtype)
            noise = torch.as_tensor(np.asarray(noise)).to(dtype)
            if tuple(x_T.shape) != want_x or tuple(noise.shape) != want_z:
                raise ValueError(f"stage {j}: x_T {list(x_T.shape)} and noise {list(noise.shape)}, expected "
                                 f"{list(want_x)} and {list(want_z)}")
            model = self.stage_model(j)
            d = st.diffusion(model)
            trace = [] if traces is not None else None
            if j == 0:
                s = d.sample_loop(model, x_T, noise, labels, st.cfg_scale, st.cfg_mode, st.sampler, st.eta,
                                  dtype=dtype, trace=trace, clip_x0=st.clip_x0)
                g = s
            else:
                cond = up(g, self.opts.scale, self.opts.up)
                # Conditioning augmentation: the network sees the condition noised to level
                # cond_noise (and the level, if it was trained with it); g adds to the clean one.
                cond_in = cond
                if st.cond_noise:
                    if not model.cond_aug:
                        raise ValueError(f"stage {j}: cond_noise needs a residual trained with conditioning "
                                         f"augmentation")
                    eps_c = torch.as_tensor(np.asarray(stage_noise[2])).to(dtype)
                    cond_in = augment_condition(cond, [st.cond_noise] * n, eps_c)
                aug = [float(st.cond_noise)] * n if model.cond_aug else None
                s = d.sample_loop(ConditionedDiT(model, cond_in, aug), x_T, noise, labels, st.cfg_scale, st.cfg_mode,
                                  st.sampler, st.eta, dtype=dtype, trace=trace, start=st.start, clip_x0=st.clip_x0)
                scale = torch.tensor(self.residual_scales[j - 1], dtype=torch.float64).float().to(dtype)
                g = cond + scale * s
                result["conds"].append(cond)
            result["stages"].append(s)
            result["levels"].append(g)
            if traces is not None:
                traces.append(trace)
        result["out"] = g
        return result


def residual_dit(channels, input_size, learn_sigma=True, **kwargs):
    """A residual DiT for latents of `channels`: 2C in, C (or 2C with learn_sigma) out."""
    return DiT(input_size=input_size, in_channels=2 * channels, learn_sigma=learn_sigma,
               out_channels=2 * channels if learn_sigma else channels, **kwargs)
