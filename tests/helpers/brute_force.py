"""Brute-force references for the separation tests, and the small real data they use."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from sklearn.datasets import load_digits

from lolip.datasets.mnist import read_idx


def brute_distances(queries: np.ndarray, train: np.ndarray) -> np.ndarray:
    """All l_inf distances (M, N) in the inputs' dtype arithmetic, as float64."""
    q = queries.reshape(len(queries), -1)
    t = train.reshape(len(train), -1)
    if q.dtype == np.uint8:
        q, t = q.astype(np.int16), t.astype(np.int16)
    out = np.empty((len(q), len(t)))
    for m0 in range(0, len(q), 32):
        out[m0 : m0 + 32] = np.abs(q[m0 : m0 + 32, None, :] - t[None]).max(2)
    return out


def brute_nn(queries, query_labels, train, train_labels, *, exclude_self):
    """(d_other, idx_other, d_same, idx_same) by brute force; ties to the first point
    in (label, index) order, the documented rule."""
    dist = brute_distances(queries, train)
    same = query_labels[:, None] == train_labels[None, :]
    own = np.zeros_like(same)
    if exclude_self:
        np.fill_diagonal(own, True)
    rank = np.lexsort((np.arange(len(train)), train_labels))  # (label, index) order
    result = []
    for mask in (~same, same & ~own):
        masked = np.where(mask, dist, np.inf)
        d = masked.min(1)
        first = masked[:, rank].argmin(1)  # argmin returns the first minimum
        idx = np.where(np.isfinite(d), rank[first], -1)
        result += [d, idx]
    return result


def assert_matches_brute_force(nn, queries, query_labels, train, train_labels, exclude_self):
    d_other, idx_other, d_same, idx_same = brute_nn(
        queries, query_labels, train, train_labels, exclude_self=exclude_self
    )
    np.testing.assert_array_equal(nn.d_other, d_other)
    np.testing.assert_array_equal(nn.d_same, d_same)
    np.testing.assert_array_equal(nn.idx_other, idx_other)
    np.testing.assert_array_equal(nn.idx_same, idx_same)


def digits_images() -> tuple[np.ndarray, np.ndarray]:
    """sklearn's 8x8 digits as uint8 NCHW (pixels 0..16) and int64 labels."""
    bunch = load_digits()
    return bunch.images.astype(np.uint8)[:, None], bunch.target.astype(np.int64)


def mnist_sample(raw_dir: Path, n_train: int = 1500, n_test: int = 200, seed: int = 0):
    """A random subset of real MNIST (uint8 NCHW): x_train, y_train, x_test, y_test."""
    rng = np.random.default_rng(seed)
    x_train = read_idx(raw_dir / "train-images-idx3-ubyte.gz")
    y_train = read_idx(raw_dir / "train-labels-idx1-ubyte.gz").astype(np.int64)
    x_test = read_idx(raw_dir / "t10k-images-idx3-ubyte.gz")
    y_test = read_idx(raw_dir / "t10k-labels-idx1-ubyte.gz").astype(np.int64)
    tr = np.sort(rng.choice(len(x_train), n_train, replace=False))
    te = np.sort(rng.choice(len(x_test), n_test, replace=False))
    return x_train[tr][:, None], y_train[tr], x_test[te][:, None], y_test[te]
