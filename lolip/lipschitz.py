"""Empirical local Lipschitz constant of a classifier's logits around data points.

Per point, with f the logits of the model in eval mode::

    L(x) = max_{x' in B_inf(x, eps)}  ||f(x) - f(x')||_1 / ||x - x'||_inf

estimated from below by signed gradient *ascent* on the ratio::

    x'_0     = P(x + init_std * N(0, I))
    x'_{k+1} = P(x'_k + step_size * sign(grad_{x'} ratio(x'_k)))

with P the projection onto B_inf(x, eps) and [0, 1], keeping the largest ratio over all
iterates and restarts. The table's number is the mean of L(x) over a split. Runs in fp32.

Paper protocol: 10 steps of 0.003 from x + 0.001 * N(0, I), one start. The original code
stepped *down* the ratio (a sign error) and reported the last iterate; ``ascend=False``
reproduces its direction, for comparison only.
"""

from __future__ import annotations

import torch
from torch import nn

from lolip.evaluation.settings import LipschitzSettings
from lolip.noise import ExampleNoise, noise_for
from lolip.perturbation import eval_frozen, linf_box
from lolip.precision import full_precision


def lipschitz_ratio(
    fx: torch.Tensor, f_xp: torch.Tensor, x: torch.Tensor, xp: torch.Tensor
) -> torch.Tensor:
    """``||f(x) - f(x')||_1 / ||x - x'||_inf`` per example (0 where x' = x)."""
    top = (fx - f_xp).flatten(1).abs().sum(1)
    bottom = (x - xp).flatten(1).abs().amax(1)
    return torch.where(bottom > 0, top / bottom.clamp_min(1e-30), torch.zeros_like(top))


def local_lipschitz(
    model: nn.Module,
    x: torch.Tensor,
    eps: float,
    settings: LipschitzSettings | None = None,
    *,
    noise: ExampleNoise | None = None,
    ascend: bool = True,
    clean_logits: torch.Tensor | None = None,
) -> torch.Tensor:
    """Per-point lower bounds of the local Lipschitz constant, shape (N,).

    Restarts run stacked along the batch dimension; ``noise`` draws each example's
    starting noise (:mod:`lolip.noise`; default: seed 0). A caller that already has the
    eval-mode logits ``f(x)`` passes them as ``clean_logits``.
    """
    s = settings or LipschitzSettings()
    n = x.shape[0]
    noise = noise or noise_for(0, "", 0, n)
    x_rep = x.repeat(s.restarts, *(1,) * (x.dim() - 1))
    lower, upper = linf_box(x_rep, eps)
    direction = 1.0 if ascend else -1.0
    with eval_frozen(model), full_precision(x.device):
        if clean_logits is None:
            with torch.no_grad():
                clean_logits = model(x)
        fx = clean_logits.detach().repeat(s.restarts, 1)
        start = noise.normal((s.restarts, *x.shape[1:]), "start", x)
        start = start.transpose(0, 1).reshape(x_rep.shape)  # row r * n + i
        xp = (x_rep + s.init_std * start).clamp_(min=lower, max=upper)
        best = torch.zeros(s.restarts * n, device=x.device, dtype=fx.dtype)
        for _ in range(s.steps):
            xp.requires_grad_(True)
            ratio = lipschitz_ratio(fx, model(xp), x_rep, xp)
            (grad,) = torch.autograd.grad(ratio.sum(), xp)
            xp = xp.detach()
            best = torch.maximum(best, ratio.detach())
            xp.add_(grad.sign_(), alpha=direction * s.step_size).clamp_(min=lower, max=upper)
        with torch.no_grad():
            best = torch.maximum(best, lipschitz_ratio(fx, model(xp), x_rep, xp))
    return best.view(s.restarts, n).amax(0)
