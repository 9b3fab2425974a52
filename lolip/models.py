"""The trained-model file: architecture name, its arguments, weights and run metadata."""

from __future__ import annotations

import os
from typing import Any

import torch
from torch import nn

from lolip.archs import build_arch
from lolip.io import atomic_path


def save_model(
    path: str | os.PathLike,
    model: nn.Module,
    *,
    arch: str,
    arch_kwargs: dict[str, int],
    metadata: dict[str, Any],
) -> None:
    """Write ``model`` to ``path`` atomically, with what :func:`load_model` needs to rebuild it."""
    state = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    with atomic_path(path) as tmp:
        torch.save(
            {"arch": arch, "arch_kwargs": arch_kwargs, "state_dict": state, "metadata": metadata},
            tmp,
        )


def load_model(path: str | os.PathLike, device: torch.device | str = "cpu") -> nn.Module:
    """Rebuild a saved model in eval mode: float NCHW inputs in [0, 1] -> logits.

    The run's metadata (method, settings, versions) is at ``model.lolip_metadata``.
    """
    saved = torch.load(path, map_location=device, weights_only=False)
    model = build_arch(saved["arch"], **saved["arch_kwargs"])
    model.load_state_dict(saved["state_dict"])
    model.lolip_metadata = saved["metadata"]
    return model.to(device).eval()
