"""inception.py: a PyTorch reference of pytorch-fid's FIDInceptionV3.

Written from /work/shared/REFERENCE.md section 4 and checked against
mseitzer/pytorch-fid src/pytorch_fid/inception.py (fid_inception_v3,
FIDInceptionA/C/E_1/E_2) and torchvision models/inception.py (Inception3,
InceptionB/D, BasicConv2d). Inference only. The module tree mirrors
torchvision's Inception3 built with num_classes=1008, aux_logits=False, so
the state_dict keys and shapes are those of pytorch-fid's weights file
pt_inception-2015-12-05-6726825d.pth, which loads with load_state_dict.

Every block takes its branch widths as a tuple (the real network's are the
*_WIDTHS defaults), so the golden generator can build small blocks with the
same code. The model runs in float32 or float64 (model.double()).

Architecture (BasicConv2d = conv without bias -> BatchNorm eps 1e-3 -> ReLU):
- stem: Conv2d_1a_3x3 3x3 s2; Conv2d_2a_3x3 3x3; Conv2d_2b_3x3 3x3 pad 1;
  max pool 3 s2; Conv2d_3b_1x1; Conv2d_4a_3x3 3x3; max pool 3 s2.
- A (Mixed_5b/5c/5d): [1x1 | 1x1, 5x5 p2 | 1x1, 3x3 p1, 3x3 p1 |
  avg pool 3 s1 p1 excluding padding, 1x1].
- B (Mixed_6a): [3x3 s2 | 1x1, 3x3 p1, 3x3 s2 | max pool 3 s2].
- C (Mixed_6b..6e): [1x1 | 1x1, 1x7, 7x1 | 1x1, 7x1, 1x7, 7x1, 1x7 |
  avg pool excluding padding, 1x1].
- D (Mixed_7a): [1x1, 3x3 s2 | 1x1, 1x7, 7x1, 3x3 s2 | max pool 3 s2].
- E (Mixed_7b: avg pool excluding padding; Mixed_7c: MAX pool 3 s1 p1):
  [1x1 | 1x1, then 1x3 and 3x1 side by side | 1x1, 3x3 p1, then 1x3 and 3x1
  side by side | pool, 1x1].
- global average pool -> pool_3 (2048); logits = pool_3 . fc.weight^T
  (ADM's softmax input: no bias).
"""
import torch
import torch.nn as nn
import torch.nn.functional as F

STEM_WIDTHS = (32, 32, 64, 80, 192)       # Conv2d_1a, 2a, 2b, 3b, 4a
A_WIDTHS = (64, 48, 64, 64, 96)           # 1x1, 5x5_1, 5x5_2, 3x3dbl_1, 3x3dbl_2/3 (+ pool_features)
B_WIDTHS = (384, 64, 96)                  # 3x3, 3x3dbl_1, 3x3dbl_2/3
C_WIDTHS = (192, 192, 192)                # 1x1, 7x7_3 and 7x7dbl_5, pool (+ channels_7x7)
D_WIDTHS = (192, 320, 192, 192)           # 3x3_1, 3x3_2, 7x7x3_1, 7x7x3_2/3/4
E_WIDTHS = (320, 384, 384, 448, 384, 192) # 1x1, 3x3_1, 3x3_2a/2b, 3x3dbl_1, 3x3dbl_2/3a/3b, pool
NUM_CLASSES = 1008


class BasicConv2d(nn.Module):
    def __init__(self, cin, cout, **kw):
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, bias=False, **kw)
        self.bn = nn.BatchNorm2d(cout, eps=0.001)

    def forward(self, x):
        return F.relu(self.bn(self.conv(x)))


def avg_pool_no_pad(x):
    return F.avg_pool2d(x, kernel_size=3, stride=1, padding=1, count_include_pad=False)


