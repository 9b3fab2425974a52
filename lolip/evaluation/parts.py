"""The parts of an evaluation, one per job: an attack on a shard, the Lipschitz estimate on a
shard. Each returns a per-example table and a JSON-able record of what it did.

Attack part (one attack, its splits): per example ``broken`` (some iterate misclassified),
``distance`` (of the returned input from x, in the attack's norm) and, for the
multi-targeted attack, ``target_<t>`` (the run towards class t broke it); the record holds
the attack's complete settings, its library and version, each split's value range of the
returned inputs, timings and provenance.

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
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from torch import nn

from lolip.attacks import attack_spec, build_attack, library
from lolip.bounds import to_mapping
from lolip.datasets.prepared import Split
from lolip.evaluation.chunks import Chunk, plan, run_chunks, shard_chunks
from lolip.evaluation.settings import EvaluationSettings, attack_settings
from lolip.layout import channels_last
from lolip.lipschitz import local_lipschitz
from lolip.noise import noise_for
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
    "lolip.layout",
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


def _batches(chunk: Chunk, size: int) -> list[tuple[int, int]]:
    return [(a, min(a + size, chunk.stop)) for a in range(chunk.start, chunk.stop, size)]


def attack_part(
    model: nn.Module,
    data: dict[str, Split],
    eps: float,
    name: str,
    settings: EvaluationSettings,
    *,
    shard: int = 0,
    shards: int = 1,
    scratch: str | Path | None = None,
    fingerprint: str = "",
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Attack ``name`` of ``settings`` on shard ``shard`` of ``shards`` of its splits."""
    spec = settings.attacks[name]
    attack = build_attack(attack_settings(spec), f"evaluation.attacks.{name}")
    norm = getattr(attack, "norm", "linf")
    block = getattr(attack, "block_size", None)
    sizes = {s: len(data[s]) for s in settings.splits_of(name) if s in data}
    chunks = shard_chunks(plan(sizes, block or settings.chunk_size), shard, shards)

    def compute(chunk: Chunk) -> dict[str, Any]:
        tic = time.perf_counter()
        split = data[chunk.split]
        stream = noise_for(settings.seed, f"{chunk.split}/{name}", chunk.start, chunk.stop)
        broken, distance, targets, low, high = [], [], [], np.inf, -np.inf
        for a, b in _batches(chunk, block or settings.batch_size):
            x, y = split.images(slice(a, b)), split.y[a:b]
            result = attack(model, x, y, eps, stream.select(torch.arange(a, b) - chunk.start))
            broken.append(result.broken.cpu())
            distance.append(_distance(x, result.x_adv, norm).double().cpu())
            low, high = min(low, float(result.x_adv.min())), max(high, float(result.x_adv.max()))
            if result.target_success is not None:
                targets.append(result.target_success.cpu())
        return {
            "split": chunk.split,
            "index": list(range(chunk.start, chunk.stop)),
            "broken": torch.cat(broken).tolist(),
            "distance": torch.cat(distance).tolist(),
            "targets": torch.cat(targets).int().tolist() if targets else None,
            "min_value": low,
            "max_value": high,
            "seconds": time.perf_counter() - tic,
        }

    with eval_frozen(model), channels_last(model):
        results = run_chunks(chunks, compute, scratch=scratch, fingerprint=fingerprint, desc=name)
    frame = _frame(results, ["broken", "distance"], target_prefix="target_")
    ranges = {}
    for r in results:
        low, high = ranges.get(r["split"], (np.inf, -np.inf))
        ranges[r["split"]] = (min(low, r["min_value"]), max(high, r["max_value"]))
    record = {
        "attack": name,
        "spec": attack_spec(attack),
        "splits": list(sizes),
        "library": library(attack),
        "shard": [shard, shards],
        "value_range": {s: list(v) for s, v in ranges.items()},
        "seconds": sum(r["seconds"] for r in results),
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
    sizes = {s: len(split) for s, split in data.items()}
    chunks = shard_chunks(plan(sizes, settings.chunk_size), shard, shards)

    def compute(chunk: Chunk) -> dict[str, Any]:
        tic = time.perf_counter()
        split = data[chunk.split]
        stream = noise_for(settings.seed, f"{chunk.split}/lipschitz", chunk.start, chunk.stop)
        preds, ratios = [], []
        for a, b in _batches(chunk, settings.batch_size):
            x = split.images(slice(a, b))
            with torch.no_grad():
                logits = model(x)
            preds.append(logits.argmax(1).cpu())
            noise = stream.select(torch.arange(a, b) - chunk.start)
            lips = local_lipschitz(
                model, x, eps, settings.lipschitz, noise=noise, clean_logits=logits
            )
            ratios.append(lips.double().cpu())
        return {
            "split": chunk.split,
            "index": list(range(chunk.start, chunk.stop)),
            "label": split.y[chunk.start : chunk.stop].cpu().tolist(),
            "clean_pred": torch.cat(preds).tolist(),
            "lipschitz": torch.cat(ratios).tolist(),
            "seconds": time.perf_counter() - tic,
        }

    with eval_frozen(model), channels_last(model):
        results = run_chunks(
            chunks, compute, scratch=scratch, fingerprint=fingerprint, desc="lipschitz"
        )
    frame = _frame(results, ["label", "clean_pred", "lipschitz"])
    record = {
        "lipschitz": {"eps": eps, **to_mapping(settings.lipschitz)},
        "shard": [shard, shards],
        "seconds": sum(r["seconds"] for r in results),
    }
    return frame, record


def _frame(
    results: list[dict[str, Any]], columns: list[str], target_prefix: str | None = None
) -> pd.DataFrame:
    """The chunks' per-example lists as one table (split, index, columns, targets)."""
    parts = []
    for r in results:
        part = pd.DataFrame(
            {"split": r["split"], "index": r["index"], **{c: r[c] for c in columns}}
        )
        if target_prefix and r.get("targets") is not None:
            table = np.asarray(r["targets"], dtype=bool)
            for t in range(table.shape[1]):
                part[f"{target_prefix}{t}"] = table[:, t]
        parts.append(part)
    if not parts:
        return pd.DataFrame({"split": [], "index": [], **{c: [] for c in columns}})
    return pd.concat(parts, ignore_index=True)
