"""Helpers for the dataset-source tests: checksums and a fake torchvision downloader."""

from __future__ import annotations

import hashlib
from pathlib import Path


def md5_of(path: Path) -> str:
    return hashlib.md5(path.read_bytes()).hexdigest()


def patch_download(monkeypatch, files: dict[str, Path]) -> list[tuple[str, Path, str, str]]:
    """Replace torchvision's ``download_url`` with a copy of ``files[filename]`` into ``root``.

    Returns the list the fake appends each call's ``(url, root, filename, md5)`` to.
    """
    import torchvision.datasets.utils as tv_utils

    calls = []

    def fake_download(url: str, root: str, filename: str, md5: str) -> None:
        calls.append((url, Path(root), filename, md5))
        Path(root).mkdir(parents=True, exist_ok=True)
        (Path(root) / filename).write_bytes(files[filename].read_bytes())

    monkeypatch.setattr(tv_utils, "download_url", fake_download)
    return calls
