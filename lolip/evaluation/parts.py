"""The parts of an evaluation, one per job: an attack on a shard, the Lipschitz estimate on a
shard. Each returns a per-example table and a JSON-able record of what it did.

Attack part (one attack, its splits): per example ``broken`` (some iterate misclassified),
``distance`` (of the returned input from x, in the attack's norm), ``min_value`` and
``max_value`` (the returned input's range) and, for the multi-targeted attack,
``target_<t>`` (the run towards class t broke it); the record holds the attack's complete
settings, its library and version, timings and provenance.

Lipschitz part (every evaluated split): per example ``label``, ``clean_pred`` (argmax of
the logits f(x), which the estimate starts from) and ``lipschitz``.

Both run in chunks (:mod:`lolip.evaluation.chunks`), in batches of ``batch_size`` within a
chunk (a library attack's chunk is its block), with per-example random draws from the
stream ``<split>/<attack>`` or ``<split>/lipschitz``.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd
import torch
from torch import nn

from lolip.attacks import attack_spec, build_attack, library
from lolip.bounds import to_mapping
from lolip.channels_last import channels_last
from lolip.datasets.prepared import Split
from lolip.evaluation.chunks import Chunk, plan, run_chunks, shard_chunks
from lolip.evaluation.settings import EvaluationSettings, attack_settings
from lolip.lipschitz import local_lipschitz
from lolip.noise import ExampleNoise, noise_for
from lolip.perturbation import eval_frozen
from lolip.training.fingerprint import code_version

# Modules and packages whose source determines an evaluation's numbers.
EVALUATION_CODE = (
    "lolip.evaluation",
    "lolip.attacks",
    "lolip.lipschitz",
    "lolip.noise",
    "lolip.perturbation",
    "lolip.precision",
    "lolip.channels_last",
    "lolip.archs",
    "lolip.datasets.prepared",
)


def part_fingerprint(**work: Any) -> str:
    """SHA-256 of the work's description and of the evaluation code."""
    text = json.dumps({"work": work, "code": code_version(EVALUATION_CODE)}, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()


def _distance(x: torch.Tensor, x_adv: torch.Tensor, norm: str) -> torch.Tensor:
    diff = (x_adv - x).flatten(1)
    return diff.abs().amax(1) if norm == "linf" else diff.norm(dim=1)


Batch = Callable[[torch.Tensor, torch.Tensor, ExampleNoise], dict[str, list]]


def _chunked(
    data: dict[str, Split],
    sizes: dict[str, int],
    settings: EvaluationSettings,
    *,
    stream: str,
    batch: Batch,
    block: int | None,
    shard: int,
    shards: int,
    scratch: str | Path | None,
    fingerprint: str,
) -> tuple[pd.DataFrame, float]:
    """``batch(x, y, noise)`` (per-example columns) over every example of shard ``shard``
    of ``shards``, in resumable chunks; the table, with ``split`` and ``index``, and the
    seconds spent. ``block``: a library attack's block, its chunk and batch alike."""
    chunks = shard_chunks(plan(sizes, block or settings.chunk_size), shard, shards)
    size = block or settings.batch_size

    def compute(chunk: Chunk) -> dict[str, Any]:
        tic = time.perf_counter()
        split = data[chunk.split]
        draws = noise_for(settings.seed, f"{chunk.split}/{stream}", chunk.start, chunk.stop)
        columns: dict[str, list] = {}
        for a in range(chunk.start, chunk.stop, size):
            b = min(a + size, chunk.stop)
            noise = draws.select(torch.arange(a, b) - chunk.start)
            for key, values in batch(split.images(slice(a, b)), split.y[a:b], noise).items():
                columns.setdefault(key, []).extend(values)
        index = list(range(chunk.start, chunk.stop))
        return {
            "split": chunk.split,
            "index": index,
            "columns": columns,
            "seconds": time.perf_counter() - tic,
        }

    results = run_chunks(chunks, compute, scratch=scratch, fingerprint=fingerprint, desc=stream)
    # Columns in name order: a chunk read back from its (key-sorted) JSON has them so.
    frames = [
        pd.DataFrame(
            {"split": r["split"], "index": r["index"], **dict(sorted(r["columns"].items()))}
        )
        for r in results
    ]
    frame = (
        pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=["split", "index"])
    )
    return frame, sum(r["seconds"] for r in results)


def attack_part(
    model: nn.Module,
    data: dict[str, Split],
    eps: float,
    settings: EvaluationSettings,
    *,
    name: str,
    shard: int = 0,
    shards: int = 1,
    scratch: str | Path | None = None,
    fingerprint: str = "",
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Attack ``name`` of ``settings`` on shard ``shard`` of ``shards`` of its splits."""
    attack = build_attack(attack_settings(settings.attacks[name]), f"evaluation.attacks.{name}")
    norm = getattr(attack, "norm", "linf")
    sizes = {s: len(data[s]) for s in settings.splits_of(name) if s in data}

    def batch(x: torch.Tensor, y: torch.Tensor, noise: ExampleNoise) -> dict[str, list]:
        result = attack(model, x, y, eps, noise)
        flat = result.x_adv.flatten(1)
        columns = {
            "broken": result.broken.tolist(),
            "distance": _distance(x, result.x_adv, norm).double().tolist(),
            "min_value": flat.amin(1).double().tolist(),
            "max_value": flat.amax(1).double().tolist(),
        }
        if result.target_success is not None:
            for t, success in enumerate(result.target_success.T):
                columns[f"target_{t}"] = success.tolist()
        return columns

    with eval_frozen(model), channels_last(model):
        frame, seconds = _chunked(
            data,
            sizes,
            settings,
            stream=name,
            batch=batch,
            block=getattr(attack, "block_size", None),
            shard=shard,
            shards=shards,
            scratch=scratch,
            fingerprint=fingerprint,
        )
    record = {
        "attack": name,
        "spec": attack_spec(attack),
        "splits": list(sizes),
        "library": library(attack),
        "shard": [shard, shards],
        "seconds": seconds,
    }
    return frame, record


def lipschitz_part(
    model: nn.Module,
    data: dict[str, Split],
    eps: float,
    settings: EvaluationSettings,
    *,
    shard: int = 0,
    shards: int = 1,
    scratch: str | Path | None = None,
    fingerprint: str = "",
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Clean predictions and the local Lipschitz estimate on shard ``shard`` of ``shards``."""

    def batch(x: torch.Tensor, y: torch.Tensor, noise: ExampleNoise) -> dict[str, list]:
        with torch.no_grad():
            logits = model(x)
        lips = local_lipschitz(model, x, eps, settings.lipschitz, noise=noise, clean_logits=logits)
        return {
            "label": y.tolist(),
            "clean_pred": logits.argmax(1).tolist(),
            "lipschitz": lips.double().tolist(),
        }

    with eval_frozen(model), channels_last(model):
        frame, seconds = _chunked(
            data,
            {s: len(split) for s, split in data.items()},
            settings,
            stream="lipschitz",
            batch=batch,
            block=None,
            shard=shard,
            shards=shards,
            scratch=scratch,
            fingerprint=fingerprint,
        )
    record = {
        "lipschitz": {"eps": eps, **to_mapping(settings.lipschitz)},
        "shard": [shard, shards],
        "seconds": seconds,
    }
    return frame, record


# The parts by kind, as the workflow's jobs name them.
PARTS = {"attack": attack_part, "lipschitz": lipschitz_part}
