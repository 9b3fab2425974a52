"""Exact l_inf dataset separation (Table 1) and the theorem's nearest-neighbour classifier.

For a query ``x`` with label ``y`` and a labelled training set, two distances decide
everything here::

    d_other(x) = min { ||x - x_j||_inf : y_j != y }     (separation of x)
    d_same(x)  = min { ||x - x_j||_inf : y_j == y, j != x's own index }

on the flattened ``[0, 1]`` pixels the models see (``pixel / pixel_max``). Table 1 reports
``min_x d_other(x)`` over training queries ("train-train") and over test queries
("test-train"). The 1-nearest-neighbour rule ``argmin_i dist(x, class i)`` is the
classifier of the paper's existence theorem, with ``f(x)_i = dist(x, class i) / r``.

Both distances come from one exact pass (:func:`nearest_neighbours`). The CPU kernel
is brute force with *exact* pruning; the argument is in :func:`_kernel`. Where a torch
device other than the CPU is given, the same answer is computed with ``torch.cdist``.
"""

from __future__ import annotations

import logging
import math
import os
import time
from dataclasses import dataclass
from typing import Any

import numba
import numpy as np
import pandas as pd
from numba import types
from numba.extending import overload

from lolip.io import atomic_path
from lolip.progress import progress

log = logging.getLogger("lolip")

LANES = 64
"""Training points per tile: one AVX-512 register of bytes."""
CHUNK = 32
"""Dimensions computed between two checks whether a tile can be abandoned."""
QUERY_TILE = 64
"""Queries that share one sweep over the training tiles (the tiles stay in cache)."""
QUERY_BLOCK = 4096
"""Queries per kernel call: the unit of progress reports and of the query copy in memory."""
BACKENDS = ("auto", "numba", "torch")
POINT_COLUMNS = ("split", "index", "label", "d_other", "idx_other", "d_same", "idx_same")


@dataclass(frozen=True)
class NNResult:
    """Per query: nearest training point with another label and with the same label.

    Distances are l_inf in the *raw units of the input* (0..255 for uint8 images, so
    divide by ``pixel_max`` for [0, 1] units; [0, 1] already for float inputs), as float64.
    An index is -1 where no candidate exists (``d = inf``): no training point of another
    label, or a class whose only training point is the query itself. Among equally near
    candidates the one first in (label, index) order is returned, on every backend.
    """

    d_other: np.ndarray
    idx_other: np.ndarray
    d_same: np.ndarray
    idx_same: np.ndarray


@dataclass(frozen=True)
class Separation:
    """Result of :func:`compute_separation`: a JSON-able ``summary`` and per-point ``points``."""

    summary: dict[str, Any]
    points: pd.DataFrame


# --------------------------------------------------------------------------- CPU kernel


def _absdiff(x, q):
    """``|x - q|`` in the inputs' own dtype (compiled by the overload below)."""
    return abs(x - q)


@overload(_absdiff)
def _absdiff_typed(x, q):
    if x == types.uint8 and q == types.uint8:
        # max - min never underflows; the explicit cast keeps LLVM on byte vectors
        # (numba would otherwise widen to int64 and vectorise 8x narrower).
        return lambda x, q: np.uint8(max(x, q) - min(x, q))
    if isinstance(x, types.Float) and x == q:
        return lambda x, q: abs(x - q)
    return None


