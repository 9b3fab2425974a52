"""The per-point table: one row per query with its two nearest neighbours, as CSV.

Rows are the training queries in index order, then the test queries in index order; a
block of consecutive rows is what one shard of the workflow computes, and
:func:`gather_points` joins the blocks again.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

import numpy as np
import pandas as pd

from lolip.io import atomic_path
from lolip.separation.search import NNResult

POINT_COLUMNS = ("split", "index", "label", "d_other", "idx_other", "d_same", "idx_same")
SPLITS = ("train", "test")
_DTYPES = {
    "split": str,
    "index": np.int64,
    "label": np.int64,
    "d_other": np.float64,
    "idx_other": np.int64,
    "d_same": np.float64,
    "idx_same": np.int64,
}


def points_frame(
    split: str, first: int, labels: np.ndarray, nn: NNResult, pixel_max: float
) -> pd.DataFrame:
    """Rows for queries ``first, first + 1, ...`` of ``split``, distances in [0, 1] units."""
    return pd.DataFrame(
        {
            "split": split,
            "index": np.arange(first, first + len(labels)),
            "label": labels,
            "d_other": nn.d_other / pixel_max,
            "idx_other": nn.idx_other,
            "d_same": nn.d_same / pixel_max,
            "idx_same": nn.idx_same,
        }
    )


def concat_points(blocks: Sequence[pd.DataFrame]) -> pd.DataFrame:
    """Consecutive blocks of rows as one table (empty blocks add nothing)."""
    if not blocks:
        raise ValueError("no blocks of points; expected at least one")
    rows = [b for b in blocks if len(b)] or list(blocks[:1])
    return pd.concat(rows, ignore_index=True) if len(rows) > 1 else rows[0]


def gather_points(blocks: Sequence[pd.DataFrame]) -> pd.DataFrame:
    """The whole table from its blocks, shard 1 first, checked to cover every query once."""
    points = concat_points(blocks)
    check_order(points)
    return points


def check_order(points: pd.DataFrame) -> tuple[int, int]:
    """Check the rows are training points 0..N-1, then test points 0..M-1; return (N, M)."""
    split = points["split"].to_numpy()
    unknown = sorted(set(split) - set(SPLITS))
    if unknown:
        raise ValueError(f"points have split(s) {unknown}; expected {list(SPLITS)}")
    n_train = int((split == "train").sum())
    n_test = len(points) - n_train
    expected = np.concatenate([np.arange(n_train), np.arange(n_test)])
    if (split[:n_train] != "train").any() or not np.array_equal(points["index"], expected):
        raise ValueError(
            f"points do not cover the queries once, in order; expected training points "
            f"0..{n_train - 1}, then test points 0..{n_test - 1}"
        )
    return n_train, n_test


def write_points(points: pd.DataFrame, path: str | os.PathLike) -> None:
    """Write the per-point table as CSV, atomically.

    Columns: ``split`` ('train' or 'test'); ``index`` (row in that split); ``label``
    (the label used, i.e. the permuted one under the random-label control);
    ``d_other`` / ``idx_other``: l_inf distance in [0, 1] to the nearest training point
    with another label and its training index; ``d_same`` / ``idx_same``: the same for
    the nearest training point with the same label (for training queries, not the point
    itself). A missing neighbour has distance ``inf`` and index -1. Floats are written
    in their shortest exact form, so :func:`read_points` gives them back bit for bit.
    """
    missing = [c for c in POINT_COLUMNS if c not in points.columns]
    if missing:
        raise ValueError(f"points lack columns {missing}; expected {list(POINT_COLUMNS)}")
    with atomic_path(path) as tmp:
        points.loc[:, list(POINT_COLUMNS)].to_csv(tmp, index=False)


def read_points(path: str | os.PathLike) -> pd.DataFrame:
    """Read a table written by :func:`write_points`, every float exactly as written."""
    points = pd.read_csv(path, dtype=_DTYPES)
    return points.loc[:, list(POINT_COLUMNS)]
