"""scikit-learn's bundled ``digits``: 1,797 real 8x8 handwritten digits, offline.

Pixels are integers 0..16, stored as uint8 with ``pixel_max = 16``. The train/test split
is stratified and seeded; the chosen source indices are stored in the prepared file.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from lolip.bounds import setting
from lolip.datasets.entry import SourceOptions, parse_entry
from lolip.datasets.prepared import Dataset

N_IMAGES = 1797


@dataclass(frozen=True, kw_only=True)
class Options(SourceOptions):
    test_fraction: float = setting(
        0.25, type="number", above=0, below=1, description="share of the images held out"
    )
    split_seed: int = setting(0, type="integer", minimum=0, description="seed of the split")


def raw_files(name: str, spec: dict[str, Any]) -> list[Path]:
    return []  # bundled with scikit-learn


def check(name: str, spec: dict[str, Any], cache: Path | None = None) -> dict[str, int]:
    """Split sizes, as scikit-learn's ``train_test_split`` draws them."""
    opts = parse_entry(name, spec, Options)
    n_test = math.ceil(opts.test_fraction * N_IMAGES)
    return {"train": N_IMAGES - n_test, "test": n_test}


def load(name: str, spec: dict[str, Any], resources: Path) -> Dataset:
    # Imported here: the workflow checks configs without loading scikit-learn.
    import sklearn
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    opts = parse_entry(name, spec, Options)
    fraction, seed = opts.test_fraction, opts.split_seed
    bunch = load_digits()
    images = bunch.images.astype(np.uint8)[:, None]  # (1797, 1, 8, 8), values 0..16
    labels = bunch.target.astype(np.int64)
    idx_train, idx_test = train_test_split(
        np.arange(len(labels)), test_size=fraction, stratify=labels, random_state=seed
    )
    idx_train, idx_test = np.sort(idx_train), np.sort(idx_test)
    return Dataset(
        name=name,
        source="digits",
        x_train=images[idx_train],
        y_train=labels[idx_train],
        x_test=images[idx_test],
        y_test=labels[idx_test],
        pixel_max=16.0,
        classes=[str(c) for c in bunch.target_names],
        provenance={
            "origin": "sklearn.datasets.load_digits",
            "sklearn_version": sklearn.__version__,
            "split": "stratified train_test_split",
            "test_fraction": fraction,
            "split_seed": seed,
        },
        extras={"index_train": idx_train, "index_test": idx_test},
    )
