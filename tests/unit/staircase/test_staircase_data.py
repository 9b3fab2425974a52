"""The staircase distribution and its training and test sets (lolip.staircase.data)."""

from __future__ import annotations

import numpy as np

from lolip import staircase as st
from tests.helpers import staircase_case as case


def test_sample_staircase_matches_stated_distribution():
    n = 200_000
    d = st.sample_staircase(n, np.random.default_rng(0), eps=case.EPS)
    stairs = np.round(d.x)
    freq = np.bincount(stairs.astype(int), minlength=10) / n
    weights = np.r_[[0.2] * 5, [0.01] * 5] / 1.05
    assert np.all(np.abs(freq - weights) < 4 * np.sqrt(weights / n))
    moves = d.x - stairs
    assert set(np.round(np.unique(moves), 12)) == {round(-case.EPS, 12), 0.0, round(case.EPS, 12)}
    assert abs(np.mean(moves != 0) - 0.005) < 4 * np.sqrt(0.005 / n)
    assert abs(np.std(d.y - stairs) - 0.1) < 0.002


def test_train_and_test_are_reproducible_and_independent():
    a_train, a_test = st.sample_train_test(50, 50, seed=7)
    b_train, b_test = st.sample_train_test(50, 50, seed=7)
    np.testing.assert_array_equal(a_train.y, b_train.y)
    np.testing.assert_array_equal(a_test.y, b_test.y)
    assert not np.allclose(a_train.y, a_test.y)
