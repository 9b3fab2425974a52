"""The experiment: sample the data, fit every method, tabulate the metrics."""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from lolip.io import atomic_path
from lolip.progress import progress
from lolip.staircase.data import EPS, StaircaseData, sample_train_test
from lolip.staircase.fits import StaircaseFits, save_fits
from lolip.staircase.methods import resolve_methods
from lolip.staircase.metrics import TABLE_COLUMNS, metrics_row
from lolip.staircase.problem import build_problem
from lolip.staircase.spline import PENALTY, staircase_basis

log = logging.getLogger(__name__)

# The table's numbers as the CSV holds them (a report item, read by people).
TABLE_FLOAT_FORMAT = "%.6g"


@dataclass(frozen=True)
class StaircaseResult:
    fits: StaircaseFits  # the training set and every method's fitted function
    test: StaircaseData
    table: pd.DataFrame  # one row of :func:`metrics_row` per method


def run_staircase(
    n_train: int,
    n_test: int,
    seed: int,
    methods: Mapping[str, Mapping[str, Any]],
    eps: float = EPS,
    penalty: float = PENALTY,
) -> StaircaseResult:
    """Sample the data, fit every method of ``methods`` (name -> ``{loss, hyperparameters}``,
    entries of the config's ``methods:`` section) and tabulate :func:`metrics_row`."""
    resolved = resolve_methods(methods)  # fail on a bad entry before any fitting
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
    for method in progress(resolved, desc="staircase fits", unit="fit"):
        start = time.perf_counter()
        thetas[method.name] = method.fit(pb)
        log.info(
            "%s (%s): fitted in %.2f s, objective %.6g",
            method.name,
            method.label,
            time.perf_counter() - start,
            method.objective(thetas[method.name], pb),
        )
    rows = [metrics_row(m, basis, thetas[m.name], train, test, eps) for m in resolved]
    fits = StaircaseFits(train, basis, eps, penalty, tuple(resolved), thetas)
    return StaircaseResult(fits, test, pd.DataFrame(rows, columns=TABLE_COLUMNS))


def write_results(
    result: StaircaseResult, table: str | os.PathLike, fits: str | os.PathLike
) -> None:
    """The metrics table as CSV to ``table`` and the fitted functions to ``fits``
    (:func:`lolip.staircase.fits.save_fits`), each atomically."""
    with atomic_path(table) as tmp:
        result.table.to_csv(tmp, index=False, float_format=TABLE_FLOAT_FORMAT)
    save_fits(result.fits, fits)
