"""The 1-D staircase illustration (after Raghunathan et al. 2020), as in the original's notebook.

The data lie on ten stairs ``x = 0, ..., 9`` with ``y = x + N(0, 0.1^2)``. The first five stairs
carry most of the probability mass, so a small training set leaves the last five almost empty.
The model is a cubic B-spline ``f_theta(x) = B(x) . theta`` with knots at every integer ``i`` and
at ``i +- eps``; every objective adds the smoothness penalty ``lambda * theta^T P theta``, where
``P = D2^T D2`` and ``D2`` takes second differences of the coefficients.

Robustness is measured on the three-point perturbation set of the original notebook,
``S(x) = {x - eps, x, x + eps}`` (the interval ``B(x, eps)`` in 1-D, reduced to its centre and
end points). Each training method is an objective over ``theta``, written with the squared loss
``l(theta; x, y) = (f_theta(x) - y)^2`` summed (not averaged) over the ``n`` training points as the
notebook does, so the penalty's relative weight shrinks as ``n`` grows:

- Natural:     sum_i l(x_i) + lambda theta^T P theta
- AT:          sum_i max_{x' in S(x_i)} l(x') + lambda theta^T P theta
- RST(lam):    sum_i [l(x_i) + lam max_{x' in S(x_i)} l(x')] + lambda theta^T P theta
- TRADES(beta): sum_i [l(x_i) + beta max_{x' in S(x_i)} (f(x') - f(x_i))^2] + lambda theta^T P theta
- GR(beta):    sum_i [l(x_i) + beta (dl/dx (x_i))^2] + lambda theta^T P theta
- LLR(lam, mu): sum_i [l(x_i) + lam g(delta*_i) + mu |delta*_i dl/dx(x_i)|] + lambda theta^T P theta

Natural, AT, RST and TRADES are convex (a maximum of squares of affine functions of ``theta`` is
convex) and are solved to optimality with cvxpy (Clarabel), written as quadratic programs. GR and
LLR multiply the residual by the slope ``f'(x)``, both affine in ``theta``, so they are
non-convex and only a local solution is available: GR is smooth and is minimised with L-BFGS-B
from the Natural solution; LLR is also non-smooth, and L-BFGS-B runs on a sequence of smoothed
versions before the exact one (:func:`solve_llr`). The finite-sample forms are stated in
:func:`gr_value_and_grad` and :func:`llr_value_and_grad`.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import cvxpy as cp
import matplotlib
import numba
import numpy as np
import pandas as pd
import scipy.sparse as sp
from matplotlib.figure import Figure
from scipy.interpolate import BSpline
from scipy.linalg import solve_triangular
from scipy.optimize import minimize
from threadpoolctl import threadpool_limits

from lolip.io import atomic_path
from lolip.progress import progress

log = logging.getLogger(__name__)

EPS = 1.0 / 3.0
PENALTY = 0.01
NUM_STAIRS = 10
LABEL_NOISE = 0.1
SHIFT_PROB = 0.005
DEGREE = 3


def stair_weights(num_stairs: int = NUM_STAIRS) -> np.ndarray:
    """Probability of each stair: 1/5 for each of the first five, 0.01 for the rest, normalised."""
    if num_stairs <= 5:
        raise ValueError(f"num_stairs={num_stairs}: expected more than 5 (five heavy stairs)")
    w = np.concatenate([np.full(5, 1 / 5), np.full(num_stairs - 5, 0.01)])
    return w / w.sum()


# ----------------------------------------------------------------------------- data


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


# ----------------------------------------------------------------------------- model


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


# ----------------------------------------------------------------------------- objectives


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


def _penalty(theta: np.ndarray, pb: Problem) -> float:
    return pb.penalty_value_and_grad(theta)[0]


def _residuals(theta: np.ndarray, pb: Problem) -> np.ndarray:
    """Rows: ``f(x') - y_i`` for ``x'`` = x_i - eps, x_i, x_i + eps; shape ``(3, n)``."""
    return pb.outputs(theta) - pb.y


def natural_objective(theta: np.ndarray, pb: Problem) -> float:
    """Natural: ``sum_i (f(x_i) - y_i)^2 + lambda theta^T P theta``."""
    return float(np.sum(_residuals(theta, pb)[1] ** 2)) + _penalty(theta, pb)


def at_objective(theta: np.ndarray, pb: Problem) -> float:
    """AT: ``sum_i max_{x' in S(x_i)} (f(x') - y_i)^2 + lambda theta^T P theta``."""
    return float(np.sum(np.max(_residuals(theta, pb) ** 2, axis=0))) + _penalty(theta, pb)


def rst_objective(theta: np.ndarray, pb: Problem, lam: float = 1.0) -> float:
    """RST(lam): ``sum_i [(f(x_i) - y_i)^2 + lam max_{x' in S(x_i)} (f(x') - y_i)^2]
    + lambda theta^T P theta`` (labelled data only, as in the paper's use of RST)."""
    sq = _residuals(theta, pb) ** 2
    return float(np.sum(sq[1]) + lam * np.sum(np.max(sq, axis=0))) + _penalty(theta, pb)


def trades_objective(theta: np.ndarray, pb: Problem, beta: float = 6.0) -> float:
    """TRADES(beta): ``sum_i [(f(x_i) - y_i)^2 + beta max_{x' in S(x_i)} (f(x') - f(x_i))^2]
    + lambda theta^T P theta``; the squared change of the output stands in for the KL term of
    classification."""
    f = pb.outputs(theta)
    change = np.maximum((f[0] - f[1]) ** 2, (f[2] - f[1]) ** 2)
    return float(np.sum((f[1] - pb.y) ** 2) + beta * np.sum(change)) + _penalty(theta, pb)


def gr_value_and_grad(
    theta: np.ndarray, pb: Problem, beta: float = 1.0
) -> tuple[float, np.ndarray]:
    """GR(beta): ``sum_i [l_i + beta (dl_i/dx)^2] + lambda theta^T P theta`` and its gradient.

    On this model the input gradient is exact: ``dl/dx (x_i) = 2 r_i s_i`` with residual
    ``r_i = B(x_i) . theta - y_i`` and slope ``s_i = B'(x_i) . theta``. (The paper approximates
    ``||grad_x l||^2`` by a finite difference along the gradient; in 1-D with a differentiable
    spline the derivative itself is available, which is the ``h -> 0`` limit.) The penalty
    ``4 beta r_i^2 s_i^2`` is a quartic in ``theta`` (the square of a product of two affine
    functions), which is not convex, so GR is minimised with L-BFGS-B.
    """
    r, s = _residuals(theta, pb)[1], pb.slope_values(theta)
    pen, pen_grad = pb.penalty_value_and_grad(theta)
    value = np.sum(r**2) + 4 * beta * np.sum(r**2 * s**2) + pen
    grad = (
        pb.pullback(pb.feats[1], 2 * r + 8 * beta * r * s**2)
        + pb.pullback(pb.slopes, 8 * beta * r**2 * s)
        + pen_grad
    )
    return float(value), grad


def gr_objective(theta: np.ndarray, pb: Problem, beta: float = 1.0) -> float:
    """GR(beta) objective value; see :func:`gr_value_and_grad`."""
    return gr_value_and_grad(theta, pb, beta)[0]


@numba.njit(cache=True)
def _soft_abs(z: float, tau: float) -> tuple[float, float]:
    """``|z|`` and its derivative; for ``tau > 0`` the smooth ``sqrt(z^2 + tau^2) - tau``."""
    if tau == 0.0:
        return abs(z), np.sign(z)
    root = np.sqrt(z * z + tau * tau)
    return root - tau, z / root


@numba.njit(cache=True)
def _llr_kernel(index, y, f_m, f_0, f_p, slope, eps, lam, mu, tau, g_m, g_0, g_p, g_s):
    """Sum of the per-point LLR terms; adds each point's d term / d output to ``g_*[index]``.

    One pass over the points: the vectorised form needs some forty temporary arrays of length
    n per evaluation, and L-BFGS-B evaluates the objective thousands of times.
    """
    total = 0.0
    for i in range(len(y)):
        u = index[i]
        r_m, r0, r_p, s = f_m[u] - y[i], f_0[u] - y[i], f_p[u] - y[i], slope[u]
        lin_m = r_m * r_m - r0 * r0 + 2.0 * eps * r0 * s  # l(x - eps) - l(x) - (-eps) dl/dx
        lin_p = r_p * r_p - r0 * r0 - 2.0 * eps * r0 * s  # l(x + eps) - l(x) - (+eps) dl/dx
        abs_m, d_m = _soft_abs(lin_m, tau)
        abs_p, d_p = _soft_abs(lin_p, tau)
        # max(a, b) = (a + b + |a - b|) / 2, smoothed through the same |.|
        gap, d_gap = _soft_abs(abs_p - abs_m, tau)
        grad_x, d_grad_x = _soft_abs(2.0 * r0 * s, tau)
        total += r0 * r0 + lam * 0.5 * (abs_m + abs_p + gap) + mu * eps * grad_x
        w_m = lam * 0.5 * d_m * (1.0 - d_gap)  # d term / d lin_-
        w_p = lam * 0.5 * d_p * (1.0 + d_gap)  # d term / d lin_+
        w_x = mu * eps * 2.0 * d_grad_x  # d term / d (r0 s)
        # lin_-: d/dr_m = 2 r_m, d/dr0 = -2 r0 + 2 eps s, d/ds = 2 eps r0; lin_+ with -eps.
        g_m[u] += w_m * 2.0 * r_m
        g_p[u] += w_p * 2.0 * r_p
        g_0[u] += 2.0 * r0 - (w_m + w_p) * 2.0 * r0 + (w_m - w_p) * 2.0 * eps * s + w_x * s
        g_s[u] += (w_m - w_p) * 2.0 * eps * r0 + w_x * r0
    return total


def llr_value_and_grad(
    theta: np.ndarray, pb: Problem, lam: float = 4.0, mu: float = 3.0, tau: float = 0.0
) -> tuple[float, np.ndarray]:
    """LLR(lam, mu) on the three-point set and its (sub)gradient.

    With ``l(x') = (f(x') - y_i)^2`` and ``dl/dx (x_i) = 2 r_i s_i`` as in GR, the linearisation
    error of the loss for a move ``delta`` is
    ``g(delta) = |l(x_i + delta) - l(x_i) - delta dl/dx (x_i)|``. Over ``delta in {-eps, 0, +eps}``
    (``g(0) = 0``) the maximiser ``delta*`` is ``+eps`` or ``-eps``, so
    ``|delta* dl/dx| = eps |2 r_i s_i|`` whichever sign wins, and the objective is::

        sum_i [r_i^2 + lam max(g_i(-eps), g_i(+eps)) + mu eps |2 r_i s_i|] + lambda theta^T P theta

    ``g`` is a difference of squares of affine functions (indefinite) and ``|r s|`` is a bilinear
    form, so the objective is non-convex. It is also non-smooth, and not only on a negligible
    set: ``|2 r_i s_i| = 2 |s_i| |r_i|`` puts an L1-type kink at zero slope, shared by every
    point on a stair, where minimisers tend to sit. ``tau > 0`` replaces every ``|z|`` by
    ``sqrt(z^2 + tau^2) - tau`` (within ``tau`` of ``|z|``) for :func:`solve_llr`'s continuation;
    ``tau = 0`` is the exact objective, with ``sign(0) = 0`` at the kinks.
    """
    outputs = [f @ theta for f in pb.feats]
    slope = pb.slopes @ theta
    grads = [np.zeros(len(slope)) for _ in range(4)]
    value = _llr_kernel(
        pb.index, pb.y, *outputs, slope, float(pb.eps), float(lam), float(mu), float(tau), *grads
    )
    pen, pen_grad = pb.penalty_value_and_grad(theta)
    grad = sum(m.T @ g for m, g in zip((*pb.feats, pb.slopes), grads, strict=True)) + pen_grad
    return float(value) + pen, grad


def llr_objective(theta: np.ndarray, pb: Problem, lam: float = 4.0, mu: float = 3.0) -> float:
    """LLR(lam, mu) objective value; see :func:`llr_value_and_grad`."""
    return llr_value_and_grad(theta, pb, lam, mu)[0]


# ----------------------------------------------------------------------------- solvers


Convex = tuple[cp.Expression, list[cp.Constraint]]  # objective and constraints of a program

# The convex programs are written per distinct x wherever the sum over points allows it:
# sum_i (f(x_i) - y_i)^2 = sum_u n_u (f(u) - ybar_u)^2 + const, and TRADES's term depends on x
# only. Only the worst-case residual of AT and RST needs one variable per point.


def _cvx_penalty(theta: cp.Variable, pb: Problem) -> cp.Expression:
    return pb.penalty * cp.sum_squares(pb.d2 @ theta)


def _cvx_clean(theta: cp.Variable, pb: Problem) -> cp.Expression:
    """``sum_i (f(x_i) - y_i)^2`` minus the constant ``sum_i (y_i - ybar_{x_i})^2``."""
    counts = np.bincount(pb.index)
    mean_y = np.bincount(pb.index, weights=pb.y) / counts
    return cp.sum_squares(cp.multiply(np.sqrt(counts), pb.feats[1] @ theta - mean_y))


def _cvx_worst_residual(theta: cp.Variable, pb: Problem) -> Convex:
    """``sum_i max_{x' in S(x_i)} (f(x') - y_i)^2`` as ``sum_squares(t)`` under linear constraints.

    ``max_k (f_k - y)^2 = max(hi - y, y - lo)^2`` with ``hi, lo`` the largest and smallest of
    the three outputs, so per point ``t_i >= hi_u - y_i`` and ``t_i >= y_i - lo_u`` with
    ``hi_u >= f_k(u) >= lo_u`` per distinct ``u``: two non-zeros per point constraint instead of
    five, and a QP that Clarabel solves accurately (a maximum of squares handed to cvxpy as is
    often ends "optimal_inaccurate").
    """
    n_distinct = len(pb.feats[1])
    hi, lo, t = cp.Variable(n_distinct), cp.Variable(n_distinct), cp.Variable(len(pb.y))
    pick = sp.csr_matrix(
        (np.ones(len(pb.y)), (np.arange(len(pb.y)), pb.index)), shape=(len(pb.y), n_distinct)
    )
    outputs = [f @ theta for f in pb.feats]
    constraints = [lo <= f for f in outputs] + [f <= hi for f in outputs]
    constraints += [pick @ hi - pb.y <= t, pb.y - pick @ lo <= t]
    return cp.sum_squares(t), constraints


def _cvx_worst_change(theta: cp.Variable, pb: Problem) -> Convex:
    """``sum_i max_{x' in S(x_i)} (f(x') - f(x_i))^2``, one epigraph variable per distinct x."""
    f_m, f_0, f_p = (f @ theta for f in pb.feats)
    t = cp.Variable(len(pb.feats[1]))
    constraints = [c for d in (f_m - f_0, f_p - f_0) for c in (d <= t, -d <= t)]
    counts = np.bincount(pb.index)
    return cp.sum_squares(cp.multiply(np.sqrt(counts), t)), constraints


def _solve_convex(build: Callable[[cp.Variable], Convex], pb: Problem) -> np.ndarray:
    theta = cp.Variable(pb.n_coef)
    objective, constraints = build(theta)
    problem = cp.Problem(cp.Minimize(objective), constraints)
    problem.solve(solver=cp.CLARABEL)
    if problem.status != cp.OPTIMAL:
        raise RuntimeError(
            f"cvxpy/Clarabel ended with status '{problem.status}' (expected 'optimal')"
        )
    return np.asarray(theta.value)


def solve_natural(pb: Problem) -> np.ndarray:
    """Minimise :func:`natural_objective` (convex, quadratic) with cvxpy."""
    return _solve_convex(lambda th: (_cvx_clean(th, pb) + _cvx_penalty(th, pb), []), pb)


def _natural_hessian(pb: Problem) -> np.ndarray:
    """Half the Hessian of the Natural objective, ``B^T B + lambda P`` (dense, n_coef^2)."""
    counts = np.bincount(pb.index, minlength=len(pb.feats[1]))
    gram = pb.feats[1].T @ (counts[:, None] * pb.feats[1])
    return gram + pb.penalty * smoothness_penalty(pb.n_coef).toarray()


def natural_closed_form(pb: Problem) -> np.ndarray:
    """``theta = (B^T B + lambda P)^{-1} B^T y``, the stationary point of the Natural objective."""
    return np.linalg.solve(_natural_hessian(pb), pb.pullback(pb.feats[1], pb.y))


def solve_at(pb: Problem) -> np.ndarray:
    """Minimise :func:`at_objective` (convex: a sum of maxima of convex quadratics) with cvxpy."""

    def build(th: cp.Variable) -> Convex:
        worst, constraints = _cvx_worst_residual(th, pb)
        return worst + _cvx_penalty(th, pb), constraints

    return _solve_convex(build, pb)


def solve_rst(pb: Problem, lam: float = 1.0) -> np.ndarray:
    """Minimise :func:`rst_objective` (convex: a non-negative sum of convex terms) with cvxpy."""

    def build(th: cp.Variable) -> Convex:
        worst, constraints = _cvx_worst_residual(th, pb)
        return _cvx_clean(th, pb) + lam * worst + _cvx_penalty(th, pb), constraints

    return _solve_convex(build, pb)


def solve_trades(pb: Problem, beta: float = 6.0) -> np.ndarray:
    """Minimise :func:`trades_objective` with cvxpy: the change ``f(x') - f(x_i)`` is affine in
    ``theta``, so its largest square is convex and TRADES is convex here."""

    def build(th: cp.Variable) -> Convex:
        worst, constraints = _cvx_worst_change(th, pb)
        return _cvx_clean(th, pb) + beta * worst + _cvx_penalty(th, pb), constraints

    return _solve_convex(build, pb)


def _one_blas_thread() -> threadpool_limits:
    """Single-threaded BLAS for the local solvers: their matrices have a few dozen columns, so
    threads only add synchronisation (on a busy machine each evaluation became ten times slower).
    """
    return threadpool_limits(limits=1, user_api="blas")


def _lbfgs(
    value_and_grad: Callable[[np.ndarray], tuple[float, np.ndarray]],
    theta0: np.ndarray,
    pb: Problem,
    ftol: float = 1e-12,
) -> np.ndarray:
    """L-BFGS-B in the whitened coordinates ``z = L^T theta``, ``L L^T = B^T B + lambda P``.

    Coefficients of stairs without data are held only by the weak smoothness penalty, so the
    objectives are badly conditioned in ``theta`` (L-BFGS-B then needs thousands of steps and
    stops early); in ``z`` the Natural part is ``||z||^2`` plus a linear term, which leaves only
    the regulariser's curvature for L-BFGS-B to learn.
    """
    chol = np.linalg.cholesky(_natural_hessian(pb))

    def in_z(z: np.ndarray) -> tuple[float, np.ndarray]:
        value, grad = value_and_grad(solve_triangular(chol, z, trans="T", lower=True))
        return value, solve_triangular(chol, grad, lower=True)

    result = minimize(
        in_z,
        chol.T @ theta0,
        jac=True,
        method="L-BFGS-B",
        options={"maxiter": 20_000, "ftol": ftol, "gtol": 1e-9},
    )
    # The objectives are non-convex: the result is a local solution. Every accepted step
    # decreased the objective, so it is never worse than the start.
    log.info(
        "L-BFGS-B: %s after %d iterations (%d evaluations), objective %.8g",
        result.message,
        result.nit,
        result.nfev,
        result.fun,
    )
    return solve_triangular(chol, result.x, trans="T", lower=True)


def solve_gr(pb: Problem, beta: float = 1.0, theta0: np.ndarray | None = None) -> np.ndarray:
    """Minimise :func:`gr_objective` (smooth, non-convex) with L-BFGS-B from ``theta0`` (default:
    the Natural solution, the ``beta = 0`` optimum, which makes the result deterministic)."""
    with _one_blas_thread():
        start = natural_closed_form(pb) if theta0 is None else theta0
        return _lbfgs(lambda th: gr_value_and_grad(th, pb, beta), start, pb)


LLR_SMOOTHING = (1e-2, 1e-4, 1e-6)


def solve_llr(
    pb: Problem,
    lam: float = 4.0,
    mu: float = 3.0,
    theta0: np.ndarray | None = None,
    smoothing: Sequence[float] = LLR_SMOOTHING,
) -> np.ndarray:
    """Minimise :func:`llr_objective` (non-convex, non-smooth) from ``theta0`` (default: the
    Natural solution).

    L-BFGS-B assumes a smooth objective; on the exact LLR objective it stalls at the first kink
    it meets (on the staircase about 10% above the objective reached below). So it runs on the
    smoothed objectives of :func:`llr_value_and_grad` for each ``tau`` in ``smoothing``, each
    from the previous solution (a standard continuation), and finally on the exact objective,
    which can only lower it further.
    """
    with _one_blas_thread():
        theta = natural_closed_form(pb) if theta0 is None else theta0
        for tau in (*smoothing, 0.0):
            theta = _lbfgs(
                lambda th, tau=tau: llr_value_and_grad(th, pb, lam, mu, tau),
                theta,
                pb,
                ftol=1e-12 if tau == 0.0 else 1e-9,
            )
    return theta


# ----------------------------------------------------------------------------- method registry


@dataclass(frozen=True)
class MethodDef:
    solve: Callable[..., np.ndarray]
    objective: Callable[..., float]
    defaults: tuple[float, ...]
    label: str


# Defaults are the paper's: GR weight 1, LLR (lambda, mu) = (4, 3), TRADES's own beta = 6, and
# the middle of the paper's RST grid {0.5, 1, 2}.
METHODS: dict[str, MethodDef] = {
    "natural": MethodDef(solve_natural, natural_objective, (), "Natural"),
    "gr": MethodDef(solve_gr, gr_objective, (1.0,), "GR"),
    "llr": MethodDef(solve_llr, llr_objective, (4.0, 3.0), "LLR"),
    "at": MethodDef(solve_at, at_objective, (), "AT"),
    "rst": MethodDef(solve_rst, rst_objective, (1.0,), "RST"),
    "trades": MethodDef(solve_trades, trades_objective, (6.0,), "TRADES"),
}

_METHOD_RE = re.compile(r"^([a-z]+)((?:\d+(?:\.\d*)?|\.\d+)(?:,(?:\d+(?:\.\d*)?|\.\d+))*)?$")


@dataclass(frozen=True)
class Method:
    """A method name with its hyperparameters, parsed from ``"trades6"``, ``"rst0.5"``,
    ``"llr4,3"`` or a bare name (``"gr"``: the defaults in :data:`METHODS`)."""

    name: str
    params: tuple[float, ...]

    @classmethod
    def parse(cls, spec: str) -> Method:
        match = _METHOD_RE.match(spec)
        if match is None or match.group(1) not in METHODS:
            raise ValueError(
                f"unknown method '{spec}' (known: {', '.join(METHODS)}, optionally followed by "
                "comma-separated numbers, e.g. 'trades6', 'rst0.5', 'llr4,3')"
            )
        name, numbers = match.groups()
        defaults = METHODS[name].defaults
        params = tuple(float(v) for v in numbers.split(",")) if numbers else defaults
        if len(params) != len(defaults):
            raise ValueError(
                f"method '{spec}' has {len(params)} parameter(s); '{name}' takes {len(defaults)}"
            )
        return cls(name, params)

    @property
    def label(self) -> str:
        base = METHODS[self.name].label
        return f"{base}({','.join(f'{p:g}' for p in self.params)})" if self.params else base

    def fit(self, pb: Problem) -> np.ndarray:
        return METHODS[self.name].solve(pb, *self.params)

    def objective(self, theta: np.ndarray, pb: Problem) -> float:
        return METHODS[self.name].objective(theta, pb, *self.params)


# ----------------------------------------------------------------------------- metrics


def staircase_metrics(
    basis: SplineBasis, theta: np.ndarray, data: StaircaseData, eps: float = EPS
) -> dict[str, float]:
    """Per-set metrics of ``f_theta`` on ``data``:

    - ``mse``: ``mean_i (f(x_i) - y_i)^2``
    - ``adv_mse``: ``mean_i max_{x' in S(x_i)} (f(x') - y_i)^2``
    - ``lipschitz``: ``mean_i max_{x' = x_i +- eps} |f(x') - y_i| / eps`` (the original
      notebook's quantity: it measures the output's distance from the *label*)
    - ``local_lipschitz``: ``mean_i max_{x' = x_i +- eps} |f(x') - f(x_i)| / eps`` (the paper's
      empirical local Lipschitz constant, restricted to the two moves)
    """
    f_m, f0, f_p = (predict(basis, theta, data.x + d) for d in (-eps, 0.0, eps))
    y = data.y
    return {
        "mse": float(np.mean((f0 - y) ** 2)),
        "adv_mse": float(np.mean(np.max([(f_m - y) ** 2, (f0 - y) ** 2, (f_p - y) ** 2], axis=0))),
        "lipschitz": float(np.mean(np.maximum(np.abs(f_m - y), np.abs(f_p - y)) / eps)),
        "local_lipschitz": float(np.mean(np.maximum(np.abs(f_m - f0), np.abs(f_p - f0)) / eps)),
    }


TABLE_COLUMNS = [
    "method",
    "label",
    "train_mse",
    "test_mse",
    "adv_train_mse",
    "adv_test_mse",
    "test_lipschitz",
    "test_local_lipschitz",
    "gap",
    "adv_gap",
]


def metrics_row(
    method: str,
    basis: SplineBasis,
    theta: np.ndarray,
    train: StaircaseData,
    test: StaircaseData,
    eps: float = EPS,
) -> dict[str, float | str]:
    """One table row; ``gap = test_mse - train_mse`` and ``adv_gap`` likewise (an error gap,
    the mirror image of the paper's accuracy gap ``train - test``)."""
    tr = staircase_metrics(basis, theta, train, eps)
    ts = staircase_metrics(basis, theta, test, eps)
    return {
        "method": method,
        "label": Method.parse(method).label,
        "train_mse": tr["mse"],
        "test_mse": ts["mse"],
        "adv_train_mse": tr["adv_mse"],
        "adv_test_mse": ts["adv_mse"],
        "test_lipschitz": ts["lipschitz"],
        "test_local_lipschitz": ts["local_lipschitz"],
        "gap": ts["mse"] - tr["mse"],
        "adv_gap": ts["adv_mse"] - tr["adv_mse"],
    }


# ----------------------------------------------------------------------------- experiment


@dataclass(frozen=True)
class StaircaseResult:
    train: StaircaseData
    test: StaircaseData
    basis: SplineBasis
    thetas: dict[str, np.ndarray]
    table: pd.DataFrame
    eps: float


def run_staircase(
    n_train: int,
    n_test: int,
    seed: int,
    methods: Sequence[str],
    eps: float = EPS,
    penalty: float = PENALTY,
) -> StaircaseResult:
    """Sample the data, fit every method in ``methods`` and tabulate :func:`metrics_row`."""
    parsed = [Method.parse(m) for m in methods]  # fail on a bad name before any fitting
    train, test = sample_train_test(n_train, n_test, seed, eps)
    basis = staircase_basis(eps)
    pb = build_problem(train, basis, eps, penalty)
    log.info(
        "staircase: %d train / %d test points, %d coefficients, seed %d",
        n_train,
        n_test,
        basis.n_coef,
        seed,
    )
    thetas: dict[str, np.ndarray] = {}
    for spec, method in progress(
        list(zip(methods, parsed, strict=True)), desc="staircase fits", unit="fit"
    ):
        start = time.perf_counter()
        thetas[spec] = method.fit(pb)
        log.info(
            "%s: fitted in %.2f s, objective %.6g",
            method.label,
            time.perf_counter() - start,
            method.objective(thetas[spec], pb),
        )
    rows = [metrics_row(m, basis, thetas[m], train, test, eps) for m in methods]
    return StaircaseResult(
        train, test, basis, thetas, pd.DataFrame(rows, columns=TABLE_COLUMNS), eps
    )


# ----------------------------------------------------------------------------- plot

# Panels group methods by how they use the perturbation: penalties on the input gradient, the
# worst-case loss, and the worst-case change of the output. Natural is the reference in each.
PANELS = (
    ("gr", "llr"),
    ("at", "rst"),
    ("trades",),
)
_LINESTYLES = ("--", "-.", ":", (0, (5, 1, 1, 1, 1, 1)), (0, (1, 1)))


def plot_staircase(result: StaircaseResult, path: str | Path, title: str = "") -> None:
    """Training points and every method's ``f_theta`` on ``[-eps, 9 + eps]``, one panel per
    group of :data:`PANELS` with Natural (solid black) in each, one colour and line style per
    method.

    Written atomically to ``path`` as a PNG.
    """
    eps = result.eps
    grid = np.linspace(-eps, NUM_STAIRS - 1 + eps, 1200)
    methods = {spec: Method.parse(spec) for spec in result.thetas}
    panels = [
        [spec for spec, m in methods.items() if m.name in group]
        for group in PANELS
        if any(m.name in group for m in methods.values())
    ]
    reference = [spec for spec, m in methods.items() if m.name == "natural"]
    colors = matplotlib.colormaps["tab10"].colors
    style = {spec: (colors[i % len(colors)], i) for i, spec in enumerate(methods)}

    # A bare Figure (no pyplot) draws without a GUI backend and leaks no global state.
    fig = Figure(figsize=(10, 3.4 * max(len(panels), 1) + 0.6), layout="constrained")
    axes = fig.subplots(max(len(panels), 1), 1, sharex=True, squeeze=False)[:, 0]
    # Large sets put thousands of points on each stair: fade them so the curves stay visible.
    alpha = 1.0 if len(result.train) <= 200 else 0.05
    for ax, specs in zip(axes, panels or [[]], strict=True):
        ax.scatter(
            result.train.x,
            result.train.y,
            s=16,
            c="0.35",
            alpha=alpha,
            edgecolors="none",
            zorder=1,
            label=f"training points (n={len(result.train)})",
        )
        for spec in reference + specs:
            color, i = style[spec]
            natural = spec in reference
            ax.plot(
                grid,
                predict(result.basis, result.thetas[spec], grid),
                color="black" if natural else color,
                linestyle="-" if natural else _LINESTYLES[i % len(_LINESTYLES)],
                linewidth=1.4 if natural else 1.9,
                zorder=2,
                label=methods[spec].label,
            )
        ax.set_ylabel(r"$y$,  $f_\theta(x)$")
        ax.grid(True, alpha=0.3)
        legend = ax.legend(loc="upper left", fontsize="small", framealpha=0.9)
        legend.legend_handles[0].set_alpha(1.0)
    axes[-1].set_xlabel("$x$")
    axes[-1].set_xlim(grid[0], grid[-1])
    axes[-1].set_xticks(np.arange(NUM_STAIRS))
    fig.suptitle(title)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=110)
