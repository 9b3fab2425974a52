"""Which device a job computes on."""

from __future__ import annotations

import os

import torch


def default_device() -> torch.device:
    """``$LOLIP_DEVICE`` if set, else CUDA when available, else the CPU."""
    name = os.environ.get("LOLIP_DEVICE") or ("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)
