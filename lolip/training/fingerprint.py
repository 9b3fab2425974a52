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
import importlib.util
import json
from pathlib import Path
from typing import Any

# Modules and packages whose source determines the trained weights.
TRAINING_CODE = (
    "lolip.training",
    "lolip.methods",
    "lolip.archs",
    "lolip.perturbation",
    "lolip.precision",
    "lolip.channels_last",
    "lolip.datasets.prepared",
)


def _sources(name: str) -> list[Path]:
    """The source files of a module, or of a package and every module below it, found on
    disk (nothing is imported: fingerprinting must not cost a torchvision import)."""
    spec = importlib.util.find_spec(name)
    if spec is None or spec.origin is None:
        raise ValueError(f"no module {name!r}")
    if spec.submodule_search_locations is None:
        return [Path(spec.origin)]
    return sorted(p for d in spec.submodule_search_locations for p in Path(d).rglob("*.py"))


def code_version(modules: tuple[str, ...] = TRAINING_CODE) -> str:
    """SHA-256 over the path (within lolip) and content of every source file of ``modules``."""
    digest = hashlib.sha256()
    root = Path(importlib.util.find_spec("lolip").origin).parent
    for path in sorted(set().union(*(_sources(m) for m in modules))):
        digest.update(str(path.relative_to(root)).encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


def run_fingerprint(run: dict[str, Any]) -> str:
    """SHA-256 of the canonical JSON of ``run`` plus :func:`code_version`."""
    text = json.dumps({"run": run, "code": code_version()}, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()
