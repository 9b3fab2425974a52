"""AutoAttack (Croce and Hein 2020) through torchattacks, an optional extra column.

The ``standard`` version runs APGD-CE, APGD-T, FAB-T and Square in turn, each on the points
the previous ones did not break. Point ``i`` is broken if the returned input is
misclassified. torchattacks is imported only when this attack runs, so it is needed only
by configs that ask for this column.

torchattacks' APGD reseeds torch's *global* generator with the seed drawn here from
``generator``; nothing after the attacks in an evaluation draws from it.
"""

from __future__ import annotations

import importlib

import torch
from torch import nn

from lolip.attacks import AttackResult, check_norm, eval_frozen

VERSIONS = ("standard", "plus", "rand")
NORMS = {"linf": "Linf", "l2": "L2"}


def check_settings(*, norm: str, version: str) -> None:
    check_norm(norm)
    if version not in VERSIONS:
        raise ValueError(f"unknown AutoAttack version {version!r} (known: {', '.join(VERSIONS)})")


def autoattack(
    model: nn.Module,
    x: torch.Tensor,
    y: torch.Tensor,
    eps: float,
    *,
    norm: str = "linf",
    version: str = "standard",
    generator: torch.Generator | None = None,
) -> AttackResult:
    """Run torchattacks' AutoAttack at radius ``eps``; broken = ``argmax f(x_adv) != y``."""
    check_settings(norm=norm, version=version)
    try:
        torchattacks = importlib.import_module("torchattacks")
    except ImportError as err:
        raise ImportError(
            "the 'autoattack' attack needs the torchattacks package, which is not installed "
            "(pip install torchattacks, or remove the autoattack entry from the config)"
        ) from err
    seed = int(torch.randint(2**31 - 1, (1,), generator=generator, device=x.device).item())
    with eval_frozen(model):
        with torch.no_grad():
            n_classes = model(x[:1]).shape[1]
        attack = torchattacks.AutoAttack(
            model, norm=NORMS[norm], eps=eps, version=version, n_classes=n_classes, seed=seed
        )
        attack.set_device(x.device)
        x_adv = attack(x, y).detach()
        with torch.no_grad():
            broken = model(x_adv).argmax(1) != y
    return AttackResult(x_adv, broken)
