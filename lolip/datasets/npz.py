"""A user's own dataset as one ``.npz`` file.

Keys ``x_train``, ``y_train``, ``x_test``, ``y_test``. Images are uint8 (0..255) or float
in [0, 1], shaped NHWC, NCHW or NHW (one channel). A 4-D shape is read the one way that
puts 1, 3 or 4 channels on its channel axis (and, of two such ways, the one giving square
images); one that stays ambiguous (``(N, 3, 3, 3)``) is refused unless the entry's
``layout`` says which. Labels are
integers, at least two classes, every test label seen in training; they are mapped to
0..K-1 in sorted order and the original values kept as class names.

Everything is checked when the workflow loads (:func:`check`); the verdict is remembered
under the file's SHA-256, so a large file is read once, not on every invocation.
:func:`read_splits` gives the checked arrays; ``lolip evaluate`` reads an ``.npz`` with it,
where the training split may be left out (``train_optional``).
"""

from __future__ import annotations

import json
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from lolip.bounds import setting
from lolip.datasets.entry import SourceOptions, parse_entry
from lolip.datasets.prepared import Dataset, DatasetError
from lolip.io import atomic_path, file_sha256

KEYS = ("x_train", "y_train", "x_test", "y_test")
SPLITS = ("train", "test")
LAYOUTS = ("auto", "nhwc", "nchw", "nhw")
CHANNELS = (1, 3, 4)


@dataclass(frozen=True, kw_only=True)
class Options(SourceOptions):
    path: str = setting(type="string", description="the .npz file")
    layout: str = setting(
        "auto",
        type="string",
        choices=LAYOUTS,
        description="image axes; auto: NHW, or the one 4-D reading with 1, 3 or 4 channels",
    )


def raw_files(name: str, spec: dict[str, Any]) -> list[Path]:
    return [Path(spec["path"])]


def _path(name: str, spec: dict[str, Any]) -> Path:
    path = Path(parse_entry(name, spec, Options).path)
    if not path.is_file():
        raise DatasetError(f"dataset {name!r}: npz file {str(path)!r} does not exist")
    return path


def _open(name: str, path: Path, keys: tuple[str, ...] = KEYS) -> np.lib.npyio.NpzFile:
    if not zipfile.is_zipfile(path):
        raise DatasetError(
            f"dataset {name!r}: {str(path)!r} is not an .npz file (not a zip archive); "
            "write it with numpy.savez(path, x_train=..., y_train=..., x_test=..., y_test=...)"
        )
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


def _layout(name: str, split: str, shape: tuple[int, ...], layout: str) -> str:
    """The axes of ``x_<split>``: the entry's ``layout``, or the only plausible one."""
    where = f"dataset {name!r}: x_{split} has shape {shape}"
    if len(shape) == 3:
        if layout not in ("auto", "nhw"):
            raise DatasetError(f"{where}, which is not {layout.upper()}")
        return "nhw"
    if len(shape) != 4:
        raise DatasetError(f"{where}; expected NHWC, NCHW or NHW")
    if layout != "auto":
        if layout == "nhw":
            raise DatasetError(f"{where}, which is not NHW")
        return layout
    readings = [
        axes for axes, channels in (("nhwc", shape[-1]), ("nchw", shape[1])) if channels in CHANNELS
    ]
    if len(readings) == 2:  # prefer the reading with square images, if only one has them
        square = [a for a in readings if len(set(_spatial(shape, a))) == 1]
        readings = square if len(square) == 1 else readings
    if len(readings) != 1:
        raise DatasetError(
            f"{where}, which reads as both NHWC and NCHW: say which with "
            f"'layout: nhwc' or 'layout: nchw' in the dataset's entry"
            if readings
            else f"{where}: no axis of 1, 3 or 4 channels; expected NHWC, NCHW or NHW"
        )
    return readings[0]


def _spatial(shape: tuple[int, ...], layout: str) -> tuple[int, ...]:
    return shape[1:3] if layout == "nhwc" else shape[2:4]


def to_nchw(x: np.ndarray, layout: str) -> np.ndarray:
    if layout == "nhw":
        return x[:, None]
    if layout == "nhwc":
        return np.ascontiguousarray(x.transpose(0, 3, 1, 2))
    return x


def _check_pixels(name: str, split: str, x: np.ndarray) -> None:
    where = f"dataset {name!r}: x_{split}"
    if x.dtype == np.uint8:
        return
    if not np.issubdtype(x.dtype, np.floating):
        raise DatasetError(f"{where} must be uint8 (0..255) or float in [0, 1], got {x.dtype}")
    if np.isnan(x).any():
        raise DatasetError(f"{where} holds NaN (at {int(np.isnan(x).sum())} values)")
    low, high = float(x.min()), float(x.max())
    if low < 0 or high > 1:
        hint = " (pixels 0..255 stored as float? store uint8, or divide by 255)" if high > 1 else ""
        raise DatasetError(
            f"{where} has values in [{low}, {high}]; float images must lie in [0, 1]{hint}"
        )


