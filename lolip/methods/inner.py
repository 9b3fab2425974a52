"""The inner maximisation shared by the robust training methods.

With ``P`` the projection onto ``B_inf(x, eps) ∩ [0, 1]`` and ``J`` a per-example objective,
signed-gradient ascent from a start point ``x'_0`` chosen by the method::

    x'_{k+1} = P(x'_k + alpha * sign(grad_{x'} J(x'_k))),   k = 0 .. steps - 1

Gradients are taken with respect to the input only (``torch.autograd.grad``), so the
maximisation leaves the weights' ``.grad`` untouched; the model runs in the mode the method
asks for ("train" or "eval", through :func:`lolip.perturbation.model_mode`), and every
submodule's own mode is restored afterwards. ``P`` is one clamp to
:func:`lolip.perturbation.linf_box`, computed once per ascent. The search runs in fp32
(:func:`lolip.precision.full_precision`), whatever the training loss's precision.
Random starts draw from torch's global RNG, which the training loop seeds.

Also here, for the methods that difference two forward passes (GR, LLR): :func:`rewind_rng`,
which makes both passes draw the same dropout masks.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

from lolip.methods.base import Tensor, TrainingMethod
from lolip.perturbation import linf_box, model_mode
from lolip.precision import full_precision

Objective = Callable[[torch.Tensor], torch.Tensor]


def rewind_rng(device: torch.device) -> Callable[[], None]:
    """Snapshot the global RNG of the CPU and of ``device``; the returned function rewinds to it.

    Two forward passes of equal shapes separated by a rewind draw the same dropout masks,
    as ``torch.utils.checkpoint`` does to recompute a forward pass exactly.
    """
    cpu = torch.get_rng_state()
    cuda = torch.cuda.get_rng_state(device) if device.type == "cuda" else None

    def rewind() -> None:
        torch.set_rng_state(cpu)
        if cuda is not None:
            torch.cuda.set_rng_state(cuda, device)

    return rewind


def uniform_start(x: torch.Tensor, eps: float) -> torch.Tensor:
    """``x + U(-eps, eps)^d`` clipped to [0, 1] (AT and RST, as Madry et al.)."""
    return (x + torch.empty_like(x).uniform_(-eps, eps)).clamp(0, 1)


def normal_start(x: torch.Tensor, eps: float, std: float = 0.001) -> torch.Tensor:
    """``x + std * N(0, 1)^d`` projected onto the ball (TRADES and LLR)."""
    lower, upper = linf_box(x, eps)
    return torch.clamp(x + std * torch.randn_like(x), min=lower, max=upper)


def sign_ascent(
    objective: Objective,
    x: torch.Tensor,
    start: torch.Tensor,
    eps: float,
    *,
    steps: int,
    alpha: float,
) -> torch.Tensor:
    """``steps`` projected signed-gradient steps of size ``alpha`` ascending
    ``sum_i objective(x')_i`` from ``start``, in fp32; returns the last iterate, detached.

    The examples' objectives are summed so one backward pass yields every example's input
    gradient; they are independent as long as the model treats examples independently.
    """
    lower, upper = linf_box(x.detach(), eps)
    x_adv = start.detach()
    for _ in range(steps):
        x_adv.requires_grad_(True)
        with torch.enable_grad(), full_precision(x.device):
            value = objective(x_adv).sum()
        (grad,) = torch.autograd.grad(value, x_adv)
        x_adv = torch.clamp(x_adv.detach() + alpha * grad.sign(), min=lower, max=upper)
    return x_adv.detach()


class SearchingMethod(TrainingMethod):
    """A method with an inner maximisation; its fields ``steps``, ``step_size`` (in units of
    eps) and ``attack_mode`` (the model's mode during the search) set :meth:`ascend`."""

    steps: int
    step_size: float
    attack_mode: str

    def ascend(
        self, model: nn.Module, objective: Objective, x: Tensor, start: Tensor, eps: float
    ) -> Tensor:
        """:func:`sign_ascent` of ``objective`` from ``start``, the model in ``attack_mode``."""
        with model_mode(model, self.attack_mode):
            return sign_ascent(
                objective, x, start, eps, steps=self.steps, alpha=self.step_size * eps
            )
