"""Checks of the arrays every entry point takes: dtype, shape, labels, pixel range."""

from __future__ import annotations

import numpy as np


def flatten(x: np.ndarray, name: str) -> np.ndarray:
    """``x (N, ...)`` as a C-contiguous ``(N, D)`` array of uint8 or float32."""
    x = np.asarray(x)
    if x.dtype not in (np.uint8, np.float32):
        raise ValueError(f"{name} has dtype {x.dtype}; expected uint8 or float32")
    if x.ndim < 2:
        raise ValueError(f"{name} has shape {x.shape}; expected (N, ...) with N points")
    return np.ascontiguousarray(x.reshape(len(x), -1))


def check_compatible(train: np.ndarray, queries: np.ndarray) -> None:
    """Queries and training points (flattened) share dtype and dimension; N >= 1."""
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


def check_labels(y: np.ndarray, n: int, name: str) -> np.ndarray:
    """``y`` as ``n`` contiguous int64 labels."""
    y = np.asarray(y)
    if y.shape != (n,) or not np.issubdtype(y.dtype, np.integer):
        raise ValueError(
            f"{name} has shape {y.shape} and dtype {y.dtype}; expected ({n},) integers"
        )
    return np.ascontiguousarray(y, dtype=np.int64)


def check_pixels(x: np.ndarray, pixel_max: float, name: str) -> None:
    """``x`` (flattened by :func:`flatten`) holds pixels in [0, pixel_max]."""
    if pixel_max <= 0:
        raise ValueError(f"pixel_max must be positive, got {pixel_max}")
    if x.dtype == np.float32 and pixel_max != 1:
        raise ValueError(
            f"{name} is float32 (already in [0, 1]) but pixel_max is {pixel_max}; expected 1"
        )
    if x.dtype == np.float32 and not np.isfinite(x).all():
        raise ValueError(f"{name} has non-finite values; expected [0, {pixel_max}]")
    if x.size and (x.min() < 0 or x.max() > pixel_max):
        raise ValueError(f"{name} has values in [{x.min()}, {x.max()}]; expected [0, {pixel_max}]")
