"""diffusion.py: DiT's Gaussian diffusion sampler, as a PyTorch reference.

Written from /work/shared/REFERENCE.md section 2 and checked against
facebookresearch/DiT diffusion/ (gaussian_diffusion.py, respace.py,
__init__.py) and sample.py at ed81ce2. What the official code does, and this
file reproduces:
- betas: linear schedule of 1000 steps in float64;
- respacing keeps a subset of steps (space_timesteps) and recomputes every
  constant in float64 from the spaced betas;
- at sampling time constants are indexed in float64, then cast to float32,
  and the update runs in float32 in the official order of operations;
- epsilon prediction, no clipping of x0 (sample.py passes clip_denoised=False);
  clip_x0=True clamps it to [-1, 1] as ADM's p_mean_variance(clip_denoised=True);
- the model sees the ORIGINAL step timestep_map[k], the mask of the last noise
  term uses the spaced index k;
- with guidance the batch is doubled, [x, x] with labels [y, null], noise is
  drawn for all 2N rows at every step, and the first N rows are the result.
"""
import numpy as np
import torch

VARIANCE_TYPES = ("learned_range", "fixed_small", "fixed_large")
# Variance of the (zero-mean) target a loop's start assumes: DiT's scaled latents and MSF's
# residual divided by its residual_scale both have unit variance.
TARGET_VAR = 1.0


def linear_betas(num_steps=1000):
    """Ho et al.'s linear schedule, stretched so its shape does not depend on num_steps
    (scale = 1000/num_steps, exactly 1 for DiT's 1000 steps)."""
    scale = 1000 / num_steps
    return np.linspace(scale * 0.0001, scale * 0.02, num_steps, dtype=np.float64)


def start_scale(abar, target_var=TARGET_VAR):
    """Scale of unit noise x_T at a loop's first step (spaced alphas_cumprod abar): the
    standard deviation sqrt(abar * v + 1 - abar) of the forward-noised x_t = sqrt(abar) x0
    + sqrt(1 - abar) eps of a zero-mean target x0 of variance v, in float64. It is 1 for
    v = 1 (the loop starts from x_T, as DiT); v = 0 gives sqrt(1 - abar), the noised zero."""
    return float(np.sqrt(abar * target_var + (1.0 - abar)))


def space_timesteps(num_timesteps, spec):
    """The set of original steps kept by a respacing spec, with the official semantics.

    spec "SPEC@T" (msf's form, 1 <= T <= num_timesteps): space_timesteps(T, SPEC), i.e.
    SPEC applied to the original steps 0..T-1 only; SpacedDiffusion then keeps those
    steps of the full process, as DiT's SpacedDiffusion(use_timesteps=...) does.

    spec "ddimN": the stride i (1 <= i < num_timesteps) for which range(0, num_timesteps, i)
    has exactly N elements (the smallest such i). Otherwise a comma-separated list of
    counts (or a list of ints): the steps are split into equal sections (the first
    num_timesteps % len sections one step longer) and section j keeps counts[j] steps at
    start + round(m * (size-1)/(count-1)), m = 0..count-1, the fractional position being
    accumulated in a float and rounded with Python's round (half to even).
    """
    if isinstance(spec, str) and "@" in spec:
        inner, _, top = spec.partition("@")
        if not top.isdigit() or not 1 <= int(top) <= num_timesteps:
            raise ValueError(f"respacing '{spec}': expected SPEC@T with T an integer in 1..{num_timesteps}")
        return space_timesteps(int(top), inner)
    if isinstance(spec, str):
        if spec.startswith("ddim"):
            want = int(spec[len("ddim"):])
            for stride in range(1, num_timesteps):
                if len(range(0, num_timesteps, stride)) == want:
                    return set(range(0, num_timesteps, stride))
            # The official message names num_timesteps, not the requested count; kept as is.
            raise ValueError(f"cannot create exactly {num_timesteps} steps with an integer stride")
        spec = [int(s) for s in spec.split(",")]
    size_per, extra = divmod(num_timesteps, len(spec))
    start = 0
    steps = []
    for j, count in enumerate(spec):
        size = size_per + (1 if j < extra else 0)
        if size < count:
            raise ValueError(f"cannot divide section of {size} steps into {count}")
        stride = 1 if count <= 1 else (size - 1) / (count - 1)
        pos = 0.0
        for _ in range(count):
            steps.append(start + round(pos))
            pos += stride
        start += size
    return set(steps)


