"""The two MNIST CNNs of the paper (CNN1 and CNN2 in its Table 2)."""

from __future__ import annotations

from torch import nn

MNIST_SIZE = 28


def _check_input(arch: str, in_channels: int, image_size: int) -> None:
    """Both nets end in a linear layer whose width fixes the input to 28x28."""
    if image_size != MNIST_SIZE:
        raise ValueError(
            f"{arch} needs {MNIST_SIZE}x{MNIST_SIZE} inputs (its first linear layer is sized "
            f"for them), got image_size={image_size}"
        )
    if in_channels < 1:
        raise ValueError(f"{arch} needs in_channels >= 1, got {in_channels}")


class CNN001(nn.Sequential):
    """conv C->32 3x3, ReLU; conv 32->64 3x3 (no ReLU); maxpool 2; dropout 0.25;
    linear 9216->128, ReLU; dropout 0.5; linear 128->K.

    9216 = 64 * 12 * 12: two unpadded 3x3 convolutions take 28 to 24, the pooling to 12.
    The first dropout is channel-wise (``Dropout2d``), as in the original, which applies
    ``Dropout2d(0.25)`` to the pooled feature maps; its ``Dropout2d(0.5)`` acts on the
    flat 128 features, where it zeroes single features, so the second is plain ``Dropout``.
    PyTorch's default initialisation, as the original.
    """

    def __init__(self, in_channels: int = 1, n_classes: int = 10, image_size: int = 28) -> None:
        _check_input("CNN001", in_channels, image_size)
        super().__init__(
            nn.Conv2d(in_channels, 32, 3),
            nn.ReLU(),
            nn.Conv2d(32, 64, 3),
            nn.MaxPool2d(2),
            nn.Dropout2d(0.25),
            nn.Flatten(),
            nn.Linear(64 * 12 * 12, 128),
            nn.ReLU(),
            nn.Dropout(0.5),
            nn.Linear(128, n_classes),
        )


class CNN002(nn.Sequential):
    """The TRADES small CNN: conv C->32, ReLU, conv 32->32, ReLU, maxpool 2;
    conv 32->64, ReLU, conv 64->64, ReLU, maxpool 2; linear 1024->200, ReLU, dropout 0.5;
    linear 200->200, ReLU; linear 200->K. All convolutions 3x3 unpadded.

    1024 = 64 * 4 * 4 (28 -> 26 -> 24 -> 12 -> 10 -> 8 -> 4). Convolution weights are
    Kaiming-normal with zero bias and the last linear layer starts at zero, so every
    class starts with logit 0 and the input gradient of the loss is zero at initialisation.
    """

    def __init__(self, in_channels: int = 1, n_classes: int = 10, image_size: int = 28) -> None:
        _check_input("CNN002", in_channels, image_size)
        super().__init__(
            nn.Conv2d(in_channels, 32, 3),
            nn.ReLU(),
            nn.Conv2d(32, 32, 3),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Conv2d(32, 64, 3),
            nn.ReLU(),
            nn.Conv2d(64, 64, 3),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Flatten(),
            nn.Linear(64 * 4 * 4, 200),
            nn.ReLU(),
            nn.Dropout(0.5),
            nn.Linear(200, 200),
            nn.ReLU(),
            nn.Linear(200, n_classes),
        )
        for module in self.modules():
            if isinstance(module, nn.Conv2d):
                nn.init.kaiming_normal_(module.weight)
                nn.init.zeros_(module.bias)
        last = self[-1]
        nn.init.zeros_(last.weight)
        nn.init.zeros_(last.bias)
