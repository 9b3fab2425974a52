"""The exact l_inf nearest-neighbour engine: :func:`nearest_neighbours` and its backends.

For a query ``x`` with label ``y`` and a labelled training set::

    d_other(x) = min { ||x - x_j||_inf : y_j != y }
    d_same(x)  = min { ||x - x_j||_inf : y_j == y, j != x's own index }

Two backends give the same answer bit for bit: the numba kernel on the CPU
(:mod:`lolip.separation.kernel`, fed :data:`QUERY_BLOCK` queries at a time) and
``torch.cdist`` on any torch device.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass

import numba
import numpy as np

from lolip.progress import progress
from lolip.separation.checks import check_compatible, check_labels, flatten
from lolip.separation.kernel import CHUNK, LANES, dimension_order, kernel, tile_layout

log = logging.getLogger("lolip")

QUERY_BLOCK = 4096
"""Queries per kernel call: the unit of progress reports and of the query copy in memory."""
BACKENDS = ("auto", "numba", "torch")


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
    queries, train = flatten(queries, "queries"), flatten(train, "train")
    query_labels = check_labels(query_labels, len(queries), "query_labels")
    train_labels = check_labels(train_labels, len(train), "train_labels")
    check_compatible(train, queries)
    if exclude_self and len(queries) != len(train):
        raise ValueError(
            f"exclude_self needs the queries to be the training set, got "
            f"{len(queries)} queries for {len(train)} training points"
        )
    backend = resolve_backend(backend, device)
    query_self = np.arange(len(queries)) if exclude_self else np.full(len(queries), -1)
    return search(
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


def search(query_sets, train, train_labels, *, want_same, device, backend) -> list[NNResult]:
    """Nearest neighbours for several ``(queries, labels, self_index)`` sets against one
    training set (flattened, validated); ``self_index[m]`` is query m's own training
    index or -1. ``backend`` is resolved ("numba" or "torch").

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


def _nn_numba(query_sets, train, train_labels, sort, want_same):
    """Run the kernel on blocks of :data:`QUERY_BLOCK` queries of each set; the training
    layout is built once. Indices are returned as positions in ``sort`` order."""
    n_train, dims = train.shape
    order = dimension_order(train)
    dims_padded = -(-dims // CHUNK) * CHUNK
    tiles = tile_layout(train, sort, order, dims_padded)
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
            kernel(
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
