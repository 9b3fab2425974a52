"""What every attack is, and what the attacks of other libraries share.

An attack is a frozen dataclass of its settings; ``attack(model, x, y, eps, noise)`` runs
:meth:`Attack.run` with the model in eval mode, its parameters frozen, in fp32, and the
random draws of ``noise`` (default: seed 0). A library's attack (:class:`BlockAttack`)
runs on blocks of ``block_size`` examples, each block seeded from its first example's
index, and a point is broken if the returned input is misclassified.
"""

from __future__ import annotations

import importlib.metadata
from abc import ABC, abstractmethod
from typing import ClassVar

import torch
from torch import nn

from lolip.attacks import AttackResult
from lolip.bounds import check_fields
from lolip.noise import ExampleNoise, noise_for
from lolip.perturbation import eval_frozen
from lolip.precision import full_precision

Tensor = torch.Tensor
LIBRARY = "pyautoattack"  # AutoAttack's authors' package, which also holds Square


class Attack(ABC):
    """``attack(model, x, y, eps, noise) -> AttackResult``; see the module docstring."""

    name: ClassVar[str]
    block_size: ClassVar[int | None] = None

    def __post_init__(self) -> None:
        check_fields(self)

    def __call__(
        self, model: nn.Module, x: Tensor, y: Tensor, eps: float, noise: ExampleNoise | None = None
    ) -> AttackResult:
        noise = noise or noise_for(0, "", 0, len(y))
        with eval_frozen(model), full_precision(x.device):
            return self.run(model, x, y, eps, noise)

    @abstractmethod
    def run(
        self, model: nn.Module, x: Tensor, y: Tensor, eps: float, noise: ExampleNoise
    ) -> AttackResult:
        """The attack on a batch, the model already in eval mode and frozen."""


class BlockAttack(Attack):
    """An attack of the AutoAttack package, run on seeded blocks of examples."""

    def library(self) -> dict[str, str]:
        return {"name": LIBRARY, "version": importlib.metadata.version(LIBRARY)}

    def run(
        self, model: nn.Module, x: Tensor, y: Tensor, eps: float, noise: ExampleNoise
    ) -> AttackResult:
        x_adv = torch.empty_like(x)
        for start in range(0, len(y), self.block_size):
            rows = slice(start, start + self.block_size)
            seed = noise.select(torch.arange(len(y))[rows]).block_seed(self.name)
            x_adv[rows] = self.attack_block(model, x[rows], y[rows], eps, seed)
        with torch.no_grad():
            broken = model(x_adv).argmax(1) != y
        return AttackResult(x_adv, broken)

    @abstractmethod
    def attack_block(self, model: nn.Module, x: Tensor, y: Tensor, eps: float, seed: int) -> Tensor:
        """The library's adversarial inputs for one block, its global RNG seeded by ``seed``."""
