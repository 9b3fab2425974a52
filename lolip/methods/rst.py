"""Robust self-training, as the paper uses it: labelled data only."""

from __future__ import annotations

from dataclasses import dataclass

import torch.nn.functional as F
from torch import nn

from lolip.bounds import setting
from lolip.methods.at import AT
from lolip.methods.base import FP32, Tensor, Terms
from lolip.precision import Autocast


@dataclass
class RST(AT):
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

    def terms(
        self, model: nn.Module, x: Tensor, y: Tensor, eps: float, outer: Autocast = FP32
    ) -> Terms:
        """Per-example ``ce = CE(f(x), y)`` and ``adv_ce = CE(f(x'), y)``."""
        x_adv = self.perturb(model, x, y, eps)
        with outer():
            return {
                "ce": F.cross_entropy(model(x), y, reduction="none"),
                "adv_ce": F.cross_entropy(model(x_adv), y, reduction="none"),
            }

    def combine(self, terms: Terms) -> Tensor:
        return terms["ce"] + self.lam * terms["adv_ce"]
