"""Figures of the paper and of the report, drawn from result tables (never from models).

Each figure is drawn without pyplot and written as PNG (the report) and SVG (papers), the
same data giving the same bytes (:mod:`lolip.figures.canvas`); matplotlib is imported only
when a figure is drawn, so the workflow loads without it. The modules:

:mod:`lolip.figures.canvas`
    the settings (:class:`FigureSettings`), the panels and the saving of every figure;
:mod:`lolip.figures.separation`
    the separation histogram (:func:`separation_histogram`);
:mod:`lolip.figures.models`
    a model table's models as points and bars (:func:`lipschitz_vs_accuracy`,
    :func:`gap_by_method`);
:mod:`lolip.figures.curves`
    a model table's models as lines (:func:`training_curves`, :func:`eps_sweep`).

Every name callers use is importable from :mod:`lolip.figures` itself.
"""

from __future__ import annotations

from lolip.figures.canvas import DPI, FORMATS, FigureSettings, Paths, output_paths
from lolip.figures.curves import HISTORY_COLUMNS, accuracy_columns, eps_sweep, training_curves
from lolip.figures.models import gap_by_method, lipschitz_vs_accuracy, spearman
from lolip.figures.separation import separation_histogram

__all__ = [
    "DPI",
    "FORMATS",
    "HISTORY_COLUMNS",
    "FigureSettings",
    "Paths",
    "accuracy_columns",
    "eps_sweep",
    "gap_by_method",
    "lipschitz_vs_accuracy",
    "output_paths",
    "separation_histogram",
    "spearman",
    "training_curves",
]
