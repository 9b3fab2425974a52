"""Exact l_inf dataset separation (Table 1) and the theorem's nearest-neighbour classifier.

For a query ``x`` with label ``y`` and a labelled training set, two distances decide
everything here::

    d_other(x) = min { ||x - x_j||_inf : y_j != y }     (separation of x)
    d_same(x)  = min { ||x - x_j||_inf : y_j == y, j != x's own index }

on the flattened ``[0, 1]`` pixels the models see. The modules, in the order the work
flows:

- :mod:`~lolip.separation.kernel`: the numba CPU kernel, brute force with exact pruning
  (the proof is in its docstring);
- :mod:`~lolip.separation.search`: :func:`nearest_neighbours`, the engine over the kernel
  or ``torch.cdist`` on another device, one answer on both;
- :mod:`~lolip.separation.table1`: :func:`separation_points` for a block of the queries,
  :func:`summarize` into Table 1 and the 1-NN classifier's accuracies
  (:func:`certified`, the random-label control :func:`permuted_labels`), and
  :func:`compute_separation`, both over every query;
- :mod:`~lolip.separation.points`: the per-point table, its CSV and the gathering of
  blocks;
- :mod:`~lolip.separation.jobs`: the workflow's shard and gather jobs.
"""

from lolip.separation.points import (
    POINT_COLUMNS,
    gather_points,
    read_points,
    write_points,
)
from lolip.separation.search import BACKENDS, NNResult, nearest_neighbours, resolve_backend
from lolip.separation.table1 import (
    Separation,
    certified,
    compute_separation,
    permuted_labels,
    query_block,
    separation_points,
    summarize,
)

__all__ = [
    "BACKENDS",
    "NNResult",
    "POINT_COLUMNS",
    "Separation",
    "certified",
    "compute_separation",
    "gather_points",
    "nearest_neighbours",
    "permuted_labels",
    "query_block",
    "read_points",
    "resolve_backend",
    "separation_points",
    "summarize",
    "write_points",
]
