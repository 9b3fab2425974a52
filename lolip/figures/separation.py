"""The separation figure: per-point distances to the nearest other-class training point."""

from __future__ import annotations

import numpy as np
import pandas as pd

from lolip.figures.canvas import DPI, Paths, _panels, _save

_SPLITS = (("train", "Train-Train"), ("test", "Test-Train"))


def separation_histogram(
    points: pd.DataFrame,
    eps: float,
    paths: Paths,
    *,
    title: str,
    random_points: pd.DataFrame | None = None,
    dpi: int = DPI,
) -> None:
    """Histogram of per-point separation ``d_other`` with ``2 eps`` marked.

    One panel per split: "Train-Train" (training queries) and "Test-Train" (test
    queries), each the l_inf distance to the nearest training point of another label,
    in [0, 1] (the ``points`` table of :func:`lolip.separation.compute_separation`).
    A dashed line marks ``2 eps``: a point to the right of it has no other-class
    training point within ``2 eps``. ``random_points`` (the same table under permuted
    training labels) is overlaid for comparison.
    """
    fig, axes = _panels(len(_SPLITS), width=5.5)
    tables = {"original labels": points}
    if random_points is not None:
        tables["random labels"] = random_points
    finite = np.concatenate([t["d_other"].to_numpy() for t in tables.values()])
    finite = finite[np.isfinite(finite)]
    top = max(2 * eps, float(finite.max()) if finite.size else 1.0)
    bins = np.linspace(0.0, top * 1.02 if top > 0 else 1.0, 51)
    for ax, (split, name) in zip(axes, _SPLITS, strict=True):
        for (label, table), colour in zip(tables.items(), ("tab:blue", "tab:orange"), strict=False):
            d = table.loc[table["split"] == split, "d_other"].to_numpy()
            d = d[np.isfinite(d)]
            if d.size:
                ax.hist(
                    d,
                    bins=bins,
                    alpha=0.6,
                    color=colour,
                    label=f"{label} (n={d.size}, min {d.min():.3f})",
                )
        ax.axvline(2 * eps, color="black", linestyle="--", label=f"2ε = {2 * eps:g}")
        ax.set_title(name)
        ax.set_xlabel("l∞ distance to nearest training point of another class")
        ax.set_ylabel("number of points")
        ax.legend(loc="upper left", fontsize="small")
    fig.suptitle(title)
    _save(fig, paths, dpi)
