"""The experiment: sample the data, fit every method, tabulate the metrics."""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from lolip.progress import progress
from lolip.staircase.data import EPS, StaircaseData, sample_train_test
from lolip.staircase.methods import Method
from lolip.staircase.metrics import TABLE_COLUMNS, metrics_row
from lolip.staircase.problem import build_problem
from lolip.staircase.spline import PENALTY, SplineBasis, staircase_basis

log = logging.getLogger(__name__)


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
