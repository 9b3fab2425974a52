"""Each training method as an objective over the spline's coefficients ``theta``.

Written with the squared loss ``l(theta; x, y) = (f_theta(x) - y)^2`` summed (not averaged) over
the ``n`` training points as the original notebook does, so the smoothness penalty's relative
weight shrinks as ``n`` grows. Robustness is measured on the three-point perturbation set
``S(x) = {x - eps, x, x + eps}`` (the interval ``B(x, eps)`` in 1-D, reduced to its centre and
end points). With ``r_i = f(x_i) - y_i`` and ``dl/dx (x_i) = 2 r_i f'(x_i)``:

- Natural:      sum_i l(x_i) + lambda theta^T P theta
- AT:           sum_i max_{x' in S(x_i)} l(x') + lambda theta^T P theta
- RST(lam):     sum_i [l(x_i) + lam max_{x' in S(x_i)} l(x')] + lambda theta^T P theta
- TRADES(beta): sum_i [l(x_i) + beta max_{x' in S(x_i)} (f(x') - f(x_i))^2] + lambda theta^T P theta
- GR(beta):     sum_i [l(x_i) + beta (dl/dx (x_i))^2] + lambda theta^T P theta
- LLR(lam, mu): sum_i [l(x_i) + lam g(delta*_i) + mu |delta*_i dl/dx (x_i)|]
  + lambda theta^T P theta, with ``g(delta) = |l(x_i + delta) - l(x_i) - delta dl/dx (x_i)|``
  and ``delta*_i`` its maximiser over ``x_i + delta in S(x_i)``

Each function here evaluates one of them with numpy (and its gradient where a local solver
needs it); :mod:`lolip.staircase.solvers` minimises them. The finite-sample forms of GR and
LLR are stated in :func:`gr_value_and_grad` and :func:`llr_value_and_grad`.
"""

from __future__ import annotations

import numba
import numpy as np

from lolip.staircase.problem import Problem


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
    ``sqrt(z^2 + tau^2) - tau`` (within ``tau`` of ``|z|``) for the continuation of
    :func:`.solvers.solve_llr`; ``tau = 0`` is the exact objective, with ``sign(0) = 0`` at the
    kinks.
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
