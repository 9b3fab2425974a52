"""MNIST from its four raw IDX files.

Where there is internet, torchvision's :class:`~torchvision.datasets.MNIST` downloads the
files into ``resources/`` (it checks the archives' MD5). On machines without internet the
files are read from a directory: the config's ``dir`` or ``$LOLIP_MNIST_DIR`` (``.gz`` or
decompressed). Either way the *decompressed* content is checked against the SHA-256 of the
original files, so a corrupt or truncated file stops the run, naming the file.
"""

from __future__ import annotations

import gzip
import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from lolip.datasets.entry import SourceOptions, directory, parse_entry
from lolip.datasets.prepared import Dataset, DatasetError
from lolip.datasets.raw import source_dir

ENV_VAR = "LOLIP_MNIST_DIR"

# SHA-256 of the decompressed original files.
SHA256 = {
    "train-images-idx3-ubyte": "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
    "train-labels-idx1-ubyte": "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
    "t10k-images-idx3-ubyte": "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
    "t10k-labels-idx1-ubyte": "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
}
FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}


SIZES = {"train": 60_000, "test": 10_000}


@dataclass(frozen=True, kw_only=True)
class Options(SourceOptions):
    dir: str | None = directory(f"the four IDX files (.gz or raw); else ${ENV_VAR}, else download")


def _find(directory: Path, stem: str) -> Path | None:
    for candidate in (directory / f"{stem}.gz", directory / stem):
        if candidate.is_file():
            return candidate
    return None


def raw_files(name: str, spec: dict[str, Any]) -> list[Path]:
    """The four IDX files of a local copy (.gz if present, else raw); none for a download."""
    directory = source_dir(spec, ENV_VAR)
    if directory is None:
        return []
    return [_find(directory, stem) or directory / f"{stem}.gz" for stem in SHA256]


def check(name: str, spec: dict[str, Any], cache: Path | None = None) -> dict[str, int]:
    parse_entry(name, spec, Options)
    directory = source_dir(spec, ENV_VAR)
    if directory is None:
        return SIZES  # torchvision downloads the files when the dataset is prepared
    if not directory.is_dir():
        raise DatasetError(f"dataset {name!r}: MNIST directory {str(directory)!r} does not exist")
    missing = [stem for stem in SHA256 if _find(directory, stem) is None]
    if missing:
        raise DatasetError(
            f"dataset {name!r}: MNIST file(s) {', '.join(missing)} (.gz or raw) not found in "
            f"{str(directory)!r}"
        )
    return SIZES


def read_idx(path: Path) -> np.ndarray:
    """Read an IDX file (optionally gzip-compressed), verifying its SHA-256.

    IDX: 2 zero bytes, a type byte (0x08 = uint8), the number of dimensions, then each
    dimension as a big-endian int32, then the data.
    """
    stem = path.name.removesuffix(".gz")
    try:
        raw = gzip.decompress(path.read_bytes()) if path.suffix == ".gz" else path.read_bytes()
    except (OSError, EOFError, gzip.BadGzipFile) as err:
        raise DatasetError(f"MNIST file {str(path)!r} is corrupt: {err}") from err
    if hashlib.sha256(raw).hexdigest() != SHA256[stem]:
        raise DatasetError(
            f"MNIST file {str(path)!r} is corrupt or truncated: SHA-256 of its content does "
            "not match the original's"
        )
    ndim = raw[3]
    shape = np.frombuffer(raw, dtype=">i4", count=ndim, offset=4)
    return np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim).reshape(shape).copy()


def download(name: str, spec: dict[str, Any], resources: Path) -> Path:
    """Download the raw files into ``resources`` (a no-op when they are there and intact)."""
    from torchvision.datasets import MNIST

    root = resources / "mnist"
    for train in (True, False):
        MNIST(root=str(root), train=train, download=True)
    return root / "MNIST" / "raw"


def load(name: str, spec: dict[str, Any], resources: Path) -> Dataset:
    check(name, spec)
    directory = source_dir(spec, ENV_VAR) or download(name, spec, resources)
    arrays = {}
    for split, (images, labels) in FILES.items():
        arrays[f"x_{split}"] = read_idx(_find(directory, images))[:, None]
        arrays[f"y_{split}"] = read_idx(_find(directory, labels)).astype(np.int64)
    return Dataset(
        name=name,
        source="mnist",
        pixel_max=255.0,
        classes=[str(i) for i in range(10)],
        provenance={"origin": "MNIST IDX files", "directory": str(directory), "sha256": SHA256},
        **arrays,
    )
