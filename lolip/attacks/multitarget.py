"""Multi-targeted attack (the paper's appendix): targeted PGD towards every other class.

For every class ``t != y`` a targeted PGD *minimises* CE(f(x'), t) (the loss towards the
target; not a margin)::

    x'_{k+1} = P(x'_k - alpha * s(grad_{x'} CE(f(x'_k), t)))

from its own random start, ``alpha = step_size * eps``. Point ``i`` is broken if any iterate
of any run towards any target is misclassified (``argmax f(x') != y``, landing on ``t`` or on
another wrong class). The original code instead kept the target with the largest probability
gain, which can miss a target that succeeded.

Paper protocol: 20 steps of eps / 10 (``step_size=0.1``), one random start per target.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import torch
from torch import nn

from lolip import search
from lolip.attacks import AttackResult
from lolip.attacks.base import Tensor
from lolip.attacks.pgd import PGD
from lolip.noise import ExampleNoise


@dataclass(frozen=True)
class MultiTarget(PGD):
    """Targeted PGD towards each of the K - 1 wrong classes; ``step_size`` in units of eps.

    ``target_success[i, t]`` records whether the run towards class ``t`` broke point ``i``.
    Targets run one after the other (each with all restarts stacked), so memory stays that
    of one PGD run; each target's starts are drawn per example under its own key.
    """

    name: ClassVar[str] = "multitarget"

    steps: int = search.steps(20)
    step_size: float = search.step_size(0.1)

    def run(
        self, model: nn.Module, x: Tensor, y: Tensor, eps: float, noise: ExampleNoise
    ) -> AttackResult:
        with torch.no_grad():
            n_classes = model(x[:1]).shape[1]
        success = torch.zeros(x.shape[0], n_classes, dtype=torch.bool, device=x.device)
        x_best = x.clone()
        score_best = torch.full((x.shape[0],), -torch.inf, device=x.device)
        rows = torch.arange(x.shape[0], device=x.device)
        for shift in range(1, n_classes):
            target = (y + shift) % n_classes
            x_adv, broken, score = self.ascend(
                model, x, y, eps, noise, key=f"shift{shift}", target=target
            )
            success[rows, target] = broken
            stronger = score > score_best
            x_best = torch.where(stronger.view((-1,) + (1,) * (x.dim() - 1)), x_adv, x_best)
            score_best = torch.where(stronger, score, score_best)
        return AttackResult(x_best, success.any(1), success)
