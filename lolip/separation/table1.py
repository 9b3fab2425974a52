"""Table 1 and the theorem's nearest-neighbour classifier, from per-point distances.

Table 1 reports ``min_x d_other(x)`` over training queries ("train-train") and over test
queries ("test-train"), distances on the flattened ``[0, 1]`` pixels the models see
(``pixel / pixel_max``). The 1-nearest-neighbour rule ``argmin_i dist(x, class i)`` is the
classifier of the paper's existence theorem, with ``f(x)_i = dist(x, class i) / r``.

Two steps, so that the first can run in shards: :func:`separation_points` finds the
nearest neighbours of a block of the queries, :func:`summarize` turns the whole per-point
table into the summary. :func:`compute_separation` is both, over every query.
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from lolip.separation.checks import check_compatible, check_labels, check_pixels, flatten
from lolip.separation.points import check_order, concat_points, points_frame
from lolip.separation.search import resolve_backend, search

log = logging.getLogger("lolip")


@dataclass(frozen=True)
class Separation:
    """Result of :func:`compute_separation`: a JSON-able ``summary`` and per-point ``points``."""

    summary: dict[str, Any]
    points: pd.DataFrame


def compute_separation(
    x_train: np.ndarray,
    y_train: np.ndarray,
    x_test: np.ndarray,
    y_test: np.ndarray,
    *,
    pixel_max: float,
    eps: float,
    drop_smallest: int = 0,
    label_seed: int | None = None,
    device: str = "cpu",
    backend: str = "auto",
) -> Separation:
    """Table 1 for one dataset, plus the theorem's 1-NN classifier, in one exact pass:
    :func:`summarize` of :func:`separation_points` over every query.

    Inputs: images ``(N, C, H, W)`` as uint8 (``pixel / pixel_max`` is the [0, 1] value)
    or float32 in [0, 1] (``pixel_max = 1``); labels 0..K-1. With ``label_seed`` the
    training labels are first replaced by :func:`permuted_labels` (the random-label
    control, issue 10); test labels are kept. ``summary["seconds"]`` is the time taken.
    """
    started = time.perf_counter()
    check_eps(eps)
    check_drop_smallest(drop_smallest, len(x_train))
    backend = resolve_backend(backend, device)
    points = separation_points(
        x_train,
        y_train,
        x_test,
        y_test,
        pixel_max=pixel_max,
        label_seed=label_seed,
        device=device,
        backend=backend,
    )
    summary = summarize(
        points,
        eps=eps,
        pixel_max=pixel_max,
        drop_smallest=drop_smallest,
        label_seed=label_seed,
        backend=backend,
        device=str(device),
    )
    summary["seconds"] = round(time.perf_counter() - started, 3)
    log_summary(summary)
    return Separation(summary=summary, points=points)


def separation_points(
    x_train: np.ndarray,
    y_train: np.ndarray,
    x_test: np.ndarray,
    y_test: np.ndarray,
    *,
    pixel_max: float,
    queries: slice = slice(None),
    label_seed: int | None = None,
    device: str = "cpu",
    backend: str = "auto",
) -> pd.DataFrame:
    """Per-point nearest neighbours of the queries ``queries`` selects, against the whole
    training set: the rows ``queries`` of the table of :mod:`lolip.separation.points`.

    The queries are the training points, then the test points (``N + M`` in all), and
    ``queries`` is a contiguous slice of them, e.g. :func:`query_block`; the rows say
    which split and index each query is. A training query is never its own same-label
    neighbour. With ``label_seed`` the training labels are :func:`permuted_labels`, the
    same permutation for every slice. Each row depends on its query alone, so the blocks
    of any split of the queries, concatenated, are the rows of the whole, bit for bit.
    """
    train = flatten(x_train, "x_train")
    check_pixels(train, pixel_max, "x_train")
    test = flatten(x_test, "x_test")
    check_pixels(test, pixel_max, "x_test")
    y_train = check_labels(y_train, len(train), "y_train")
    y_test = check_labels(y_test, len(test), "y_test")
    if label_seed is not None:
        y_train = permuted_labels(y_train, label_seed)
    backend = resolve_backend(backend, device)
    check_compatible(train, test)
    n_train = len(train)
    start, stop, step = queries.indices(n_train + len(test))
    if step != 1:
        raise ValueError(f"queries must be a contiguous slice, got step {step}")
    stop = max(start, stop)
    rows_train = slice(min(start, n_train), min(stop, n_train))
    rows_test = slice(max(start - n_train, 0), max(stop - n_train, 0))
    own = np.arange(rows_train.start, rows_train.stop)
    no_own = np.full(rows_test.stop - rows_test.start, -1)
    train_nn, test_nn = search(
        [
            (train[rows_train], y_train[rows_train], own),
            (test[rows_test], y_test[rows_test], no_own),
        ],
        train,
        y_train,
        want_same=True,
        device=device,
        backend=backend,
    )
    return concat_points(
        [
            points_frame("train", rows_train.start, y_train[rows_train], train_nn, pixel_max),
            points_frame("test", rows_test.start, y_test[rows_test], test_nn, pixel_max),
        ]
    )


def query_block(n_queries: int, shard: int, shards: int) -> slice:
    """Shard ``shard`` of ``shards`` (1-based, as Snakemake's scatter items ``1-of-K``):
    the ``shard``-th of ``shards`` contiguous blocks of ``n_queries`` queries, whose
    sizes differ by at most one."""
    if not 1 <= shard <= shards:
        raise ValueError(f"shard must lie in [1, {shards}], got {shard}")
    return slice((shard - 1) * n_queries // shards, shard * n_queries // shards)


def summarize(
    points: pd.DataFrame,
    *,
    eps: float,
    pixel_max: float,
    drop_smallest: int = 0,
    label_seed: int | None = None,
    backend: str,
    device: str,
) -> dict[str, Any]:
    """Table 1's numbers and the 1-NN classifier's accuracies from the whole per-point
    table (every training query, then every test query); ``pixel_max``, ``label_seed``,
    ``backend`` and ``device`` are recorded as given.

    Separation. ``train_train_min`` is the minimum of ``d_other`` over training points
    after dropping the ``drop_smallest`` smallest values (paper: 4 for SVHN, 6 for
    Restricted ImageNet; the dropped points are listed, ``train_train_min_raw`` keeps
    the minimum before dropping). ``test_train_min`` is the minimum over test points.
    ``r`` is half of ``train_train_min``: the data are r-separated in the paper's sense.

    The 1-NN classifier ``g(x) = argmin_i dist(x, X_i)`` (``X_i`` the training points of
    class i) is the theorem's classifier ``argmin_i f(x)_i`` with
    ``f(x)_i = dist(x, X_i) / r``. A test point ``(x, y)`` is classified correctly iff
    ``d_same < d_other``; a tie counts as an error (``nn_tie_rate`` reports their share).

    Certified astute at radius e iff correct and ``d_other - d_same > 2 e``. Proof: let
    ``||x' - x||_inf <= e``. ``dist(., X_i)`` is 1-Lipschitz in l_inf (triangle
    inequality: ``||x' - z|| <= ||x' - x|| + ||x - z||`` for every z, take the minimum
    over ``z in X_i``, and symmetrically). Hence ``dist(x', X_y) <= d_same + e`` and, for
    every ``i != y``, ``dist(x', X_i) >= dist(x, X_i) - e >= d_other - e``. If
    ``d_other - d_same > 2 e`` then ``d_same + e < d_other - e``, so ``X_y`` is strictly
    the nearest class at every ``x'`` in the ball: ``g(x') = y`` on all of ``B(x, e)``.
    The bound is tight: moving ``x`` by ``e`` straight toward its nearest other-class
    point can reach a point where that class is at least as near when the margin is
    ``<= 2 e`` (the tests construct one). Each ``f_i`` is ``1/r``-Lipschitz, so
    ``nn_lipschitz = 1/r``.

    Summary accuracies are percentages of the test set; all distances are in [0, 1].
    Non-finite summary values (e.g. one class only) are written as None.
    """
    check_eps(eps)
    n_train, n_test = check_order(points)
    check_drop_smallest(drop_smallest, n_train)
    train_d = points["d_other"].to_numpy()[:n_train]
    train_labels = points["label"].to_numpy()[:n_train]
    ranked = np.lexsort((np.arange(n_train), train_d))  # by distance, then index
    dropped = ranked[:drop_smallest]
    kept_min = train_d[ranked[drop_smallest]]
    test = points.iloc[n_train:]
    d_same, d_other = test["d_same"].to_numpy(), test["d_other"].to_numpy()
    r = kept_min / 2
    summary = {
        "eps": eps,
        "pixel_max": pixel_max,
        "n_train": n_train,
        "n_test": n_test,
        "drop_smallest": drop_smallest,
        "train_train_min": kept_min,
        "train_train_min_index": int(ranked[drop_smallest]),
        "train_train_min_raw": float(train_d.min()),
        "test_train_min": float(d_other.min()) if n_test else math.inf,
        "test_train_min_index": int(np.argmin(d_other)) if n_test else -1,
        "dropped": [
            {"index": int(i), "d_other": float(train_d[i]), "label": int(train_labels[i])}
            for i in dropped
        ],
        "r": r,
        "nn_clean_acc": _percent(d_same < d_other),
        "nn_certified_acc": _percent(certified(d_same, d_other, eps)),
        "nn_certified_acc_at_r": _percent(certified(d_same, d_other, r)),
        "nn_tie_rate": _percent(d_same == d_other),
        "nn_lipschitz": 1 / r if r > 0 else math.inf,
        "label_seed": label_seed,
        "backend": backend,
        "device": device,
    }
    return {k: _finite_or_none(v) for k, v in summary.items()}


def certified(d_same: np.ndarray, d_other: np.ndarray, radius: float) -> np.ndarray:
    """1-NN certified astute at ``radius``: correct and ``d_other - d_same > 2 radius``
    (argument in :func:`summarize`); distances in the same units as ``radius``."""
    return (d_same < d_other) & (d_other - d_same > 2 * radius)


def permuted_labels(labels: np.ndarray, seed: int) -> np.ndarray:
    """The random-label control: ``labels[np.random.default_rng(seed).permutation(N)]``.

    A permutation keeps every label's count; the same seed gives the same labels.
    """
    return np.asarray(labels)[np.random.default_rng(seed).permutation(len(labels))]


def log_summary(summary: dict[str, Any]) -> None:
    log.info(
        "separation of %d + %d points: train-train %.4f, test-train %.4f (%.1f s)",
        summary["n_train"],
        summary["n_test"],
        summary["train_train_min"] if summary["train_train_min"] is not None else math.inf,
        summary["test_train_min"] if summary["test_train_min"] is not None else math.inf,
        summary["seconds"],
    )


def check_eps(eps: float) -> None:
    if eps < 0:
        raise ValueError(f"eps must be non-negative, got {eps}")


def check_drop_smallest(drop_smallest: int, n_train: int) -> None:
    if not 0 <= drop_smallest < n_train:
        raise ValueError(f"drop_smallest must lie in [0, {n_train}), got {drop_smallest}")


def _percent(mask: np.ndarray) -> float:
    return 100.0 * float(mask.mean()) if len(mask) else math.nan


def _finite_or_none(value: Any) -> Any:
    if isinstance(value, (float, np.floating)):
        return float(value) if math.isfinite(value) else None
    return value
