"""The staircase tests' shared case: a small training set with every stair covered, its problem,
the main grid's methods, and direct evaluations of the loss (tests/unit/staircase/)."""

from __future__ import annotations

import functools

import numpy as np
import yaml

from lolip import staircase as st
from tests.helpers.workflow import ROOT

EPS = st.EPS
# The main grid's methods: the staircase's methods are its entries.
CONFIG_METHODS = yaml.safe_load((ROOT / "config/config.yaml").read_text())["methods"]


def method(name: str) -> st.StaircaseMethod:
    """The config's method ``name`` as the staircase fits it."""
    return st.resolve_methods({name: CONFIG_METHODS[name]})[0]


@functools.cache
def basis() -> st.SplineBasis:
    return st.staircase_basis(EPS)


@functools.cache
def training_set() -> st.StaircaseData:
    """60 sampled points, four of them moved a second time (so inputs x +- 2 eps occur), plus
    one point on every stair: with no empty stair the solutions are well determined."""
    d = st.sample_staircase(60, np.random.default_rng(3), eps=EPS)
    x = d.x.copy()
    x[:4] += np.array([EPS, -EPS, EPS, -EPS])
    stairs = np.arange(10.0)
    y = stairs + 0.1 * np.random.default_rng(4).standard_normal(10)
    return st.StaircaseData(x=np.r_[x, stairs], y=np.r_[d.y, y])


@functools.cache
def problem() -> st.Problem:
    return st.build_problem(training_set(), basis(), EPS, st.PENALTY)


def loss(basis: st.SplineBasis, theta: np.ndarray, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    return (st.predict(basis, theta, x) - y) ** 2


def curve(basis: st.SplineBasis, theta: np.ndarray) -> np.ndarray:
    return st.predict(basis, theta, np.linspace(-EPS, 9 + EPS, 400))


def dloss_dx(basis, theta, x, y, h=1e-6):
    return (loss(basis, theta, x + h, y) - loss(basis, theta, x - h, y)) / (2 * h)
