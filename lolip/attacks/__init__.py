"""Evaluation attacks, one module each, all with one call shape.

Every attack is a function ``attack(model, x, y, eps, *, generator=None, **settings)``
returning an :class:`AttackResult`: the worst-case inputs it found and, per example, whether
*any* iterate of *any* restart (of any target) was misclassified. Robust accuracy is read off
``broken``, not off ``x_adv`` alone, so a point broken at an intermediate iterate stays broken.

Inputs are float NCHW tensors in [0, 1] on the device to use; models map them to logits.
Attacks run the model in eval mode with its parameters frozen (:func:`eval_frozen`) and
restore the caller's state afterwards.

A config entry names the attack type and its settings, e.g.
``pgd_strong: {type: pgd, steps: 100, step_size: 0.1, restarts: 5}``; :func:`build_attack`
checks it and fills in the defaults, which are the paper's.
"""

from __future__ import annotations

import inspect
import sys
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from lolip.perturbation import eval_frozen, linf_box, model_mode
from lolip.registry import lookup

__all__ = ["eval_frozen", "linf_box", "model_mode"]

ATTACKS: dict[str, str] = {
    "pgd": "lolip.attacks.pgd:pgd",
    "multitarget": "lolip.attacks.multitarget:multitarget",
    "autoattack": "lolip.attacks.autoattack:autoattack",
}


@dataclass
class AttackResult:
    """What an attack found on a batch of N points.

    ``x_adv``: (N, ...) per point a misclassified iterate if one was found (the first),
    else the iterate with the largest cross-entropy on the true label.
    ``broken``: (N,) bool, True if any iterate of any restart was misclassified.
    ``target_success``: (N, K) bool for targeted attacks run towards every class: True
    where the run towards class k misclassified the point (always False for k = y).
    """

    x_adv: torch.Tensor
    broken: torch.Tensor
    target_success: torch.Tensor | None = None


def check_norm(norm: str) -> None:
    if norm not in ("linf", "l2"):
        raise ValueError(f"unknown norm {norm!r} (known: linf, l2)")


def check_count(name: str, value: Any, minimum: int) -> None:
    """``value`` must be an int (not a bool) of at least ``minimum``."""
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")


def check_nonnegative(name: str, value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, int | float) or not value >= 0:
        raise ValueError(f"{name} must be a number >= 0, got {value!r}")


@dataclass(frozen=True)
class Attack:
    """An attack type with all its settings fixed: ``attack(model, x, y, eps, generator)``."""

    type: str
    settings: dict[str, Any] = field(default_factory=dict)

    def __call__(
        self,
        model: nn.Module,
        x: torch.Tensor,
        y: torch.Tensor,
        eps: float,
        generator: torch.Generator | None = None,
    ) -> AttackResult:
        fn = lookup("attack", self.type, ATTACKS)
        return fn(model, x, y, eps, generator=generator, **self.settings)

    def spec(self) -> dict[str, Any]:
        """The complete config entry, defaults included, for the run's metrics."""
        return {"type": self.type, **self.settings}


def attack_defaults(attack_type: str) -> dict[str, Any]:
    """The keyword settings of ``attack_type`` and their (paper) defaults."""
    fn = lookup("attack", attack_type, ATTACKS)
    return {
        name: param.default
        for name, param in inspect.signature(fn).parameters.items()
        if param.kind is inspect.Parameter.KEYWORD_ONLY and name != "generator"
    }


def build_attack(spec: dict[str, Any]) -> Attack:
    """Check a config entry ``{type: ..., setting: value, ...}`` and fill in defaults.

    Raises ValueError naming an unknown type, an unknown setting or a bad value.
    """
    if not isinstance(spec, dict) or "type" not in spec:
        raise ValueError(
            f"attack spec {spec!r} needs a 'type' key (known: {', '.join(sorted(ATTACKS))})"
        )
    settings = dict(spec)
    attack_type = settings.pop("type")
    defaults = attack_defaults(attack_type)
    unknown = sorted(set(settings) - set(defaults))
    if unknown:
        raise ValueError(
            f"attack type {attack_type!r} has no setting {', '.join(map(repr, unknown))} "
            f"(known: {', '.join(defaults)})"
        )
    settings = {**defaults, **settings}
    fn = lookup("attack", attack_type, ATTACKS)
    sys.modules[fn.__module__].check_settings(**settings)
    return Attack(attack_type, settings)
