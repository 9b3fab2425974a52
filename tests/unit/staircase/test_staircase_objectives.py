"""Each method's objective against its formula (lolip.staircase.objectives)."""

from __future__ import annotations

import numpy as np
import pytest

from lolip import staircase as st
from tests.helpers import staircase_case as case


def test_objectives_match_their_definitions(pb, basis, data):
    """Each objective against a direct evaluation of its formula with predict() and the loss."""
    theta = np.random.default_rng(1).standard_normal(pb.n_coef) + np.linspace(-1, 10, pb.n_coef)
    x, y = data.x, data.y
    pen = st.PENALTY * float(np.sum(np.diff(theta, 2) ** 2))
    loss = {d: case.loss(basis, theta, x + d, y) for d in (-case.EPS, 0.0, case.EPS)}
    worst = np.maximum.reduce(list(loss.values()))
    f = {d: st.predict(basis, theta, x + d) for d in (-case.EPS, 0.0, case.EPS)}
    change = np.maximum((f[-case.EPS] - f[0.0]) ** 2, (f[case.EPS] - f[0.0]) ** 2)
    grad_x = case.dloss_dx(basis, theta, x, y)
    lin = [np.abs(loss[d] - loss[0.0] - d * grad_x) for d in (-case.EPS, case.EPS)]

    assert st.natural_objective(theta, pb) == pytest.approx(loss[0.0].sum() + pen)
    assert st.at_objective(theta, pb) == pytest.approx(worst.sum() + pen)
    assert st.rst_objective(theta, pb, lam=0.5) == pytest.approx(
        loss[0.0].sum() + 0.5 * worst.sum() + pen
    )
    assert st.trades_objective(theta, pb, beta=3.0) == pytest.approx(
        loss[0.0].sum() + 3.0 * change.sum() + pen
    )
    assert st.gr_objective(theta, pb, beta=2.0) == pytest.approx(
        loss[0.0].sum() + 2.0 * np.sum(grad_x**2) + pen, rel=1e-6
    )
    assert st.llr_objective(theta, pb, lam=4.0, mu=3.0) == pytest.approx(
        loss[0.0].sum()
        + 4.0 * np.maximum(*lin).sum()
        + 3.0 * case.EPS * np.abs(grad_x).sum()
        + pen,
        rel=1e-6,
    )


@pytest.mark.parametrize(
    "value_and_grad",
    [
        lambda th, pb: st.gr_value_and_grad(th, pb, beta=2.0),
        lambda th, pb: st.llr_value_and_grad(th, pb, lam=4.0, mu=3.0),
        lambda th, pb: st.llr_value_and_grad(th, pb, lam=4.0, mu=3.0, tau=1e-3),
    ],
    ids=["gr", "llr", "llr_smoothed"],
)
def test_analytic_gradient_matches_finite_differences(pb, value_and_grad):
    theta = np.random.default_rng(2).standard_normal(pb.n_coef) + np.linspace(-1, 10, pb.n_coef)
    _, grad = value_and_grad(theta, pb)
    h = 1e-6
    numeric = np.array(
        [
            (value_and_grad(theta + h * e, pb)[0] - value_and_grad(theta - h * e, pb)[0]) / (2 * h)
            for e in np.eye(pb.n_coef)
        ]
    )
    np.testing.assert_allclose(grad, numeric, rtol=1e-5, atol=1e-5 * np.abs(numeric).max())
