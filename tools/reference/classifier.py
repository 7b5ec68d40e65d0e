"""classifier.py: the Fashion-MNIST feature network (a small CNN), the PyTorch
reference shared by tools/train_classifier.py and tools/golden/gen_classifier.py;
eval/classifier.c runs the same network in C.

Architecture, for widths (c1, c2, c3), `features` and `num_classes` (the
trained model: 16, 32, 64, 128, 10), on a 1 x 28 x 28 input:
  conv1 3x3 pad 1, 1 -> c1,  ReLU, max pool 2    -> c1 x 14 x 14
  conv2 3x3 pad 1, c1 -> c2, ReLU, max pool 2    -> c2 x 7 x 7
  conv3 3x3 pad 1, c2 -> c3, ReLU, max pool 2    -> c3 x 3 x 3 (floor)
  flatten (channel-major, as torch.flatten on NCHW) -> 9 c3
  fc1 -> features, ReLU: the penultimate features (FID's pool_3)
  fc2 -> num_classes: the logits (IS-like score, class consistency)
No batch norm, so nothing needs folding; dropout (training only) acts on
the features, before fc2.
A third conv and pool keep fc1 small (576 x 128) and the weight file about
0.4 MB (98,442 parameters).

Input convention (images_to_input): uint8 images [N, H, W] or [N, H, W, C].
32 x 32 images (the demo models' 28 x 28 padded by 2 on each side) are
centre-cropped to 28 x 28, 28 x 28 is used as is, other sizes are rejected.
C = 1 is grey; C = 3 (RGB) or 4 (RGBA, alpha dropped) is accepted only when
R = G = B at every pixel of the crop (a grey image saved as RGB) and channel 0 is used:
the classifier knows only grey Fashion-MNIST, so a colour image is an error,
not something to convert. Pixels p become p / 127.5 - 1 in [-1, 1] (float32).
"""
import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

MODEL_NAME = "fmnist_classifier"
INPUT_SIZE = 28
DEFAULT_CONFIG = dict(conv1_channels=16, conv2_channels=32, conv3_channels=64, features=128, num_classes=10,
                      dropout=0.25)
CONFIG_INT_KEYS = ("conv1_channels", "conv2_channels", "conv3_channels", "features", "num_classes")


class InputError(ValueError):
    pass


class FmnistClassifier(nn.Module):
    def __init__(self, conv1_channels=16, conv2_channels=32, conv3_channels=64, features=128, num_classes=10,
                 dropout=0.25):
        super().__init__()
        self.cfg = dict(conv1_channels=conv1_channels, conv2_channels=conv2_channels, conv3_channels=conv3_channels,
                        features=features, num_classes=num_classes, dropout=dropout)
        self.conv1 = nn.Conv2d(1, conv1_channels, 3, padding=1)
        self.conv2 = nn.Conv2d(conv1_channels, conv2_channels, 3, padding=1)
        self.conv3 = nn.Conv2d(conv2_channels, conv3_channels, 3, padding=1)
        self.fc1 = nn.Linear(conv3_channels * 3 * 3, features)
        self.fc2 = nn.Linear(features, num_classes)
        self.dropout = nn.Dropout(dropout)

    def config(self):
        return dict(self.cfg)

    def forward_features(self, x):
        """x [N, 1, 28, 28] in [-1, 1] -> (features [N, features], logits [N, num_classes])."""
        h = F.max_pool2d(F.relu(self.conv1(x)), 2)
        h = F.max_pool2d(F.relu(self.conv2(h)), 2)
        h = F.max_pool2d(F.relu(self.conv3(h)), 2)
        feats = F.relu(self.fc1(torch.flatten(h, 1)))
        return feats, self.fc2(self.dropout(feats))

    def forward(self, x):
        return self.forward_features(x)[1]


def images_to_input(images):
    """uint8 images [N, H, W] or [N, H, W, C] -> float32 tensor [N, 1, 28, 28] (see the top comment)."""
    a = np.asarray(images)
    if a.dtype != np.uint8:
        raise InputError(f"images must be uint8, got {a.dtype}")
    if a.ndim == 3:
        a = a[..., None]
    if a.ndim != 4 or a.shape[3] not in (1, 3, 4):
        raise InputError(f"images must be [N, H, W] or [N, H, W, C] with C = 1, 3 or 4, got {list(a.shape)}")
    h, w = a.shape[1:3]
    if (h, w) == (32, 32):
        a = a[:, 2:30, 2:30]
    elif (h, w) != (INPUT_SIZE, INPUT_SIZE):
        raise InputError(f"images are {h}x{w}: the classifier takes 28x28 or 32x32 (centre-cropped)")
    if a.shape[3] > 1:
        rgb = a[..., :3]
        if not (np.array_equal(rgb[..., 0], rgb[..., 1]) and np.array_equal(rgb[..., 0], rgb[..., 2])):
            raise InputError("colour images: the Fashion-MNIST classifier takes grey images (R = G = B)")
    grey = a[..., 0]
    x = torch.from_numpy(np.array(grey)).to(torch.float32)
    return (x / 127.5 - 1.0).unsqueeze(1)
