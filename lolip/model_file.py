"""The trained-model file: safetensors weights, JSON metadata, and a checksum of both.

A model file is a `safetensors <https://huggingface.co/docs/safetensors>`_ file: a JSON
header (tensor names, dtypes, shapes, offsets, and string metadata), then the raw tensor
bytes. Reading one parses JSON and copies bytes; unlike a pickle it can run no code, so a
model file someone shared is safe to open. The header's metadata holds:

- ``format`` (``lolip-model``) and ``format_version``,
- ``arch`` and ``arch_kwargs`` (JSON): what :func:`lolip.archs.build_arch` rebuilds,
- ``lolip`` (JSON): the run's metadata (method, settings, history, provenance),
- ``sha256``: the SHA-256 of every tensor (name, dtype, shape and bytes, in name order)
  and of the other metadata entries, so that damaged bytes anywhere are detected on load.

A missing, truncated or damaged file stops its reader with :class:`ModelFileError`,
naming the path and saying to delete it (the workflow then retrains it).
"""

from __future__ import annotations

import hashlib
import json
import os
import struct
from typing import Any

import torch
from torch import nn

from lolip.archs import build_arch
from lolip.io import atomic_path

FORMAT = "lolip-model"
FORMAT_VERSION = "1"


class ModelFileError(ValueError):
    """A model file is missing, truncated, damaged or not a lolip model file."""


def _fail(path: str | os.PathLike, problem: str) -> ModelFileError:
    return ModelFileError(
        f"model file {str(path)!r} {problem}; delete it (the workflow retrains it) or "
        "replace it with a good copy"
    )


def _digest(tensors: dict[str, torch.Tensor], fields: dict[str, str]) -> str:
    h = hashlib.sha256()
    for name in sorted(tensors):
        t = tensors[name].contiguous()
        h.update(f"{name}\0{t.dtype}\0{tuple(t.shape)}\0".encode())
        h.update(t.view(-1).view(torch.uint8).numpy().tobytes())
    h.update(json.dumps(fields, sort_keys=True).encode())
    return h.hexdigest()


def save_model(
    path: str | os.PathLike,
    model: nn.Module,
    *,
    arch: str,
    arch_kwargs: dict[str, int],
    metadata: dict[str, Any],
) -> None:
    """Write ``model`` to ``path`` atomically, with what :func:`load_model` needs to rebuild it."""
    from safetensors.torch import save_file

    tensors = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    fields = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "arch": arch,
        "arch_kwargs": json.dumps(arch_kwargs, sort_keys=True),
        "lolip": json.dumps(metadata, sort_keys=True, default=str),
    }
    with atomic_path(path) as tmp:
        save_file(tensors, str(tmp), metadata={**fields, "sha256": _digest(tensors, fields)})


def read_header(path: str | os.PathLike) -> dict[str, str]:
    """The metadata strings of a model file's header, without reading its tensors or torch.

    safetensors layout: an 8-byte little-endian header length, then that many bytes of JSON.
    """
    try:
        with open(path, "rb") as f:
            (length,) = struct.unpack("<Q", f.read(8))
            if length > os.path.getsize(path) - 8:
                raise ValueError("header longer than the file")
            header = json.loads(f.read(length))
    except FileNotFoundError:
        raise ModelFileError(f"model file {str(path)!r} does not exist") from None
    except (OSError, ValueError, struct.error, UnicodeDecodeError) as err:
        raise _fail(path, f"is truncated or damaged, or not a safetensors file ({err})") from None
    fields = header.get("__metadata__") if isinstance(header, dict) else None
    if not isinstance(fields, dict) or fields.get("format") != FORMAT:
        raise _fail(path, "is not a lolip model file (no lolip-model metadata)")
    return fields


def read_metadata(path: str | os.PathLike) -> dict[str, Any]:
    """The run's metadata (``lolip`` entry) of a model file, without loading its weights."""
    return json.loads(read_header(path)["lolip"])


def load_model(path: str | os.PathLike, device: torch.device | str = "cpu") -> nn.Module:
    """Rebuild a saved model in eval mode: float NCHW inputs in [0, 1] -> logits.

    The run's metadata (method, settings, versions) is at ``model.lolip_metadata``. The
    checksum is verified first: a damaged file raises :class:`ModelFileError`.
    """
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    fields = read_header(path)
    if fields.get("format_version") != FORMAT_VERSION:
        raise _fail(
            path, f"has format version {fields.get('format_version')!r}, not {FORMAT_VERSION}"
        )
    try:
        tensors = load_file(str(path))
    except (SafetensorError, OSError, ValueError) as err:
        raise _fail(path, f"is truncated or damaged ({err})") from None
    expected = fields.pop("sha256", None)
    if _digest(tensors, fields) != expected:
        raise _fail(path, "is damaged: its checksum does not match its contents")
    model = build_arch(fields["arch"], **json.loads(fields["arch_kwargs"]))
    try:
        model.load_state_dict(tensors)
    except RuntimeError as err:
        raise _fail(path, f"does not fit architecture {fields['arch']!r} ({err})") from None
    model.lolip_metadata = json.loads(fields["lolip"])
    return model.to(device).eval()
