"""What the benchmarks share: the real MNIST they run on, and a briefly trained CNN001.

The files are read from ``$LOLIP_MNIST_DIR``, or from ``../shared/data/mnist`` beside the
repository, through :func:`lolip.datasets.load` (which checks their SHA-256).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import torch
from torch import nn

from lolip import datasets
from lolip.archs import build_arch
from lolip.datasets.prepared import Dataset, Split
from lolip.methods import build_method
from lolip.training.loop import train
from lolip.training.settings import TrainSettings

ROOT = Path(__file__).resolve().parents[1]
MNIST_EPS = 0.1


def mnist() -> Dataset:
    directory = os.environ.get("LOLIP_MNIST_DIR", str(ROOT.parent / "shared" / "data" / "mnist"))
    return datasets.load("mnist", {"source": "mnist", "dir": directory})


def fresh_cnn001() -> nn.Module:
    """CNN001 for MNIST, initialised from seed 0."""
    torch.manual_seed(0)
    return build_arch("CNN001", in_channels=1, n_classes=10, image_size=28)


def trained_cnn001(split: Split, images: int, method: dict[str, Any] | None = None) -> nn.Module:
    """CNN001 trained by lolip's loop for one epoch on the first ``images`` of ``split``
    with ``method`` (default natural) at eps 0.1: Adam, lr 1e-3, batch 128, mean loss (a
    quick recipe, not the paper's: one natural epoch on 10,000 images gives ~95% test
    accuracy). ``images`` 0: the untrained network. Returned in eval mode."""
    model = fresh_cnn001()
    if images:
        settings = TrainSettings(
            epochs=1,
            batch_size=128,
            lr=1e-3,
            optimizer="adam",
            reduction="mean",
            train_subset=images,
        )
        method_fn = build_method(method or {"loss": "natural"})
        train(model, method_fn, split, MNIST_EPS, settings, seed=0)
    return model.eval()
