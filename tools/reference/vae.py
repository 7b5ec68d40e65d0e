"""vae.py: a PyTorch reference of the SD VAE (AutoencoderKL, kl-f8 family).

Written from /work/shared/REFERENCE.md section 3 and checked layer by layer
against diffusers (models/autoencoders/vae.py Encoder/Decoder,
autoencoder_kl.py, unets/unet_2d_blocks.py UNetMidBlock2D /
DownEncoderBlock2D / UpDecoderBlock2D, resnet.py ResnetBlock2D,
downsampling.py / upsampling.py, attention_processor.py AttnProcessor) and
CompVis latent-diffusion ldm/modules/diffusionmodules/model.py. Inference only.

The module tree gives diffusers' state_dict keys with the current attention
naming (to_q, to_k, to_v, to_out.0 as Linear layers), which is the canonical
naming of our HDF5 files (see tools/convert_vae.py for the other namings).

What the architecture is, for block_out_channels (c_0, ..., c_{L-1}) and
layers_per_block r (stabilityai/sd-vae-ft-ema: (128, 256, 512, 512), r = 2):
- ResNet(in, out): h = conv3x3(SiLU(GN(x))); h = conv3x3(SiLU(GN(h)));
  return shortcut(x) + h, shortcut a 1x1 conv when in != out, else identity.
  GN = GroupNorm(norm_num_groups, eps 1e-6, affine).
- Attention(C): single head over the H*W positions: h = GN(x) as (HW, C);
  q, k, v = Linear(h); out = softmax(q k^T / sqrt(C)) v; x + Linear(out).
- Mid block(C): ResNet(C, C), Attention(C), ResNet(C, C).
- Encoder: conv_in 3 -> c_0; down block i: r ResNets (first c_{i-1} -> c_i,
  c_{-1} = c_0), then, except the last, pad (0, 1, 0, 1) and a 3x3 stride-2
  conv c_i -> c_i; mid block(c_{L-1}); GN, SiLU, conv_out -> 2 * latent.
  quant_conv 1x1 on the 2 * latent moments: mean = channels [0, latent),
  logvar the rest, clamped to [-30, 20].
- Decoder: post_quant_conv 1x1 latent -> latent; conv_in -> c_{L-1}; mid
  block(c_{L-1}); up block i (i = 0 is the lowest resolution): r + 1 ResNets,
  the first c_{L-i} -> c_{L-1-i} (c_L = c_{L-1}), then, except the last,
  nearest x2 upsampling and a 3x3 conv; GN, SiLU, conv_out c_0 -> 3.
"""
import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

SD_VAE_CONFIG = dict(in_channels=3, out_channels=3, latent_channels=4, block_out_channels=(128, 256, 512, 512),
                     layers_per_block=2, norm_num_groups=32, scaling_factor=0.18215)


class ResnetBlock(nn.Module):
    def __init__(self, cin, cout, groups):
        super().__init__()
        self.norm1 = nn.GroupNorm(groups, cin, eps=1e-6)
        self.conv1 = nn.Conv2d(cin, cout, 3, padding=1)
        self.norm2 = nn.GroupNorm(groups, cout, eps=1e-6)
        self.conv2 = nn.Conv2d(cout, cout, 3, padding=1)
        self.conv_shortcut = nn.Conv2d(cin, cout, 1) if cin != cout else None

    def forward(self, x):
        h = self.conv1(F.silu(self.norm1(x)))
        h = self.conv2(F.silu(self.norm2(h)))
        return (self.conv_shortcut(x) if self.conv_shortcut is not None else x) + h


class AttentionBlock(nn.Module):
    def __init__(self, c, groups):
        super().__init__()
        self.group_norm = nn.GroupNorm(groups, c, eps=1e-6)
        self.to_q = nn.Linear(c, c)
        self.to_k = nn.Linear(c, c)
        self.to_v = nn.Linear(c, c)
        self.to_out = nn.ModuleList([nn.Linear(c, c)])

    def forward(self, x):
        n, c, h, w = x.shape
        t = self.group_norm(x).reshape(n, c, h * w).transpose(1, 2)  # (n, HW, C)
        q, k, v = self.to_q(t), self.to_k(t), self.to_v(t)
        a = torch.softmax(torch.bmm(q, k.transpose(1, 2)) * c ** -0.5, dim=-1)
        out = self.to_out[0](torch.bmm(a, v))
        return x + out.transpose(1, 2).reshape(n, c, h, w)


class MidBlock(nn.Module):
    def __init__(self, c, groups):
        super().__init__()
        self.resnets = nn.ModuleList([ResnetBlock(c, c, groups), ResnetBlock(c, c, groups)])
        self.attentions = nn.ModuleList([AttentionBlock(c, groups)])

    def forward(self, x):
        return self.resnets[1](self.attentions[0](self.resnets[0](x)))


