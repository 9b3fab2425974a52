"""Dataset sources: each turns a config entry into a :class:`Dataset`.

A config entry names its ``source`` and the source's options, e.g.
``mnist: {source: mnist, eps: 0.1, dir: /data/mnist}``. Every source module has
``check(name, spec)``, cheap and run when the workflow loads (missing files, bad options),
and ``load(name, spec, resources)``, which reads (or downloads into ``resources``) and
verifies the data.
"""

from __future__ import annotations

import importlib
import os
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

from lolip.datasets.prepared import Dataset, DatasetError, read_prepared, write_prepared
from lolip.datasets.raw import source_dir

__all__ = [
    "Dataset",
    "DatasetError",
    "Inspection",
    "check",
    "entry_options",
    "options_class",
    "raw_fingerprint",
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


@dataclass(frozen=True)
class Inspection:
    """What the workflow needs of a dataset entry before any job: its local raw files (the
    preparation's inputs) and the number of points per split."""

    raw: list[str]
    sizes: dict[str, int]


def options_class(source: str) -> type:
    """The dataclass of a source's entry (its options and the common keys)."""
    return _module({"source": source}).Options


def check(
    name: str,
    spec: dict[str, Any],
    *,
    cache: str | os.PathLike | None = None,
    fixture: dict[str, Any] | None = None,
) -> Inspection:
    """Fail fast, naming the problem, if dataset ``name`` cannot be prepared.

    A dataset with a ``fixture`` (its raw files made by the workflow) is checked for its
    options only. ``cache``: where the checks of large files are remembered.
    """
    module = _module(spec)
    if fixture is not None:
        from lolip.bounds import from_mapping
        from lolip.datasets.fixtures import Fixture, fixture_sizes

        entry_options(name, spec)
        made = from_mapping(Fixture, fixture, f"fixtures.{name}")
        return Inspection(
            [str(p) for p in module.raw_files(name, spec)], fixture_sizes(spec["source"], made)
        )
    sizes = module.check(name, spec, Path(cache) if cache is not None else None)
    return Inspection([str(p) for p in module.raw_files(name, spec)], sizes)


def entry_options(name: str, spec: dict[str, Any]) -> Any:
    """The source's options of a dataset entry, checked (a ValueError names the dataset)."""
    from lolip.datasets.entry import parse_entry

    return parse_entry(name, spec, _module(spec).Options)


def raw_fingerprint(
    name: str, spec: dict[str, Any], cache: str | os.PathLike | None = None
) -> dict[str, str]:
    """The content of a dataset's local raw files: SHA-256 per file (a directory tree
    source: the digest of its listing). Changes whenever a file is replaced or edited."""
    from lolip.io import file_sha256

    module = _module(spec)
    if hasattr(module, "fingerprint"):
        return {"tree": module.fingerprint(name, spec)}
    return {str(p): file_sha256(p, cache) for p in module.raw_files(name, spec)}


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
