"""The figure: every method's fitted function over the training points, from the fits file."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import matplotlib
import numpy as np
from matplotlib.colors import is_color_like
from matplotlib.figure import Figure

from lolip.io import atomic_path
from lolip.staircase.data import NUM_STAIRS
from lolip.staircase.fits import StaircaseFits, load_fits
from lolip.staircase.style import PlotStyle

# Panels group methods by loss, by how they use the perturbation: penalties on the input
# gradient, the worst-case loss, and the worst-case change of the output. Natural is the
# reference in each.
PANELS = (
    ("gr", "llr"),
    ("at", "rst"),
    ("trades",),
)
_LINESTYLES = ("--", "-.", ":", (0, (5, 1, 1, 1, 1, 1)), (0, (1, 1)))
FORMATS = ("png", "svg", "pdf")


def _check_colors(style: PlotStyle) -> None:
    for key in ("reference_color", "point_color"):
        if not is_color_like(getattr(style, key)):
            raise ValueError(
                f"staircase.plot.{key}: {getattr(style, key)!r} is not a matplotlib colour "
                "(e.g. 'black', '#1f77b4', '0.35')"
            )
    if style.colormap not in matplotlib.colormaps:
        raise ValueError(
            f"staircase.plot.colormap: unknown colormap {style.colormap!r} "
            "(e.g. tab10, Set1, Dark2)"
        )


def _colors(name: str, n: int) -> list:
    """``n`` colours of the colormap ``name``: a listed one's own colours in order (cycled),
    a continuous one sampled evenly."""
    cmap = matplotlib.colormaps[name]
    listed = getattr(cmap, "colors", None)
    if listed is not None and len(listed) < 256:
        return [listed[i % len(listed)] for i in range(n)]
    return [cmap(v) for v in np.linspace(0, 1, max(n, 1))]


def draw_staircase(fits: StaircaseFits, title: str = "", style: PlotStyle | None = None) -> Figure:
    """Training points and every method's ``f_theta`` on ``[-eps, 9 + eps]``, one panel per
    group of :data:`PANELS` with Natural (solid, ``style.reference_color``) in each, one colour
    and line style per method."""
    style = PlotStyle() if style is None else style
    _check_colors(style)
    eps = fits.eps
    grid = np.linspace(-eps, NUM_STAIRS - 1 + eps, 1200)
    methods = {m.name: m for m in fits.methods}
    panels = [
        [name for name, m in methods.items() if m.loss in group]
        for group in PANELS
        if any(m.loss in group for m in methods.values())
    ]
    reference = [name for name, m in methods.items() if m.loss == "natural"]
    colors = _colors(style.colormap, len(methods))
    look = {name: (colors[i], i) for i, name in enumerate(methods)}

    # A bare Figure (no pyplot) draws without a GUI backend and leaks no global state.
    n_panels = max(len(panels), 1)
    fig = Figure(figsize=(style.width, style.panel_height * n_panels + 0.6), layout="constrained")
    axes = fig.subplots(n_panels, 1, sharex=True, squeeze=False)[:, 0]
    # Large sets put thousands of points on each stair: fade them so the curves stay visible.
    alpha = 1.0 if len(fits.train) <= 200 else 0.05
    for ax, names in zip(axes, panels or [[]], strict=True):
        ax.scatter(
            fits.train.x,
            fits.train.y,
            s=16,
            c=style.point_color,
            alpha=alpha,
            edgecolors="none",
            zorder=1,
            label=f"training points (n={len(fits.train)})",
            # In the SVG, tens of thousands of points as one image instead of as many elements.
            rasterized=True,
        )
        for name in reference + names:
            color, i = look[name]
            natural = name in reference
            ax.plot(
                grid,
                fits.predict(name, grid),
                color=style.reference_color if natural else color,
                linestyle="-" if natural else _LINESTYLES[i % len(_LINESTYLES)],
                linewidth=1.4 if natural else 1.9,
                zorder=2,
                label=methods[name].label,
            )
        ax.set_ylabel(r"$y$,  $f_\theta(x)$")
        ax.grid(True, alpha=0.3)
        legend = ax.legend(loc="upper left", fontsize="small", framealpha=0.9)
        legend.legend_handles[0].set_alpha(1.0)
    axes[-1].set_xlabel("$x$")
    axes[-1].set_xlim(grid[0], grid[-1])
    axes[-1].set_xticks(np.arange(NUM_STAIRS))
    fig.suptitle(title)
    return fig


def save_figure(fig: Figure, paths: Sequence[str | os.PathLike], dpi: int) -> None:
    """Write ``fig`` to each path in the format its suffix names (:data:`FORMATS`),
    atomically; vector files carry no date and fixed ids, so a redraw of the same figure
    writes the same bytes."""
    for path in paths:
        fmt = Path(path).suffix.lstrip(".").lower()
        if fmt not in FORMATS:
            raise ValueError(f"{path}: unknown figure format {fmt!r} (known: {', '.join(FORMATS)})")
        metadata = {"Date": None} if fmt == "svg" else {}
        with (
            matplotlib.rc_context({"svg.hashsalt": "lolip-staircase"}),
            atomic_path(path) as tmp,
        ):
            fig.savefig(tmp, format=fmt, dpi=dpi, metadata=metadata)


def figure_title(size: str, fits: StaircaseFits) -> str:
    return (
        f"Staircase, {size}: n_train = {len(fits.train)}, "
        f"eps = {fits.eps:.4g}, lambda = {fits.penalty:g}"
    )


def plot_staircase(
    fits: StaircaseFits,
    paths: Sequence[str | os.PathLike],
    title: str = "",
    style: PlotStyle | None = None,
) -> None:
    """:func:`draw_staircase` written to every path of ``paths`` (``.png``, ``.svg``, ``.pdf``)."""
    style = PlotStyle() if style is None else style
    save_figure(draw_staircase(fits, title, style), paths, style.dpi)


def make_staircase_figure(
    fits: str | os.PathLike,
    paths: Sequence[str | os.PathLike],
    size: str,
    style: Mapping[str, Any] | None = None,
) -> None:
    """The plot rule's step: the fits file ``fits`` of the set ``size`` drawn to ``paths`` in the
    look ``style`` (the config's ``staircase.plot``)."""
    fitted = load_fits(fits)
    plot_staircase(fitted, paths, figure_title(size, fitted), PlotStyle.from_dict(style))