@numba.njit(parallel=True, boundscheck=False, cache=True)
def _kernel(
    queries, query_labels, query_self, tiles, labels, n_train, want_same, lanes, out_d, out_i
):  # pragma: no cover - compiled
    """Nearest same-label and other-label training point for every query, exactly.

    ``tiles[t, j, i]`` is dimension ``j`` of training point ``t * LANES + i`` (training
    points sorted by label, dimensions by decreasing variance, both zero-padded; padding
    rows repeat the last real point). ``query_self[m]`` is the sorted position of query
    m's own copy, or -1. Per query the running bests ``u_same`` and ``u_other`` start at
    +inf and only decrease.

    Exactness of the pruning. ``acc[i]`` holds ``max_{j < J} |q_j - x_ij|`` after the first
    ``J`` dimensions, a lower bound of ``||q - x_i||_inf`` that never decreases as ``J``
    grows. Every ``CHUNK`` dimensions, if ``min_i acc[i] >= thr`` for the tile, every
    point of the tile is at distance ``>= thr`` and the tile is abandoned. ``thr`` is the
    running best of the group the tile belongs to (``u_same`` or ``u_other``; the larger
    of the two for a tile that holds both labels), and a point only replaces a best when
    strictly nearer, so an abandoned point could not have changed any result. A tile
    that is not abandoned is computed over all dimensions, giving exact distances.
    Training points are visited in sorted order and replace a best only when strictly
    nearer, so ties resolve to the first point in (label, index) order.

    The innermost loop (64 lanes of one dimension) has no branch, so LLVM compiles it to
    vector max/min/sub instructions; the checks sit between chunks.
    """
    n_queries, dims = queries.shape
    n_tiles = tiles.shape[0]
    n_chunks = dims // CHUNK
    n_query_tiles = (n_queries + QUERY_TILE - 1) // QUERY_TILE
    for query_tile in numba.prange(n_query_tiles):
        m0 = query_tile * QUERY_TILE
        m1 = min(n_queries, m0 + QUERY_TILE)
        # ``lanes`` is LANES passed at run time: with a length unknown at compile time,
        # LLVM vectorises the min-over-lanes below instead of unrolling it to scalars.
        acc = np.zeros((QUERY_TILE, lanes), queries.dtype)
        u_same = np.full(QUERY_TILE, np.inf)
        u_other = np.full(QUERY_TILE, np.inf)
        i_same = np.full(QUERY_TILE, -1)
        i_other = np.full(QUERY_TILE, -1)
        for tile in range(n_tiles):
            lo = tile * LANES
            hi = min(n_train, lo + LANES)
            first_label = labels[lo]
            uniform = first_label == labels[hi - 1]
            for t in range(m1 - m0):
                m = m0 + t
                label = query_labels[m]
                if uniform and label == first_label:
                    if not want_same:
                        continue
                    thr = u_same[t]
                elif uniform or not want_same:
                    thr = u_other[t]
                else:
                    thr = max(u_same[t], u_other[t])
                for i in range(LANES):
                    acc[t, i] = 0
                lowest = acc[t, 0]
                for chunk in range(n_chunks):
                    for jj in range(CHUNK):
                        j = chunk * CHUNK + jj
                        q = queries[m, j]
                        for i in range(LANES):
                            x = tiles[tile, j, i]
                            acc[t, i] = max(acc[t, i], _absdiff(x, q))
                    lowest = acc[t, 0]
                    for i in range(acc.shape[1]):
                        value = acc[t, i]
                        lowest = value if value < lowest else lowest
                    if lowest >= thr:
                        break
                if lowest < thr:
                    for i in range(hi - lo):
                        n = lo + i
                        d = acc[t, i]
                        if labels[n] == label:
                            if want_same and d < u_same[t] and n != query_self[m]:
                                u_same[t] = d
                                i_same[t] = n
                        elif d < u_other[t]:
                            u_other[t] = d
                            i_other[t] = n
        for t in range(m1 - m0):
            out_d[m0 + t, 0] = u_same[t]
            out_d[m0 + t, 1] = u_other[t]
            out_i[m0 + t, 0] = i_same[t]
            out_i[m0 + t, 1] = i_other[t]


