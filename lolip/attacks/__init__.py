"""Evaluation attacks, one module each, all with one call shape.

Every attack is a frozen dataclass of its settings (bounded fields, the paper's defaults),
called as ``attack(model, x, y, eps, noise) -> AttackResult``: the worst-case inputs it found
and, per example, whether *any* iterate of *any* restart (of any target) was
misclassified. Robust accuracy is read off ``broken``, not off ``x_adv`` alone, so a point
broken at an intermediate iterate stays broken. ``noise`` (:mod:`lolip.noise`) draws every
random start per example, so an example's result does not depend on its batch.

Inputs are float NCHW tensors in [0, 1] on the device to use; models map them to logits.
Attacks run the model in eval mode with its parameters frozen
(:func:`lolip.perturbation.eval_frozen`), in fp32, and restore the caller's state.

Attacks from other libraries (AutoAttack, Square) have a ``block_size``: they are seeded
per block of that many examples, aligned at its multiples (see :mod:`lolip.noise`).

A config entry names the attack type and its settings, e.g.
``pgd_strong: {type: pgd, steps: 100, step_size: 0.1, restarts: 5}``; :func:`build_attack`
checks it and fills in the defaults.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch

from lolip.bounds import from_mapping, to_mapping
from lolip.registry import lookup

ATTACKS: dict[str, str] = {
    "pgd": "lolip.attacks.pgd:PGD",
    "multitarget": "lolip.attacks.multitarget:MultiTarget",
    "autoattack": "lolip.attacks.autoattack:AutoAttack",
    "square": "lolip.attacks.square:Square",
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


def attack_class(attack_type: str) -> type:
    return lookup("attack", attack_type, ATTACKS)


def build_attack(spec: dict[str, Any], where: str = "attack") -> Any:
    """The attack of a config entry ``{type: ..., setting: value, ...}``, defaults filled in.

    Raises ValueError naming an unknown type, an unknown setting or a bad value.
    """
    if not isinstance(spec, dict) or "type" not in spec:
        raise ValueError(f"{where}: {spec!r} needs a 'type' (known: {', '.join(ATTACKS)})")
    settings = dict(spec)
    return from_mapping(attack_class(settings.pop("type")), settings, where)


def attack_spec(attack: Any) -> dict[str, Any]:
    """The complete config entry of ``attack``, defaults included, for the run's metrics."""
    return {"type": attack.name, **to_mapping(attack)}


def library(attack: Any) -> dict[str, str] | None:
    """The package an attack comes from, with its version (None: lolip's own)."""
    return attack.library() if hasattr(attack, "library") else None
