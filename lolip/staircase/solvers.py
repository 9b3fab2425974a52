"""Solvers: each objective of :mod:`lolip.staircase.objectives` minimised.

Natural, AT, RST and TRADES are convex (a maximum of squares of affine functions of ``theta`` is
convex) and are solved to optimality with cvxpy (Clarabel), written as quadratic programs. GR and
LLR multiply the residual by the slope ``f'(x)``, both affine in ``theta``, so they are
non-convex and only a local solution is available: GR is smooth and is minimised with L-BFGS-B
from the Natural solution; LLR is also non-smooth, and L-BFGS-B runs on a sequence of smoothed
versions before the exact one (:func:`solve_llr`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence

import cvxpy as cp
import numpy as np
import scipy.sparse as sp
from scipy.linalg import solve_triangular
from scipy.optimize import minimize
from threadpoolctl import threadpool_limits

from lolip.staircase.objectives import gr_value_and_grad, llr_value_and_grad
from lolip.staircase.problem import Problem
from lolip.staircase.spline import smoothness_penalty

log = logging.getLogger(__name__)

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
    """Minimise :func:`.objectives.natural_objective` (convex, quadratic) with cvxpy."""
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
    """Minimise :func:`.objectives.at_objective` (convex: a sum of maxima of convex quadratics)
    with cvxpy."""

    def build(th: cp.Variable) -> Convex:
        worst, constraints = _cvx_worst_residual(th, pb)
        return worst + _cvx_penalty(th, pb), constraints

    return _solve_convex(build, pb)


def solve_rst(pb: Problem, lam: float = 1.0) -> np.ndarray:
    """Minimise :func:`.objectives.rst_objective` (convex: a non-negative sum of convex terms)
    with cvxpy."""

    def build(th: cp.Variable) -> Convex:
        worst, constraints = _cvx_worst_residual(th, pb)
        return _cvx_clean(th, pb) + lam * worst + _cvx_penalty(th, pb), constraints

    return _solve_convex(build, pb)


def solve_trades(pb: Problem, beta: float = 6.0) -> np.ndarray:
    """Minimise :func:`.objectives.trades_objective` with cvxpy: the change ``f(x') - f(x_i)``
    is affine in ``theta``, so its largest square is convex and TRADES is convex here."""

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
    """Minimise :func:`.objectives.gr_objective` (smooth, non-convex) with L-BFGS-B from
    ``theta0`` (default: the Natural solution, the ``beta = 0`` optimum, which makes the result
    deterministic)."""
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
    """Minimise :func:`.objectives.llr_objective` (non-convex, non-smooth) from ``theta0``
    (default: the Natural solution).

    L-BFGS-B assumes a smooth objective; on the exact LLR objective it stalls at the first kink
    it meets (on the staircase about 10% above the objective reached below). So it runs on the
    smoothed objectives of :func:`.objectives.llr_value_and_grad` for each ``tau`` in
    ``smoothing``, each from the previous solution (a standard continuation), and finally on the
    exact objective, which can only lower it further.
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
