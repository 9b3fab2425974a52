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
import hashlib
import pickle
import re
import tarfile
import zlib
from pathlib import Path
from typing import IO, Any

import numpy as np

from lolip.datasets.prepared import Dataset, DatasetError

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


def _raw_dir(spec: dict[str, Any]) -> Path | None:
    from lolip.datasets import source_dir

    return source_dir(spec, ENV_VAR)


def expected_md5(spec: dict[str, Any]) -> str:
    """The archive's expected MD5: the spec's ``md5`` entry for it, else the published one."""
    return spec.get("md5", {}).get(ARCHIVE, MD5)


def check_md5_option(name: str, spec: dict[str, Any], files: list[str]) -> None:
    """The spec's ``md5`` must map some of ``files`` to 32-digit hex MD5s."""
    md5 = spec.get("md5", {})
    valid = isinstance(md5, dict) and all(
        key in files and isinstance(value, str) and re.fullmatch(r"[0-9a-f]{32}", value)
        for key, value in md5.items()
    )
    if not valid:
        raise DatasetError(
            f"dataset {name!r}: md5 must map file names ({', '.join(files)}) to 32-digit "
            f"lowercase hex MD5s, got {md5!r}"
        )


def check(name: str, spec: dict[str, Any]) -> None:
    check_md5_option(name, spec, [ARCHIVE])
    directory = _raw_dir(spec)
    if directory is None:
        return  # torchvision downloads the archive when the dataset is prepared
    if not (directory / ARCHIVE).is_file():
        raise DatasetError(
            f"dataset {name!r}: CIFAR-10 archive {str(directory / ARCHIVE)!r} not found "
            f"(set 'dir' or ${ENV_VAR} to the directory holding {ARCHIVE})"
        )


def verify_md5(path: Path, md5: str) -> None:
    """Raise :class:`DatasetError` naming ``path`` unless its MD5 is ``md5``."""
    digest = hashlib.md5(usedforsecurity=False)
    with open(path, "rb") as f:
        while block := f.read(1 << 20):
            digest.update(block)
    actual = digest.hexdigest()
    if actual != md5:
        raise DatasetError(
            f"{str(path)!r} is corrupt or not the original: MD5 {actual}, expected {md5}"
        )


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


def _download(resources: Path, md5: str) -> Path:
    from torchvision.datasets import CIFAR10
    from torchvision.datasets.utils import download_url

    root = resources / "cifar10"
    download_url(CIFAR10.url, str(root), ARCHIVE, md5)
    return root


def download(name: str, spec: dict[str, Any], resources: Path) -> Path:
    """Download the archive into ``resources`` (a no-op when it is there and intact)."""
    return _download(resources, expected_md5(spec))


def load(name: str, spec: dict[str, Any], resources: Path) -> Dataset:
    check(name, spec)
    md5 = expected_md5(spec)
    directory = _raw_dir(spec) or _download(resources, md5)
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
