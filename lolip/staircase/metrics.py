"""The table's metrics: clean and worst-case errors on the three-point set, and the local
Lipschitz constant of the fitted function."""

from __future__ import annotations

import numpy as np

from lolip.staircase.data import EPS, StaircaseData
from lolip.staircase.methods import StaircaseMethod
from lolip.staircase.spline import SplineBasis, predict


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
    method: StaircaseMethod,
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
        "method": method.name,
        "label": method.label,
        "train_mse": tr["mse"],
        "test_mse": ts["mse"],
        "adv_train_mse": tr["adv_mse"],
        "adv_test_mse": ts["adv_mse"],
        "test_lipschitz": ts["lipschitz"],
        "test_local_lipschitz": ts["local_lipschitz"],
        "gap": ts["mse"] - tr["mse"],
        "adv_gap": ts["adv_mse"] - tr["adv_mse"],
    }