class Stem(nn.Module):
    """Conv2d_1a_3x3 .. maxpool2 (a module of its own only for the goldens;
    FIDInceptionV3 holds the convs at its top level, as torchvision does)."""

    def __init__(self, cin=3, widths=STEM_WIDTHS):
        super().__init__()
        c1, c2, c3, c4, c5 = widths
        self.Conv2d_1a_3x3 = BasicConv2d(cin, c1, kernel_size=3, stride=2)
        self.Conv2d_2a_3x3 = BasicConv2d(c1, c2, kernel_size=3)
        self.Conv2d_2b_3x3 = BasicConv2d(c2, c3, kernel_size=3, padding=1)
        self.Conv2d_3b_1x1 = BasicConv2d(c3, c4, kernel_size=1)
        self.Conv2d_4a_3x3 = BasicConv2d(c4, c5, kernel_size=3)

    def forward(self, x):
        x = self.Conv2d_2b_3x3(self.Conv2d_2a_3x3(self.Conv2d_1a_3x3(x)))
        x = F.max_pool2d(x, kernel_size=3, stride=2)
        x = self.Conv2d_4a_3x3(self.Conv2d_3b_1x1(x))
        return F.max_pool2d(x, kernel_size=3, stride=2)


class InceptionA(nn.Module):
    def __init__(self, cin, pool_features, widths=A_WIDTHS):
        super().__init__()
        b1, b5_1, b5, d1, d = widths
        self.branch1x1 = BasicConv2d(cin, b1, kernel_size=1)
        self.branch5x5_1 = BasicConv2d(cin, b5_1, kernel_size=1)
        self.branch5x5_2 = BasicConv2d(b5_1, b5, kernel_size=5, padding=2)
        self.branch3x3dbl_1 = BasicConv2d(cin, d1, kernel_size=1)
        self.branch3x3dbl_2 = BasicConv2d(d1, d, kernel_size=3, padding=1)
        self.branch3x3dbl_3 = BasicConv2d(d, d, kernel_size=3, padding=1)
        self.branch_pool = BasicConv2d(cin, pool_features, kernel_size=1)

    def forward(self, x):
        a = self.branch1x1(x)
        b = self.branch5x5_2(self.branch5x5_1(x))
        c = self.branch3x3dbl_3(self.branch3x3dbl_2(self.branch3x3dbl_1(x)))
        d = self.branch_pool(avg_pool_no_pad(x))
        return torch.cat([a, b, c, d], 1)


class InceptionB(nn.Module):
    def __init__(self, cin, widths=B_WIDTHS):
        super().__init__()
        b3, d1, d = widths
        self.branch3x3 = BasicConv2d(cin, b3, kernel_size=3, stride=2)
        self.branch3x3dbl_1 = BasicConv2d(cin, d1, kernel_size=1)
        self.branch3x3dbl_2 = BasicConv2d(d1, d, kernel_size=3, padding=1)
        self.branch3x3dbl_3 = BasicConv2d(d, d, kernel_size=3, stride=2)

    def forward(self, x):
        a = self.branch3x3(x)
        b = self.branch3x3dbl_3(self.branch3x3dbl_2(self.branch3x3dbl_1(x)))
        return torch.cat([a, b, F.max_pool2d(x, kernel_size=3, stride=2)], 1)


class InceptionC(nn.Module):
    def __init__(self, cin, channels_7x7, widths=C_WIDTHS):
        super().__init__()
        b1, out7, pool = widths
        c7 = channels_7x7
        self.branch1x1 = BasicConv2d(cin, b1, kernel_size=1)
        self.branch7x7_1 = BasicConv2d(cin, c7, kernel_size=1)
        self.branch7x7_2 = BasicConv2d(c7, c7, kernel_size=(1, 7), padding=(0, 3))
        self.branch7x7_3 = BasicConv2d(c7, out7, kernel_size=(7, 1), padding=(3, 0))
        self.branch7x7dbl_1 = BasicConv2d(cin, c7, kernel_size=1)
        self.branch7x7dbl_2 = BasicConv2d(c7, c7, kernel_size=(7, 1), padding=(3, 0))
        self.branch7x7dbl_3 = BasicConv2d(c7, c7, kernel_size=(1, 7), padding=(0, 3))
        self.branch7x7dbl_4 = BasicConv2d(c7, c7, kernel_size=(7, 1), padding=(3, 0))
        self.branch7x7dbl_5 = BasicConv2d(c7, out7, kernel_size=(1, 7), padding=(0, 3))
        self.branch_pool = BasicConv2d(cin, pool, kernel_size=1)

    def forward(self, x):
        a = self.branch1x1(x)
        b = self.branch7x7_3(self.branch7x7_2(self.branch7x7_1(x)))
        c = self.branch7x7dbl_1(x)
        for m in (self.branch7x7dbl_2, self.branch7x7dbl_3, self.branch7x7dbl_4, self.branch7x7dbl_5):
            c = m(c)
        d = self.branch_pool(avg_pool_no_pad(x))
        return torch.cat([a, b, c, d], 1)


