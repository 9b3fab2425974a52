"""A model's evaluation under the paper's protocol, in one process.

:func:`evaluate_robustness` is what the workflow does over several jobs (the soundness
checks, the Lipschitz estimate with the clean predictions, one part per attack, then the
gather), with the same functions and the same per-example random draws, so on the same
device it gives the workflow's numbers exactly. It takes any ``torch.nn.Module`` that maps
float NCHW inputs in [0, 1] to logits: a model lolip trained or one of your own.
"""

from __future__ import annotations

from typing import Any

import pandas as pd
import torch
from torch import nn

from lolip.datasets.prepared import Split
from lolip.evaluation.checks import sample_checks
from lolip.evaluation.gather import gather
from lolip.evaluation.parts import attack_part, lipschitz_part
from lolip.evaluation.settings import SPLITS, EvaluationSettings, Subsets
from lolip.evaluation.verdict import verdict
from lolip.precision import set_tf32


def select(data: dict[str, Split], subsets: Subsets) -> dict[str, Split]:
    """The first ``subsets.<split>`` points of each split; errors name a misfit."""
    if not data:
        raise ValueError("an evaluation needs at least one split, got none")
    out = {}
    for split in SPLITS:
        n = getattr(subsets, split)
        if split not in data:
            if n is not None:
                raise ValueError(
                    f"evaluation setting subsets.{split} = {n}, but there is no split {split!r}"
                )
            continue
        if len(data[split]) == 0:
            raise ValueError(f"split {split!r} is empty")
        if n is not None and n > len(data[split]):
            raise ValueError(
                f"evaluation setting subsets.{split} = {n}, but split {split!r} has only "
                f"{len(data[split])} points"
            )
        out[split] = data[split] if n is None else data[split].head(n)
    unknown = set(data) - set(SPLITS)
    if unknown:
        raise ValueError(f"unknown split(s) {sorted(unknown)} (known: {', '.join(SPLITS)})")
    return out


def evaluate_splits(
    model: nn.Module, data: dict[str, Split], eps: float, settings: EvaluationSettings
) -> tuple[dict[str, Any], pd.DataFrame]:
    """Checks, Lipschitz estimate, every attack and the metrics, on ``data`` (subsets taken)."""
    set_tf32(settings.tf32)
    data = select(data, settings.subsets)
    checks = verdict(sample_checks(model, data, eps, settings), settings.checks.strict)
    frame, record = lipschitz_part(model, data, eps, settings)
    attacks = {}
    for name in settings.attacks:
        attack_frame, attack_record = attack_part(model, data, eps, settings, name=name)
        attacks[name] = (attack_frame, [attack_record])
    return gather(eps, settings, checks, (frame, [record]), attacks)


def evaluate_robustness(
    model: nn.Module,
    x: torch.Tensor,
    y: torch.Tensor,
    eps: float,
    *,
    x_train: torch.Tensor | None = None,
    y_train: torch.Tensor | None = None,
    settings: dict[str, Any] | EvaluationSettings | None = None,
) -> tuple[dict[str, Any], pd.DataFrame]:
    """Evaluate ``model`` on test inputs ``x`` (float NCHW in [0, 1], or uint8 0..255) and
    labels ``y`` at radius ``eps``, and on a training split if given (for the gaps).

    ``settings``: the workflow config's ``evaluation:`` section (defaults: the paper's
    protocol: PGD-10, the local Lipschitz estimate, every soundness check). Returns the
    metrics (as the workflow's ``metrics.json``) and the per-example table (as its
    ``examples.csv``). Raises :class:`lolip.evaluation.verdict.EvaluationError` if a
    soundness check fails.
    """
    if not isinstance(settings, EvaluationSettings):
        settings = EvaluationSettings.from_dict(settings)
    data = {"test": _split(x, y)}
    if x_train is not None:
        data["train"] = _split(x_train, y_train)
    return evaluate_splits(model, data, eps, settings)


def _split(x: torch.Tensor, y: torch.Tensor) -> Split:
    pixel_max = 255.0 if x.dtype == torch.uint8 else 1.0
    return Split(x, torch.as_tensor(y, dtype=torch.long, device=x.device), pixel_max)
