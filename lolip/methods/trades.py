"""TRADES (Zhang et al. 2019)."""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from lolip import search
from lolip.bounds import setting
from lolip.methods.base import FP32, Tensor, Terms
from lolip.methods.inner import SearchingMethod, normal_start
from lolip.perturbation import model_mode
from lolip.precision import Autocast, full_precision


def kl(logits_p: torch.Tensor, logits_q: torch.Tensor) -> torch.Tensor:
    """Per-example ``KL(softmax(logits_p) || softmax(logits_q))``."""
    log_p = F.log_softmax(logits_p, dim=1)
    log_q = F.log_softmax(logits_q, dim=1)
    return (log_p.exp() * (log_p - log_q)).sum(dim=1)


@dataclass
class TRADES(SearchingMethod):
    """TRADES: ``loss_i = CE(f(x_i), y_i) + beta * KL(f(x_i) || f(x'_i))``, with

    ``x'_i ≈ argmax_{x' in B_inf(x_i, eps) ∩ [0,1]} KL(f(x_i) || f(x'))``,

    f(.) the softmax of the logits. The search starts at ``x + 0.001 * N(0, 1)`` and takes
    ``steps`` signed steps of ``step_size * eps`` (paper: 10 of 2 eps/10) in fp32, with the
    model in ``attack_mode``: "eval", as TRADES and the original run it. ``f(x_i)`` is held
    fixed during the search; in the loss, gradients flow through both ``f(x_i)`` and
    ``f(x'_i)``, and one forward pass of ``x`` serves both the CE and the KL term (``outer``
    covers these two passes). The paper's variants are beta 1, 3 and 6 (the original's
    ``stradesce``, ``strades3ce``, ``strades6ce``).
    """

    beta: float = setting(6.0, type="number", minimum=0, description="weight of the KL term")
    steps: int = search.steps(10)
    step_size: float = search.step_size(0.2)
    attack_mode: str = search.mode("eval")

    def perturb(self, model: nn.Module, x: Tensor, y: Tensor, eps: float) -> Tensor:
        """The adversarial inputs ``x'``, detached (``y`` is unused: the search is label-free)."""
        with model_mode(model, self.attack_mode), full_precision(x.device), torch.no_grad():
            clean = model(x)
        return self.ascend(
            model, lambda x_adv: kl(clean, model(x_adv)), x, normal_start(x, eps), eps
        )

    def terms(
        self, model: nn.Module, x: Tensor, y: Tensor, eps: float, outer: Autocast = FP32
    ) -> Terms:
        """Per-example ``ce = CE(f(x), y)`` and ``kl = KL(f(x) || f(x'))``."""
        x_adv = self.perturb(model, x, y, eps)
        with outer():
            logits = model(x)
            return {
                "ce": F.cross_entropy(logits, y, reduction="none"),
                "kl": kl(logits, model(x_adv)),
            }

    def combine(self, terms: Terms) -> Tensor:
        return terms["ce"] + self.beta * terms["kl"]
