"""Bottleneck ResNets (He et al. 2016) for Restricted ImageNet, from torchvision's builders.

No pretraining and torchvision's initialisation (Kaiming-normal fan-out convolutions,
BN at weight 1 / bias 0), which is also the original's. The class count replaces the
1000-way head; an input with other than 3 channels gets a stem convolution of that width.
"""

from __future__ import annotations

from collections.abc import Callable

from torch import nn
from torchvision.models import resnet50, resnet152
from torchvision.models.resnet import ResNet

# The stem (stride-2 convolution, stride-2 max pool) and three stride-2 stages divide the
# side by 32; smaller inputs would leave the last stage nothing but padding.
MIN_SIZE = 32


def _resnet(
    name: str,
    builder: Callable[..., ResNet],
    *,
    drop: float,
    in_channels: int,
    n_classes: int,
    image_size: int,
) -> ResNet:
    if image_size < MIN_SIZE:
        raise ValueError(
            f"{name} needs inputs of at least {MIN_SIZE}x{MIN_SIZE} (it downsamples by 32), "
            f"got image_size={image_size}"
        )
    if in_channels < 1:
        raise ValueError(f"{name} needs in_channels >= 1, got {in_channels}")
    model = builder(weights=None, num_classes=n_classes)
    if in_channels != 3:
        model.conv1 = nn.Conv2d(in_channels, 64, 7, stride=2, padding=3, bias=False)
        nn.init.kaiming_normal_(model.conv1.weight, mode="fan_out", nonlinearity="relu")
    if drop > 0:
        _add_dropout(model, drop)
    return model


def _add_dropout(model: ResNet, drop: float) -> None:
    """Dropout on the output of the second (3x3) convolution of every bottleneck but the
    first of each stage, after its BN and ReLU, as the original does.

    torchvision's bottleneck computes ``ReLU(bn2(conv2(.)))``; wrapping ``bn2`` as
    ``Dropout(bn2(.))`` gives ``ReLU(m * z) = m * ReLU(z)`` for the non-negative dropout
    scale ``m`` (0 or 1/(1-p)), the same function and gradient as dropout after the ReLU,
    without rewriting torchvision's forward.
    """
    for stage in (model.layer1, model.layer2, model.layer3, model.layer4):
        for block in list(stage)[1:]:
            block.bn2 = nn.Sequential(block.bn2, nn.Dropout(drop))


def ResNet50(in_channels: int = 3, n_classes: int = 9, image_size: int = 64) -> ResNet:
    """ResNet-50: bottleneck stages of 3, 4, 6, 3 blocks, global average pool, linear 2048->K."""
    return _resnet(
        "ResNet50",
        resnet50,
        drop=0.0,
        in_channels=in_channels,
        n_classes=n_classes,
        image_size=image_size,
    )


def ResNet50_drop20(in_channels: int = 3, n_classes: int = 9, image_size: int = 64) -> ResNet:
    """ResNet-50 with dropout 0.2 in 12 of its 16 bottlenecks (not the first of each stage)."""
    return _resnet(
        "ResNet50_drop20",
        resnet50,
        drop=0.2,
        in_channels=in_channels,
        n_classes=n_classes,
        image_size=image_size,
    )


def ResNet50_drop50(in_channels: int = 3, n_classes: int = 9, image_size: int = 64) -> ResNet:
    """ResNet-50 with dropout 0.5 in 12 of its 16 bottlenecks (not the first of each stage)."""
    return _resnet(
        "ResNet50_drop50",
        resnet50,
        drop=0.5,
        in_channels=in_channels,
        n_classes=n_classes,
        image_size=image_size,
    )


def ResNet152(in_channels: int = 3, n_classes: int = 9, image_size: int = 64) -> ResNet:
    """ResNet-152: bottleneck stages of 3, 8, 36, 3 blocks, global average pool, linear 2048->K."""
    return _resnet(
        "ResNet152",
        resnet152,
        drop=0.0,
        in_channels=in_channels,
        n_classes=n_classes,
        image_size=image_size,
    )
