"""Local linearity regularisation (Qin et al. 2019), as the paper defines it."""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from lolip import search
from lolip.bounds import setting
from lolip.methods.base import FP32, Tensor, Terms
from lolip.methods.inner import SearchingMethod, normal_start, rewind_rng
from lolip.perturbation import model_mode
from lolip.precision import Autocast, full_precision


def dot(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Per-example inner product of two (N, ...) tensors."""
    return (a * b).flatten(1).sum(dim=1)


def linearity_gap(
    ce_shifted: torch.Tensor, ce: torch.Tensor, delta: torch.Tensor, grad: torch.Tensor
) -> torch.Tensor:
    """``g(delta) = |CE(x + delta) - CE(x) - delta . grad_x CE(x)|`` from its four parts."""
    return (ce_shifted - ce - dot(delta, grad)).abs()


def local_linearity(
    model: nn.Module, x: torch.Tensor, y: torch.Tensor, delta: torch.Tensor
) -> dict[str, torch.Tensor]:
    """Per example, differentiably in the weights (the input gradient included):
    ``ce = CE(x)``, ``gap = g(delta)`` and ``tangent = |delta . grad_x CE(x)|``.

    The model runs in its current mode; ``CE(x)`` and ``CE(x + delta)`` see the same dropout
    masks, so ``gap`` measures the curvature of one function, not the noise between two.
    """
    x = x.detach().requires_grad_(True)
    delta = delta.detach()
    rewind = rewind_rng(x.device)
    # The terms are input gradients, even when called under no_grad; fp32, since the gap is
    # second order in delta and bf16 rounding is larger than it at small eps.
    with torch.enable_grad(), full_precision(x.device):
        ce = F.cross_entropy(model(x), y, reduction="none")
        (grad,) = torch.autograd.grad(ce.sum(), x, create_graph=True)
        rewind()
        ce_shifted = F.cross_entropy(model(x.detach() + delta), y, reduction="none")
    return {
        "ce": ce,
        "gap": linearity_gap(ce_shifted, ce, delta, grad),
        "tangent": dot(delta, grad).abs(),
    }


@dataclass
class LLR(SearchingMethod):
    """Local linearity regularisation, with ``CE(x) = CE(f(x), y)``::

        g(delta) = |CE(x + delta) - CE(x) - delta . grad_x CE(x)|
        loss_i   = CE(x_i) + lambda * g(delta*) + mu * |delta* . grad_x CE(x_i)|
        delta*   ≈ argmax over x_i + delta in B_inf(x_i, eps) ∩ [0, 1] of g(delta)

    config keys ``lam`` (lambda) and ``mu``; defaults lambda 4, mu 3 (the original's
    ``sllrce``; ``sllr65ce`` is (6, 5), ``sllr36ce`` (3, 6)). ``delta*`` is found by
    ``steps`` signed steps of ``step_size * eps`` (paper: 2 of eps/2) from
    ``0.001 * N(0, 1)`` (a random start: at ``delta = 0`` the gradient of g vanishes), with
    ``CE(x)`` and its gradient fixed and the model in ``attack_mode``: "eval", as the
    original. The loss is then differentiated in the weights through every term, the input
    gradient included (double backpropagation): the original zeroes that gradient before
    using it, so its regulariser terms vanish.

    All of it runs in fp32, under any ``outer`` precision: the regulariser is second order
    in delta (below bf16's rounding at eps 0.031 and 0.005), and the loss's CE term shares
    its forward pass with the regulariser's ``CE(x)`` and ``grad_x CE(x)``.
    """

    lam: float = setting(4.0, type="number", minimum=0, description="weight of g(delta*)")
    mu: float = setting(3.0, type="number", minimum=0, description="weight of |delta* . grad|")
    steps: int = search.steps(2)
    step_size: float = search.step_size(0.5)
    attack_mode: str = search.mode("eval")

    def perturb(self, model: nn.Module, x: Tensor, y: Tensor, eps: float) -> Tensor:
        """``x + delta*``, detached."""
        x = x.detach()
        with model_mode(model, self.attack_mode), full_precision(x.device):
            x0 = x.clone().requires_grad_(True)
            with torch.enable_grad():
                ce0 = F.cross_entropy(model(x0), y, reduction="none")
            (grad0,) = torch.autograd.grad(ce0.sum(), x0)
            ce0 = ce0.detach()

        def gap(x_adv: Tensor) -> Tensor:
            ce_shifted = F.cross_entropy(model(x_adv), y, reduction="none")
            return linearity_gap(ce_shifted, ce0, x_adv - x, grad0)

        return self.ascend(model, gap, x, normal_start(x, eps), eps)

    def terms(
        self, model: nn.Module, x: Tensor, y: Tensor, eps: float, outer: Autocast = FP32
    ) -> Terms:
        """Per-example ``ce``, ``gamma = g(delta*)`` and ``tangent = |delta* . grad_x CE(x)|``."""
        delta = self.perturb(model, x, y, eps) - x
        parts = local_linearity(model, x, y, delta)
        return {"ce": parts["ce"], "gamma": parts["gap"], "tangent": parts["tangent"]}

    def combine(self, terms: Terms) -> Tensor:
        return terms["ce"] + self.lam * terms["gamma"] + self.mu * terms["tangent"]
