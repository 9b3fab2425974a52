"""Checkpoints that survive SIGKILL: written atomically, verified by checksum on load.

Two generations are kept (``ckpt.pt`` and ``ckpt.prev.pt``), each with a ``.sha256``
sidecar. A checkpoint whose checksum does not match is reported and skipped: training
resumes from the previous good one, or from scratch.
"""

from __future__ import annotations

import hashlib
import io
import logging
import os
from pathlib import Path
from typing import Any

import torch

from lolip.io import atomic_path

log = logging.getLogger("lolip")


def _sidecar(path: Path) -> Path:
    return path.with_name(path.name + ".sha256")


def _previous(path: Path) -> Path:
    return path.with_name(path.stem + ".prev" + path.suffix)


def save_checkpoint(path: str | os.PathLike, state: dict[str, Any]) -> None:
    """Write ``state`` to ``path`` (atomically), keeping the last one as ``*.prev.pt``."""
    path = Path(path)
    buffer = io.BytesIO()
    torch.save(state, buffer)
    payload = buffer.getvalue()
    if path.exists() and _sidecar(path).exists():
        os.replace(path, _previous(path))
        os.replace(_sidecar(path), _sidecar(_previous(path)))
    with atomic_path(path) as tmp:
        tmp.write_bytes(payload)
    with atomic_path(_sidecar(path)) as tmp:
        tmp.write_text(hashlib.sha256(payload).hexdigest())


def _load_verified(path: Path) -> dict[str, Any] | None:
    if not path.exists():
        return None
    payload = path.read_bytes()
    sidecar = _sidecar(path)
    expected = sidecar.read_text().strip() if sidecar.exists() else None
    if expected != hashlib.sha256(payload).hexdigest():
        log.warning("checkpoint %s is corrupt (checksum mismatch); ignoring it", path)
        return None
    return torch.load(io.BytesIO(payload), map_location="cpu", weights_only=False)


def load_checkpoint(path: str | os.PathLike) -> dict[str, Any] | None:
    """The newest checkpoint at ``path`` whose checksum holds, or None (start from scratch)."""
    path = Path(path)
    for candidate in (path, _previous(path)):
        state = _load_verified(candidate)
        if state is not None:
            log.info("resuming from %s (epoch %d done)", candidate, state["epoch"])
            return state
    if path.exists() or _previous(path).exists():
        log.warning("no usable checkpoint at %s; training from scratch", path)
    return None


def remove_checkpoint(path: str | os.PathLike) -> None:
    path = Path(path)
    for p in (path, _sidecar(path), _previous(path), _sidecar(_previous(path))):
        p.unlink(missing_ok=True)
