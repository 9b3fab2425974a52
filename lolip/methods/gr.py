"""Gradient regularisation by finite differences (TULIP, Finlay and Oberman 2019)."""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from lolip.bounds import setting
from lolip.methods.base import FP32, Tensor, Terms, TrainingMethod
from lolip.methods.inner import rewind_rng
from lolip.precision import Autocast, full_precision


@dataclass
class GR(TrainingMethod):
    """Gradient regularisation:

    ``loss_i = CE(x_i) + beta * ((CE(x_i + h d_i) - CE(x_i)) / h)^2``,
    ``d_i = grad_x CE(x_i) / ||grad_x CE(x_i)||_2``  (``d_i = 0`` where the gradient is 0),

    with ``CE(x) = CE(f(x), y)``. The difference quotient is the derivative of CE along
    ``d_i`` up to O(h), i.e. ``||grad_x CE(x_i)||_2``, so the penalty approximates
    ``||grad_x CE(x_i)||_2^2`` without a second-order graph. Defaults beta 1, h 1, the
    original's. (The original's TULIP halves the penalty and, through an extra backward
    pass, adds the CE gradient twice: its weight gradient is that of 2 CE + 0.5 penalty.)

    The penalty is differentiable in the weights through both loss evaluations. With
    ``detach_direction`` (default) ``d_i`` is a constant of the step, as in Finlay and
    Oberman, and the penalty's weight gradient still approximates that of
    ``||grad_x CE||_2^2`` to O(h): differentiating through ``d_i`` would add
    ``grad_x CE(x + h d) . d(d_i)/dtheta``, and ``grad_x CE(x) = ||grad|| d_i`` is orthogonal to
    the derivative of the unit vector ``d_i``, so that term is O(h) as well.
    ``detach_direction=False`` differentiates through ``d_i`` too (double backpropagation,
    about twice the cost); the two differ by O(h), so noticeably at the default h = 1.

    Both evaluations use the same dropout masks (the RNG is rewound before the second),
    so the quotient differentiates one function rather than two random draws of it.
    ``x + h d`` is not clipped to [0, 1]: it is a derivative probe, not an input to defend.
    The whole loss runs in fp32 under any ``outer`` precision: the penalty is a difference
    quotient of two nearby losses, and its CE(x) is the loss's CE term.
    """

    beta: float = setting(
        1.0, type="number", minimum=0, description="weight of the gradient penalty"
    )
    h: float = setting(1.0, type="number", above=0, description="finite-difference step")
    detach_direction: bool = setting(
        True, type="boolean", description="treat d as a constant of the step"
    )

    def terms(
        self, model: nn.Module, x: Tensor, y: Tensor, eps: float, outer: Autocast = FP32
    ) -> Terms:
        """Per-example ``ce = CE(x)`` and ``penalty = ((CE(x + h d) - CE(x)) / h)^2``."""
        x = x.detach().requires_grad_(True)
        rewind = rewind_rng(x.device)
        # d is an input gradient, even when called under no_grad
        with torch.enable_grad(), full_precision(x.device):
            ce = F.cross_entropy(model(x), y, reduction="none")
            (grad,) = torch.autograd.grad(
                ce.sum(), x, retain_graph=True, create_graph=not self.detach_direction
            )
            norms = grad.flatten(1).norm(dim=1).view((-1,) + (1,) * (x.dim() - 1))
            direction = grad / norms.clamp_min(torch.finfo(grad.dtype).tiny)
            rewind()
            ce_h = F.cross_entropy(model(x.detach() + self.h * direction), y, reduction="none")
        return {"ce": ce, "penalty": ((ce_h - ce) / self.h) ** 2}

    def combine(self, terms: Terms) -> Tensor:
        return terms["ce"] + self.beta * terms["penalty"]
