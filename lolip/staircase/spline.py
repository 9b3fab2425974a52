"""The model: a cubic B-spline ``f_theta(x) = B(x) . theta`` and its smoothness penalty.

Knots sit at every stair ``i`` and at ``i +- eps``. Every objective adds the penalty
``lambda * theta^T P theta``, where ``P = D2^T D2`` and ``D2`` takes second differences of the
coefficients (:data:`PENALTY` is the default ``lambda``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from scipy.interpolate import BSpline

from lolip.staircase.data import EPS, NUM_STAIRS

DEGREE = 3
PENALTY = 0.01


@dataclass(frozen=True)
class SplineBasis:
    """Cubic B-spline basis on the full knot vector ``knots`` (boundary knots included)."""

    knots: np.ndarray
    degree: int = DEGREE

    @property
    def n_coef(self) -> int:
        return len(self.knots) - self.degree - 1

    def features(self, x: np.ndarray) -> sp.csr_matrix:
        """Design matrix ``B(x)``, shape ``(len(x), n_coef)``, four non-zeros per row."""
        # extrapolate=True only forgives rounding at the outermost perturbed points (x +- 2 eps).
        return sp.csr_matrix(
            BSpline.design_matrix(np.asarray(x, float), self.knots, self.degree, extrapolate=True)
        )

    def slopes(self, x: np.ndarray) -> sp.csr_matrix:
        """Derivative design matrix ``B'(x)``, so that ``f_theta'(x) = B'(x) . theta``."""
        identity = BSpline(self.knots, np.eye(self.n_coef), self.degree, extrapolate=True)
        return sp.csr_matrix(identity.derivative()(np.asarray(x, float)))


def staircase_basis(eps: float = EPS, num_stairs: int = NUM_STAIRS) -> SplineBasis:
    """Knots at ``i`` and ``i +- eps`` for every stair, padded by ``degree + 1`` knots spaced
    ``eps`` on each side so that the basis is complete on ``[-2 eps, num_stairs - 1 + 2 eps]``:
    a moved point ``i +- eps`` perturbed again by ``+-eps`` stays inside.
    """
    if not 0 < eps < 0.5:
        raise ValueError(
            f"eps={eps}: expected 0 < eps < 0.5 so knots i - eps, i, i + eps interleave"
        )
    stairs = np.arange(num_stairs, dtype=float)
    inner = np.sort(np.concatenate([stairs - eps, stairs, stairs + eps]))
    pad = eps * np.arange(1, DEGREE + 2)
    knots = np.concatenate([inner[0] - pad[::-1], inner, inner[-1] + pad])
    return SplineBasis(knots=knots, degree=DEGREE)


def second_differences(n_coef: int) -> sp.csr_matrix:
    """``D2``, shape ``(n_coef - 2, n_coef)``, with
    ``(D2 theta)_j = theta_j - 2 theta_{j+1} + theta_{j+2}``."""
    return sp.csr_matrix(sp.diags([1.0, -2.0, 1.0], [0, 1, 2], shape=(n_coef - 2, n_coef)))


def smoothness_penalty(n_coef: int) -> sp.csr_matrix:
    """``P = D2^T D2``, so ``theta^T P theta = ||D2 theta||^2`` (zero for linear coefficients)."""
    d2 = second_differences(n_coef)
    return sp.csr_matrix(d2.T @ d2)


def predict(basis: SplineBasis, theta: np.ndarray, x: np.ndarray) -> np.ndarray:
    """``f_theta(x) = B(x) . theta``."""
    return basis.features(x) @ theta
