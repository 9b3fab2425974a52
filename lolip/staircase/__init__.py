"""The 1-D staircase illustration (after Raghunathan et al. 2020), as in the original's notebook.

Every training method fitted to a staircase: ten stairs ``x = 0, ..., 9`` with
``y = x + N(0, 0.1^2)``, most of the mass on the first five, and a cubic B-spline model with a
smoothness penalty. The modules, in the order the work flows:

- :mod:`.data`: the staircase distribution and its training and test sets;
- :mod:`.spline`: the model ``f_theta(x) = B(x) . theta`` and the penalty ``theta^T P theta``;
- :mod:`.problem`: a training set in feature form, shared by every objective and solver;
- :mod:`.objectives`: each method's objective, its formula in the docstring;
- :mod:`.solvers`: cvxpy for the convex objectives, L-BFGS-B for GR and LLR;
- :mod:`.methods`: the config's ``methods:`` entries the staircase fits, and how;
- :mod:`.metrics`: the table's errors and local Lipschitz constants;
- :mod:`.experiment`: :func:`run_staircase`, data to fits and table (the rule fit_staircase);
- :mod:`.fits`: the fitted functions as a file, from the fit to the figure;
- :mod:`.style`: the figure's look, the config's ``staircase.plot``;
- :mod:`.plot`: the figure (the rule plot_staircase).

The names below are imported on first use, so importing one light module (as the workflow
does when it loads) does not import cvxpy, numba and matplotlib.
"""

from __future__ import annotations

import importlib

_LAZY = {
    "data": [
        "EPS",
        "LABEL_NOISE",
        "NUM_STAIRS",
        "SHIFT_PROB",
        "StaircaseData",
        "sample_staircase",
        "sample_train_test",
        "stair_weights",
    ],
    "spline": [
        "DEGREE",
        "PENALTY",
        "SplineBasis",
        "predict",
        "second_differences",
        "smoothness_penalty",
        "staircase_basis",
    ],
    "problem": ["Problem", "build_problem"],
    "objectives": [
        "at_objective",
        "gr_objective",
        "gr_value_and_grad",
        "llr_objective",
        "llr_value_and_grad",
        "natural_objective",
        "rst_objective",
        "trades_objective",
    ],
    "solvers": [
        "LLR_SMOOTHING",
        "natural_closed_form",
        "solve_at",
        "solve_gr",
        "solve_llr",
        "solve_natural",
        "solve_rst",
        "solve_trades",
    ],
    "methods": ["FITS", "StaircaseMethod", "resolve_methods", "staircase_entries"],
    "metrics": ["TABLE_COLUMNS", "metrics_row", "staircase_metrics"],
    "experiment": ["TABLE_FLOAT_FORMAT", "StaircaseResult", "run_staircase", "write_results"],
    "fits": ["StaircaseFits", "load_fits", "save_fits"],
    "style": ["PlotStyle"],
    "plot": [
        "FORMATS",
        "PANELS",
        "draw_staircase",
        "figure_title",
        "make_staircase_figure",
        "plot_staircase",
        "save_figure",
    ],
}
_HOME = {name: module for module, names in _LAZY.items() for name in names}

__all__ = sorted(_HOME)


def __getattr__(name: str):
    if name in _HOME:
        return getattr(importlib.import_module(f"{__name__}.{_HOME[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *_HOME])