class SpacedDiffusion:
    """A (possibly respaced) diffusion process. Constants are float64 numpy arrays
    indexed by the spaced step k = 0..num_timesteps-1; timestep_map[k] is the original step."""

    def __init__(self, spec="250", variance="learned_range", num_steps=1000):
        if variance not in VARIANCE_TYPES:
            raise ValueError(f"unknown variance type '{variance}' (expected one of {', '.join(VARIANCE_TYPES)})")
        self.spec = spec
        self.variance = variance
        base = linear_betas(num_steps)
        base_abar = np.cumprod(1.0 - base, axis=0)
        keep = space_timesteps(num_steps, spec)
        self.timestep_map = np.array([i for i in range(num_steps) if i in keep], dtype=np.int64)
        last = 1.0
        betas = []
        for i in self.timestep_map:
            betas.append(1 - base_abar[i] / last)
            last = base_abar[i]
        self._set_constants(np.array(betas, dtype=np.float64))

    def _set_constants(self, betas):
        if betas.ndim != 1 or not ((betas > 0).all() and (betas <= 1).all()):
            raise ValueError("spaced betas must be a 1-D array in (0, 1]")
        self.num_timesteps = len(betas)
        self.betas = betas
        alphas = 1.0 - betas
        self.alphas_cumprod = np.cumprod(alphas, axis=0)
        self.alphas_cumprod_prev = np.append(1.0, self.alphas_cumprod[:-1])
        self.sqrt_recip_alphas_cumprod = np.sqrt(1.0 / self.alphas_cumprod)
        self.sqrt_recipm1_alphas_cumprod = np.sqrt(1.0 / self.alphas_cumprod - 1)
        self.posterior_variance = betas * (1.0 - self.alphas_cumprod_prev) / (1.0 - self.alphas_cumprod)
        # The posterior variance is 0 at k = 0: its log is clipped to the value at k = 1.
        if len(betas) > 1:
            self.posterior_log_variance_clipped = np.log(np.append(self.posterior_variance[1],
                                                                   self.posterior_variance[1:]))
        else:
            self.posterior_log_variance_clipped = np.array([])
        self.posterior_mean_coef1 = betas * np.sqrt(self.alphas_cumprod_prev) / (1.0 - self.alphas_cumprod)
        self.posterior_mean_coef2 = (1.0 - self.alphas_cumprod_prev) * np.sqrt(alphas) / (1.0 - self.alphas_cumprod)
        self.log_betas = np.log(betas)
        # fixed_large: the betas, except at k = 0 where the posterior variance at k = 1 is used.
        self.fixed_large_variance = np.append(self.posterior_variance[1:2], betas[1:])
        self.fixed_large_log_variance = np.log(self.fixed_large_variance)

    CONSTANTS = ("betas", "alphas_cumprod", "alphas_cumprod_prev", "posterior_variance",
                 "posterior_log_variance_clipped", "posterior_mean_coef1", "posterior_mean_coef2",
                 "sqrt_recip_alphas_cumprod", "sqrt_recipm1_alphas_cumprod", "log_betas",
                 "fixed_large_log_variance")

    # -------------------------------------------------------------------------
    # One step

    def _const(self, arr, k, like):
        """arr[k] in float64, cast to float32 (as the official _extract_into_tensor),
        then to the dtype of `like`, broadcast to its shape."""
        v = torch.tensor(arr[k], dtype=torch.float64).float().to(like.dtype)
        return v + torch.zeros_like(like)

    def _mean_logvar(self, out, x, k, clip_x0=False):
        """x0, mean and log-variance of p(x_{k-1} | x_k) from the model output; x0 is
        clamped to [-1, 1] before the mean when clip_x0 (ADM's clip_denoised)."""
        c = x.shape[1]
        if self.variance == "learned_range":
            if out.shape[1] != 2 * c:
                raise ValueError(f"learned_range needs {2 * c} output channels, the model gives {out.shape[1]}")
            eps, v = out[:, :c], out[:, c:]
            min_log = self._const(self.posterior_log_variance_clipped, k, x)
            max_log = self._const(self.log_betas, k, x)
            frac = (v + 1) / 2
            logvar = frac * max_log + (1 - frac) * min_log
        else:
            if out.shape[1] != c:
                raise ValueError(f"{self.variance} needs {c} output channels, the model gives {out.shape[1]}")
            eps = out
            table = self.posterior_log_variance_clipped if self.variance == "fixed_small" \
                else self.fixed_large_log_variance
            logvar = self._const(table, k, x)
        x0 = self._const(self.sqrt_recip_alphas_cumprod, k, x) * x \
            - self._const(self.sqrt_recipm1_alphas_cumprod, k, x) * eps
        if clip_x0:
            x0 = x0.clamp(-1, 1)
        mean = self._const(self.posterior_mean_coef1, k, x) * x0 + self._const(self.posterior_mean_coef2, k, x) * x
        return x0, mean, logvar

    def p_sample(self, out, x, k, z, clip_x0=False):
        """Ancestral step k -> k-1 from model output `out` at x; z is the step's noise
        (drawn at every step, masked at k = 0)."""
        _, mean, logvar = self._mean_logvar(out, x, k, clip_x0)
        mask = float(k != 0)
        return mean + mask * torch.exp(0.5 * logvar) * z

    def ddim_sample(self, out, x, k, z, eta=0.0, clip_x0=False):
        """DDIM step k -> k-1 (Song et al. eq. 12); eps is re-derived from (the clipped) x0 as
        the official code does."""
        x0, _, _ = self._mean_logvar(out, x, k, clip_x0)
        eps = (self._const(self.sqrt_recip_alphas_cumprod, k, x) * x - x0) \
            / self._const(self.sqrt_recipm1_alphas_cumprod, k, x)
        abar = self._const(self.alphas_cumprod, k, x)
        abar_prev = self._const(self.alphas_cumprod_prev, k, x)
        sigma = eta * torch.sqrt((1 - abar_prev) / (1 - abar)) * torch.sqrt(1 - abar / abar_prev)
        mean = x0 * torch.sqrt(abar_prev) + torch.sqrt(1 - abar_prev - sigma ** 2) * eps
        mask = float(k != 0)
        return mean + mask * sigma * z

    # -------------------------------------------------------------------------
    # The loop

    def start_index(self, start=None):
        """The spaced index a loop starts from: num_timesteps-1 for start None or "noise";
        for an integer start t0 (an ORIGINAL step, 0..999), the largest k with
        timestep_map[k] <= t0 (a truncated loop, e.g. MSF's residual stage)."""
        if start is None or start == "noise":
            return self.num_timesteps - 1
        t0 = int(start)
        if t0 < 0:
            raise ValueError(f"start step {t0} is negative")
        return int(np.nonzero(self.timestep_map <= t0)[0].max())

    def sample_loop(self, model_fn, x_T, noise, labels, cfg_scale=1.0, cfg_mode="dit3", sampler="ddpm", eta=0.0,
                    null_class=None, dtype=torch.float32, trace=None, start=None, clip_x0=False):
        """Run all steps k = num_timesteps-1 .. 0 and return the final x (N rows).

        model_fn: a reference DiT (called as model_fn(x, t, y), and with guidance as
        model_fn.forward_with_cfg(x, t, y, cfg_scale, cfg_mode)).
        x_T (N,C,H,W); noise (steps, M, C, H, W): noise[i] is used at the i-th step taken
        (k = steps-1-i); M = 2N with guidance (cfg_scale > 1), else N. labels (N,).
        null_class defaults to model_fn.num_classes. dtype: float32 reproduces DiT; float64
        runs the same steps in float64 (constants still rounded through float32).
        trace: if a list, x (first N rows) after each step is appended to it.
        start: None or "noise" (all steps), or an original step t0: only the steps
        k = k0 .. 0 are taken, k0 = start_index(t0), and noise has k0+1 rows, noise[i]
        used at k = k0-i. Either way the loop starts at k0 from
        float32(start_scale(alphas_cumprod[k0])) * x_T (x_T unit noise; the scale is 1).
        clip_x0: clamp each x0 estimate to [-1, 1] (ADM's clip_denoised; DiT: False).
        """
        if sampler not in ("ddpm", "ddim"):
            raise ValueError(f"unknown sampler '{sampler}' (expected 'ddpm' or 'ddim')")
        x = torch.as_tensor(np.asarray(x_T)).to(dtype)
        noise = torch.as_tensor(np.asarray(noise)).to(dtype)
        y = torch.as_tensor(np.asarray(labels), dtype=torch.int64)
        n = x.shape[0]
        guided = cfg_scale > 1
        m = 2 * n if guided else n
        k0 = self.start_index(start)
        x = torch.tensor(start_scale(self.alphas_cumprod[k0]), dtype=torch.float64).float().to(dtype) * x
        if noise.shape != (k0 + 1, m) + tuple(x.shape[1:]):
            raise ValueError(f"noise has shape {list(noise.shape)}, expected "
                             f"{[k0 + 1, m] + list(x.shape[1:])}")
        if guided:
            null = model_fn.num_classes if null_class is None else null_class
            x = torch.cat([x, x], dim=0)
            y = torch.cat([y, torch.full_like(y, null)], dim=0)
        with torch.no_grad():
            for i, k in enumerate(range(k0, -1, -1)):
                t = torch.full((m,), int(self.timestep_map[k]), dtype=torch.int64)
                if guided:
                    out = model_fn.forward_with_cfg(x, t, y, cfg_scale, cfg_mode)
                else:
                    out = model_fn(x, t, y)
                if sampler == "ddpm":
                    x = self.p_sample(out, x, k, noise[i], clip_x0)
                else:
                    x = self.ddim_sample(out, x, k, noise[i], eta, clip_x0)
                if trace is not None:
                    trace.append(x[:n].clone())
        return x[:n]
