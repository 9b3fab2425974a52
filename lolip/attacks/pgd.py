"""Projected gradient descent (Madry et al. 2018), the paper's evaluation attack.

With ``alpha = step_size * eps`` and ``P`` the projection onto ``B_p(x, eps)`` and [0, 1]::

    x'_0     = P(x + delta),  delta ~ Uniform(B_p(0, eps))
    x'_{k+1} = P(x'_k + alpha * s(grad_{x'} CE(f(x'_k), y)))

with ``s(g) = sign(g)`` for l_inf and ``s(g) = g / ||g||_2`` for l_2. Point ``i`` is broken
if ``argmax f(x'_k) != y`` for any iterate ``k = 0..steps`` of any restart.

Paper protocol: l_inf, 10 steps of 2 * eps / 10 (``step_size=0.2``), one random start.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import torch
import torch.nn.functional as F
from torch import nn

from lolip import search
from lolip.attacks import AttackResult
from lolip.attacks.base import Attack, Tensor
from lolip.noise import ExampleNoise
from lolip.perturbation import linf_box


@dataclass(frozen=True)
class PGD(Attack):
    """Untargeted PGD ascending CE(f(x'), y); ``step_size`` is in units of ``eps``.

    All restarts run stacked along the batch dimension; ``noise`` draws each example's
    random starts (:mod:`lolip.noise`; default: seed 0).
    """

    name: ClassVar[str] = "pgd"

    norm: str = search.norm()
    steps: int = search.steps(10)
    step_size: float = search.step_size(0.2)
    restarts: int = search.restarts()

    def run(
        self, model: nn.Module, x: Tensor, y: Tensor, eps: float, noise: ExampleNoise
    ) -> AttackResult:
        x_adv, broken, _ = self.ascend(model, x, y, eps, noise, key="start")
        return AttackResult(x_adv, broken)

    def ascend(
        self,
        model: nn.Module,
        x: Tensor,
        y: Tensor,
        eps: float,
        noise: ExampleNoise,
        *,
        key: str,
        target: Tensor | None = None,
    ) -> tuple[Tensor, Tensor, Tensor]:
        """PGD with restarts; untargeted, or towards ``target`` (minimising CE(f(x'), target)).

        The model must already be in eval mode with frozen parameters; ``noise`` draws the
        random starts under ``key``. Returns ``(x_adv, broken, score)``: ``score`` is +inf
        for broken points, else the largest CE on the true label over iterates, so callers
        can keep the strongest of several runs.

        A point leaves the batch (all its restarts) as soon as one iterate misclassifies
        it: its flag and its first misclassified iterate are final, so later steps could
        not change the result, and skipping them makes the attack faster the weaker the
        model.
        """
        restarts, norm, alpha = self.restarts, self.norm, self.step_size * eps
        x_rep = x.repeat(restarts, *(1,) * (x.dim() - 1))
        x_adv = _random_start(x, eps, norm, restarts, noise, key)
        record = _Record(x_adv, y.repeat(restarts), x.shape[0])
        goal = y.repeat(restarts) if target is None else target.repeat(restarts)
        sign = 1.0 if target is None else -1.0
        bounds = linf_box(x_rep, eps) if norm == "linf" else ()
        x_now, bounds_now = x_rep, bounds
        for _ in range(self.steps):
            x_adv.requires_grad_(True)
            logits = model(x_adv)
            objective = sign * F.cross_entropy(logits, goal, reduction="sum")
            (grad,) = torch.autograd.grad(objective, x_adv)
            x_adv = x_adv.detach()
            with torch.no_grad():
                keep = record.update(logits, x_adv)
                if keep is not None:
                    if not keep.any():
                        break
                    x_adv, grad, goal, x_now = x_adv[keep], grad[keep], goal[keep], x_now[keep]
                    bounds_now = tuple(bound[record.rows] for bound in bounds)
                if norm == "linf":
                    x_adv.add_(grad.sign_(), alpha=alpha).clamp_(*bounds_now)
                else:
                    x_adv = _l2_step(x_now, x_adv, grad, alpha, eps)
        else:
            with torch.no_grad():
                record.update(model(x_adv), x_adv)
        return record.strongest(restarts)


class _Record:
    """Per row (restart r of point i is row r * n + i) the strongest iterate seen so far.

    The running record is kept only for the rows still attacked, aligned with the batch,
    so a step costs two ``where``s; rows are written to the final storage when they leave.
    A misclassified iterate scores +inf; among correctly classified ones the larger CE on
    the true label wins.
    """

    def __init__(self, x_start: torch.Tensor, y: torch.Tensor, n: int) -> None:
        self.n, self.y = n, y
        self.rows = torch.arange(len(y), device=y.device)
        self.best_x = x_start.clone()
        self.best_score = torch.full(y.shape, -torch.inf, device=y.device)
        self.point_broken = torch.zeros(n, dtype=torch.bool, device=y.device)
        self.final_x = torch.empty_like(x_start)
        self.final_score = torch.empty_like(self.best_score)

    def update(self, logits: torch.Tensor, x_now: torch.Tensor) -> torch.Tensor | None:
        """Record the iterate ``x_now`` of the active rows.

        Returns None if no row was misclassified, else the mask of rows that stay active
        (those whose point no restart has broken yet).
        """
        loss = F.cross_entropy(logits, self.y, reduction="none")
        wrong = logits.argmax(1) != self.y
        score = torch.where(wrong, torch.inf, loss)
        better = score > self.best_score
        self.best_x = torch.where(better.view((-1,) + (1,) * (x_now.dim() - 1)), x_now, self.best_x)
        self.best_score = torch.maximum(score, self.best_score)
        if not wrong.any():
            return None
        self.point_broken[self.rows[wrong] % self.n] = True
        keep = ~self.point_broken[self.rows % self.n]
        self._retire(~keep)
        self.rows, self.y = self.rows[keep], self.y[keep]
        self.best_x, self.best_score = self.best_x[keep], self.best_score[keep]
        return keep

    def _retire(self, leaving: torch.Tensor) -> None:
        self.final_x[self.rows[leaving]] = self.best_x[leaving]
        self.final_score[self.rows[leaving]] = self.best_score[leaving]

    def strongest(self, restarts: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Per point the strongest restart: ``(x_adv, broken, score)``."""
        self._retire(torch.ones_like(self.rows, dtype=torch.bool))
        score = self.final_score.view(restarts, self.n)
        # argmax keeps the first maximum: the first restart that broke the point.
        pick = score.argmax(0)
        columns = torch.arange(self.n, device=score.device)
        x_best = self.final_x.view(restarts, self.n, *self.final_x.shape[1:])[pick, columns]
        return x_best, self.point_broken, score[pick, columns]


def _random_start(
    x: torch.Tensor, eps: float, norm: str, restarts: int, noise: ExampleNoise, key: str
) -> torch.Tensor:
    """``x + delta`` per restart (row r * n + i), clipped to [0, 1], with ``delta`` uniform in
    the l_inf or l_2 ball of ``eps``, drawn per example from ``noise``."""
    n, shape = x.shape[0], x.shape[1:]

    def stacked(draws: torch.Tensor) -> torch.Tensor:  # (n, restarts, ...) -> (restarts * n, ...)
        return draws.transpose(0, 1).reshape(restarts * n, *draws.shape[2:])

    if norm == "linf":
        delta = stacked(noise.uniform((restarts, *shape), key, x)).mul_(2 * eps).sub_(eps)
    else:
        # Uniform in the l_2 ball: a uniform direction times eps * U^(1/D).
        direction = stacked(noise.normal((restarts, *shape), f"{key}/direction", x))
        direction = direction / _norms(direction).clamp_min(1e-12)
        u = stacked(noise.uniform((restarts,), f"{key}/radius", x))
        radius = eps * u.pow(1.0 / x[0].numel())
        delta = direction * radius.view((-1,) + (1,) * (x.dim() - 1))
    return (x.repeat(restarts, *(1,) * (x.dim() - 1)) + delta).clamp_(0, 1)


def _norms(v: torch.Tensor) -> torch.Tensor:
    """Per-example l_2 norms, shaped to broadcast against ``v``."""
    return v.flatten(1).norm(dim=1).view((-1,) + (1,) * (v.dim() - 1))


def _l2_step(
    x: torch.Tensor,
    x_adv: torch.Tensor,
    grad: torch.Tensor,
    alpha: float,
    eps: float,
) -> torch.Tensor:
    """One normalised-gradient step, projected onto B_2(x, eps), then clipped to [0, 1].

    Clipping after the projection keeps the point in the ball: clipping moves every
    coordinate towards x (x itself lies in [0, 1]), so it never increases ||x' - x||_2.
    """
    delta = x_adv + alpha * grad / _norms(grad).clamp_min(1e-12) - x
    scale = (eps / _norms(delta).clamp_min(1e-12)).clamp_(max=1)
    return (x + delta * scale).clamp_(0, 1)
