"""AutoAttack (Croce and Hein 2020), the authors' own package ``pyautoattack``.

The ``standard`` version runs APGD-CE, APGD-T (targeted DLR), FAB-T and Square in turn,
each on the points the previous ones left unbroken, at the official settings: 100
iterations for APGD and FAB, 9 target classes (or K - 1 with fewer classes), 5,000
queries for Square: the protocol of RobustBench. Point ``i`` is broken if the returned
input is misclassified (a clean mistake counts as broken). ``n_iter`` and ``n_queries``
override the official counts, for smoke runs only; the metrics file records them.

The package draws from torch's global generator for a whole batch, so this attack runs on
blocks of ``block_size`` examples aligned at multiples of it, each seeded by its first
example's index (:meth:`lolip.noise.ExampleNoise.block_seed`): the result of a point is
then fixed by the block it falls in, whatever the evaluation's batching or sharding. The
package's log (its stage-by-stage robust accuracies and its own warnings about
randomised or dynamic models) goes to the job's log.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import torch
from torch import nn

from lolip import search
from lolip.attacks.base import BlockAttack, Tensor
from lolip.bounds import setting

VERSIONS = ("standard", "plus", "rand")
NORMS = {"linf": "Linf", "l2": "L2"}
TARGET_CLASSES = 9


@dataclass(frozen=True)
class AutoAttack(BlockAttack):
    """AutoAttack through the official package; ``broken = argmax f(x_adv) != y``."""

    name: ClassVar[str] = "autoattack"

    norm: str = search.norm()
    version: str = setting("standard", type="string", choices=VERSIONS)
    block_size: int = setting(
        500,
        type="integer",
        minimum=1,
        description="examples per AutoAttack call and per seed (the randomness block)",
    )
    n_iter: int | None = setting(
        None,
        type="integer",
        minimum=1,
        nullable=True,
        description="APGD and FAB iterations (null: the official 100)",
    )
    n_queries: int | None = setting(
        None,
        type="integer",
        minimum=1,
        nullable=True,
        description="Square's queries (null: the official 5,000)",
    )

    def attack_block(self, model: nn.Module, x: Tensor, y: Tensor, eps: float, seed: int) -> Tensor:
        from pyautoattack import AutoAttack as Official

        with torch.no_grad():
            n_classes = model(x[:1]).shape[1]
        attack = Official(
            model, device=x.device, eps=eps, norm=NORMS[self.norm], seed=seed, version=self.version
        )
        targets = min(TARGET_CLASSES, n_classes - 1)
        attack.apgd_targeted.n_target_classes = targets
        attack.fab.n_target_classes = targets
        if self.n_iter is not None:
            for stage in (attack.apgd, attack.apgd_targeted, attack.fab):
                stage.n_iter = self.n_iter
        if self.n_queries is not None:
            attack.square.n_queries = self.n_queries
        x_adv, _ = attack.run_standard_evaluation(x, y, batch_size=self.block_size)
        return x_adv