class Downsample(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.conv = nn.Conv2d(c, c, 3, stride=2)

    def forward(self, x):
        return self.conv(F.pad(x, (0, 1, 0, 1)))


class Upsample(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.conv = nn.Conv2d(c, c, 3, padding=1)

    def forward(self, x):
        return self.conv(F.interpolate(x, scale_factor=2.0, mode="nearest"))


class DownBlock(nn.Module):
    def __init__(self, cin, cout, layers, groups, downsample):
        super().__init__()
        self.resnets = nn.ModuleList([ResnetBlock(cin if i == 0 else cout, cout, groups) for i in range(layers)])
        self.downsamplers = nn.ModuleList([Downsample(cout)]) if downsample else None

    def forward(self, x):
        for r in self.resnets:
            x = r(x)
        return self.downsamplers[0](x) if self.downsamplers is not None else x


class UpBlock(nn.Module):
    def __init__(self, cin, cout, layers, groups, upsample):
        super().__init__()
        self.resnets = nn.ModuleList([ResnetBlock(cin if i == 0 else cout, cout, groups) for i in range(layers)])
        self.upsamplers = nn.ModuleList([Upsample(cout)]) if upsample else None

    def forward(self, x):
        for r in self.resnets:
            x = r(x)
        return self.upsamplers[0](x) if self.upsamplers is not None else x


class Encoder(nn.Module):
    def __init__(self, in_channels, latent_channels, block_out_channels, layers_per_block, norm_num_groups):
        super().__init__()
        ch, g = block_out_channels, norm_num_groups
        self.conv_in = nn.Conv2d(in_channels, ch[0], 3, padding=1)
        self.down_blocks = nn.ModuleList([
            DownBlock(ch[max(i - 1, 0)], ch[i], layers_per_block, g, i < len(ch) - 1) for i in range(len(ch))])
        self.mid_block = MidBlock(ch[-1], g)
        self.conv_norm_out = nn.GroupNorm(g, ch[-1], eps=1e-6)
        self.conv_out = nn.Conv2d(ch[-1], 2 * latent_channels, 3, padding=1)

    def forward(self, x):
        x = self.conv_in(x)
        for b in self.down_blocks:
            x = b(x)
        x = self.mid_block(x)
        return self.conv_out(F.silu(self.conv_norm_out(x)))


class Decoder(nn.Module):
    def __init__(self, out_channels, latent_channels, block_out_channels, layers_per_block, norm_num_groups):
        super().__init__()
        rev, g = list(reversed(block_out_channels)), norm_num_groups
        self.conv_in = nn.Conv2d(latent_channels, rev[0], 3, padding=1)
        self.mid_block = MidBlock(rev[0], g)
        self.up_blocks = nn.ModuleList([
            UpBlock(rev[max(i - 1, 0)], rev[i], layers_per_block + 1, g, i < len(rev) - 1) for i in range(len(rev))])
        self.conv_norm_out = nn.GroupNorm(g, rev[-1], eps=1e-6)
        self.conv_out = nn.Conv2d(rev[-1], out_channels, 3, padding=1)

    def forward(self, z):
        x = self.mid_block(self.conv_in(z))
        for b in self.up_blocks:
            x = b(x)
        return self.conv_out(F.silu(self.conv_norm_out(x)))


class AutoencoderKL(nn.Module):
    def __init__(self, in_channels=3, out_channels=3, latent_channels=4, block_out_channels=(128, 256, 512, 512),
                 layers_per_block=2, norm_num_groups=32, scaling_factor=0.18215):
        super().__init__()
        self._config = dict(in_channels=in_channels, out_channels=out_channels, latent_channels=latent_channels,
                            block_out_channels=tuple(int(c) for c in block_out_channels),
                            layers_per_block=layers_per_block, norm_num_groups=norm_num_groups,
                            scaling_factor=float(scaling_factor))
        self.encoder = Encoder(in_channels, latent_channels, block_out_channels, layers_per_block, norm_num_groups)
        self.decoder = Decoder(out_channels, latent_channels, block_out_channels, layers_per_block, norm_num_groups)
        self.quant_conv = nn.Conv2d(2 * latent_channels, 2 * latent_channels, 1)
        self.post_quant_conv = nn.Conv2d(latent_channels, latent_channels, 1)

    def config(self):
        return dict(self._config)

    def moments(self, x):
        """x (N, 3, H, W) in [-1, 1] -> (mean, logvar) of the posterior, logvar clamped as diffusers does."""
        m = self.quant_conv(self.encoder(x))
        c = m.shape[1] // 2
        return m[:, :c], torch.clamp(m[:, c:], -30.0, 20.0)

    def decode(self, z):
        """Unscaled latents (N, latent, h, w) -> images (N, 3, H, W), nominally in [-1, 1]."""
        return self.decoder(self.post_quant_conv(z))


def pixels_from_decoded(x):
    """DiT sample_ddp.py: clamp(127.5 x + 128, 0, 255), truncated to uint8, NCHW -> NHWC. x float32."""
    return torch.clamp(127.5 * x + 128.0, 0, 255).permute(0, 2, 3, 1).to(torch.uint8).numpy()


def images_to_input(pixels):
    """uint8 (N, H, W, 3) -> float32 (N, 3, H, W) in [-1, 1] as DiT's train.py transforms do it
    (ToTensor: p / 255; Normalize(0.5, 0.5): (x - 0.5) / 0.5)."""
    x = torch.from_numpy(np.ascontiguousarray(pixels)).permute(0, 3, 1, 2).float().div(255)
    return (x - 0.5) / 0.5


def randomize(model, seed):
    """Random weights for tests: conv/linear weights N(0, 1/fan_in), biases N(0, 0.1^2), GroupNorm
    gamma 1 + N(0, 0.1^2), beta N(0, 0.1^2)."""
    rng = np.random.default_rng(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if p.dim() >= 2:
                std, mean = 1.0 / np.sqrt(np.prod(p.shape[1:])), 0.0
            elif "norm" in name and name.endswith(".weight"):
                std, mean = 0.1, 1.0
            else:
                std, mean = 0.1, 0.0
            p.copy_(torch.from_numpy((mean + rng.standard_normal(tuple(p.shape)) * std).astype(np.float32)))
    return model.eval()
