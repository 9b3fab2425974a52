"""The fitted functions as a file: written by the fit, read by the figure.

:class:`StaircaseFits` holds what the figure needs and no more: the training points, the spline
basis, ``eps`` and ``lambda``, and each method with its coefficients. On disk it is one ``.npz``
of plain arrays (no pickles), so the figure is redrawn without refitting anything and a
reader needs only numpy::

    train_x, train_y      the training points, shape (n,)
    knots, degree         the B-spline basis (full knot vector)
    eps, penalty          the perturbation radius and the smoothness penalty weight lambda
    method, loss, params  per method, in fitting order: config name, loss, and its
                          hyperparameters as a JSON object
    theta                 the coefficients, shape (methods, n_coef), rows in that order
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from lolip.io import atomic_path
from lolip.staircase.data import StaircaseData
from lolip.staircase.methods import StaircaseMethod
from lolip.staircase.spline import SplineBasis, predict


@dataclass(frozen=True)
class StaircaseFits:
    """Every method's fitted function on one training set."""

    train: StaircaseData
    basis: SplineBasis
    eps: float
    penalty: float
    methods: tuple[StaircaseMethod, ...]
    thetas: Mapping[str, np.ndarray]  # by method name

    def predict(self, name: str, x: np.ndarray) -> np.ndarray:
        """``f_theta(x)`` of the method ``name``."""
        return predict(self.basis, self.thetas[name], x)


def save_fits(fits: StaircaseFits, path: str | os.PathLike) -> None:
    """Write ``fits`` to ``path`` as the ``.npz`` described above, atomically."""
    arrays = {
        "train_x": np.asarray(fits.train.x, float),
        "train_y": np.asarray(fits.train.y, float),
        "knots": np.asarray(fits.basis.knots, float),
        "degree": np.asarray(fits.basis.degree),
        "eps": np.asarray(float(fits.eps)),
        "penalty": np.asarray(float(fits.penalty)),
        "method": np.array([m.name for m in fits.methods], dtype=str),
        "loss": np.array([m.loss for m in fits.methods], dtype=str),
        "params": np.array([json.dumps(dict(m.params)) for m in fits.methods], dtype=str),
        "theta": np.array([fits.thetas[m.name] for m in fits.methods], dtype=float).reshape(
            len(fits.methods), fits.basis.n_coef
        ),
    }
    # A file object: given a name, np.savez would append ".npz" to the temporary one.
    with atomic_path(path) as tmp, open(tmp, "wb") as f:
        np.savez(f, **arrays)


def load_fits(path: str | os.PathLike) -> StaircaseFits:
    """The :class:`StaircaseFits` that :func:`save_fits` wrote to ``path``."""
    with np.load(path, allow_pickle=False) as npz:
        arrays = {key: npz[key] for key in npz.files}
    methods = tuple(
        StaircaseMethod(str(name), str(loss), json.loads(str(params)))
        for name, loss, params in zip(
            arrays["method"], arrays["loss"], arrays["params"], strict=True
        )
    )
    return StaircaseFits(
        train=StaircaseData(x=arrays["train_x"], y=arrays["train_y"]),
        basis=SplineBasis(knots=arrays["knots"], degree=int(arrays["degree"])),
        eps=float(arrays["eps"]),
        penalty=float(arrays["penalty"]),
        methods=methods,
        thetas={m.name: theta for m, theta in zip(methods, arrays["theta"], strict=True)},
    )
