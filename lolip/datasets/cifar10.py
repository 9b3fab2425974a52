"""CIFAR-10 from its original archive ``cifar-10-python.tar.gz``.

The archive is read from a directory (the config's ``dir`` or ``$LOLIP_CIFAR10_DIR``) or,
without one, downloaded by torchvision's downloader into ``resources/cifar10``. Either way
its MD5 must equal the published one (``MD5``); the spec option ``md5``
(``{"cifar-10-python.tar.gz": "<hex>"}``) replaces it for a mirror that repacked the archive.
A corrupt or truncated archive stops the run with an error naming it.

The archive holds Python 2 pickles (``cifar-10-batches-py/data_batch_1`` .. ``_5``,
``test_batch``, ``batches.meta``): each batch a dict with ``data`` (uint8, one image per row,
3072 bytes = the red, green and blue 32x32 planes, each row-major), ``labels``,
``batch_label`` and ``filenames``; the meta dict's ``label_names`` are the class names.
They are read straight from the archive, without extracting it.
"""

from __future__ import annotations

import gzip
import pickle
import tarfile
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import numpy as np

from lolip.datasets.entry import SourceOptions, directory, md5s, parse_entry
from lolip.datasets.prepared import Dataset, DatasetError
from lolip.datasets.raw import check_md5_option, source_dir, verify_md5

ENV_VAR = "LOLIP_CIFAR10_DIR"
ARCHIVE = "cifar-10-python.tar.gz"
MD5 = "c58f30108f718f92721af3b95e74349a"  # published, and torchvision's CIFAR10.tgz_md5
FOLDER = "cifar-10-batches-py"
BATCHES = {"train": [f"data_batch_{i}" for i in range(1, 6)], "test": ["test_batch"]}
META = "batches.meta"

# The only globals an array pickled by Python 2's or Python 3's numpy needs.
_PICKLE_GLOBALS = {
    ("numpy.core.multiarray", "_reconstruct"),
    ("numpy._core.multiarray", "_reconstruct"),
    ("numpy", "ndarray"),
    ("numpy", "dtype"),
    ("_codecs", "encode"),
}


# What a damaged archive or pickle raises while being read.
_READ_ERRORS = (
    tarfile.TarError,
    EOFError,
    zlib.error,
    gzip.BadGzipFile,
    pickle.UnpicklingError,
    KeyError,
    ValueError,
    OSError,
)


SIZES = {"train": 50_000, "test": 10_000}


@dataclass(frozen=True, kw_only=True)
class Options(SourceOptions):
    dir: str | None = directory(f"holds {ARCHIVE}; else ${ENV_VAR}, else download")
    md5: dict[str, str] | None = md5s(ARCHIVE)


def raw_files(name: str, spec: dict[str, Any]) -> list[Path]:
    directory = source_dir(spec, ENV_VAR)
    return [] if directory is None else [directory / ARCHIVE]


def expected_md5(spec: dict[str, Any]) -> str:
    """The archive's expected MD5: the spec's ``md5`` entry for it, else the published one."""
    return (spec.get("md5") or {}).get(ARCHIVE, MD5)


def check(name: str, spec: dict[str, Any], cache: Path | None = None) -> dict[str, int]:
    parse_entry(name, spec, Options)
    check_md5_option(name, spec, [ARCHIVE])
    directory = source_dir(spec, ENV_VAR)
    if directory is None:
        return SIZES  # torchvision downloads the archive when the dataset is prepared
    if not (directory / ARCHIVE).is_file():
        raise DatasetError(
            f"dataset {name!r}: CIFAR-10 archive {str(directory / ARCHIVE)!r} not found "
            f"(set 'dir' or ${ENV_VAR} to the directory holding {ARCHIVE})"
        )
    return SIZES


class _Unpickler(pickle.Unpickler):
    """Loads the batches' dicts of lists, strings and numpy arrays, and nothing else."""

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) not in _PICKLE_GLOBALS:
            raise pickle.UnpicklingError(f"unexpected global {module}.{name} in a CIFAR-10 batch")
        return super().find_class(module, name)


def _unpickle(stream: IO[bytes]) -> dict[str, Any]:
    # latin1 turns the Python 2 str keys into str and lets numpy read its raw bytes.
    return _Unpickler(stream, encoding="latin1").load()


def read_archive(path: Path) -> dict[str, Any]:
    """Images (uint8 NCHW), labels and class names of both splits from the archive."""
    try:
        with tarfile.open(path, "r:gz") as tar:
            members = {m.name: m for m in tar.getmembers() if m.isfile()}

            def load(member: str) -> dict[str, Any]:
                key = f"{FOLDER}/{member}"
                if key not in members:
                    raise DatasetError(f"CIFAR-10 archive {str(path)!r} lacks {key!r}")
                return _unpickle(tar.extractfile(members[key]))

            out = {"classes": [str(c) for c in load(META)["label_names"]]}
            for split, names in BATCHES.items():
                batches = [_batch(path, name, load(name)) for name in names]
                out[f"x_{split}"] = np.concatenate([x for x, _ in batches])
                out[f"y_{split}"] = np.concatenate([y for _, y in batches])
    except DatasetError:
        raise
    except _READ_ERRORS as err:
        raise DatasetError(f"CIFAR-10 archive {str(path)!r} is corrupt: {err!r}") from err
    return out


def _batch(path: Path, member: str, entry: dict[str, Any]) -> tuple[np.ndarray, np.ndarray]:
    data, labels = np.asarray(entry["data"]), np.asarray(entry["labels"], dtype=np.int64)
    if data.dtype != np.uint8 or data.ndim != 2 or data.shape[1] != 3 * 32 * 32:
        raise DatasetError(
            f"CIFAR-10 archive {str(path)!r}, {member}: expected uint8 data of shape (n, 3072), "
            f"got {data.dtype} {data.shape}"
        )
    if labels.shape != (len(data),):
        raise DatasetError(
            f"CIFAR-10 archive {str(path)!r}, {member}: {len(data)} images but {labels.size} labels"
        )
    return data.reshape(-1, 3, 32, 32), labels


def download(name: str, spec: dict[str, Any], resources: Path) -> Path:
    """Download the archive into ``resources`` (a no-op when it is there and intact).

    torchvision's ``download_url`` checks the archive against the expected MD5 and raises
    when it differs.
    """
    from torchvision.datasets import CIFAR10
    from torchvision.datasets.utils import download_url

    root = resources / "cifar10"
    download_url(CIFAR10.url, str(root), ARCHIVE, expected_md5(spec))
    return root


def load(name: str, spec: dict[str, Any], resources: Path) -> Dataset:
    check(name, spec)
    md5 = expected_md5(spec)
    directory = source_dir(spec, ENV_VAR)
    if directory is None:
        archive = download(name, spec, resources) / ARCHIVE  # download_url checked its MD5
    else:
        archive = directory / ARCHIVE
        verify_md5(archive, md5)
    arrays = read_archive(archive)
    return Dataset(
        name=name,
        source="cifar10",
        pixel_max=255.0,
        classes=arrays.pop("classes"),
        provenance={"origin": ARCHIVE, "archive": str(archive.resolve()), "md5": md5},
        **arrays,
    )
