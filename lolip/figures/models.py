"""The figures of a model table's models: Lipschitz against adversarial accuracy, the gaps.

One panel per block; each returns the points or bars as drawn, read back from the figure.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from lolip.figures.canvas import DPI, Paths, _log_scale, _panels, _save
from lolip.findings.claims import spearman


def lipschitz_vs_accuracy(
    models: pd.DataFrame,
    paths: Paths,
    *,
    blocks: dict[str, str],
    title: str,
    adv_label: str = "adversarial test accuracy (%)",
    dpi: int = DPI,
) -> pd.DataFrame:
    """Each model's test Lipschitz estimate against its adversarial test accuracy.

    The paper's correlation: smaller empirical local Lipschitz constants go with higher
    adversarial accuracy. ``models`` has one row per trained model with columns
    ``block``, ``row`` (the method), ``test_lipschitz`` and ``adv_test_acc``
    (:func:`lolip.tables.model_rows`); models without both values are left out. One panel
    per entry of ``blocks`` (block name -> panel title), since the constants of different
    datasets differ by orders of magnitude; the x axis is logarithmic where a panel's values
    span more than a factor 10. Each point is labelled with its method, and the panel title
    gives Spearman's rank correlation rho.

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
            _log_scale(ax, "x")
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
    _save(fig, paths, dpi)
    columns = ["block", "row", "test_lipschitz", "adv_test_acc"]
    return pd.concat(drawn, ignore_index=True) if drawn else pd.DataFrame(columns=columns)


def gap_by_method(
    table: pd.DataFrame, paths: Paths, *, blocks: dict[str, str], title: str, dpi: int = DPI
) -> pd.DataFrame:
    """The generalisation gaps per method, clean and adversarial, as a bar chart.

    ``gap = train acc - test acc`` and ``adv gap = adv train acc - adv test acc``, the
    paper's evidence that robust training generalises worse. ``table`` is a
    :func:`lolip.tables.model_table` with columns ``block``, ``row``, ``status``, ``gap``,
    ``adv_gap`` and their ``_std``; one panel per entry of ``blocks`` (block name -> panel
    title), one pair of bars per method that was run, error bars one standard deviation
    over seeds.

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
    _save(fig, paths, dpi)
    columns = ["block", "row", "gap", "adv_gap"]
    return pd.concat(drawn, ignore_index=True) if drawn else pd.DataFrame(columns=columns)
