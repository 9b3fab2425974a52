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

import importlib.metadata
from dataclasses import dataclass
from typing import ClassVar

import torch
from torch import nn

from lolip import search
from lolip.attacks import AttackResult
from lolip.bounds import check_fields, setting
from lolip.noise import ExampleNoise, noise_for
from lolip.perturbation import eval_frozen
from lolip.precision import full_precision

VERSIONS = ("standard", "plus", "rand")
NORMS = {"linf": "Linf", "l2": "L2"}
PACKAGE = "pyautoattack"
TARGET_CLASSES = 9


def package_version() -> str:
    return importlib.metadata.version(PACKAGE)


@dataclass(frozen=True)
class AutoAttack:
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

    def __post_init__(self) -> None:
        check_fields(self)

    def library(self) -> dict[str, str]:
        return {"name": PACKAGE, "version": package_version()}

    def build(self, model: nn.Module, eps: float, n_classes: int, seed: int, device) -> object:
        """The package's ``AutoAttack`` object for one block."""
        from pyautoattack import AutoAttack as Official

        attack = Official(
            model, device=device, eps=eps, norm=NORMS[self.norm], seed=seed, version=self.version
        )
        targets = min(TARGET_CLASSES, n_classes - 1)
        attack.apgd_targeted.n_target_classes = targets
        attack.fab.n_target_classes = targets
        if self.n_iter is not None:
            for stage in (attack.apgd, attack.apgd_targeted, attack.fab):
                stage.n_iter = self.n_iter
        if self.n_queries is not None:
            attack.square.n_queries = self.n_queries
        return attack

    def __call__(
        self,
        model: nn.Module,
        x: torch.Tensor,
        y: torch.Tensor,
        eps: float,
        noise: ExampleNoise | None = None,
    ) -> AttackResult:
        noise = noise or noise_for(0, "", 0, len(y))
        x_adv = torch.empty_like(x)
        with eval_frozen(model), full_precision(x.device):
            with torch.no_grad():
                n_classes = model(x[:1]).shape[1]
            for start in range(0, len(y), self.block_size):
                rows = slice(start, start + self.block_size)
                block = noise.select(torch.arange(len(y))[rows])
                attack = self.build(model, eps, n_classes, block.block_seed(self.name), x.device)
                x_adv[rows], _ = attack.run_standard_evaluation(
                    x[rows], y[rows], batch_size=self.block_size
                )
            with torch.no_grad():
                broken = model(x_adv).argmax(1) != y
        return AttackResult(x_adv, broken)
