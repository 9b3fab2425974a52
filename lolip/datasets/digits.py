"""scikit-learn's bundled ``digits``: 1,797 real 8x8 handwritten digits, offline.

Pixels are integers 0..16, stored as uint8 with ``pixel_max = 16``. The train/test split
is stratified and seeded; the chosen source indices are stored in the prepared file.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from lolip.datasets.prepared import Dataset


def check(name: str, spec: dict[str, Any]) -> None:
    fraction = spec.get("test_fraction", 0.25)
    if not 0 < fraction < 1:
        raise ValueError(f"dataset {name!r}: test_fraction must lie in (0, 1), got {fraction}")


def load(name: str, spec: dict[str, Any], resources: Path) -> Dataset:
    # Imported here: the workflow checks configs without loading scikit-learn.
    import sklearn
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    check(name, spec)
    fraction, seed = spec.get("test_fraction", 0.25), spec.get("split_seed", 0)
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