def _check_labels(name: str, raw: dict[str, np.ndarray], splits: tuple[str, ...]) -> np.ndarray:
    """The sorted label values of the first split (training), after checking every split's."""
    for split in splits:
        x, y = raw[f"x_{split}"], raw[f"y_{split}"]
        where = f"dataset {name!r}: y_{split}"
        if len(x) == 0:
            raise DatasetError(
                f"dataset {name!r}: the {split} split is empty (x_{split} has 0 images)"
            )
        if y.ndim != 1 or len(y) != len(x):
            raise DatasetError(f"{where} must be a vector of {len(x)} labels, got shape {y.shape}")
        if not np.issubdtype(y.dtype, np.integer):
            raise DatasetError(f"{where} must hold integers, got {y.dtype}")
    first = splits[0]
    values = np.unique(raw[f"y_{first}"])
    if len(values) < 2:
        raise DatasetError(
            f"dataset {name!r}: y_{first} holds one class ({values.tolist()}); a classifier "
            "needs at least two"
        )
    unseen = np.setdiff1d(raw["y_test"], values)
    if unseen.size:
        raise DatasetError(
            f"dataset {name!r}: test labels {unseen.tolist()} never occur in the training set"
        )
    return values


def _validated(
    name: str, path: Path, layout: str, splits: tuple[str, ...] = SPLITS
) -> dict[str, Any]:
    """Every check of the file's ``splits``; returns what the workflow needs of it."""
    with _open(name, path, tuple(f"{a}_{s}" for s in splits for a in "xy")) as archive:
        raw = {f"{a}_{s}": archive[f"{a}_{s}"] for s in splits for a in "xy"}
    layouts = {s: _layout(name, s, raw[f"x_{s}"].shape, layout) for s in splits}
    for split in splits:
        _check_pixels(name, split, raw[f"x_{split}"])
    values = _check_labels(name, raw, splits)
    return {
        "sizes": {s: len(raw[f"y_{s}"]) for s in splits},
        "layouts": layouts,
        "values": values,
        "raw": raw,
    }


def check(name: str, spec: dict[str, Any], cache: Path | None = None) -> dict[str, int]:
    """Every check of the entry and its file; split sizes. Remembered under the file's
    SHA-256 (and the layout) in ``cache``."""
    opts = parse_entry(name, spec, Options)
    path = _path(name, spec)
    record = None
    if cache is not None:
        key = f"{file_sha256(path, cache)}-{opts.layout}"
        record = Path(cache) / f"npz-{key}.json"
        if record.exists():
            return json.loads(record.read_text())["sizes"]
    sizes = _validated(name, path, opts.layout)["sizes"]
    if record is not None:
        with atomic_path(record) as tmp:
            tmp.write_text(json.dumps({"sizes": sizes}))
    return sizes


def read_splits(
    name: str, path: str | Path, *, layout: str = "auto", train_optional: bool = False
) -> tuple[dict[str, tuple[np.ndarray, np.ndarray]], list[str]]:
    """Each split's images (NCHW, uint8 or float32 in [0, 1]) and labels (0..K-1), and the
    class names (the sorted label values of the training split, else of the test split).

    With ``train_optional`` an npz without both ``x_train`` and ``y_train`` gives the test
    split alone; one of the two without the other is an error.
    """
    path = Path(path)
    splits = SPLITS
    if train_optional:
        with _open(name, path, ()) as archive:
            if "x_train" not in archive.files and "y_train" not in archive.files:
                splits = ("test",)
    checked = _validated(name, path, layout, splits)
    raw, values = checked["raw"], checked["values"]
    xs = {s: to_nchw(raw[f"x_{s}"], checked["layouts"][s]) for s in splits}
    xs = {s: x if x.dtype == np.uint8 else x.astype(np.float32) for s, x in xs.items()}
    if len({x.dtype for x in xs.values()}) > 1:
        xs = {s: x.astype(np.float32) / 255 if x.dtype == np.uint8 else x for s, x in xs.items()}
    labels = {s: np.searchsorted(values, raw[f"y_{s}"]).astype(np.int64) for s in splits}
    return {s: (xs[s], labels[s]) for s in splits}, [str(v) for v in values.tolist()]


def load(name: str, spec: dict[str, Any], resources: Path) -> Dataset:
    path = _path(name, spec)
    arrays, classes = read_splits(name, path, layout=parse_entry(name, spec, Options).layout)
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
        provenance={"origin": "npz", "path": str(path.resolve()), "sha256": file_sha256(path)},
    )
