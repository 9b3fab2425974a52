"""A training set in feature form (:class:`Problem`), built once and shared by every objective
and solver."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from lolip.staircase.data import EPS, StaircaseData
from lolip.staircase.spline import PENALTY, SplineBasis, second_differences


@dataclass(frozen=True)
class Problem:
    """A training set in feature form, built once for every objective.

    The inputs take few distinct values (ten stairs and their moves), so features are stored
    once per distinct ``x`` and gathered by ``index``: an objective costs O(n) vector work plus
    products with matrices of a few dozen rows, which keeps L-BFGS-B fast at n = 30,000.
    """

    index: np.ndarray  # (n,): row of each point's x in the per-distinct-x matrices
    feats: tuple[np.ndarray, np.ndarray, np.ndarray]  # B(u - eps), B(u), B(u + eps), u distinct
    slopes: np.ndarray  # B'(u)
    y: np.ndarray
    d2: sp.csr_matrix
    eps: float
    penalty: float

    @property
    def n_coef(self) -> int:
        return self.feats[1].shape[1]

    def outputs(self, theta: np.ndarray) -> np.ndarray:
        """``f(x_i - eps), f(x_i), f(x_i + eps)`` as rows, shape ``(3, n)``."""
        return np.stack([(f @ theta)[self.index] for f in self.feats])

    def slope_values(self, theta: np.ndarray) -> np.ndarray:
        """``f'(x_i)``, shape ``(n,)``."""
        return (self.slopes @ theta)[self.index]

    def pullback(self, matrix: np.ndarray, weights: np.ndarray) -> np.ndarray:
        """``sum_i weights_i * row(x_i)`` for a per-distinct-x ``matrix``: the chain rule's
        ``theta``-gradient of ``sum_i weights_i * (matrix @ theta)[index_i]``."""
        return matrix.T @ np.bincount(self.index, weights=weights, minlength=len(matrix))

    def penalty_value_and_grad(self, theta: np.ndarray) -> tuple[float, np.ndarray]:
        """``lambda ||D2 theta||^2`` and its gradient ``2 lambda D2^T D2 theta``."""
        second = self.d2 @ theta
        return self.penalty * float(second @ second), 2 * self.penalty * (self.d2.T @ second)


def build_problem(
    data: StaircaseData, basis: SplineBasis, eps: float = EPS, penalty: float = PENALTY
) -> Problem:
    """``data`` in feature form for ``basis``, with moves ``+-eps`` and penalty weight."""
    distinct, index = np.unique(np.asarray(data.x, float), return_inverse=True)
    return Problem(
        index=index,
        feats=tuple(basis.features(distinct + d).toarray() for d in (-eps, 0.0, eps)),
        slopes=basis.slopes(distinct).toarray(),
        y=np.asarray(data.y, float),
        d2=second_differences(basis.n_coef),
        eps=eps,
        penalty=penalty,
    )
