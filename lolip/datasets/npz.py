"""A user's own dataset as one ``.npz`` file.

Keys ``x_train``, ``y_train``, ``x_test``, ``y_test``. Images are uint8 (0..255) or float
in [0, 1], shaped NHWC or NCHW (or NHW for one channel). Labels are any integers; they are
mapped to 0..K-1 in sorted order and the original values kept as class names.

:func:`read_splits` gives the checked arrays; ``lolip evaluate`` reads an ``.npz`` with it,
where the training split may be left out (``train_optional``).
"""

from __future__ import annotations

import zipfile
from pathlib import Path
from typing import Any

import numpy as np

from lolip.datasets.prepared import Dataset, DatasetError

KEYS = ("x_train", "y_train", "x_test", "y_test")


def _path(name: str, spec: dict[str, Any]) -> Path:
    if "path" not in spec:
        raise DatasetError(f"dataset {name!r}: an npz source needs a 'path'")
    path = Path(spec["path"])
    if not path.is_file():
        raise DatasetError(f"dataset {name!r}: npz file {str(path)!r} does not exist")
    return path


def _open(name: str, path: Path, keys: tuple[str, ...] = KEYS) -> np.lib.npyio.NpzFile:
    try:
        archive = np.load(path, allow_pickle=False)
    except (OSError, ValueError, zipfile.BadZipFile) as err:
        raise DatasetError(f"dataset {name!r}: {str(path)!r} is not a readable npz: {err}") from err
    if not isinstance(archive, np.lib.npyio.NpzFile):
        raise DatasetError(f"dataset {name!r}: {str(path)!r} is a single array, not an npz")
    missing = [k for k in keys if k not in archive.files]
    if missing:
        archive.close()
        raise DatasetError(
            f"dataset {name!r}: {str(path)!r} lacks key(s) {', '.join(missing)} "
            f"(has: {', '.join(archive.files)})"
        )
    return archive


def check(name: str, spec: dict[str, Any]) -> None:
    path = _path(name, spec)
    with _open(name, path) as archive:
        for split in ("train", "test"):
            x, y = archive[f"x_{split}"], archive[f"y_{split}"]
            _to_nchw(name, split, x)
            _check_labels(name, split, x, y)


def _to_nchw(name: str, split: str, x: np.ndarray) -> np.ndarray:
    if x.ndim == 3:
        return x[:, None]
    if x.ndim != 4:
        raise DatasetError(
            f"dataset {name!r}: x_{split} must be NHWC, NCHW or NHW, got shape {x.shape}"
        )
    channels_last = x.shape[-1] in (1, 3, 4) and x.shape[1] not in (1, 3, 4)
    return np.ascontiguousarray(x.transpose(0, 3, 1, 2)) if channels_last else x


def _check_labels(name: str, split: str, x: np.ndarray, y: np.ndarray) -> None:
    if y.ndim != 1 or len(y) != len(x):
        raise DatasetError(
            f"dataset {name!r}: y_{split} must be a vector of {len(x)} labels, got shape {y.shape}"
        )
    if not np.issubdtype(y.dtype, np.integer):
        raise DatasetError(f"dataset {name!r}: y_{split} must hold integers, got {y.dtype}")


def _pixels(name: str, split: str, x: np.ndarray) -> np.ndarray:
    if x.dtype == np.uint8:
        return x
    if not np.issubdtype(x.dtype, np.floating):
        raise DatasetError(f"dataset {name!r}: x_{split} must be uint8 or float, got {x.dtype}")
    if x.size and (np.isnan(x).any() or x.min() < 0 or x.max() > 1):
        raise DatasetError(f"dataset {name!r}: float x_{split} must lie in [0, 1] without NaN")
    return x.astype(np.float32)


def read_splits(
    name: str, path: str | Path, *, train_optional: bool = False
) -> tuple[dict[str, tuple[np.ndarray, np.ndarray]], list[str]]:
    """Each split's images (NCHW, uint8 or float32 in [0, 1]) and labels (0..K-1), and the
    class names (the sorted label values of the training split, else of the test split).

    With ``train_optional`` an npz without both ``x_train`` and ``y_train`` gives the test
    split alone; one of the two without the other is an error.
    """
    path = Path(path)
    splits = ("train", "test")
    if train_optional:
        with _open(name, path, ()) as archive:
            if "x_train" not in archive.files and "y_train" not in archive.files:
                splits = ("test",)
    with _open(name, path, tuple(f"{a}_{s}" for s in splits for a in "xy")) as archive:
        raw = {s: (archive[f"x_{s}"], archive[f"y_{s}"]) for s in splits}
    for split, (x, y) in raw.items():
        _check_labels(name, split, x, y)
    xs = {s: _pixels(name, s, _to_nchw(name, s, x)) for s, (x, _) in raw.items()}
    if len({x.dtype for x in xs.values()}) > 1:
        xs = {s: x.astype(np.float32) / 255 if x.dtype == np.uint8 else x for s, x in xs.items()}
    values = np.unique(raw[splits[0]][1])
    unseen = np.setdiff1d(raw["test"][1], values)
    if unseen.size:
        raise DatasetError(
            f"dataset {name!r}: test labels {unseen.tolist()} never occur in the training set"
        )
    arrays = {s: (xs[s], np.searchsorted(values, raw[s][1]).astype(np.int64)) for s in splits}
    return arrays, [str(v) for v in values.tolist()]


def load(name: str, spec: dict[str, Any], resources: Path) -> Dataset:
    path = _path(name, spec)
    arrays, classes = read_splits(name, path)
    (x_train, y_train), (x_test, y_test) = arrays["train"], arrays["test"]
    return Dataset(
        name=name,
        source="npz",
        x_train=x_train,
        y_train=y_train,
        x_test=x_test,
        y_test=y_test,
        pixel_max=255.0 if x_train.dtype == np.uint8 else 1.0,
        classes=classes,
        provenance={"origin": "npz", "path": str(path.resolve())},
    )