class InceptionD(nn.Module):
    def __init__(self, cin, widths=D_WIDTHS):
        super().__init__()
        b3_1, b3, b7_1, b7 = widths
        self.branch3x3_1 = BasicConv2d(cin, b3_1, kernel_size=1)
        self.branch3x3_2 = BasicConv2d(b3_1, b3, kernel_size=3, stride=2)
        self.branch7x7x3_1 = BasicConv2d(cin, b7_1, kernel_size=1)
        self.branch7x7x3_2 = BasicConv2d(b7_1, b7, kernel_size=(1, 7), padding=(0, 3))
        self.branch7x7x3_3 = BasicConv2d(b7, b7, kernel_size=(7, 1), padding=(3, 0))
        self.branch7x7x3_4 = BasicConv2d(b7, b7, kernel_size=3, stride=2)

    def forward(self, x):
        a = self.branch3x3_2(self.branch3x3_1(x))
        b = self.branch7x7x3_1(x)
        for m in (self.branch7x7x3_2, self.branch7x7x3_3, self.branch7x7x3_4):
            b = m(b)
        return torch.cat([a, b, F.max_pool2d(x, kernel_size=3, stride=2)], 1)


class InceptionE(nn.Module):
    """max_pool=False: FIDInceptionE_1 (Mixed_7b); True: FIDInceptionE_2 (Mixed_7c)."""

    def __init__(self, cin, max_pool, widths=E_WIDTHS):
        super().__init__()
        b1, b3_1, b3, d1, d, pool = widths
        self.max_pool = max_pool
        self.branch1x1 = BasicConv2d(cin, b1, kernel_size=1)
        self.branch3x3_1 = BasicConv2d(cin, b3_1, kernel_size=1)
        self.branch3x3_2a = BasicConv2d(b3_1, b3, kernel_size=(1, 3), padding=(0, 1))
        self.branch3x3_2b = BasicConv2d(b3_1, b3, kernel_size=(3, 1), padding=(1, 0))
        self.branch3x3dbl_1 = BasicConv2d(cin, d1, kernel_size=1)
        self.branch3x3dbl_2 = BasicConv2d(d1, d, kernel_size=3, padding=1)
        self.branch3x3dbl_3a = BasicConv2d(d, d, kernel_size=(1, 3), padding=(0, 1))
        self.branch3x3dbl_3b = BasicConv2d(d, d, kernel_size=(3, 1), padding=(1, 0))
        self.branch_pool = BasicConv2d(cin, pool, kernel_size=1)

    def forward(self, x):
        a = self.branch1x1(x)
        b = self.branch3x3_1(x)
        c = self.branch3x3dbl_2(self.branch3x3dbl_1(x))
        p = F.max_pool2d(x, kernel_size=3, stride=1, padding=1) if self.max_pool else avg_pool_no_pad(x)
        return torch.cat([a, self.branch3x3_2a(b), self.branch3x3_2b(b), self.branch3x3dbl_3a(c),
                          self.branch3x3dbl_3b(c), self.branch_pool(p)], 1)


