"""Wide ResNet 40-10 (Zagoruyko and Komodakis 2016) for CIFAR-10 and SVHN, with dropout variants."""

from __future__ import annotations

import torch
from torch import nn

WRN_SIZE = 32


class PreActBlock(nn.Module):
    """Pre-activation basic block: ``a = ReLU(BN(x))``, ``h = conv3x3(a)``,
    ``h = conv3x3(dropout(ReLU(BN(h))))``, output ``h + s`` with ``s = x`` when the width and
    resolution are unchanged, else ``s = conv1x1(a)`` (the shortcut sees the activated input).
    """

    def __init__(self, in_planes: int, planes: int, stride: int, drop: float) -> None:
        super().__init__()
        self.bn1 = nn.BatchNorm2d(in_planes)
        self.conv1 = nn.Conv2d(in_planes, planes, 3, stride=stride, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.dropout = nn.Dropout(drop) if drop > 0 else nn.Identity()
        self.conv2 = nn.Conv2d(planes, planes, 3, padding=1, bias=False)
        self.relu = nn.ReLU()
        self.shortcut = (
            None
            if in_planes == planes and stride == 1
            else nn.Conv2d(in_planes, planes, 1, stride=stride, bias=False)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        a = self.relu(self.bn1(x))
        h = self.conv1(a)
        h = self.conv2(self.dropout(self.relu(self.bn2(h))))
        return h + (x if self.shortcut is None else self.shortcut(a))


class WideResNet(nn.Sequential):
    """conv3x3 C->16; three stages of ``n = (depth - 4) / 6`` pre-activation blocks of widths
    16k, 32k, 64k (strides 1, 2, 2); BN, ReLU, average pool 8, linear 64k -> K.

    Convolutions start Kaiming-normal (fan-out), linear biases at zero, as the original.
    The original also builds a fourth stage (``sub_block1``) that its forward never uses:
    it adds parameters to the original's count but nothing to the function, so it is left
    out here.
    """

    def __init__(
        self,
        depth: int,
        widen: int,
        *,
        drop: float,
        in_channels: int,
        n_classes: int,
        image_size: int,
        name: str,
    ) -> None:
        if (depth - 4) % 6:
            raise ValueError(f"{name}: depth - 4 must be a multiple of 6, got depth {depth}")
        if image_size != WRN_SIZE:
            raise ValueError(
                f"{name} needs {WRN_SIZE}x{WRN_SIZE} inputs (average pool 8 over the 8x8 map "
                f"of its last stage), got image_size={image_size}"
            )
        if in_channels < 1:
            raise ValueError(f"{name} needs in_channels >= 1, got {in_channels}")
        n = (depth - 4) // 6
        widths = [16, 16 * widen, 32 * widen, 64 * widen]
        layers: list[nn.Module] = [nn.Conv2d(in_channels, widths[0], 3, padding=1, bias=False)]
        for stage, stride in enumerate((1, 2, 2)):
            for i in range(n):
                in_planes = widths[stage] if i == 0 else widths[stage + 1]
                layers.append(
                    PreActBlock(in_planes, widths[stage + 1], stride if i == 0 else 1, drop)
                )
        layers += [
            nn.BatchNorm2d(widths[3]),
            nn.ReLU(),
            nn.AvgPool2d(8),
            nn.Flatten(),
            nn.Linear(widths[3], n_classes),
        ]
        super().__init__(*layers)
        for module in self.modules():
            if isinstance(module, nn.Conv2d):
                nn.init.kaiming_normal_(module.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(module, nn.Linear):
                nn.init.zeros_(module.bias)


def _wrn_40_10(
    name: str, drop: float, in_channels: int, n_classes: int, image_size: int
) -> WideResNet:
    return WideResNet(
        40,
        10,
        drop=drop,
        in_channels=in_channels,
        n_classes=n_classes,
        image_size=image_size,
        name=name,
    )


def WRN_40_10(in_channels: int = 3, n_classes: int = 10, image_size: int = 32) -> WideResNet:
    """WRN-40-10: depth 40 (6 blocks per stage), widths 16/160/320/640, no dropout."""
    return _wrn_40_10("WRN_40_10", 0.0, in_channels, n_classes, image_size)


def WRN_40_10_drop20(in_channels: int = 3, n_classes: int = 10, image_size: int = 32) -> WideResNet:
    """WRN-40-10 with dropout 0.2 between the two convolutions of every block."""
    return _wrn_40_10("WRN_40_10_drop20", 0.2, in_channels, n_classes, image_size)


def WRN_40_10_drop50(in_channels: int = 3, n_classes: int = 10, image_size: int = 32) -> WideResNet:
    """WRN-40-10 with dropout 0.5 between the two convolutions of every block."""
    return _wrn_40_10("WRN_40_10_drop50", 0.5, in_channels, n_classes, image_size)
