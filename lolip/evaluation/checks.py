"""Soundness checks of an evaluation, and alarms for gradient masking.

A robustness number is only as good as the strongest attack that failed, and a gradient
attack fails on a model whose gradients are useless. The checks run on a sample (the first
``checks.size`` points of each split) before the full evaluation, and on every point after
it. Two kinds:

*Errors* (the evaluation itself is broken; always raise :class:`EvaluationError`):

- ``batch_size_invariance``: logits with two batch sizes agree (catches dropout or batch
  statistics active at evaluation);
- ``input_gradient_nonzero``: most points have a non-zero input gradient of CE (catches
  detached or piecewise-constant models on which gradient attacks do nothing);
- ``eps_zero``: attack ``pgd`` at eps = 0 breaks exactly the misclassified points;
- ``more_steps``: ``pgd`` with twice the steps is not weaker beyond two standard errors;
- after the full run, on every point: ``in_ball`` (every attack's inputs lie in the
  eps-ball of its norm and in [0, 1]) and ``adv_not_above_clean`` (the share an attack did
  not break is at most the clean accuracy).

*Gradient-masking alarms* (:data:`ALARMS`; recorded with their evidence, warned about,
marked on the model's table row, and errors only with ``checks.strict``):

- ``square_vs_pgd``: the gradient-free Square attack (the AutoAttack package's) at eps must
  not leave fewer points unbroken than PGD by more than the margin: where it does, PGD's
  gradients mislead it;
- ``large_eps``: at eps = ``checks.large_eps`` (0.5 in [0, 1] pixels: the ball holds the
  all-grey image, so some attack breaks every point whose label is not the grey image's
  class) PGD must bring accuracy down to chance, the largest class share of the sample;
  a model that stays more accurate only seems robust because PGD cannot follow it.

Every margin is two standard errors of the sample's accuracy plus one point.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from lolip.attacks import build_attack
from lolip.attacks.pgd import PGD
from lolip.attacks.square import Square
from lolip.channels_last import channels_last
from lolip.datasets.prepared import Split
from lolip.evaluation.settings import PAPER_ATTACK, EvaluationSettings, attack_settings
from lolip.evaluation.verdict import slack
from lolip.noise import noise_for
from lolip.perturbation import eval_frozen

# Minimum fraction of sample points with a non-zero input gradient.
MIN_NONZERO_GRADIENT = 0.5
# Batch size of the second pass in the batch-size check: small and odd, unlike real batches.
SMALL_BATCH = 7
# Step of the large-radius PGD, in units of its eps.
LARGE_EPS_STEP = 0.1


def sample_checks(
    model: nn.Module, data: dict[str, Split], eps: float, settings: EvaluationSettings
) -> dict[str, Any]:
    """Every check and alarm on the first ``checks.size`` points of each split."""
    checks: dict[str, Any] = {}
    pgd = build_attack(attack_settings(settings.attacks[PAPER_ATTACK]), "evaluation.attacks.pgd")
    with eval_frozen(model), channels_last(model):
        for split, part in data.items():
            m = min(settings.checks.size, len(part))
            x, y = part.images(slice(0, m)), part.y[:m]
            for name, record in _split_checks(model, split, x, y, eps, pgd, settings).items():
                checks.setdefault(name, {})[split] = record
    return checks


def _split_checks(
    model: nn.Module,
    split: str,
    x: torch.Tensor,
    y: torch.Tensor,
    eps: float,
    pgd: PGD,
    settings: EvaluationSettings,
) -> dict[str, dict[str, Any]]:
    n, seed = len(y), settings.seed

    def noise(purpose: str):
        return noise_for(seed, f"{split}/check/{purpose}", 0, n)

    def accuracy(broken: torch.Tensor) -> float:
        return int((~broken).sum()) / n

    out = {}
    with torch.no_grad():
        logits = model(x)
        small = torch.cat([model(chunk) for chunk in x.split(SMALL_BATCH)])
    difference = float((logits - small).abs().max())
    tolerance = 1e-4 * (1 + float(logits.abs().max()))
    out["batch_size_invariance"] = {
        "passed": difference <= tolerance,
        "batch_sizes": [n, SMALL_BATCH],
        "max_abs_difference": difference,
        "tolerance": tolerance,
        "n": n,
    }

    x_grad = x.clone().requires_grad_(True)
    (grad,) = torch.autograd.grad(F.cross_entropy(model(x_grad), y, reduction="sum"), x_grad)
    nonzero = int((grad.flatten(1).abs().amax(1) > 0).sum()) / n
    out["input_gradient_nonzero"] = {
        "passed": nonzero >= MIN_NONZERO_GRADIENT,
        "fraction_nonzero": nonzero,
        "minimum_fraction": MIN_NONZERO_GRADIENT,
        "mean_abs_gradient": float(grad.abs().mean()),
        "n": n,
    }

    clean_wrong = logits.argmax(1) != y
    at_zero = pgd(model, x, y, 0.0, noise("eps_zero"))
    out["eps_zero"] = {
        "passed": bool(torch.equal(at_zero.broken, clean_wrong)),
        "clean_acc": 100 * int((~clean_wrong).sum()) / n,
        "attack_acc": 100 * accuracy(at_zero.broken),
        "mismatches": int((at_zero.broken != clean_wrong).sum()),
        "n": n,
    }

    acc = accuracy(pgd(model, x, y, eps, noise("steps")).broken)
    longer = PGD(pgd.norm, 2 * pgd.steps, pgd.step_size, pgd.restarts)
    acc_more = accuracy(longer(model, x, y, eps, noise("more_steps")).broken)
    out["more_steps"] = {
        "passed": acc_more <= acc + slack(acc, n),
        "steps": [pgd.steps, 2 * pgd.steps],
        "attack_acc": [100 * acc, 100 * acc_more],
        "tolerance": 100 * slack(acc, n),
        "n": n,
    }

    square = Square(norm=pgd.norm, n_queries=settings.checks.square_queries)
    acc_square = accuracy(square(model, x, y, eps, noise("square")).broken)
    out["square_vs_pgd"] = {
        "passed": acc_square >= acc - slack(acc, n),
        "attack_acc": {"pgd": 100 * acc, "square": 100 * acc_square},
        "margin": 100 * slack(acc, n),
        "square_queries": settings.checks.square_queries,
        "n": n,
    }

    large = settings.checks.large_eps
    steps = settings.checks.large_eps_steps
    sweep = PGD(pgd.norm, steps, LARGE_EPS_STEP, 1)
    acc_large = accuracy(sweep(model, x, y, large, noise("large_eps")).broken)
    chance = float(torch.bincount(y).max()) / n
    out["large_eps"] = {
        "passed": acc_large <= chance + slack(chance, n),
        "eps": large,
        "steps": steps,
        "attack_acc": 100 * acc_large,
        "chance": 100 * chance,
        "margin": 100 * slack(chance, n),
        "n": n,
    }
    return out
