"""The CPU kernel: exact l_inf nearest neighbours by brute force with exact pruning.

Training points are sorted by label and packed in tiles of :data:`LANES` points whose
dimensions are ordered by decreasing variance (:func:`tile_layout`); :func:`kernel`
sweeps the tiles for a block of queries and abandons a tile once a lower bound proves that
none of its points can beat the best so far. The pruning proof is in :func:`kernel`.
"""

from __future__ import annotations

import numba
import numpy as np
from numba import types
from numba.extending import overload

LANES = 64
"""Training points per tile: one AVX-512 register of bytes."""
CHUNK = 32
"""Dimensions computed between two checks whether a tile can be abandoned."""
QUERY_TILE = 64
"""Queries that share one sweep over the training tiles (the tiles stay in cache)."""


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
def kernel(
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

    Each query's result depends on that query and the training tiles only, so any
    split of the queries into blocks (or shards) gives the same answers bit for bit.

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


def dimension_order(train: np.ndarray, sample: int = 8192) -> np.ndarray:
    """Dimensions by decreasing variance (stable on ties), estimated on at most ``sample``
    evenly spaced training points.

    High-variance pixels are where two images differ most, so visiting them first makes
    the lower bound in :func:`kernel` reach the pruning threshold in few dimensions.
    The order only affects speed, never the result, so an estimate suffices.
    """
    rows = train[:: max(1, len(train) // sample)].astype(np.float64)
    return np.argsort(-rows.var(0), kind="stable")


def tile_layout(
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
