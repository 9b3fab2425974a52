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
from lolip.attacks.autoattack import NORMS
from lolip.attacks.base import BlockAttack, Tensor
from lolip.bounds import setting


@dataclass(frozen=True)
class Square(BlockAttack):
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

    def attack_block(self, model: nn.Module, x: Tensor, y: Tensor, eps: float, seed: int) -> Tensor:
        from pyautoattack.square import SquareAttack

        attack = SquareAttack(
            model,
            norm=NORMS[self.norm],
            n_queries=self.n_queries,
            eps=eps,
            p_init=self.p_init,
            seed=seed,
            resc_schedule=False,
            device=x.device,
        )
        with torch.no_grad():
            return attack.perturb(x, y)
