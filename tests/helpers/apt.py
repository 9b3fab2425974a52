"""Installing the system packages a test needs (Chromium, SLURM) with apt-get, as root."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Sequence


def apt_install(
    packages: Sequence[str],
    *,
    missing: str,
    error: type[Exception],
    timeout: float,
    options: Sequence[str] = (),
) -> None:
    """``apt-get update`` then ``apt-get install -y OPTIONS PACKAGES``; ``error`` starting
    with ``missing`` (what is not there) when not root, without apt-get, or on a failure."""
    if os.geteuid() != 0:
        raise error(
            f"{missing} and installing {' '.join(packages)} needs root (euid {os.geteuid()})"
        )
    if shutil.which("apt-get") is None:
        raise error(f"{missing} and there is no apt-get to install it")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for cmd in (["apt-get", "update"], ["apt-get", "install", "-y", *options, *packages]):
        try:
            proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=timeout)
        except subprocess.TimeoutExpired:
            raise error(f"`{' '.join(cmd)}` timed out after {timeout:.0f}s") from None
        if proc.returncode != 0:
            raise error(
                f"`{' '.join(cmd)}` failed (exit {proc.returncode}): "
                f"{(proc.stderr or proc.stdout).strip()[-500:]}"
            )
