"""The fingerprint of a training run: everything that determines its trained weights.

``fingerprint = sha256`` of the canonical JSON of the architecture and its arguments, the
resolved method (class and every hyperparameter), the training settings (defaults
included), eps, the seed, the SHA-256 of the prepared data file, and the code version of
the training path: the SHA-256 of the source of every module that computes the weights
(:data:`TRAINING_CODE`). A checkpoint records it; a run resumes only from a checkpoint with
its own fingerprint (:func:`lolip.training.checkpoint.load_checkpoint`).
"""

from __future__ import annotations

import hashlib
import importlib
import json
import pkgutil
from pathlib import Path
from typing import Any

# Modules and packages whose source determines the trained weights.
TRAINING_CODE = (
    "lolip.training",
    "lolip.methods",
    "lolip.archs",
    "lolip.perturbation",
    "lolip.precision",
    "lolip.layout",
    "lolip.datasets.prepared",
)


def _sources(name: str) -> list[Path]:
    module = importlib.import_module(name)
    if not hasattr(module, "__path__"):
        return [Path(module.__file__)]
    files = [Path(module.__file__)]
    for info in pkgutil.walk_packages(module.__path__, prefix=f"{name}."):
        module_file = importlib.import_module(info.name).__file__
        files.extend(_sources(info.name) if info.ispkg else [Path(module_file)])
    return files


def code_version(modules: tuple[str, ...] = TRAINING_CODE) -> str:
    """SHA-256 over the path (within lolip) and content of every source file of ``modules``."""
    digest = hashlib.sha256()
    root = Path(importlib.import_module("lolip").__file__).parent
    for path in sorted(set().union(*(_sources(m) for m in modules))):
        digest.update(str(path.relative_to(root)).encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


def run_fingerprint(run: dict[str, Any]) -> str:
    """SHA-256 of the canonical JSON of ``run`` plus :func:`code_version`."""
    text = json.dumps({"run": run, "code": code_version()}, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()
