"""The figure: every method's fitted function over the training points."""

from __future__ import annotations

from pathlib import Path

import matplotlib
import numpy as np
from matplotlib.figure import Figure

from lolip.io import atomic_path
from lolip.staircase.data import NUM_STAIRS
from lolip.staircase.experiment import StaircaseResult
from lolip.staircase.spline import predict

# Panels group methods by loss, by how they use the perturbation: penalties on the input
# gradient, the worst-case loss, and the worst-case change of the output. Natural is the
# reference in each.
PANELS = (
    ("gr", "llr"),
    ("at", "rst"),
    ("trades",),
)
_LINESTYLES = ("--", "-.", ":", (0, (5, 1, 1, 1, 1, 1)), (0, (1, 1)))


def plot_staircase(result: StaircaseResult, path: str | Path, title: str = "") -> None:
    """Training points and every method's ``f_theta`` on ``[-eps, 9 + eps]``, one panel per
    group of :data:`PANELS` with Natural (solid black) in each, one colour and line style per
    method.

    Written atomically to ``path`` as a PNG.
    """
    eps = result.eps
    grid = np.linspace(-eps, NUM_STAIRS - 1 + eps, 1200)
    methods = {m.name: m for m in result.methods}
    panels = [
        [spec for spec, m in methods.items() if m.loss in group]
        for group in PANELS
        if any(m.loss in group for m in methods.values())
    ]
    reference = [spec for spec, m in methods.items() if m.loss == "natural"]
    colors = matplotlib.colormaps["tab10"].colors
    style = {spec: (colors[i % len(colors)], i) for i, spec in enumerate(methods)}

    # A bare Figure (no pyplot) draws without a GUI backend and leaks no global state.
    fig = Figure(figsize=(10, 3.4 * max(len(panels), 1) + 0.6), layout="constrained")
    axes = fig.subplots(max(len(panels), 1), 1, sharex=True, squeeze=False)[:, 0]
    # Large sets put thousands of points on each stair: fade them so the curves stay visible.
    alpha = 1.0 if len(result.train) <= 200 else 0.05
    for ax, specs in zip(axes, panels or [[]], strict=True):
        ax.scatter(
            result.train.x,
            result.train.y,
            s=16,
            c="0.35",
            alpha=alpha,
            edgecolors="none",
            zorder=1,
            label=f"training points (n={len(result.train)})",
        )
        for spec in reference + specs:
            color, i = style[spec]
            natural = spec in reference
            ax.plot(
                grid,
                predict(result.basis, result.thetas[spec], grid),
                color="black" if natural else color,
                linestyle="-" if natural else _LINESTYLES[i % len(_LINESTYLES)],
                linewidth=1.4 if natural else 1.9,
                zorder=2,
                label=methods[spec].label,
            )
        ax.set_ylabel(r"$y$,  $f_\theta(x)$")
        ax.grid(True, alpha=0.3)
        legend = ax.legend(loc="upper left", fontsize="small", framealpha=0.9)
        legend.legend_handles[0].set_alpha(1.0)
    axes[-1].set_xlabel("$x$")
    axes[-1].set_xlim(grid[0], grid[-1])
    axes[-1].set_xticks(np.arange(NUM_STAIRS))
    fig.suptitle(title)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=110)
