"""The evaluation's metrics and per-example table, from its parts (torch-free).

Adversarial accuracy counts a point as correct if it is classified correctly *and* no
iterate of the attack was misclassified (the clean point lies in its own eps-ball).

Metrics (accuracies in percent, ``{split}`` each evaluated split):

- ``{split}_acc``, ``adv_{split}_acc`` (attack ``pgd``), ``adv_{split}_acc_{name}`` (every
  other attack, on the splits it ran on), ``{split}_lipschitz`` (mean estimate),
  ``n_{split}`` (points evaluated);
- ``gap = train_acc - test_acc`` and ``adv_gap = adv_train_acc - adv_test_acc``;
- ``{name}_target_success`` for multi-targeted attacks: per split, ``success[t]`` the number
  of points broken by the run towards class ``t`` and ``attempted[t]`` the number of points
  whose label is not ``t``;
- ``eps``, ``settings`` (the evaluation settings, defaults included), ``attacks`` (each
  attack's complete settings, its splits, and its library with version), ``checks``
  (:mod:`lolip.evaluation.checks`) and ``seconds``.

Per-example table (one row per evaluated point, saved as CSV):

=====================  ======  ========================================================
column                 type    meaning
=====================  ======  ========================================================
split                  str     split name
index                  int     position of the point in the split
label                  int     true label y
clean_pred             int     argmax f(x)
clean_correct          bool    clean_pred == label
broken_{name}          bool    some iterate of attack ``name`` was misclassified (empty
                               on a split the attack did not run on)
{name}_target_{t}      bool    multi-targeted attacks: the run towards class t broke it
lipschitz              float   max ||f(x) - f(x')||_1 / ||x - x'||_inf found
=====================  ======  ========================================================
"""

from __future__ import annotations

import copy
from typing import Any

import pandas as pd

from lolip.bounds import to_mapping
from lolip.evaluation.settings import PAPER_ATTACK, SPLITS, EvaluationSettings
from lolip.evaluation.verdict import ball_record, verdict


def gather(
    eps: float,
    settings: EvaluationSettings,
    checks: dict[str, Any],
    lipschitz: tuple[pd.DataFrame, list[dict[str, Any]]],
    attacks: dict[str, tuple[pd.DataFrame, list[dict[str, Any]]]],
) -> tuple[dict[str, Any], pd.DataFrame]:
    """Metrics and the per-example table from the parts' tables and records (all shards).

    Raises :class:`lolip.evaluation.checks.EvaluationError` if a check fails.
    """
    checks = copy.deepcopy(checks)
    examples = lipschitz[0].copy()
    examples.insert(4, "clean_correct", examples["clean_pred"] == examples["label"])
    key = ["split", "index"]
    for name, (frame, records) in attacks.items():
        targets = sorted(
            (c for c in frame.columns if c.startswith("target_")), key=lambda c: int(c[7:])
        )
        columns = {"broken": f"broken_{name}"} | {c: f"{name}_{c}" for c in targets}
        part = frame[[*key, *columns]].rename(columns=columns)
        examples = examples.merge(part, on=key, how="left", validate="one_to_one")
        _check_attack(name, frame, records, examples, eps, checks)
    ordered = ["split", "index", "label", "clean_pred", "clean_correct"]
    rest = [c for c in examples.columns if c not in ordered and c != "lipschitz"]
    examples = examples[[*ordered, *rest, "lipschitz"]]
    examples = examples.sort_values(key, key=_split_order, kind="stable", ignore_index=True)

    metrics: dict[str, Any] = {"eps": eps}
    for split in [s for s in SPLITS if s in set(examples["split"])]:
        for key, value in _split_metrics(
            split, examples[examples["split"] == split], attacks
        ).items():
            if key.endswith("_target_success"):
                metrics.setdefault(key, {}).update(value)
            else:
                metrics[key] = value
    if "train_acc" in metrics and "test_acc" in metrics:
        metrics["gap"] = metrics["train_acc"] - metrics["test_acc"]
    if "adv_train_acc" in metrics and "adv_test_acc" in metrics:
        metrics["adv_gap"] = metrics["adv_train_acc"] - metrics["adv_test_acc"]
    metrics["settings"] = to_mapping(settings)
    metrics["attacks"] = {
        name: {k: records[0][k] for k in ("spec", "splits", "library")}
        for name, (_, records) in attacks.items()
    }
    metrics["checks"] = verdict(checks, settings.checks.strict)
    metrics["seconds"] = {
        "lipschitz_and_clean": sum(r["seconds"] for r in lipschitz[1]),
        "attacks": {n: sum(r["seconds"] for r in recs) for n, (_, recs) in attacks.items()},
    }
    return metrics, examples


def _split_order(column: pd.Series) -> pd.Series:
    return column.map(SPLITS.index) if column.name == "split" else column


def _check_attack(
    name: str,
    frame: pd.DataFrame,
    records: list[dict[str, Any]],
    examples: pd.DataFrame,
    eps: float,
    checks: dict[str, Any],
) -> None:
    """The full-run checks of one attack: ``in_ball`` and ``adv_not_above_clean``."""
    norm = records[0]["spec"].get("norm", "linf")
    for split in records[0]["splits"]:
        rows = frame[frame["split"] == split]
        low, high = (
            (float(rows["min_value"].min()), float(rows["max_value"].max()))
            if len(rows)
            else (0.0, 0.0)
        )
        distance = float(rows["distance"].max()) if len(rows) else 0.0
        checks.setdefault("in_ball", {}).setdefault(split, {})[name] = ball_record(
            distance, low, high, eps, norm
        )
        on_split = examples[examples["split"] == split]
        clean_acc = 100 * float(on_split["clean_correct"].mean())
        attack_acc = 100 * float((~on_split[f"broken_{name}"].astype(bool)).mean())
        checks.setdefault("adv_not_above_clean", {}).setdefault(split, {})[name] = {
            "passed": attack_acc <= clean_acc,
            "clean_acc": clean_acc,
            "attack_acc": attack_acc,
        }


def _split_metrics(split: str, frame: pd.DataFrame, attacks: dict[str, Any]) -> dict[str, Any]:
    correct = frame["clean_correct"].to_numpy(dtype=bool)
    metrics: dict[str, Any] = {
        f"n_{split}": len(frame),
        f"{split}_acc": 100 * float(correct.mean()),
        f"{split}_lipschitz": float(frame["lipschitz"].mean()),
    }
    for name in attacks:
        broken = frame[f"broken_{name}"]
        if broken.isna().any():
            continue  # the attack did not run on this split
        robust = correct & ~broken.to_numpy(dtype=bool)
        key = f"adv_{split}_acc" if name == PAPER_ATTACK else f"adv_{split}_acc_{name}"
        metrics[key] = 100 * float(robust.mean())
        targets = sorted(
            (c for c in frame.columns if c.startswith(f"{name}_target_")),
            key=lambda c: int(c.rsplit("_", 1)[1]),
        )
        if targets:
            labels = frame["label"].to_numpy()
            metrics.setdefault(f"{name}_target_success", {})[split] = {
                "success": [int(frame[c].astype(bool).sum()) for c in targets],
                "attempted": [int((labels != t).sum()) for t in range(len(targets))],
            }
    return metrics
