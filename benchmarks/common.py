"""What the benchmarks share: the real MNIST they run on.

The files are read from ``$LOLIP_MNIST_DIR``, or from ``../shared/data/mnist`` beside the
repository, through :func:`lolip.datasets.load` (which checks their SHA-256).
"""

from __future__ import annotations

import os
from pathlib import Path

from lolip import datasets
from lolip.datasets.prepared import Dataset

ROOT = Path(__file__).resolve().parents[1]


def mnist() -> Dataset:
    directory = os.environ.get("LOLIP_MNIST_DIR", str(ROOT.parent / "shared" / "data" / "mnist"))
    return datasets.load("mnist", {"source": "mnist", "dir": directory})
