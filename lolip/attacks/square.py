"""The Square attack (Andriushchenko et al. 2020), from the AutoAttack package.

A score-based black-box attack: random square-shaped updates at the vertices of the
l_inf ball (or random l_2 windows) accepted when they lower the margin loss
``f_y(x') - max_{k != y} f_k(x')``; it needs no gradient, so a model whose gradients are
useless (gradient masking) does not fool it. ``n_queries`` forward passes per point at
most; ``p_init`` is the initial share of pixels a square covers. Point ``i`` is broken if
the returned input is misclassified. Seeded per block of examples, as
:class:`lolip.attacks.autoattack.AutoAttack`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import torch
from torch import nn

from lolip import search
from lolip.attacks import AttackResult
from lolip.attacks.autoattack import NORMS, PACKAGE, package_version
from lolip.bounds import check_fields, setting
from lolip.noise import ExampleNoise, noise_for
from lolip.perturbation import eval_frozen
from lolip.precision import full_precision


@dataclass(frozen=True)
class Square:
    """Square attack through the official package; ``broken = argmax f(x_adv) != y``."""

    name: ClassVar[str] = "square"

    norm: str = search.norm()
    n_queries: int = setting(1000, type="integer", minimum=1, description="queries per point")
    p_init: float = setting(
        0.8, type="number", above=0, maximum=1, description="initial square size (pixel share)"
    )
    block_size: int = setting(
        500, type="integer", minimum=1, description="examples per call and per seed"
    )

    def __post_init__(self) -> None:
        check_fields(self)

    def library(self) -> dict[str, str]:
        return {"name": PACKAGE, "version": package_version()}

    def __call__(
        self,
        model: nn.Module,
        x: torch.Tensor,
        y: torch.Tensor,
        eps: float,
        noise: ExampleNoise | None = None,
    ) -> AttackResult:
        from pyautoattack.square import SquareAttack

        noise = noise or noise_for(0, "", 0, len(y))
        x_adv = torch.empty_like(x)
        with eval_frozen(model), full_precision(x.device), torch.no_grad():
            for start in range(0, len(y), self.block_size):
                rows = slice(start, start + self.block_size)
                block = noise.select(torch.arange(len(y))[rows])
                attack = SquareAttack(
                    model,
                    norm=NORMS[self.norm],
                    n_queries=self.n_queries,
                    eps=eps,
                    p_init=self.p_init,
                    seed=block.block_seed(self.name),
                    resc_schedule=False,
                    device=x.device,
                )
                x_adv[rows] = attack.perturb(x[rows], y[rows])
            broken = model(x_adv).argmax(1) != y
        return AttackResult(x_adv, broken)
