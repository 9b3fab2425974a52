"""The evaluation's workflow jobs, as functions the thin ``workflow_scripts/`` call.

One job per model for the soundness checks (:func:`check_model`), one per (model, attack,
shard) (:func:`attack_model`) and per (model, Lipschitz estimate, shard)
(:func:`estimate_lipschitz`), and the gather (:func:`evaluate_model`, torch-free) into
``metrics.json`` and ``examples.csv``. Each part writes a per-example CSV and a JSON
record; attack and Lipschitz parts keep finished chunks in ``<output>.partial/`` so a killed
job resumes. Every job gets ``eps`` and the evaluation settings (``evaluation``) as params,
each only what its own output depends on.
"""

from __future__ import annotations

import logging
import os
from typing import Any

import pandas as pd

from lolip.evaluation.settings import EvaluationSettings
from lolip.io import WORKFLOW_CACHE, atomic_path, file_sha256, read_json, write_json

log = logging.getLogger("lolip")

PART_DTYPES = {"split": str, "index": "int64"}


def _context(model_path: str, data_path: str, evaluation: dict[str, Any]):
    """The device, the model, the evaluated splits (subsets taken) and the settings."""
    from lolip import datasets
    from lolip.devices import default_device
    from lolip.evaluation.robustness import select
    from lolip.model_file import load_model
    from lolip.precision import set_tf32

    settings = EvaluationSettings.from_dict(evaluation)
    set_tf32(settings.tf32)
    device = default_device()
    head = {"train": settings.subsets.train, "test": settings.subsets.test}
    ds = datasets.read_prepared(data_path, head=head)
    data = select({s: ds.split(s, device) for s in ("train", "test")}, settings.subsets)
    return device, load_model(model_path, device), data, settings


def _fingerprint(kind: str, model_path: str, data_path: str, eps: float, **work: Any) -> str:
    from lolip.evaluation.parts import part_fingerprint

    return part_fingerprint(
        kind=kind,
        eps=eps,
        model=file_sha256(model_path, WORKFLOW_CACHE),
        data=file_sha256(data_path, WORKFLOW_CACHE),
        **work,
    )


def _write_part(frame: pd.DataFrame, record: dict[str, Any], table: str, record_out: str) -> None:
    with atomic_path(table) as tmp:
        frame.to_csv(tmp, index=False)
    write_json(record_out, record)


def check_model(model_path: str, data_path: str, out: str, *, eps: float, evaluation: dict) -> None:
    """The soundness checks and gradient-masking alarms on a sample of each split."""
    from lolip.evaluation.checks import sample_checks
    from lolip.evaluation.verdict import verdict
    from lolip.provenance import provenance

    device, model, data, settings = _context(model_path, data_path, evaluation)
    checks = verdict(sample_checks(model, data, eps, settings), settings.checks.strict)
    write_json(out, {"checks": checks, "provenance": provenance(device)})


def _run_part(
    kind: str,
    model_path: str,
    data_path: str,
    table: str,
    record_out: str,
    *,
    eps: float,
    evaluation: dict,
    work: Any,
    **part: Any,
) -> None:
    """One part (``kind``: an attack, or the Lipschitz estimate) on one shard, resumable.

    ``work(settings)`` is what the part's numbers depend on besides the model, the data
    and the layout of the work: with them, the fingerprint of its chunks.
    """
    from lolip.evaluation.parts import PARTS
    from lolip.provenance import provenance

    device, model, data, settings = _context(model_path, data_path, evaluation)
    fingerprint = _fingerprint(
        kind,
        model_path,
        data_path,
        eps,
        seed=settings.seed,
        batch_size=settings.batch_size,
        chunk_size=settings.chunk_size,
        sizes={s: len(v) for s, v in data.items()},
        **work(settings),
    )
    frame, record = PARTS[kind](
        model, data, eps, settings, scratch=f"{table}.partial", fingerprint=fingerprint, **part
    )
    _write_part(frame, {**record, "provenance": provenance(device)}, table, record_out)


