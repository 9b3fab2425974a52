"""The spline model: its basis, slopes and smoothness penalty (lolip.staircase.spline)."""

from __future__ import annotations

import numpy as np
import pytest

from lolip import staircase as st
from tests.helpers import staircase_case as case


def test_basis_has_knots_at_stairs_and_eps_moves(basis):
    inner = np.concatenate([np.arange(10) + d for d in (-case.EPS, 0.0, case.EPS)])
    for knot in inner:
        assert np.min(np.abs(basis.knots - knot)) < 1e-12
    # The basis is a partition of unity wherever a doubly moved point can land.
    x = np.linspace(-2 * case.EPS, 9 + 2 * case.EPS, 501)
    np.testing.assert_allclose(basis.features(x).sum(axis=1), 1.0, atol=1e-12)


def test_slopes_are_derivatives_of_features(basis):
    x = (
        np.linspace(-case.EPS, 9 + case.EPS, 97) + 1e-3
    )  # off the knots, where B' is continuous anyway
    h = 1e-6
    numeric = (basis.features(x + h) - basis.features(x - h)).toarray() / (2 * h)
    np.testing.assert_allclose(basis.slopes(x).toarray(), numeric, atol=1e-6)


def test_penalty_is_sum_of_squared_second_differences():
    theta = np.random.default_rng(0).standard_normal(12)
    p = st.smoothness_penalty(12)
    expected = sum((theta[j] - 2 * theta[j + 1] + theta[j + 2]) ** 2 for j in range(10))
    assert theta @ p @ theta == pytest.approx(expected)
    assert np.ones(12) @ p @ np.ones(12) == pytest.approx(0.0)
    assert np.arange(12.0) @ p @ np.arange(12.0) == pytest.approx(0.0)
