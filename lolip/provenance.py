"""Versions and machine facts recorded in every model, evaluation part and metrics file."""

from __future__ import annotations

import platform
import subprocess
from pathlib import Path
from typing import Any

import torch

import lolip
from lolip.precision import state as numerics


def git_commit() -> str | None:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            cwd=Path(__file__).parent,
            capture_output=True,
            text=True,
            check=True,
        )
    except (OSError, subprocess.CalledProcessError):
        return None
    return out.stdout.strip()


def provenance(device: torch.device) -> dict[str, Any]:
    """lolip, torch and Python versions, the git commit, the device and the numerics in force."""
    return {
        "lolip_version": lolip.__version__,
        "git_commit": git_commit(),
        "torch_version": torch.__version__,
        "python_version": platform.python_version(),
        "device": str(device),
        "device_name": torch.cuda.get_device_name(device) if device.type == "cuda" else None,
        "threads": torch.get_num_threads(),
        "numerics": numerics(),
    }
