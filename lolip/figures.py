"""Figures of the paper's appendix, drawn from result tables (never from models).

Figures are built on matplotlib's Agg canvas directly (no pyplot): no display is needed
and no global backend state is touched.
"""

from __future__ import annotations

import os

import numpy as np
import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, LogLocator

from lolip.io import atomic_path

_SPLITS = (("train", "Train-Train"), ("test", "Test-Train"))


def separation_histogram(
    points: pd.DataFrame,
    eps: float,
    path: str | os.PathLike,
    *,
    title: str,
    random_points: pd.DataFrame | None = None,
) -> None:
    """Histogram of per-point separation ``d_other`` with ``2 eps`` marked, as a PNG.

    One panel per split: "Train-Train" (training queries) and "Test-Train" (test
    queries), each the l_inf distance to the nearest training point of another label,
    in [0, 1] (the ``points`` table of :func:`lolip.separation.compute_separation`).
    A dashed line marks ``2 eps``: a point to the right of it has no other-class
    training point within ``2 eps``. ``random_points`` (the same table under permuted
    training labels) is overlaid for comparison. Written atomically.
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
    _save(fig, path)


def _panels(n: int, *, width: float = 5.0, height: float = 4.0) -> tuple[Figure, list]:
    """A figure with ``n`` panels in rows of at most three, on the Agg canvas."""
    cols = max(1, min(n, 3))
    rows = max(1, -(-n // cols))
    fig = Figure(figsize=(width * cols, height * rows), layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(rows, cols, squeeze=False).ravel().tolist()
    for ax in axes[n:]:
        ax.set_visible(False)
    return fig, axes[:n] if n else axes


def _save(fig: Figure, path: str | os.PathLike) -> None:
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=120)


def spearman(x: np.ndarray, y: np.ndarray) -> float:
    """Spearman's rank correlation: Pearson's of the (average) ranks; nan if undefined."""
    rx, ry = pd.Series(x).rank().to_numpy(), pd.Series(y).rank().to_numpy()
    if len(rx) < 3 or rx.std() == 0 or ry.std() == 0:
        return float("nan")
    return float(np.corrcoef(rx, ry)[0, 1])


def lipschitz_vs_accuracy(
    models: pd.DataFrame,
    path: str | os.PathLike,
    *,
    blocks: dict[str, str],
    title: str,
    adv_label: str = "adversarial test accuracy (%)",
) -> pd.DataFrame:
    """Each model's test Lipschitz estimate against its adversarial test accuracy, as a PNG.

    The paper's correlation: smaller empirical local Lipschitz constants go with higher
    adversarial accuracy. ``models`` has one row per trained model with columns
    ``block``, ``row`` (the method), ``test_lipschitz`` and ``adv_test_acc``
    (:func:`lolip.tables.model_rows`); models without both values are left out. One panel
    per entry of ``blocks`` (block name -> panel title), since the constants of different
    datasets differ by orders of magnitude; the x axis is logarithmic where a panel's values
    span more than a factor 10. Each point is labelled with its method, and the panel title
    gives Spearman's rank correlation rho. Written atomically.

    Returns the points as drawn, read back from the figure: ``block``, ``row``,
    ``test_lipschitz``, ``adv_test_acc``.
    """
    fig, axes = _panels(len(blocks))
    drawn = []
    for ax, (block, name) in zip(axes, blocks.items(), strict=False):
        own = models[models["block"] == block].dropna(subset=["test_lipschitz", "adv_test_acc"])
        x, y = own["test_lipschitz"].to_numpy(float), own["adv_test_acc"].to_numpy(float)
        if not len(own):
            ax.text(0.5, 0.5, "no model run", ha="center", va="center", transform=ax.transAxes)
            ax.set_title(name)
            continue
        points = ax.scatter(x, y, color="tab:blue", zorder=2)
        for row, xi, yi in zip(own["row"], x, y, strict=True):
            ax.annotate(
                str(row), (xi, yi), textcoords="offset points", xytext=(4, 3), fontsize="x-small"
            )
        if x.min() > 0 and x.max() > 10 * x.min():
            ax.set_xscale("log")
            # Plain numbers at 1, 2, 5 x 10^k: default log labels collide on short ranges.
            ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
            ax.xaxis.set_minor_locator(LogLocator(subs=(2.0, 5.0)))
            ax.xaxis.set_minor_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
        ax.set_title(f"{name}\nSpearman ρ = {spearman(x, y):.2f} (n = {len(x)})")
        ax.set_xlabel("test Lipschitz (mean ‖f(x)-f(x')‖₁ / ‖x-x'‖∞)")
        ax.set_ylabel(adv_label)
        ax.grid(alpha=0.3)
        offsets = np.asarray(points.get_offsets())
        drawn.append(
            pd.DataFrame(
                {
                    "block": block,
                    "row": list(own["row"]),
                    "test_lipschitz": offsets[:, 0],
                    "adv_test_acc": offsets[:, 1],
                }
            )
        )
    fig.suptitle(title)
    _save(fig, path)
    columns = ["block", "row", "test_lipschitz", "adv_test_acc"]
    return pd.concat(drawn, ignore_index=True) if drawn else pd.DataFrame(columns=columns)


def gap_by_method(
    table: pd.DataFrame, path: str | os.PathLike, *, blocks: dict[str, str], title: str
) -> pd.DataFrame:
    """The generalisation gaps per method, clean and adversarial, as a bar chart PNG.

    ``gap = train acc - test acc`` and ``adv gap = adv train acc - adv test acc``, the
    paper's evidence that robust training generalises worse. ``table`` is a
    :func:`lolip.tables.model_table` with columns ``block``, ``row``, ``status``, ``gap``,
    ``adv_gap`` and their ``_std``; one panel per entry of ``blocks`` (block name -> panel
    title), one pair of bars per method that was run, error bars one standard deviation
    over seeds. Written atomically.

    Returns the bar heights as drawn: ``block``, ``row``, ``gap``, ``adv_gap``.
    """
    fig, axes = _panels(len(blocks), width=6.0)
    drawn = []
    for ax, (block, name) in zip(axes, blocks.items(), strict=False):
        own = table[(table["block"] == block) & (table["status"] == "run")]
        ax.set_title(name)
        if not len(own):
            ax.text(0.5, 0.5, "no model run", ha="center", va="center", transform=ax.transAxes)
            continue
        where = np.arange(len(own))
        heights = {}
        for col, shift, colour, label in (
            ("gap", -0.2, "tab:blue", "gap (clean)"),
            ("adv_gap", 0.2, "tab:red", "adv gap"),
        ):
            std = own[f"{col}_std"].to_numpy(float)
            bars = ax.bar(
                where + shift,
                own[col].to_numpy(float),
                width=0.4,
                yerr=std if np.isfinite(std).any() else None,
                color=colour,
                label=label,
                capsize=2,
            )
            heights[col] = bars.datavalues
        ax.axhline(0.0, color="black", linewidth=0.8)
        ax.set_xticks(where, list(own["row"]), rotation=45, ha="right", fontsize="small")
        ax.set_ylabel("train - test accuracy (percentage points)")
        ax.legend(fontsize="small")
        ax.grid(axis="y", alpha=0.3)
        drawn.append(pd.DataFrame({"block": block, "row": list(own["row"]), **heights}))
    fig.suptitle(title)
    _save(fig, path)
    columns = ["block", "row", "gap", "adv_gap"]
    return pd.concat(drawn, ignore_index=True) if drawn else pd.DataFrame(columns=columns)
