"""Dataset sources: each turns a config entry into a :class:`Dataset`.

A config entry names its ``source`` and the source's options, e.g.
``mnist: {source: mnist, eps: 0.1, dir: ../shared/data/mnist}``. Every source module has
``check(name, spec)``, cheap and run when the workflow loads (missing files, bad options),
and ``load(name, spec, resources)``, which reads (or downloads into ``resources``) and
verifies the data.
"""

from __future__ import annotations

import importlib
import os
from pathlib import Path
from types import ModuleType
from typing import Any

from lolip.datasets.prepared import Dataset, DatasetError, read_prepared, write_prepared
from lolip.datasets.raw import source_dir

__all__ = [
    "Dataset",
    "DatasetError",
    "check",
    "download",
    "load",
    "needs_download",
    "prepare",
    "read_prepared",
    "write_prepared",
]

SOURCES: dict[str, str] = {
    "digits": "lolip.datasets.digits",
    "mnist": "lolip.datasets.mnist",
    "npz": "lolip.datasets.npz",
    "cifar10": "lolip.datasets.cifar10",
    "svhn": "lolip.datasets.svhn",
    "resimagenet": "lolip.datasets.resimagenet",
}


def _module(spec: dict[str, Any]) -> ModuleType:
    source = spec.get("source")
    if source not in SOURCES:
        raise ValueError(f"unknown dataset source {source!r} (known: {', '.join(SOURCES)})")
    return importlib.import_module(SOURCES[source])


def needs_download(spec: dict[str, Any]) -> bool:
    """True when the source downloads its raw files (no local ``dir`` or variable given).

    A source can download when its module has ``download``; ``ENV_VAR`` names the variable
    pointing at a local copy instead. The module is imported only here, when asked.
    """
    if spec.get("source") not in SOURCES:
        return False
    module = _module(spec)
    return hasattr(module, "download") and source_dir(spec, module.ENV_VAR) is None


def download(name: str, spec: dict[str, Any], resources: str | os.PathLike = "resources") -> Path:
    """Download dataset ``name``'s raw files into ``resources``; return their directory."""
    return _module(spec).download(name, spec, Path(resources))


def check(name: str, spec: dict[str, Any]) -> None:
    """Fail fast, naming the problem, if dataset ``name`` cannot be prepared."""
    _module(spec).check(name, spec)


def load(name: str, spec: dict[str, Any], resources: str | os.PathLike = "resources") -> Dataset:
    """Read (or download into ``resources``), verify and return dataset ``name``."""
    return _module(spec).load(name, spec, Path(resources))


def prepare(
    name: str,
    spec: dict[str, Any],
    out: str | os.PathLike,
    resources: str | os.PathLike = "resources",
) -> None:
    """Write the prepared HDF5 file of dataset ``name`` to ``out``.

    Sources too large to hold in memory (Restricted ImageNet) write ``out`` themselves,
    incrementally; the others go through :func:`load` and :func:`write_prepared`.
    """
    module = _module(spec)
    if hasattr(module, "prepare"):
        module.prepare(name, spec, Path(out), Path(resources))
    else:
        write_prepared(out, module.load(name, spec, Path(resources)))
