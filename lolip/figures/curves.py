"""The line figures of a model table's models: training curves and the eps sweep.

One panel per block, one line per model (and seed); a method and its ``+drop`` row share
a colour, the dropout row dashed. Each returns the lines as drawn, read back from them.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from lolip.figures.canvas import DPI, Paths, _log_scale, _panels, _save


def _colours(rows: Sequence[str]) -> dict[str, tuple[str, str]]:
    """Per row a colour and a line style: a method and its ``+drop`` row share the colour,
    the dropout row is dashed."""
    from lolip.tables import DROP_SUFFIX

    methods = list(dict.fromkeys(r.removesuffix(DROP_SUFFIX) for r in rows))
    palette = [f"C{i}" for i in range(10)] if len(methods) <= 10 else _tab20()
    colour = {m: palette[i % len(palette)] for i, m in enumerate(methods)}
    return {
        r: (colour[r.removesuffix(DROP_SUFFIX)], "--" if r.endswith(DROP_SUFFIX) else "-")
        for r in rows
    }


def _tab20() -> list:
    from matplotlib import colormaps

    return [colormaps["tab20"](i) for i in range(20)]


def _legend_outside(ax) -> None:
    """The legend right of the panel, where it hides no line."""
    ax.legend(fontsize="x-small", loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0)


def _line_label(row: str, seed: int, seeds: int) -> str:
    return f"{row} (seed {seed})" if seeds > 1 else str(row)


def _drawn(line, x: str, y: str, x_dtype: type | None = None, **keys) -> pd.DataFrame:
    """The points of a drawn ``line``: columns ``keys``, then ``x`` and ``y`` (as float)."""
    xs, ys = line.get_data()
    return pd.DataFrame({**keys, x: np.asarray(xs, dtype=x_dtype), y: np.asarray(ys, dtype=float)})


HISTORY_COLUMNS = ("epoch", "loss", "seconds", "images_per_second")


def accuracy_columns(history: pd.DataFrame) -> list[str]:
    """Per-epoch accuracies a history records (columns ending in ``acc``): none today."""
    return [c for c in history.columns if c not in HISTORY_COLUMNS and c.endswith("acc")]


def training_curves(
    history: pd.DataFrame,
    paths: Paths,
    *,
    blocks: dict[str, str],
    title: str,
    dpi: int = DPI,
) -> pd.DataFrame:
    """Each model's training loss per epoch: one panel per block, one line per model.

    ``history`` has one row per (model, epoch): ``block``, ``row``, ``seed``, ``epoch``,
    ``loss`` (the epoch's mean per-example training loss of the model's own method: CE
    for natural training, the adversarial CE for AT, CE plus the KL term for TRADES, so
    levels differ between methods by construction) and any per-epoch accuracies
    (:func:`accuracy_columns`), which get a second row of panels. The loss axis is
    logarithmic where a panel's losses span more than a factor 10; a method's ``+drop``
    row is dashed in the method's colour.

    Returns the lines as drawn: ``block``, ``row``, ``seed``, ``quantity``, ``epoch``,
    ``value``.
    """
    from matplotlib.ticker import MaxNLocator

    quantities = ["loss", *accuracy_columns(history)]
    k = 2 if len(quantities) > 1 else 1
    fig, panels = _panels(len(blocks), width=5.5, rows_per_panel=k)
    drawn = []
    for panel, (block, name) in zip(panels, blocks.items(), strict=False):
        axes = panel if k > 1 else [panel]
        own = history[history["block"] == block]
        axes[0].set_title(name)
        if not len(own):
            axes[0].text(
                0.5, 0.5, "no model run", ha="center", va="center", transform=axes[0].transAxes
            )
            continue
        styles = _colours(list(dict.fromkeys(own["row"])))
        seeds = own["seed"].nunique()
        for ax, columns in zip(axes, (["loss"], quantities[1:]), strict=False):
            for (row, seed), curve in own.groupby(["row", "seed"], sort=False):
                curve = curve.sort_values("epoch")
                for col in columns:
                    values = curve[col].to_numpy(float)
                    if not np.isfinite(values).any():
                        continue
                    colour, style = styles[row]
                    label = _line_label(row, seed, seeds)
                    if len(columns) > 1:
                        label = f"{label}: {col}"
                    (line,) = ax.plot(
                        curve["epoch"], values, style, color=colour, marker=".", label=label
                    )
                    keys = {"block": block, "row": row, "seed": seed, "quantity": col}
                    drawn.append(_drawn(line, "epoch", "value", **keys))
            ax.set_xlabel("epoch")
            ax.xaxis.set_major_locator(MaxNLocator(integer=True))
            ax.grid(alpha=0.3)
        loss = own["loss"].to_numpy(float)
        loss = loss[np.isfinite(loss)]
        if loss.size and loss.min() > 0 and loss.max() > 10 * loss.min():
            _log_scale(axes[0], "y")
        axes[0].set_ylabel("training loss (mean per example)")
        _legend_outside(axes[0])
        if k > 1:
            axes[1].set_ylabel("accuracy (%)")
            _legend_outside(axes[1])
    fig.suptitle(title)
    _save(fig, paths, dpi)
    columns = ["block", "row", "seed", "quantity", "epoch", "value"]
    return pd.concat(drawn, ignore_index=True) if drawn else pd.DataFrame(columns=columns)


def eps_sweep(
    curves: pd.DataFrame,
    paths: Paths,
    *,
    blocks: dict[str, str],
    eps: dict[str, float],
    title: str,
    dpi: int = DPI,
) -> pd.DataFrame:
    """Each model's robust test accuracy against the radius: one panel per block.

    ``curves`` has one row per (model, radius): ``block``, ``row``, ``seed``, ``eps`` and
    ``robust_acc`` (%) (:func:`lolip.sweep.sweep_table` with the table's rows). A dotted
    line marks each block's evaluation radius ``eps[block]``, where the curve meets the
    table's adversarial accuracy on the swept points; at radius 0 it is clean accuracy.

    Returns the points as drawn: ``block``, ``row``, ``seed``, ``eps``, ``robust_acc``.
    """
    fig, axes = _panels(len(blocks), width=5.5)
    drawn = []
    for ax, (block, name) in zip(axes, blocks.items(), strict=False):
        own = curves[curves["block"] == block]
        ax.set_title(name)
        if not len(own):
            ax.text(0.5, 0.5, "no model run", ha="center", va="center", transform=ax.transAxes)
            continue
        styles = _colours(list(dict.fromkeys(own["row"])))
        seeds = own["seed"].nunique()
        for (row, seed), curve in own.groupby(["row", "seed"], sort=False):
            curve = curve.sort_values("eps")
            colour, style = styles[row]
            (line,) = ax.plot(
                curve["eps"],
                curve["robust_acc"],
                style,
                color=colour,
                marker="o",
                markersize=3,
                label=_line_label(row, seed, seeds),
            )
            drawn.append(_drawn(line, "eps", "robust_acc", float, block=block, row=row, seed=seed))
        if eps.get(block):
            e = eps[block]
            ax.axvline(e, color="black", linestyle=":", label=f"ε = {e:g} (the table's)")
            top = ax.secondary_xaxis("top", functions=(lambda r, e=e: r / e, lambda c, e=e: c * e))
            top.set_xlabel("ε' / ε", fontsize="small")
        if "n" in own.columns:
            ax.set_title(f"{name}\nPGD on the first {int(own['n'].iloc[0])} test points")
        ax.set_xlabel("radius ε' (l∞, inputs in [0, 1])")
        ax.set_ylabel("robust test accuracy (%)")
        ax.set_ylim(-2, 102)
        ax.grid(alpha=0.3)
        _legend_outside(ax)
    fig.suptitle(title)
    _save(fig, paths, dpi)
    columns = ["block", "row", "seed", "eps", "robust_acc"]
    return pd.concat(drawn, ignore_index=True) if drawn else pd.DataFrame(columns=columns)
