"""The figures' canvas: their settings, panels on matplotlib's Agg canvas, and saving.

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
