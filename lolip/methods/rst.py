"""Robust self-training, as the paper uses it: labelled data only."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from lolip import search
from lolip.bounds import check_fields, setting
from lolip.methods.at import ce_ascent
from lolip.precision import Autocast


@dataclass
class RST:
    """Robust self-training (Raghunathan et al. 2020) without unlabelled data:

    ``loss_i = CE(f(x_i), y_i) + lambda * CE(f(x'_i), y_i)``, config key ``lam``,

    ``x'_i`` found as in :class:`~lolip.methods.at.AT` (``steps`` signed steps of
    ``step_size * eps`` on CE from a uniform random start, in fp32; paper: 10 of eps/5),
    with the model in ``attack_mode``: "train", as the original runs it. The paper's
    variants are lambda 0.5, 1 and 2 (the original's ``advbeta.5ce``, ``advbetace``,
    ``advbeta2ce``). ``outer`` covers the two forward passes of the loss.
    """

    lam: float = setting(
        1.0, type="number", minimum=0, description="weight of the adversarial loss"
    )
    steps: int = search.steps(10)
    step_size: float = search.step_size(0.2)
    attack_mode: str = search.mode("train")

    def __post_init__(self) -> None:
        check_fields(self)

    def perturb(
        self, model: nn.Module, x: torch.Tensor, y: torch.Tensor, eps: float
    ) -> torch.Tensor:
        """The adversarial inputs ``x'``, detached."""
        return ce_ascent(model, x, y, eps, self.steps, self.step_size, self.attack_mode)

    def terms(
        self,
        model: nn.Module,
        x: torch.Tensor,
        y: torch.Tensor,
        eps: float,
        outer: Autocast = contextlib.nullcontext,
    ) -> dict[str, torch.Tensor]:
        """Per-example ``ce = CE(f(x), y)`` and ``adv_ce = CE(f(x'), y)``."""
        x_adv = self.perturb(model, x, y, eps)
        with outer():
            return {
                "ce": F.cross_entropy(model(x), y, reduction="none"),
                "adv_ce": F.cross_entropy(model(x_adv), y, reduction="none"),
            }

    def __call__(
        self,
        model: nn.Module,
        x: torch.Tensor,
        y: torch.Tensor,
        eps: float,
        outer: Autocast = contextlib.nullcontext,
    ) -> torch.Tensor:
        terms = self.terms(model, x, y, eps, outer)
        return terms["ce"] + self.lam * terms["adv_ce"]
