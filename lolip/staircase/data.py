"""The staircase's data: ten stairs ``x = 0, ..., 9`` with ``y = x + N(0, 0.1^2)``.

The first five stairs carry most of the probability mass, so a small training set leaves the
last five almost empty. A few inputs are moved by ``+-eps`` and keep their stair's label.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

EPS = 1.0 / 3.0
NUM_STAIRS = 10
LABEL_NOISE = 0.1
SHIFT_PROB = 0.005


def stair_weights(num_stairs: int = NUM_STAIRS) -> np.ndarray:
    """Probability of each stair: 1/5 for each of the first five, 0.01 for the rest, normalised."""
    if num_stairs <= 5:
        raise ValueError(f"num_stairs={num_stairs}: expected more than 5 (five heavy stairs)")
    w = np.concatenate([np.full(5, 1 / 5), np.full(num_stairs - 5, 0.01)])
    return w / w.sum()


@dataclass(frozen=True)
class StaircaseData:
    x: np.ndarray
    y: np.ndarray

    def __len__(self) -> int:
        return len(self.x)


def sample_staircase(
    n: int,
    rng: np.random.Generator,
    eps: float = EPS,
    num_stairs: int = NUM_STAIRS,
    label_noise: float = LABEL_NOISE,
    shift_prob: float = SHIFT_PROB,
) -> StaircaseData:
    """Draw ``n`` points: stair ``s ~ Categorical(stair_weights)``, ``y = s + N(0, label_noise^2)``,
    and ``x = s``, moved to ``s + eps`` or ``s - eps`` (equally likely) with probability
    ``shift_prob``. The label keeps the stair's value, so a moved point is a small input
    perturbation with an unchanged target.
    """
    stairs = rng.choice(num_stairs, size=n, p=stair_weights(num_stairs)).astype(float)
    y = stairs + label_noise * rng.standard_normal(n)
    moved = rng.random(n) < shift_prob
    sign = np.where(rng.random(n) < 0.5, -1.0, 1.0)
    return StaircaseData(x=stairs + moved * sign * eps, y=y)


def sample_train_test(
    n_train: int, n_test: int, seed: int, eps: float = EPS
) -> tuple[StaircaseData, StaircaseData]:
    """Training and test sets from the same distribution, on independent streams of ``seed``.

    The test set is drawn exactly like the training set (same stair weights, label noise and
    moves), so test MSE estimates the population risk the training objective targets.
    """
    train_seq, test_seq = np.random.SeedSequence(seed).spawn(2)
    train = sample_staircase(n_train, np.random.default_rng(train_seq), eps=eps)
    test = sample_staircase(n_test, np.random.default_rng(test_seq), eps=eps)
    return train, test
