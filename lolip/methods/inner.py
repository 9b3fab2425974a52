"""The inner maximisation shared by the robust training methods.

With ``P`` the projection onto ``B_inf(x, eps) ∩ [0, 1]`` and ``J`` a per-example objective,
signed-gradient ascent from a start point ``x'_0`` chosen by the method::

    x'_{k+1} = P(x'_k + alpha * sign(grad_{x'} J(x'_k))),   k = 0 .. steps - 1

Gradients are taken with respect to the input only (``torch.autograd.grad``), so the
maximisation leaves the weights' ``.grad`` untouched; the model runs in the mode the method
asks for ("train" or "eval"), and every submodule's own mode is restored afterwards.
Random starts draw from torch's global RNG, which the training loop seeds.

Also here, for the methods that difference two forward passes (GR, LLR): :func:`rewind_rng`,
which makes both passes draw the same dropout masks.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator

import torch
from torch import nn

from lolip.attacks import check_count, check_nonnegative

MODES = ("train", "eval")

Objective = Callable[[torch.Tensor], torch.Tensor]


def check_inner(attack_mode: str, steps: int, step_size: float) -> None:
    """Validate a method's inner-maximisation fields, naming the bad value."""
    if attack_mode not in MODES:
        raise ValueError(f"attack_mode must be one of {MODES}, got {attack_mode!r}")
    check_count("steps", steps, 0)
    check_nonnegative("step_size", step_size)


@contextlib.contextmanager
def model_mode(model: nn.Module, mode: str) -> Iterator[nn.Module]:
    """Run the block with ``model`` in ``mode``, then give each submodule its old mode back."""
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
    saved = [(module, module.training) for module in model.modules()]
    model.train(mode == "train")
    try:
        yield model
    finally:
        for module, training in saved:
            module.training = training


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


def project(x_adv: torch.Tensor, x: torch.Tensor, eps: float) -> torch.Tensor:
    """Nearest point of ``B_inf(x, eps) ∩ [0, 1]``: the intersection is a box, one clamp."""
    return torch.clamp(x_adv, min=(x - eps).clamp(min=0), max=(x + eps).clamp(max=1))


def uniform_start(x: torch.Tensor, eps: float) -> torch.Tensor:
    """``x + U(-eps, eps)^d`` clipped to [0, 1] (AT and RST, as Madry et al.)."""
    return (x + torch.empty_like(x).uniform_(-eps, eps)).clamp(0, 1)


def normal_start(x: torch.Tensor, eps: float, std: float = 0.001) -> torch.Tensor:
    """``x + std * N(0, 1)^d`` projected onto the ball (TRADES and LLR)."""
    return project(x + std * torch.randn_like(x), x, eps)


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
    ``sum_i objective(x')_i`` from ``start``; returns the last iterate, detached.

    The examples' objectives are summed so one backward pass yields every example's input
    gradient; they are independent as long as the model treats examples independently.
    """
    x = x.detach()
    x_adv = start.detach()
    for _ in range(steps):
        x_adv.requires_grad_(True)
        with torch.enable_grad():
            value = objective(x_adv).sum()
        (grad,) = torch.autograd.grad(value, x_adv)
        x_adv = project(x_adv.detach() + alpha * grad.sign(), x, eps)
    return x_adv.detach()
