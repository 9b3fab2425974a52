"""What every search over the eps-ball shares: the ball, the model's mode, the step settings.

Training methods (their inner maximisation), evaluation attacks and the Lipschitz estimate
all search ``B_p(x, eps) ∩ [0, 1]`` by projected gradient steps. Here are the tensor helpers
they have in common: the l_inf box (:func:`linf_box`), and running a model in a given mode
and restoring every submodule's own mode (:func:`model_mode`, :func:`eval_frozen`). The
settings of a search (steps, step size, mode, norm, restarts) are :mod:`lolip.search`.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import torch
from torch import nn

from lolip.search import MODES


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


@contextlib.contextmanager
def eval_frozen(model: nn.Module) -> Iterator[nn.Module]:
    """Run ``model`` in eval mode with ``requires_grad=False`` parameters, then restore.

    Eval mode because dropout or batch statistics would make the attacked function random
    and batch-dependent; frozen parameters because attacks need input gradients only, and
    autograd then keeps no activations for weight gradients.
    """
    flags = [(param, param.requires_grad) for param in model.parameters()]
    for param, _ in flags:
        param.requires_grad_(False)
    try:
        with model_mode(model, "eval"):
            yield model
    finally:
        for param, flag in flags:
            param.requires_grad_(flag)


def linf_box(x: torch.Tensor, eps: float) -> tuple[torch.Tensor, torch.Tensor]:
    """Lower and upper bounds of ``B_inf(x, eps) ∩ [0, 1]``: the intersection is a box, so
    one clamp to these bounds projects onto it."""
    return (x - eps).clamp(min=0), (x + eps).clamp(max=1)
