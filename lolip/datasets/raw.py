"""Helpers shared by the sources that read original raw files (MNIST, CIFAR-10, SVHN, ImageNet).

Where a source's raw files live (the config's ``dir``, else an environment variable), and
the MD5 checks of files read from such a directory: the spec option ``md5`` that overrides
the published checksums, and the check of a file against its expected MD5.
"""

from __future__ import annotations

import hashlib
import os
import re
from pathlib import Path
from typing import Any

from lolip.datasets.prepared import DatasetError


def source_dir(spec: dict[str, Any], env_var: str) -> Path | None:
    """The local directory of a source's raw files: config ``dir``, else ``$env_var``."""
    value = spec.get("dir") or os.environ.get(env_var)
    return Path(value) if value else None


def check_md5_option(name: str, spec: dict[str, Any], files: list[str]) -> None:
    """The spec's ``md5`` must map some of ``files`` to 32-digit hex MD5s."""
    md5 = spec.get("md5") or {}
    valid = isinstance(md5, dict) and all(
        key in files and isinstance(value, str) and re.fullmatch(r"[0-9a-f]{32}", value)
        for key, value in md5.items()
    )
    if not valid:
        raise DatasetError(
            f"dataset {name!r}: md5 must map file names ({', '.join(files)}) to 32-digit "
            f"lowercase hex MD5s, got {md5!r}"
        )


def file_md5(path: Path) -> str:
    """The hex MD5 of the file ``path``."""
    with open(path, "rb") as f:
        return hashlib.file_digest(f, lambda: hashlib.md5(usedforsecurity=False)).hexdigest()


def verify_md5(path: Path, md5: str) -> None:
    """Raise :class:`DatasetError` naming ``path`` unless its MD5 is ``md5``."""
    actual = file_md5(path)
    if actual != md5:
        raise DatasetError(
            f"{str(path)!r} is corrupt or not the original: MD5 {actual}, expected {md5}"
        )
