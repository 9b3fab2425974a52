"""The prepared-dataset file: one HDF5 file per dataset, the only thing later stages read.

Layout (format version 1)::

    x_train, x_test   uint8 (pixel / pixel_max is the [0, 1] value) or float32 in [0, 1],
                      shape (N, C, H, W), chunked, gzip-compressed, Fletcher-32 checksummed
    y_train, y_test   int64 labels in 0..K-1
    index_train/test  optional int64: each image's index in the source (e.g. a random split)
    path_train/test   optional variable-length strings: each image's source file
    attrs: name, source, pixel_max, classes (JSON list), provenance (JSON dict), format_version,
           optionally input_size (images stored larger are centre-cropped to it for
           evaluation and randomly cropped for training, as Restricted ImageNet's 72 -> 64)

Storing uint8 keeps files small and lets the separation kernel work on bytes. Training and
evaluation keep a split on their device *as stored* (:class:`Split`: a uint8 Restricted
ImageNet training split is 4 GB, as float32 it would be 16 GB) and convert one batch at a
time: models always see ``x / pixel_max`` as float32.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import h5py
import numpy as np

from lolip.io import atomic_path

if TYPE_CHECKING:
    import torch

FORMAT_VERSION = 1
SPLITS = ("train", "test")


class DatasetError(ValueError):
    """A dataset file or array is missing, corrupt or malformed."""


@dataclass
class Dataset:
    """Images and labels of one dataset, as prepared for every later stage."""

    name: str
    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    pixel_max: float
    classes: list[str]
    source: str
    provenance: dict[str, Any] = field(default_factory=dict)
    extras: dict[str, np.ndarray] = field(default_factory=dict)
    input_size: int | None = None

    def __post_init__(self) -> None:
        validate(self)

    @property
    def n_classes(self) -> int:
        return len(self.classes)

    @property
    def image_shape(self) -> tuple[int, int, int]:
        return tuple(self.x_train.shape[1:])

    def arrays(self, split: str) -> tuple[np.ndarray, np.ndarray]:
        if split not in SPLITS:
            raise ValueError(f"unknown split {split!r} (known: {', '.join(SPLITS)})")
        return getattr(self, f"x_{split}"), getattr(self, f"y_{split}")

    def split(self, split: str, device: torch.device | str = "cpu", crop: bool = True) -> Split:
        """The split's images as stored and its labels, on ``device``.

        With ``crop`` (the default, what models see at evaluation) images stored larger
        than ``input_size`` are centre-cropped to it (a view on the CPU); training crops
        them at random. On the CPU the images share this dataset's memory.
        """
        import torch

        x, y = self.arrays(split)
        if crop:
            x = center_crop(x, self.input_size)
        return Split(
            torch.from_numpy(x).to(device),
            torch.from_numpy(np.asarray(y, dtype=np.int64)).to(device),
            self.pixel_max,
        )


@dataclass
class Split:
    """One split's images as stored (uint8 or float32, NCHW) and long labels, on a device.

    :meth:`images` gives float images in [0, 1] of some rows, one float copy of just them.
    """

    x: torch.Tensor
    y: torch.Tensor
    pixel_max: float

    def __len__(self) -> int:
        return len(self.y)

    def images(self, rows: slice | torch.Tensor) -> torch.Tensor:
        """Float32 images in [0, 1] of ``rows`` (a slice or an index tensor), a new tensor."""
        import torch

        x = self.x[rows]
        if x.dtype == torch.uint8:
            return x.float().div_(self.pixel_max)
        return x.to(torch.float32, copy=True)

    def head(self, n: int) -> Split:
        """The first ``n`` points."""
        return Split(self.x[:n], self.y[:n], self.pixel_max)


def center_crop(x: np.ndarray, size: int | None) -> np.ndarray:
    """The central ``size`` x ``size`` window of NCHW images (unchanged if ``size`` is None)."""
    if size is None or x.shape[-1] == size and x.shape[-2] == size:
        return x
    top, left = (x.shape[-2] - size) // 2, (x.shape[-1] - size) // 2
    return x[..., top : top + size, left : left + size]


def validate(ds: Dataset) -> None:
    """Raise :class:`DatasetError` naming the first problem with ``ds``'s arrays."""
    for split in SPLITS:
        x, y = getattr(ds, f"x_{split}"), getattr(ds, f"y_{split}")
        where = f"dataset {ds.name!r}, x_{split}"
        if x.ndim != 4:
            raise DatasetError(f"{where}: expected shape (N, C, H, W), got {x.shape}")
        if x.dtype not in (np.uint8, np.float32):
            raise DatasetError(f"{where}: expected uint8 or float32, got {x.dtype}")
        if x.dtype == np.float32 and x.size and (np.nanmin(x) < 0 or np.nanmax(x) > 1):
            raise DatasetError(f"{where}: float images must lie in [0, 1]")
        if x.dtype == np.float32 and np.isnan(x).any():
            raise DatasetError(f"{where}: contains NaN")
        if y.shape != (len(x),):
            raise DatasetError(f"{where}: {len(x)} images but labels of shape {y.shape}")
        if len(y) and (y.min() < 0 or y.max() >= len(ds.classes)):
            raise DatasetError(
                f"dataset {ds.name!r}, y_{split}: labels must lie in 0..{len(ds.classes) - 1}"
            )
    if ds.x_train.shape[1:] != ds.x_test.shape[1:]:
        raise DatasetError(
            f"dataset {ds.name!r}: train images {ds.x_train.shape[1:]} and test images "
            f"{ds.x_test.shape[1:]} differ in shape"
        )
    if ds.input_size is not None and min(ds.x_train.shape[-2:]) < ds.input_size:
        raise DatasetError(
            f"dataset {ds.name!r}: input_size {ds.input_size} exceeds the stored images "
            f"{ds.x_train.shape[-2:]}"
        )
    if len(ds.x_train) == 0 or len(ds.x_test) == 0:
        raise DatasetError(f"dataset {ds.name!r}: train and test splits must not be empty")


