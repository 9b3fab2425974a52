"""Robust accuracy against the radius: the evaluation's PGD at a few multiples of eps.

For a model f, the first n test points (x_i, y_i) and a radius r = c * eps (c one of the
config's ``sweep.factors``, eps the dataset's radius)::

    acc(r) = 100 / n * sum_i 1[argmax f(x') = y_i for x' = x_i and every iterate x' of
                               every restart]

with the iterates those of PGD in ``B_p(x_i, r) ∩ [0, 1]`` under the model's own evaluation
settings (attack ``pgd``: its norm, steps, step size in units of the radius, restarts;
:class:`lolip.attacks.pgd.PGD`), the model in eval mode, frozen, channels-last and in fp32
as in the evaluation. At r = 0 the ball is {x_i}: acc(0) is the clean accuracy of the same
points, from one forward pass. n is ``sweep.subset`` (null: the whole test set; never more
than the test set has).

Random starts are the evaluation's: each example's uniform draw comes from the stream
``(evaluation seed, "test/pgd", "start", i)`` (:mod:`lolip.noise`) and is scaled to the
radius. So at c = 1 the sweep repeats the evaluation's attack on those points and its value
is the table's adversarial test accuracy restricted to them, and all radii share their
random numbers (the curve's steps are the radius's effect, not new draws).

The sweep is part of the report, not of the paper's protocol: a cheap look at how fast
robustness decays beyond the evaluated radius, on a subset of the test set.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from lolip.bounds import Bound, check_fields, setting

if TYPE_CHECKING:
    from torch import nn

    from lolip.datasets.prepared import Split

COLUMNS = (
    "model",
    "dataset",
    "arch",
    "method",
    "seed",
    "factor",
    "eps",
    "dataset_eps",
    "n",
    "robust_acc",
)


@dataclass(frozen=True)
class SweepSettings:
    """The radii and test points of the sweep (config ``sweep``), and its tables."""

    factors: tuple[float, ...] = setting(
        [0, 0.5, 1, 2, 4],
        type="array",
        items=Bound("number", minimum=0),
        description="radii as multiples of the dataset's eps (0: clean accuracy)",
    )
    subset: int | None = setting(
        500,
        type="integer",
        minimum=1,
        nullable=True,
        description="the first n test points (null: all; at most the test set)",
    )
    tables: tuple[str, ...] | None = setting(
        None,
        type="array",
        items=Bound("string"),
        nullable=True,
        description="the model tables to sweep (null: every one)",
    )

    def __post_init__(self) -> None:
        check_fields(self)
        if not self.factors:
            raise ValueError("factors must list at least one multiple of eps, got []")
        if len(set(self.factors)) != len(self.factors):
            raise ValueError(f"factors must differ from each other, got {list(self.factors)}")


def sweep_model(
    model: nn.Module,
    split: Split,
    eps: float,
    factors: tuple[float, ...] | list[float],
    pgd: dict[str, Any],
    *,
    seed: int = 0,
    batch_size: int = 500,
) -> list[dict[str, Any]]:
    """``acc(c * eps)`` for each ``c`` of ``factors`` on all of ``split`` (subset taken).

    ``pgd`` is the evaluation's attack entry (``{type: pgd, steps, ...}``), ``seed`` the
    evaluation's seed. Returns per factor ``factor``, ``eps`` (the radius), ``n`` and
    ``robust_acc`` (%).
    """
    import torch

    from lolip.attacks import build_attack
    from lolip.channels_last import channels_last
    from lolip.evaluation.settings import PAPER_ATTACK, attack_settings
    from lolip.noise import noise_for
    from lolip.perturbation import eval_frozen

    attack = build_attack(attack_settings(pgd), "evaluation.attacks.pgd")
    stream = f"test/{PAPER_ATTACK}"  # the evaluation's PGD draws (lolip.evaluation.parts)
    n = len(split)
    batches = [(a, min(a + batch_size, n)) for a in range(0, n, batch_size)]
    unbroken = dict.fromkeys(factors, 0)
    with eval_frozen(model), channels_last(model):
        for a, b in batches:
            x, y = split.images(slice(a, b)), split.y[a:b]
            noise = noise_for(seed, stream, a, b)
            with torch.no_grad():
                clean = model(x).argmax(1) == y
            for factor in factors:
                correct = clean
                if factor > 0:
                    correct = clean & ~attack(model, x, y, factor * eps, noise).broken
                unbroken[factor] += int(correct.sum())
    return [
        {"factor": c, "eps": c * eps, "n": n, "robust_acc": 100 * unbroken[c] / n if n else None}
        for c in factors
    ]
