"""The verdict of an evaluation's checks (torch-free): which failed, which alarms rang.

:mod:`lolip.evaluation.checks` describes the checks. Errors always raise
:class:`EvaluationError`; the gradient-masking alarms (:data:`ALARMS`) are warnings, marked
on the model's table row, unless ``checks.strict``.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping
from typing import Any

log = logging.getLogger("lolip")

ALARMS = ("square_vs_pgd", "large_eps")
# Slack for float32 rounding in x + delta and in the recomputed distance.
BALL_TOLERANCE = 1e-5


class EvaluationError(RuntimeError):
    """A soundness check failed; ``checks`` holds every check's record so far."""

    def __init__(self, message: str, checks: dict[str, Any]) -> None:
        super().__init__(message)
        self.checks = checks


def slack(accuracy: float, n: int) -> float:
    """Two standard errors of a sample accuracy (a fraction) plus one point."""
    return 2 * math.sqrt(accuracy * (1 - accuracy) / n) + 1 / n


def ball_record(distance: float, low: float, high: float, eps: float, norm: str) -> dict[str, Any]:
    """The ``in_ball`` record of an attack's largest distance and value range."""
    tolerance = BALL_TOLERANCE * (1 + eps)
    return {
        "passed": distance <= eps + tolerance and low >= 0 and high <= 1,
        "norm": norm,
        "eps": eps,
        "max_distance": distance,
        "min_value": low,
        "max_value": high,
    }


def failures(checks: dict[str, Any], *, alarms: bool) -> list[str]:
    """``name on where: numbers`` of every failed check, or (``alarms``) every alarm raised."""
    found = []
    for name, per_split in checks.items():
        if not isinstance(per_split, dict) or (name in ALARMS) != alarms:
            continue
        for where, record in check_records(per_split):
            if not record["passed"]:
                found.append(f"{name} on {where}: {_numbers(record)}")
    return found


def verdict(checks: dict[str, Any], strict: bool) -> dict[str, Any]:
    """Raise on failed checks (and alarms when ``strict``); warn about alarms; add the summary
    keys ``masking_suspected``, ``alarms`` and ``all_passed``."""
    errors, alarms = failures(checks, alarms=False), failures(checks, alarms=True)
    checks.update(masking_suspected=bool(alarms), alarms=alarms, all_passed=not errors)
    if errors or (strict and alarms):
        checks["all_passed"] = False
        kind = "soundness check failed" if errors else "gradient masking suspected (strict)"
        raise EvaluationError(f"{kind}: " + "; ".join(errors + alarms * strict), checks)
    for alarm in alarms:
        log.warning("gradient masking suspected: %s", alarm)
    return checks


def check_records(per_split: Mapping[str, Any]) -> list[tuple[str, Mapping[str, Any]]]:
    """A check's records as ``(where, record)``: ``{split: record}`` or
    ``{split: {attack: record}}`` flattened to ``test`` or ``test/pgd``."""
    flat = []
    for split, entry in per_split.items():
        if "passed" in entry:
            flat.append((split, entry))
        else:
            flat.extend((f"{split}/{attack}", record) for attack, record in entry.items())
    return flat


def _numbers(record: dict[str, Any]) -> str:
    return ", ".join(f"{key}={value}" for key, value in record.items() if key != "passed")