def write_prepared(path: str | os.PathLike, ds: Dataset) -> None:
    """Write ``ds`` to ``path`` atomically (see the module docstring for the layout)."""
    with atomic_path(path) as tmp, h5py.File(tmp, "w") as f:
        for split in SPLITS:
            x, y = ds.arrays(split)
            chunk = (min(len(x), 256), *x.shape[1:])
            f.create_dataset(
                f"x_{split}", data=x, chunks=chunk, compression="gzip", fletcher32=True
            )
            f.create_dataset(f"y_{split}", data=y.astype(np.int64), fletcher32=True)
        for key, value in ds.extras.items():
            f.create_dataset(key, data=value)
        write_attrs(
            f,
            name=ds.name,
            source=ds.source,
            pixel_max=ds.pixel_max,
            classes=ds.classes,
            provenance=ds.provenance,
            input_size=ds.input_size,
        )


def write_attrs(
    f: h5py.File,
    *,
    name: str,
    source: str,
    pixel_max: float,
    classes: Sequence[str],
    provenance: dict[str, Any],
    input_size: int | None = None,
) -> None:
    """Write the prepared file's attributes (see the module docstring) to the open ``f``."""
    f.attrs.update(
        name=name,
        source=source,
        pixel_max=float(pixel_max),
        classes=json.dumps(list(classes)),
        provenance=json.dumps(provenance, sort_keys=True),
        format_version=FORMAT_VERSION,
    )
    if input_size is not None:
        f.attrs["input_size"] = int(input_size)


def _damaged(path: str | os.PathLike, problem: str) -> DatasetError:
    return DatasetError(
        f"prepared dataset {str(path)!r} {problem}; delete it (the workflow prepares it again)"
    )


def read_prepared(path: str | os.PathLike, head: dict[str, int | None] | None = None) -> Dataset:
    """Read a file written by :func:`write_prepared`; with ``head``, only the first
    ``head[split]`` points of each split (all where None), read from disk alone.

    Every chunk carries a Fletcher-32 checksum, so a damaged or truncated file raises
    :class:`DatasetError` naming it, not silently wrong pixels.
    """
    if not os.path.exists(path):
        raise DatasetError(f"prepared dataset {str(path)!r} does not exist")
    head = head or {}
    try:
        with h5py.File(path, "r") as f:
            if f.attrs.get("format_version") != FORMAT_VERSION:
                raise DatasetError(f"{str(path)!r}: not a lolip dataset file (format version)")
            arrays = {}
            for key in f.keys():
                split = key.rsplit("_", 1)[-1]
                arrays[key] = f[key][: head.get(split)] if split in SPLITS else f[key][()]
            attrs = dict(f.attrs)
    except (OSError, KeyError, ValueError) as err:
        raise _damaged(path, f"is damaged or truncated ({err})") from err
    missing = [k for k in ("x_train", "y_train", "x_test", "y_test") if k not in arrays]
    if missing:
        raise _damaged(path, f"lacks {', '.join(missing)}")
    core = {k: arrays.pop(k) for k in ("x_train", "y_train", "x_test", "y_test")}
    return Dataset(
        name=str(attrs["name"]),
        source=str(attrs["source"]),
        pixel_max=float(attrs["pixel_max"]),
        classes=json.loads(attrs["classes"]),
        provenance=json.loads(attrs["provenance"]),
        extras=arrays,
        input_size=int(attrs["input_size"]) if "input_size" in attrs else None,
        **core,
    )
