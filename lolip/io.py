"""Atomic file output: a result file either exists complete or not at all.

Every writer goes through :func:`atomic_path`, which hands out a temporary sibling
path and renames it onto the target only when the block finishes without error. A job
killed mid-write leaves at most a ``.tmp-*`` file, never a target that looks complete.
The file gets the mode any tool's new file gets (``0666`` less the umask, so ``0644``
under the usual umask 022): results on a shared filesystem stay readable by colleagues.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import secrets
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

# Where a workflow remembers the checksums of large files (and checks of their content),
# relative to its working directory.
WORKFLOW_CACHE = os.path.join(".snakemake", "lolip")


@contextlib.contextmanager
def atomic_path(target: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path next to ``target``; rename it onto ``target`` on success."""
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp_path = target.parent / f".tmp-{target.name}.{secrets.token_hex(6)}"
    # O_EXCL: a fresh file of our own; 0o666: the umask decides the mode, as for any tool.
    os.close(os.open(tmp_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
    try:
        yield tmp_path
        # A writer may have replaced the file with one of its own mode (safetensors does).
        os.chmod(tmp_path, 0o666 & ~_umask())
        os.replace(tmp_path, target)
    finally:
        tmp_path.unlink(missing_ok=True)


@contextlib.contextmanager
def atomic_dir(target: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary directory next to ``target``; it replaces ``target`` on success."""
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp_path = target.parent / f".tmp-{target.name}.{secrets.token_hex(6)}"
    tmp_path.mkdir()
    try:
        yield tmp_path
        if target.exists():
            shutil.rmtree(target)
        os.replace(tmp_path, target)
    finally:
        if tmp_path.exists():
            shutil.rmtree(tmp_path)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def write_json(path: str | os.PathLike, obj: Any) -> None:
    """Write ``obj`` as indented JSON, atomically."""
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(obj, indent=2, sort_keys=True, default=_jsonable) + "\n")


def read_json(path: str | os.PathLike) -> Any:
    return json.loads(Path(path).read_text())


def _jsonable(value: Any) -> Any:
    if hasattr(value, "tolist"):
        return value.tolist()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"cannot write {type(value).__name__} to JSON")


def file_sha256(path: str | os.PathLike, cache: str | os.PathLike | None = None) -> str:
    """The SHA-256 of a file's content.

    With ``cache`` (a directory), the digest is remembered under the file's identity (its
    absolute path, inode, size, and modification and status-change times), so an
    unchanged file is read once however often it is asked for. Any write changes the
    status-change time, which, unlike the modification time, no program can set back.
    """
    path = Path(path)
    record = None
    if cache is not None:
        st = path.stat()
        identity = (
            f"{path.resolve()}\0{st.st_ino}\0{st.st_size}\0{st.st_mtime_ns}\0{st.st_ctime_ns}"
        )
        record = Path(cache) / (hashlib.sha256(identity.encode()).hexdigest() + ".sha256")
        if record.exists():
            return record.read_text().strip()
    with open(path, "rb") as f:
        digest = hashlib.file_digest(f, "sha256").hexdigest()
    if record is not None:
        with atomic_path(record) as tmp:
            tmp.write_text(digest)
    return digest