def _dimension_order(train: np.ndarray, sample: int = 8192) -> np.ndarray:
    """Dimensions by decreasing variance (stable on ties), estimated on at most ``sample``
    evenly spaced training points.

    High-variance pixels are where two images differ most, so visiting them first makes
    the lower bound in :func:`_kernel` reach the pruning threshold in few dimensions.
    The order only affects speed, never the result, so an estimate suffices.
    """
    rows = train[:: max(1, len(train) // sample)].astype(np.float64)
    return np.argsort(-rows.var(0), kind="stable")


def _tile_layout(
    train: np.ndarray, sort: np.ndarray, order: np.ndarray, dims_padded: int, block_tiles: int = 512
) -> np.ndarray:
    """Training points in label order as tiles ``(n_tiles, dims_padded, LANES)``."""
    n_train = len(sort)
    n_tiles = -(-n_train // LANES)
    padded_sort = np.concatenate([sort, np.full(n_tiles * LANES - n_train, sort[-1])])
    tiles = np.zeros((n_tiles, dims_padded, LANES), train.dtype)
    for t0 in range(0, n_tiles, block_tiles):
        t1 = min(n_tiles, t0 + block_tiles)
        rows = train[padded_sort[t0 * LANES : t1 * LANES]][:, order]
        tiles[t0:t1, : train.shape[1]] = rows.reshape(t1 - t0, LANES, -1).transpose(0, 2, 1)
    return tiles


def _nn_numba(query_sets, train, train_labels, sort, want_same):
    """Run :func:`_kernel` for each ``(queries, labels, self_position)`` set; the training
    layout is built once. Indices are returned as positions in ``sort`` order."""
    n_train, dims = train.shape
    order = _dimension_order(train)
    dims_padded = -(-dims // CHUNK) * CHUNK
    tiles = _tile_layout(train, sort, order, dims_padded)
    sorted_labels = np.ascontiguousarray(train_labels[sort])

    jobs = [
        (k, m0)
        for k, (queries, _, _) in enumerate(query_sets)
        for m0 in range(0, len(queries), QUERY_BLOCK)
    ]
    total = sum(len(queries) for queries, _, _ in query_sets)
    if total * n_train * dims > 1e10:
        log.info(
            "separation: %d queries x %d training points x %d dimensions", total, n_train, dims
        )
        jobs = progress(jobs, desc="separation", total=len(jobs), unit="block")
    results = [(np.empty((len(q), 2)), np.empty((len(q), 2), np.int64)) for q, _, _ in query_sets]
    for k, m0 in jobs:
        queries, query_labels, own = query_sets[k]
        out_d, out_i = results[k]
        m1 = min(len(queries), m0 + QUERY_BLOCK)
        block = np.zeros((m1 - m0, dims_padded), queries.dtype)
        block[:, :dims] = queries[m0:m1][:, order]
        # Dynamic scheduling: query tiles differ in cost and the cores may be shared.
        with numba.parallel_chunksize(1):
            _kernel(
                block,
                query_labels[m0:m1],
                own[m0:m1],
                tiles,
                sorted_labels,
                n_train,
                want_same,
                LANES,
                out_d[m0:m1],
                out_i[m0:m1],
            )
    return results


# --------------------------------------------------------------------------- torch path


def _nn_torch(
    query_sets,
    train,
    train_labels,
    sort,
    want_same,
    device,
    query_batch: int = 1024,
    train_batch: int = 8192,
):
    """The same answer with ``torch.cdist(p=inf)`` on ``device``.

    Exact: uint8 values are integers, exact in float32, and so are their differences;
    float32 inputs give the same rounded ``|x - q|`` as the kernel. Training points are
    sorted by label and a later chunk replaces a best only when strictly nearer, and
    ``min`` returns the first minimum, so ties resolve as in the kernel. Indices are
    returned as positions in ``sort`` order.
    """
    import torch

    x_train = torch.from_numpy(np.ascontiguousarray(train[sort])).to(device)
    y_train = torch.from_numpy(np.ascontiguousarray(train_labels[sort])).to(device)
    inf = torch.tensor(float("inf"), device=device)
    results = []
    for queries, query_labels, query_own in query_sets:
        out_d = np.empty((len(queries), 2))
        out_i = np.empty((len(queries), 2), np.int64)
        for m0 in range(0, len(queries), query_batch):
            m1 = min(len(queries), m0 + query_batch)
            q = torch.from_numpy(queries[m0:m1]).to(device).float()
            q_label = torch.from_numpy(query_labels[m0:m1]).to(device)[:, None]
            own = torch.from_numpy(query_own[m0:m1]).to(device)[:, None]
            best_d = torch.full((m1 - m0, 2), math.inf, device=device, dtype=torch.float64)
            best_i = torch.full((m1 - m0, 2), -1, device=device, dtype=torch.int64)
            for n0 in range(0, len(sort), train_batch):
                n1 = min(len(sort), n0 + train_batch)
                dist = torch.cdist(q[None], x_train[n0:n1].float()[None], p=math.inf)[0]
                same = q_label == y_train[None, n0:n1]
                groups = [(1, torch.where(same, inf, dist))]
                if want_same:
                    is_own = own == torch.arange(n0, n1, device=device)[None]
                    groups.append((0, torch.where(same & ~is_own, dist, inf)))
                for column, masked in groups:
                    d, i = masked.min(1)
                    d = d.double()
                    better = d < best_d[:, column]
                    best_d[:, column] = torch.where(better, d, best_d[:, column])
                    best_i[:, column] = torch.where(better, i + n0, best_i[:, column])
            out_d[m0:m1] = best_d.cpu().numpy()
            out_i[m0:m1] = best_i.cpu().numpy()
        results.append((out_d, out_i))
    return results


def _search(query_sets, train, train_labels, *, want_same, device, backend) -> list[NNResult]:
    """Nearest neighbours for several ``(queries, labels, self_index)`` sets against one
    training set (flattened, validated); ``self_index[m]`` is query m's own training
    index or -1.

    The backends visit the training points in label order (``sort``): they take each
    query's own copy as a position in that order and return positions in it."""
    sort = np.argsort(train_labels, kind="stable")
    position = np.empty(len(sort), np.int64)
    position[sort] = np.arange(len(sort))
    sorted_sets = [
        (queries, labels, np.where(own >= 0, position[np.maximum(own, 0)], -1))
        for queries, labels, own in query_sets
    ]
    if backend == "numba":
        results = _nn_numba(sorted_sets, train, train_labels, sort, want_same)
    else:
        results = _nn_torch(sorted_sets, train, train_labels, sort, want_same, device)
    out = []
    for d, i in results:
        found = i >= 0
        i[found] = sort[i[found]]
        if not want_same:
            d[:, 0], i[:, 0] = np.nan, -1
        out.append(NNResult(d_other=d[:, 1], idx_other=i[:, 1], d_same=d[:, 0], idx_same=i[:, 0]))
    return out


# --------------------------------------------------------------------------- public API


def nearest_neighbours(
    queries: np.ndarray,
    query_labels: np.ndarray,
    train: np.ndarray,
    train_labels: np.ndarray,
    *,
    exclude_self: bool,
    device: str = "cpu",
    backend: str = "auto",
    want_same: bool = True,
) -> NNResult:
    """Exact l_inf nearest training point with another label and with the same label.

    ``queries (M, ...)`` and ``train (N, ...)`` are uint8 or float32 arrays of one dtype
    (flattened to ``(M, D)``); labels are integers. ``exclude_self=True`` means the
    queries *are* the training set, row for row: query ``i`` does not count itself as
    its same-label neighbour (an exact duplicate at another index still does, at
    distance 0). ``backend``: ``"numba"`` (CPU kernel), ``"torch"`` (``torch.cdist`` on
    ``device``), or ``"auto"``: numba on the CPU, torch on any other device.
    ``want_same=False`` skips the same-label search (``d_same`` = nan, index -1).
    Distances are in the inputs' raw units; see :class:`NNResult`.
    """
    queries, train = _flatten(queries, "queries"), _flatten(train, "train")
    query_labels = _labels(query_labels, len(queries), "query_labels")
    train_labels = _labels(train_labels, len(train), "train_labels")
    _check_compatible(train, queries)
    if exclude_self and len(queries) != len(train):
        raise ValueError(
            f"exclude_self needs the queries to be the training set, got "
            f"{len(queries)} queries for {len(train)} training points"
        )
    backend = resolve_backend(backend, device)
    query_self = np.arange(len(queries)) if exclude_self else np.full(len(queries), -1)
    return _search(
        [(queries, query_labels, query_self)],
        train,
        train_labels,
        want_same=want_same,
        device=device,
        backend=backend,
    )[0]


def resolve_backend(backend: str, device: str) -> str:
    """``"auto"`` means the numba kernel on the CPU and torch on any other device."""
    if backend not in BACKENDS:
        raise ValueError(f"unknown backend {backend!r} (known: {', '.join(BACKENDS)})")
    if backend == "auto":
        return "numba" if str(device) == "cpu" else "torch"
    return backend


def permuted_labels(labels: np.ndarray, seed: int) -> np.ndarray:
    """The random-label control: ``labels[np.random.default_rng(seed).permutation(N)]``.

    A permutation keeps every label's count; the same seed gives the same labels.
    """
    return np.asarray(labels)[np.random.default_rng(seed).permutation(len(labels))]


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
    """Table 1 for one dataset, plus the theorem's 1-NN classifier, in one exact pass.

    Inputs: images ``(N, C, H, W)`` as uint8 (``pixel / pixel_max`` is the [0, 1] value)
    or float32 in [0, 1] (``pixel_max = 1``); labels 0..K-1. With ``label_seed`` the
    training labels are first replaced by :func:`permuted_labels` (the random-label
    control, issue 10); test labels are kept.

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
    started = time.perf_counter()
    if pixel_max <= 0:
        raise ValueError(f"pixel_max must be positive, got {pixel_max}")
    if eps < 0:
        raise ValueError(f"eps must be non-negative, got {eps}")
    train = _flatten(x_train, "x_train")
    _check_pixels(train, pixel_max, "x_train")
    test_x = _flatten(x_test, "x_test")
    _check_pixels(test_x, pixel_max, "x_test")
    y_train = _labels(y_train, len(x_train), "y_train")
    y_test = _labels(y_test, len(x_test), "y_test")
    if not 0 <= drop_smallest < len(x_train):
        raise ValueError(f"drop_smallest must lie in [0, {len(x_train)}), got {drop_smallest}")
    if label_seed is not None:
        y_train = permuted_labels(y_train, label_seed)
    backend = resolve_backend(backend, device)

    n_train = len(x_train)
    _check_compatible(train, test_x)
    train_nn, test_nn = _search(
        [(train, y_train, np.arange(n_train)), (test_x, y_test, np.full(len(test_x), -1))],
        train,
        y_train,
        want_same=True,
        device=device,
        backend=backend,
    )
    points = pd.concat(
        [
            _points("train", y_train, train_nn, pixel_max),
            _points("test", y_test, test_nn, pixel_max),
        ],
        ignore_index=True,
    )

    train_d = points["d_other"].to_numpy()[:n_train]
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
        "n_test": len(test),
        "drop_smallest": drop_smallest,
        "train_train_min": kept_min,
        "train_train_min_index": int(ranked[drop_smallest]),
        "train_train_min_raw": float(train_d.min()),
        "test_train_min": float(d_other.min()) if len(test) else math.inf,
        "test_train_min_index": int(np.argmin(d_other)) if len(test) else -1,
        "dropped": [
            {"index": int(i), "d_other": float(train_d[i]), "label": int(y_train[i])}
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
        "device": str(device),
    }
    summary = {k: _finite_or_none(v) for k, v in summary.items()}
    summary["seconds"] = round(time.perf_counter() - started, 3)
    log.info(
        "separation of %d + %d points: train-train %.4f, test-train %.4f (%.1f s)",
        n_train,
        len(test),
        kept_min,
        summary["test_train_min"] or math.inf,
        summary["seconds"],
    )
    return Separation(summary=summary, points=points)


def certified(d_same: np.ndarray, d_other: np.ndarray, radius: float) -> np.ndarray:
    """1-NN certified astute at ``radius``: correct and ``d_other - d_same > 2 radius``
    (argument in :func:`compute_separation`); distances in the same units as ``radius``."""
    return (d_same < d_other) & (d_other - d_same > 2 * radius)


def write_points(points: pd.DataFrame, path: str | os.PathLike) -> None:
    """Write the per-point table as CSV, atomically.

    Columns: ``split`` ('train' or 'test'); ``index`` (row in that split); ``label``
    (the label used, i.e. the permuted one under the random-label control);
    ``d_other`` / ``idx_other``: l_inf distance in [0, 1] to the nearest training point
    with another label and its training index; ``d_same`` / ``idx_same``: the same for
    the nearest training point with the same label (for training queries, not the point
    itself). A missing neighbour has distance ``inf`` and index -1.
    """
    missing = [c for c in POINT_COLUMNS if c not in points.columns]
    if missing:
        raise ValueError(f"points lack columns {missing}; expected {list(POINT_COLUMNS)}")
    with atomic_path(path) as tmp:
        points.loc[:, list(POINT_COLUMNS)].to_csv(tmp, index=False)


def read_points(path: str | os.PathLike) -> pd.DataFrame:
    """Read a table written by :func:`write_points`."""
    points = pd.read_csv(
        path,
        dtype={
            "split": str,
            "index": np.int64,
            "label": np.int64,
            "d_other": np.float64,
            "idx_other": np.int64,
            "d_same": np.float64,
            "idx_same": np.int64,
        },
    )
    return points.loc[:, list(POINT_COLUMNS)]


# --------------------------------------------------------------------------- helpers


def _flatten(x: np.ndarray, name: str) -> np.ndarray:
    x = np.asarray(x)
    if x.dtype not in (np.uint8, np.float32):
        raise ValueError(f"{name} has dtype {x.dtype}; expected uint8 or float32")
    if x.ndim < 2:
        raise ValueError(f"{name} has shape {x.shape}; expected (N, ...) with N points")
    return np.ascontiguousarray(x.reshape(len(x), -1))


def _check_compatible(train: np.ndarray, queries: np.ndarray) -> None:
    if queries.dtype != train.dtype:
        raise ValueError(
            f"queries are {queries.dtype} but the training points {train.dtype}; expected one dtype"
        )
    if queries.shape[1] != train.shape[1]:
        raise ValueError(
            f"queries have {queries.shape[1]} dimensions, the training points "
            f"{train.shape[1]}; expected the same"
        )
    if len(train) == 0:
        raise ValueError("no training points; expected at least one")


def _labels(y: np.ndarray, n: int, name: str) -> np.ndarray:
    y = np.asarray(y)
    if y.shape != (n,) or not np.issubdtype(y.dtype, np.integer):
        raise ValueError(
            f"{name} has shape {y.shape} and dtype {y.dtype}; expected ({n},) integers"
        )
    return np.ascontiguousarray(y, dtype=np.int64)


def _check_pixels(x: np.ndarray, pixel_max: float, name: str) -> None:
    """``x`` (flattened by :func:`_flatten`) holds pixels in [0, pixel_max]."""
    if x.dtype == np.float32 and pixel_max != 1:
        raise ValueError(
            f"{name} is float32 (already in [0, 1]) but pixel_max is {pixel_max}; expected 1"
        )
    if x.dtype == np.float32 and not np.isfinite(x).all():
        raise ValueError(f"{name} has non-finite values; expected [0, {pixel_max}]")
    if x.size and (x.min() < 0 or x.max() > pixel_max):
        raise ValueError(f"{name} has values in [{x.min()}, {x.max()}]; expected [0, {pixel_max}]")


def _points(split: str, labels: np.ndarray, nn: NNResult, pixel_max: float) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "split": split,
            "index": np.arange(len(labels)),
            "label": labels,
            "d_other": nn.d_other / pixel_max,
            "idx_other": nn.idx_other,
            "d_same": nn.d_same / pixel_max,
            "idx_same": nn.idx_same,
        }
    )


def _percent(mask: np.ndarray) -> float:
    return 100.0 * float(mask.mean()) if len(mask) else math.nan


def _finite_or_none(value: Any) -> Any:
    if isinstance(value, (float, np.floating)):
        return float(value) if math.isfinite(value) else None
    return value
