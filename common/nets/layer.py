"""Layer-stack builders whose indices give the official state-dict names (docs/network.md#layer-stacks).

A step followed by BatchNorm + ReLU occupies three consecutive indices (layer, BN, ReLU); a final step without
them occupies one.  So ``make_conv1d_layers([256, 64])`` has keys ``0.weight``/``0.bias`` only.
"""
from __future__ import annotations

from typing import Sequence

from torch import nn


def make_linear_layers(dims: Sequence[int], relu_final: bool = True, use_bn: bool = False) -> nn.Sequential:
    """Linear(dims[i], dims[i+1]) [+ BatchNorm1d] + ReLU between steps; after the last only if ``relu_final``."""
    layers: list[nn.Module] = []
    for i in range(len(dims) - 1):
        layers.append(nn.Linear(dims[i], dims[i + 1]))
        if i < len(dims) - 2 or relu_final:
            if use_bn:
                layers.append(nn.BatchNorm1d(dims[i + 1]))
            layers.append(nn.ReLU(inplace=True))
    return nn.Sequential(*layers)


def make_conv_layers(dims: Sequence[int], kernel: int = 3, stride: int = 1, padding: int = 1,
                     bnrelu_final: bool = True) -> nn.Sequential:
    """Conv2d(k, s, p, bias) + BatchNorm2d + ReLU between steps; after the last only if ``bnrelu_final``."""
    layers: list[nn.Module] = []
    for i in range(len(dims) - 1):
        layers.append(nn.Conv2d(dims[i], dims[i + 1], kernel_size=kernel, stride=stride, padding=padding))
        if i < len(dims) - 2 or bnrelu_final:
            layers.append(nn.BatchNorm2d(dims[i + 1]))
            layers.append(nn.ReLU(inplace=True))
    return nn.Sequential(*layers)


def make_conv1d_layers(dims: Sequence[int], kernel: int = 1, stride: int = 1, padding: int = 0,
                       bnrelu_final: bool = True) -> nn.Sequential:
    """Conv1d(k, s, p, bias) + BatchNorm1d + ReLU between steps; after the last only if ``bnrelu_final``."""
    layers: list[nn.Module] = []
    for i in range(len(dims) - 1):
        layers.append(nn.Conv1d(dims[i], dims[i + 1], kernel_size=kernel, stride=stride, padding=padding))
        if i < len(dims) - 2 or bnrelu_final:
            layers.append(nn.BatchNorm1d(dims[i + 1]))
            layers.append(nn.ReLU(inplace=True))
    return nn.Sequential(*layers)


def make_deconv_layers(dims: Sequence[int], bnrelu_final: bool = True) -> nn.Sequential:
    """ConvTranspose2d(k4, s2, p1, no bias) + BatchNorm2d + ReLU; each step doubles the spatial size."""
    layers: list[nn.Module] = []
    for i in range(len(dims) - 1):
        layers.append(nn.ConvTranspose2d(dims[i], dims[i + 1], kernel_size=4, stride=2, padding=1,
                                         output_padding=0, bias=False))
        if i < len(dims) - 2 or bnrelu_final:
            layers.append(nn.BatchNorm2d(dims[i + 1]))
            layers.append(nn.ReLU(inplace=True))
    return nn.Sequential(*layers)