class FIDInceptionV3(nn.Module):
    """divisor > 1 divides every width (and num_classes is free): the same
    network scaled down, for small golden files; the real one has divisor 1."""

    def __init__(self, divisor=1, num_classes=NUM_CLASSES):
        super().__init__()

        def w(widths):
            return tuple(c // divisor for c in widths)
        stem = Stem(3, w(STEM_WIDTHS))
        for name, m in stem.named_children():
            self.add_module(name, m)
        c = w((192, 256, 288, 768, 1280, 2048))
        self.Mixed_5b = InceptionA(c[0], 32 // divisor, w(A_WIDTHS))
        self.Mixed_5c = InceptionA(c[1], 64 // divisor, w(A_WIDTHS))
        self.Mixed_5d = InceptionA(c[2], 64 // divisor, w(A_WIDTHS))
        self.Mixed_6a = InceptionB(c[2], w(B_WIDTHS))
        self.Mixed_6b = InceptionC(c[3], 128 // divisor, w(C_WIDTHS))
        self.Mixed_6c = InceptionC(c[3], 160 // divisor, w(C_WIDTHS))
        self.Mixed_6d = InceptionC(c[3], 160 // divisor, w(C_WIDTHS))
        self.Mixed_6e = InceptionC(c[3], 192 // divisor, w(C_WIDTHS))
        self.Mixed_7a = InceptionD(c[3], w(D_WIDTHS))
        self.Mixed_7b = InceptionE(c[4], False, w(E_WIDTHS))
        self.Mixed_7c = InceptionE(c[5], True, w(E_WIDTHS))
        self.fc = nn.Linear(c[5], num_classes)

    def forward(self, x):
        """x (N, 3, H, W), already normalised to [-1, 1], H, W >= 75 ->
        (pool [N, 2048], spatial [N, 2023] (None unless Mixed_6d is 17x17),
        logits [N, 1008])."""
        x = Stem.forward(self, x)
        for name in ("Mixed_5b", "Mixed_5c", "Mixed_5d", "Mixed_6a", "Mixed_6b", "Mixed_6c"):
            x = getattr(self, name)(x)
        spatial = None
        if x.shape[2:] == (17, 17):
            # ADM's mixed_6/conv: Mixed_6d.branch1x1 after BN and ReLU, NHWC, first 7 channels.
            s = self.Mixed_6d.branch1x1(x)[:, :7]
            spatial = s.permute(0, 2, 3, 1).reshape(x.shape[0], -1)
        for name in ("Mixed_6d", "Mixed_6e", "Mixed_7a", "Mixed_7b", "Mixed_7c"):
            x = getattr(self, name)(x)
        pool = x.mean(dim=(2, 3))
        logits = pool @ self.fc.weight.t()
        return pool, spatial, logits


def randomize(model, seed, gain=1.0):
    """Random weights and BatchNorm statistics that keep activations O(1):
    conv weights N(0, gain * 2/fan_in) (He, for ReLU), BN gamma 1 + 0.1 N,
    beta 0.1 N, running_mean 0.1 N, running_var U(0.5, 1.5); fc N(0, 1/fan_in)."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.state_dict().items():
            if name.endswith("num_batches_tracked"):
                continue
            if name.endswith("conv.weight"):
                fan_in = p[0].numel()
                p.copy_(torch.randn(p.shape, generator=g, dtype=torch.float64) * (2.0 * gain / fan_in) ** 0.5)
            elif name.endswith("bn.weight"):
                p.copy_(1 + 0.1 * torch.randn(p.shape, generator=g, dtype=torch.float64))
            elif name.endswith("bn.bias") or name.endswith("running_mean"):
                p.copy_(0.1 * torch.randn(p.shape, generator=g, dtype=torch.float64))
            elif name.endswith("running_var"):
                p.copy_(0.5 + torch.rand(p.shape, generator=g, dtype=torch.float64))
            elif name == "fc.weight":
                p.copy_(torch.randn(p.shape, generator=g, dtype=torch.float64) / p.shape[1] ** 0.5)
            elif name == "fc.bias":
                p.copy_(0.1 * torch.randn(p.shape, generator=g, dtype=torch.float64))
            else:
                raise KeyError(name)
    return model
