#!/usr/bin/python3
"""torch_params.py — PyTorch twins of models/fashion_snn.nn and models/resnet20.nn, and their
parameter counts, to compare with the totals `nnc check` prints.

    /usr/bin/python3 bench/torch_params.py [path/to/nnc]

The twins follow the .nn language's defaults: dense and conv2d have a bias (bias=True), batchnorm is
affine (a weight and a bias per channel; its running mean and variance are buffers, not parameters),
inputs are 1x28x28 images (resnet20) or 784-vectors (fashion_snn). With a path to nnc, the script
also runs `nnc check` on both models and compares the totals; it exits 1 if they differ.
"""
import os
import re
import subprocess
import sys

import torch
from torch import nn


def fashion_snn():
    # repeat 8 { h = selu(dense(h, 256, init=lecun_normal)) }; logits = dense(h, 10)
    layers, width = [], 784
    for _ in range(8):
        layers += [nn.Linear(width, 256), nn.SELU()]
        width = 256
    layers.append(nn.Linear(width, 10))
    return nn.Sequential(*layers)


class Basic(nn.Module):
    """block basic(x, c): two 3x3 convolutions and an identity skip connection."""

    def __init__(self, c):
        super().__init__()
        self.conv1, self.bn1 = nn.Conv2d(c, c, 3, padding=1), nn.BatchNorm2d(c)
        self.conv2, self.bn2 = nn.Conv2d(c, c, 3, padding=1), nn.BatchNorm2d(c)

    def forward(self, x):
        h = torch.relu(self.bn1(self.conv1(x)))
        h = self.bn2(self.conv2(h))
        return torch.relu(h + x)


class Down(nn.Module):
    """block down(x, c): a strided 3x3 convolution, a 3x3 one, and a 1x1 projection shortcut."""

    def __init__(self, c_in, c):
        super().__init__()
        self.conv1, self.bn1 = nn.Conv2d(c_in, c, 3, stride=2, padding=1), nn.BatchNorm2d(c)
        self.conv2, self.bn2 = nn.Conv2d(c, c, 3, padding=1), nn.BatchNorm2d(c)
        self.conv3, self.bn3 = nn.Conv2d(c_in, c, 1, stride=2), nn.BatchNorm2d(c)

    def forward(self, x):
        h = torch.relu(self.bn1(self.conv1(x)))
        h = self.bn2(self.conv2(h))
        s = self.bn3(self.conv3(x))
        return torch.relu(h + s)


def resnet20(n=3):
    return nn.Sequential(
        nn.Conv2d(1, 16, 3, padding=1), nn.BatchNorm2d(16), nn.ReLU(),
        *[Basic(16) for _ in range(n)],
        Down(16, 32), *[Basic(32) for _ in range(n - 1)],
        Down(32, 64), *[Basic(64) for _ in range(n - 1)],
        nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(64, 10))


def counts(model):
    params = sum(p.numel() for p in model.parameters())
    buffers = sum(b.numel() for name, b in model.named_buffers() if not name.endswith("num_batches_tracked"))
    return params, buffers


def nnc_totals(nnc, path):
    out = subprocess.run([nnc, "check", path], check=True, capture_output=True, text=True).stdout
    m = re.search(r"total: \d+ layers, ([\d,]+) parameters[^+\n]*(?:\+ ([\d,]+) buffer values)?", out)
    return int(m.group(1).replace(",", "")), int((m.group(2) or "0").replace(",", ""))


def main():
    repo = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    nnc = sys.argv[1] if len(sys.argv) > 1 else None
    ok = True
    for name, build, shape in (("fashion_snn", fashion_snn, (2, 784)), ("resnet20", resnet20, (2, 1, 28, 28))):
        model = build()
        out = model(torch.zeros(shape))  # the twin runs on the model's input shape
        assert tuple(out.shape) == (2, 10), out.shape
        params, buffers = counts(model)
        line = f"{name:12s} torch: {params:,} parameters + {buffers:,} buffer values"
        if nnc:
            want = nnc_totals(nnc, os.path.join(repo, "models", name + ".nn"))
            same = want == (params, buffers)
            ok &= same
            line += f"; nnc check: {want[0]:,} + {want[1]:,} ({'same' if same else 'DIFFERENT'})"
        print(line)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
