"""Adversarial training (Madry et al. 2018)."""

from __future__ import annotations

from dataclasses import dataclass

import torch.nn.functional as F
from torch import nn

from lolip import search
from lolip.methods.base import FP32, Tensor, Terms
from lolip.methods.inner import SearchingMethod, uniform_start
from lolip.precision import Autocast


@dataclass
class AT(SearchingMethod):
    """Adversarial training: ``loss_i = CE(f(x'_i), y_i)`` with

    ``x'_i ≈ argmax_{x' in B_inf(x_i, eps) ∩ [0,1]} CE(f(x'), y_i)``,

    found by ``steps`` signed-gradient steps of ``step_size * eps`` from a uniform random
    point of the ball (paper: 10 steps of eps/5), in fp32. ``attack_mode`` is the model's
    mode during that search: "train", as the original code runs it (dropout active, batch
    statistics, and every search step updating the BatchNorm running averages). ``outer``
    (bf16 autocast under ``precision: bf16``) covers the loss's forward pass only.
    """

    steps: int = search.steps(10)
    step_size: float = search.step_size(0.2)
    attack_mode: str = search.mode("train")

    def perturb(self, model: nn.Module, x: Tensor, y: Tensor, eps: float) -> Tensor:
        """The adversarial inputs ``x'``: PGD on ``CE(f(x'), y)``, detached."""

        def ce(x_adv: Tensor) -> Tensor:
            return F.cross_entropy(model(x_adv), y, reduction="none")

        return self.ascend(model, ce, x, uniform_start(x, eps), eps)

    def terms(
        self, model: nn.Module, x: Tensor, y: Tensor, eps: float, outer: Autocast = FP32
    ) -> Terms:
        """Per-example ``adv_ce = CE(f(x'), y)``."""
        x_adv = self.perturb(model, x, y, eps)
        with outer():
            return {"adv_ce": F.cross_entropy(model(x_adv), y, reduction="none")}

    def combine(self, terms: Terms) -> Tensor:
        return terms["adv_ce"]
