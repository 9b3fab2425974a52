"""The table's metrics in closed form (lolip.staircase.metrics)."""

from __future__ import annotations

import numpy as np
import pytest

from lolip import staircase as st
from tests.helpers import staircase_case as case


def test_metrics_of_a_constant_function(basis, data):
    """B-splines sum to one, so theta = c gives f = c: every metric has a closed form."""
    c = 2.5
    m = st.staircase_metrics(basis, np.full(basis.n_coef, c), data, case.EPS)
    assert m["mse"] == pytest.approx(np.mean((c - data.y) ** 2))
    assert m["adv_mse"] == pytest.approx(m["mse"])
    assert m["lipschitz"] == pytest.approx(np.mean(np.abs(c - data.y)) / case.EPS)
    assert m["local_lipschitz"] == pytest.approx(0.0, abs=1e-12)


def test_metrics_of_the_identity_function(basis, data):
    """Coefficients at the Greville abscissae reproduce f(x) = x, whose slope is exactly 1."""
    k = basis.degree
    greville = np.array([basis.knots[j + 1 : j + k + 1].mean() for j in range(basis.n_coef)])
    m = st.staircase_metrics(basis, greville, data, case.EPS)
    x, y = data.x, data.y
    assert m["mse"] == pytest.approx(np.mean((x - y) ** 2))
    worst = np.maximum.reduce([(x + d - y) ** 2 for d in (-case.EPS, 0.0, case.EPS)])
    assert m["adv_mse"] == pytest.approx(np.mean(worst))
    assert m["lipschitz"] == pytest.approx(np.mean(np.abs(x - y) + case.EPS) / case.EPS)
    assert m["local_lipschitz"] == pytest.approx(1.0)
