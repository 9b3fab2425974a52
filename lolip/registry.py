"""Name -> implementation lookups shared by architectures, methods, attacks and datasets.

Entries are ``"module:attribute"`` strings imported on first use, so a registry lists
every known name without importing torchvision's ResNets to train a digits CNN.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from typing import Any


def lookup(kind: str, name: str, table: Mapping[str, str]) -> Callable[..., Any]:
    """Return the object registered under ``name``; unknown names list the known ones."""
    if name not in table:
        raise ValueError(f"unknown {kind} {name!r} (known: {', '.join(sorted(table))})")
    module, attr = table[name].split(":")
    return getattr(importlib.import_module(module), attr)
