"""Figures of the paper and of the report, drawn from result tables (never from models).

Figures are built on matplotlib's Agg canvas directly (no pyplot): no display is needed
and no global backend state is touched. Each is written in every format its paths name
(``.png`` for the report, ``.svg`` for papers), each file atomically; SVGs carry no date
and fixed element ids, so the same data give the same bytes. matplotlib is imported when a
figure is drawn: the workflow reads :class:`FigureSettings` when it loads, without it.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from lolip.bounds import check_fields, setting
from lolip.io import atomic_path

if TYPE_CHECKING:
    from matplotlib.figure import Figure

Paths = str | os.PathLike | Sequence[str | os.PathLike]
FORMATS = ("png", "svg")
DPI = 120


@dataclass(frozen=True)
class FigureSettings:
    """The look of the figures (config ``figures``): read by the figure rules only, so a
    change redraws the figures and recomputes nothing."""

    dpi: int = setting(
        DPI,
        type="integer",
        minimum=30,
        maximum=1200,
        description="resolution of the PNG figures (the SVGs beside them are vector)",
    )

    def __post_init__(self) -> None:
        check_fields(self)


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


def _panels(
    n: int, *, width: float = 5.0, height: float = 4.0, rows_per_panel: int = 1
) -> tuple[Figure, list]:
    """A figure with ``n`` panels in rows of at most three, on the Agg canvas.

    With ``rows_per_panel`` k > 1 each panel is a column of k axes (returned as a list).
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    cols = max(1, min(n, 3))
    rows = max(1, -(-n // cols))
    k = rows_per_panel
    fig = Figure(figsize=(width * cols, height * rows * (1 + 0.6 * (k - 1))), layout="constrained")
    FigureCanvasAgg(fig)
    grid = fig.subplots(rows * k, cols, squeeze=False)
    panels = [
        grid[r * k : (r + 1) * k, c].tolist() if k > 1 else grid[r, c]
        for r in range(rows)
        for c in range(cols)
    ]
    for panel in panels[n:]:
        for ax in panel if k > 1 else [panel]:
            ax.set_visible(False)
    return fig, panels[:n] if n else panels


def output_paths(paths: Paths) -> list[str | os.PathLike]:
    """``paths`` as a list; each must end in one of :data:`FORMATS`."""
    out = [paths] if isinstance(paths, str | os.PathLike) else list(paths)
    for path in out:
        if os.fspath(path).rsplit(".", 1)[-1] not in FORMATS:
            raise ValueError(f"figure path {os.fspath(path)!r} must end in one of {FORMATS}")
    return out


def _save(fig: Figure, paths: Paths, dpi: int = DPI) -> None:
    """Write ``fig`` to each path in the format of its suffix, each atomically.

    SVGs first: a draw lays the figure out anew at its format's resolution, starting from
    the last layout, so an SVG drawn after a PNG would depend on the PNG's dpi.
    """
    import matplotlib

    def fmt_of(path: str | os.PathLike) -> str:
        return os.fspath(path).rsplit(".", 1)[-1]

    for path in sorted(output_paths(paths), key=lambda p: fmt_of(p) != "svg"):
        fmt = fmt_of(path)
        # A fixed salt for the SVG's element ids and no date: reproducible bytes.
        with matplotlib.rc_context({"svg.hashsalt": "lolip"}), atomic_path(path) as tmp:
            metadata = {"Date": None} if fmt == "svg" else None
            fig.savefig(tmp, format=fmt, dpi=dpi, metadata=metadata)


def _log_scale(ax, axis: str) -> None:
    """A logarithmic ``axis`` labelled with plain numbers at 1, 2, 5 x 10^k (matplotlib's
    default log labels collide on short ranges)."""
    from matplotlib.ticker import FuncFormatter, LogLocator

    getattr(ax, f"set_{axis}scale")("log")
    target = getattr(ax, f"{axis}axis")
    target.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
    target.set_minor_locator(LogLocator(subs=(2.0, 5.0)))
    target.set_minor_formatter(FuncFormatter(lambda v, _: f"{v:g}"))


def spearman(x: np.ndarray, y: np.ndarray) -> float:
    """Spearman's rank correlation: Pearson's of the (average) ranks; nan if undefined."""
    rx, ry = pd.Series(x).rank().to_numpy(), pd.Series(y).rank().to_numpy()
    if len(rx) < 3 or rx.std() == 0 or ry.std() == 0:
        return float("nan")
    return float(np.corrcoef(rx, ry)[0, 1])


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
                    xs, ys = line.get_data()
                    drawn.append(
                        pd.DataFrame(
                            {
                                "block": block,
                                "row": row,
                                "seed": seed,
                                "quantity": col,
                                "epoch": np.asarray(xs),
                                "value": np.asarray(ys, dtype=float),
                            }
                        )
                    )
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
            xs, ys = line.get_data()
            drawn.append(
                pd.DataFrame(
                    {
                        "block": block,
                        "row": row,
                        "seed": seed,
                        "eps": np.asarray(xs, dtype=float),
                        "robust_acc": np.asarray(ys, dtype=float),
                    }
                )
            )
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
