"""SVHN (cropped digits) from its original ``train_32x32.mat`` and ``test_32x32.mat``.

The paper uses these two files only, not the "extra" split. They are read from a directory
(the config's ``dir`` or ``$LOLIP_SVHN_DIR``) or, without one, downloaded by torchvision's
downloader into ``resources/svhn``. Each file's MD5 must equal the published one (``MD5``,
as torchvision's ``SVHN.split_list`` lists them); the spec option ``md5`` (``{file name:
"<hex>"}``) replaces them for a mirror with other bytes. A corrupt file stops the run with
an error naming it.

Each file is a MATLAB v5 file with ``X``, uint8 of shape (32, 32, 3, N) (row, column,
channel, image), and ``y`` of shape (N, 1) with labels 1..10, where 10 is the digit 0.
As torchvision does, label 10 becomes 0, so labels are the digits.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from lolip.datasets.entry import SourceOptions, directory, md5s, parse_entry
from lolip.datasets.prepared import Dataset, DatasetError
from lolip.datasets.raw import check_md5_option, source_dir, verify_md5

ENV_VAR = "LOLIP_SVHN_DIR"
FILES = {"train": "train_32x32.mat", "test": "test_32x32.mat"}
MD5 = {
    "train_32x32.mat": "e26dedcc434d2e4c54c9b2d4a06d8373",
    "test_32x32.mat": "eb5a983be6a315427106f1b164d9cef3",
}


SIZES = {"train": 73_257, "test": 26_032}


@dataclass(frozen=True, kw_only=True)
class Options(SourceOptions):
    dir: str | None = directory(f"holds {' and '.join(MD5)}; else ${ENV_VAR}, else download")
    md5: dict[str, str] | None = md5s(", ".join(MD5))


def raw_files(name: str, spec: dict[str, Any]) -> list[Path]:
    directory = source_dir(spec, ENV_VAR)
    return [] if directory is None else [directory / f for f in FILES.values()]


def expected_md5(spec: dict[str, Any], filename: str) -> str:
    """A file's expected MD5: the spec's ``md5`` entry for it, else the published one."""
    return (spec.get("md5") or {}).get(filename, MD5[filename])


def check(name: str, spec: dict[str, Any], cache: Path | None = None) -> dict[str, int]:
    parse_entry(name, spec, Options)
    check_md5_option(name, spec, list(MD5))
    directory = source_dir(spec, ENV_VAR)
    if directory is None:
        return SIZES  # torchvision downloads the files when the dataset is prepared
    missing = [f for f in FILES.values() if not (directory / f).is_file()]
    if missing:
        raise DatasetError(
            f"dataset {name!r}: SVHN file(s) {', '.join(missing)} not found in "
            f"{str(directory)!r} (set 'dir' or ${ENV_VAR} to the directory holding them)"
        )
    return SIZES


def read_mat(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """Images (uint8 NCHW) and digit labels 0..9 of one SVHN ``.mat`` file."""
    from scipy.io import loadmat
    from scipy.io.matlab import MatReadError

    try:
        mat = loadmat(path, variable_names=["X", "y"])
    except (MatReadError, ValueError, OSError, EOFError, zlib.error, TypeError) as err:
        raise DatasetError(f"SVHN file {str(path)!r} is corrupt: {err!r}") from err
    if "X" not in mat or "y" not in mat:
        raise DatasetError(f"SVHN file {str(path)!r} lacks the variables X and y")
    x, y = mat["X"], mat["y"]
    if x.dtype != np.uint8 or x.ndim != 4 or x.shape[:3] != (32, 32, 3):
        raise DatasetError(
            f"SVHN file {str(path)!r}: expected X uint8 of shape (32, 32, 3, N), "
            f"got {x.dtype} {x.shape}"
        )
    labels = y.reshape(-1)
    if y.shape != (x.shape[3], 1) or not np.isin(labels, np.arange(1, 11)).all():
        raise DatasetError(
            f"SVHN file {str(path)!r}: expected y of shape ({x.shape[3]}, 1) holding "
            f"labels 1..10, got shape {y.shape}"
        )
    labels = labels.astype(np.int64) % 10  # SVHN's label 10 is the digit 0
    return np.ascontiguousarray(x.transpose(3, 2, 0, 1)), labels


def download(name: str, spec: dict[str, Any], resources: Path) -> Path:
    """Download the two files into ``resources`` (a no-op when they are there and intact).

    torchvision's ``download_url`` checks each file against its expected MD5 and raises
    when it differs.
    """
    from torchvision.datasets import SVHN
    from torchvision.datasets.utils import download_url

    root = resources / "svhn"
    for split, filename in FILES.items():
        url = SVHN.split_list[split][0]
        download_url(url, str(root), filename, expected_md5(spec, filename))
    return root


def load(name: str, spec: dict[str, Any], resources: Path) -> Dataset:
    check(name, spec)
    directory = source_dir(spec, ENV_VAR)
    local = directory is not None  # downloaded files were checked by download_url
    if not local:
        directory = download(name, spec, resources)
    arrays, md5s = {}, {}
    for split, filename in FILES.items():
        md5s[filename] = expected_md5(spec, filename)
        if local:
            verify_md5(directory / filename, md5s[filename])
        arrays[f"x_{split}"], arrays[f"y_{split}"] = read_mat(directory / filename)
    return Dataset(
        name=name,
        source="svhn",
        pixel_max=255.0,
        classes=[str(d) for d in range(10)],
        provenance={
            "origin": "SVHN .mat files",
            "directory": str(directory.resolve()),
            "md5": md5s,
        },
        **arrays,
    )