def attack_model(
    model_path: str, data_path: str, table: str, record_out: str, *, name: str, **job: Any
) -> None:
    """Attack ``name`` on shard ``shard`` of ``shards`` of its splits (``job``: the shard
    and shard count, eps and the evaluation settings)."""

    def work(settings: EvaluationSettings) -> dict[str, Any]:
        return {"name": name, "spec": settings.attacks[name], "splits": settings.splits_of(name)}

    _run_part("attack", model_path, data_path, table, record_out, name=name, work=work, **job)


def estimate_lipschitz(
    model_path: str, data_path: str, table: str, record_out: str, **job: Any
) -> None:
    """Clean predictions and the local Lipschitz estimate on shard ``shard`` of ``shards``."""
    from lolip.bounds import to_mapping

    def work(settings: EvaluationSettings) -> dict[str, Any]:
        return {"lipschitz": to_mapping(settings.lipschitz)}

    _run_part("lipschitz", model_path, data_path, table, record_out, work=work, **job)


def read_part(table: str | os.PathLike, record: str | os.PathLike) -> tuple[pd.DataFrame, dict]:
    return pd.read_csv(table, dtype=PART_DTYPES), read_json(record)


def _concat(parts: list[tuple[pd.DataFrame, dict]]) -> tuple[pd.DataFrame, list[dict]]:
    return pd.concat([f for f, _ in parts], ignore_index=True), [r for _, r in parts]


def evaluate_model(
    model_path: str,
    checks_path: str,
    lipschitz: list[tuple[str, str]],
    attacks: dict[str, list[tuple[str, str]]],
    metrics_out: str,
    examples_out: str,
    *,
    eps: float,
    evaluation: dict,
) -> None:
    """Gather the parts (``(table, record)`` paths per shard) into metrics and examples."""
    from lolip.evaluation.gather import gather
    from lolip.model_file import read_metadata

    settings = EvaluationSettings.from_dict(evaluation)
    checked = read_json(checks_path)
    lip = _concat([read_part(*p) for p in lipschitz])
    parts = {name: _concat([read_part(*p) for p in paths]) for name, paths in attacks.items()}
    metrics, examples = gather(eps, settings, checked["checks"], lip, parts)
    provenance = {
        "evaluation": checked["provenance"],
        "lipschitz": [r["provenance"] for r in lip[1]],
        "attacks": {n: [r["provenance"] for r in recs] for n, (_, recs) in parts.items()},
    }
    add_model_metadata(metrics, read_metadata(model_path), provenance)
    write_evaluation(metrics, examples, metrics_out, examples_out)


def add_model_metadata(
    metrics: dict[str, Any], meta: dict[str, Any], provenance: dict[str, Any]
) -> None:
    """Put a lolip model file's metadata (:func:`lolip.model_file.read_metadata`) into an
    evaluation's ``metrics``, with the evaluation's ``provenance`` beside its training's."""
    metrics.update(
        dataset=meta["dataset"],
        arch=meta["arch"],
        method=meta["method"],
        seed=meta["seed"],
        method_resolved=meta["method_resolved"],
        training=meta["training"],
        history=meta["history"],
        provenance={**provenance, "training": meta["provenance"]},
    )
    metrics["seconds"]["training"] = meta["timings"]["train_seconds"]


def write_evaluation(
    metrics: dict[str, Any],
    examples: pd.DataFrame,
    metrics_out: str | os.PathLike,
    examples_out: str | os.PathLike,
) -> None:
    """Write ``metrics.json`` and ``examples.csv``, each atomically (the examples first, so
    a finished ``metrics.json`` means both are there)."""
    with atomic_path(examples_out) as tmp:
        examples.to_csv(tmp, index=False)
    write_json(metrics_out, metrics)
