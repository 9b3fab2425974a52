"""Checkpoints that survive SIGKILL and never resume the wrong run.

A checkpoint holds the full training state (weights, optimiser, scheduler, RNG states,
history, the position inside an epoch) and the *fingerprint* of the run that wrote it
(:mod:`lolip.training.fingerprint`): everything that determines the trained weights.
Loading under another fingerprint discards the checkpoint, saying so, and training starts
from scratch; a config change never continues an old run.

Two generations are kept (``ckpt.pt`` and ``ckpt.prev.pt``), each written atomically with
a ``.sha256`` sidecar; one whose checksum does not match is reported and skipped. Files are
read with ``weights_only=True``: a checkpoint holds tensors, numbers, strings, lists and
dicts only, so unpickling one can run no code.
"""

from __future__ import annotations

import hashlib
import io
import logging
import os
import pickle
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
    try:
        return torch.load(io.BytesIO(payload), map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as err:
        log.warning("checkpoint %s holds more than weights and is refused (%s)", path, err)
        return None


def load_checkpoint(
    path: str | os.PathLike, fingerprint: str | None = None
) -> dict[str, Any] | None:
    """The newest checkpoint at ``path`` whose checksum holds, or None (start from scratch).

    With ``fingerprint``, a checkpoint of another run is discarded (its files removed) with
    a warning, and None is returned.
    """
    path = Path(path)
    for candidate in (path, _previous(path)):
        state = _load_verified(candidate)
        if state is None:
            continue
        if fingerprint is not None and state.get("fingerprint") != fingerprint:
            log.warning(
                "checkpoint %s was written under other settings (fingerprint %s, this run "
                "%s: method, training settings, data, seed or training code changed); "
                "discarding it and training from scratch",
                candidate,
                str(state.get("fingerprint"))[:12],
                fingerprint[:12],
            )
            remove_checkpoint(path)
            return None
        done = f"epoch {state['epoch']} done" + (
            f", {state['batch']} batches into the next" if state.get("batch") else ""
        )
        log.info("resuming from %s (%s)", candidate, done)
        return state
    if path.exists() or _previous(path).exists():
        log.warning("no usable checkpoint at %s; training from scratch", path)
    return None


def remove_checkpoint(path: str | os.PathLike) -> None:
    path = Path(path)
    for p in (path, _sidecar(path), _previous(path), _sidecar(_previous(path))):
        p.unlink(missing_ok=True)
