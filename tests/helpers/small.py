"""Small real data and a small trained model for the attack and evaluation tests."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from sklearn.datasets import load_digits
from torch import nn


def digits_tensors() -> tuple[torch.Tensor, torch.Tensor]:
    """sklearn's 8x8 digits in [0, 1], NCHW, and their labels."""
    bunch = load_digits()
    x = torch.tensor(bunch.images, dtype=torch.float32)[:, None] / 16
    return x, torch.tensor(bunch.target, dtype=torch.long)


def train_mlp(x: torch.Tensor, y: torch.Tensor, *, dropout: float, epochs: int) -> nn.Module:
    """A 64-64-10 MLP with dropout, trained naturally with Adam for a few seconds."""
    torch.manual_seed(0)
    net = nn.Sequential(
        nn.Flatten(), nn.Linear(64, 64), nn.ReLU(), nn.Dropout(dropout), nn.Linear(64, 10)
    )
    optimizer = torch.optim.Adam(net.parameters(), lr=1e-2)
    for _ in range(epochs):
        for batch in torch.randperm(len(y)).split(100):
            loss = F.cross_entropy(net(x[batch]), y[batch])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
    return net.eval()


class Wrapper(nn.Module):
    """A model around ``inner``; subclasses change its input or output in ``forward``."""

    def __init__(self, inner: nn.Module) -> None:
        super().__init__()
        self.inner = inner


class Quantised(Wrapper):
    """Rounds its input to 1/4 steps: piecewise constant, the input gradient zero everywhere."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.inner(torch.round(x * 4) / 4)
