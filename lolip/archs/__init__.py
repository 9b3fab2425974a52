"""Architectures of the paper, by the names its tables use.

Every builder is called as ``builder(in_channels=C, n_classes=K, image_size=S)`` and
returns a module mapping float NCHW inputs in [0, 1] to logits (no normalisation layer:
the paper feeds raw [0, 1] pixels).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from lolip.registry import lookup

if TYPE_CHECKING:
    from torch import nn

ARCHS: dict[str, str] = {
    "DigitsCNN": "lolip.archs.small:DigitsCNN",
    "CNN001": "lolip.archs.cnn:CNN001",
    "CNN002": "lolip.archs.cnn:CNN002",
    "WRN_40_10": "lolip.archs.wrn:WRN_40_10",
    "WRN_40_10_drop20": "lolip.archs.wrn:WRN_40_10_drop20",
    "WRN_40_10_drop50": "lolip.archs.wrn:WRN_40_10_drop50",
    "ResNet50": "lolip.archs.resnet:ResNet50",
    "ResNet50_drop20": "lolip.archs.resnet:ResNet50_drop20",
    "ResNet50_drop50": "lolip.archs.resnet:ResNet50_drop50",
    "ResNet152": "lolip.archs.resnet:ResNet152",
}


def build_arch(name: str, *, in_channels: int, n_classes: int, image_size: int) -> nn.Module:
    """Instantiate architecture ``name`` for the given input and class count."""
    builder = lookup("architecture", name, ARCHS)
    return builder(in_channels=in_channels, n_classes=n_classes, image_size=image_size)
