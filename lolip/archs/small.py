"""A small CNN for scikit-learn's 8x8 ``digits``, the offline default dataset."""

from __future__ import annotations

from torch import nn


class DigitsCNN(nn.Sequential):
    """conv C->32 3x3 pad 1, ReLU; conv 32->64 3x3 pad 1, ReLU; maxpool 2;
    linear 64*(S/2)^2 -> 128, ReLU; dropout 0.5; linear 128 -> K.

    CNN001's shape scaled to 8x8 inputs: two convolutions and one pooling keep a 4x4
    map, enough spatial context for digits without CNN001's 9216-wide layer.
    """

    def __init__(self, in_channels: int = 1, n_classes: int = 10, image_size: int = 8) -> None:
        if image_size % 2:
            raise ValueError(f"DigitsCNN needs an even image size, got {image_size}")
        side = image_size // 2
        super().__init__(
            nn.Conv2d(in_channels, 32, 3, padding=1),
            nn.ReLU(),
            nn.Conv2d(32, 64, 3, padding=1),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Flatten(),
            nn.Linear(64 * side * side, 128),
            nn.ReLU(),
            nn.Dropout(0.5),
            nn.Linear(128, n_classes),
        )
