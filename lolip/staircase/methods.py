"""The staircase's methods: entries of the config's ``methods:`` section, fitted on the staircase.

The staircase names its methods as the main grid does and takes each one's loss and
hyperparameters from its entry there, with the class defaults of
:func:`lolip.methods.method_class` filled in: ``trades6: {loss: trades, beta: 6.0}`` is
TRADES(6) here as in training, and ``llr: {loss: llr}`` is LLR(4, 3). The loss picks the
objective and solver (:data:`FITS`); the hyperparameters that weigh its terms carry over. The
others have no counterpart here, so the staircase ignores them: the inner search's ``steps``,
``step_size`` and ``attack_mode`` (the staircase maximises exactly over its three-point set) and
GR's finite-difference step ``h`` (the spline's derivative is exact, the ``h -> 0`` limit).

:func:`staircase_entries` checks the names and losses without importing torch or the solvers,
so the workflow runs it when it loads; :func:`resolve_methods` fills in the defaults, which
takes the method classes (and so torch), in the job.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # at run time, neither: the workflow imports this module when it loads
    import numpy as np

    from lolip.staircase.problem import Problem


@dataclass(frozen=True)
class Fit:
    """How the staircase fits one loss: the label's name, the method class's fields that weigh
    the objective's terms (in the label's order), and the solver and objective, functions of
    :mod:`lolip.staircase.solvers` and :mod:`lolip.staircase.objectives` taking those fields as
    keyword arguments."""

    label: str
    hyperparameters: tuple[str, ...]
    solver: str
    objective: str


# Names, not functions: checking a config does not import cvxpy or numba.
FITS: dict[str, Fit] = {
    "natural": Fit("Natural", (), "solve_natural", "natural_objective"),
    "gr": Fit("GR", ("beta",), "solve_gr", "gr_objective"),
    "llr": Fit("LLR", ("lam", "mu"), "solve_llr", "llr_objective"),
    "at": Fit("AT", (), "solve_at", "at_objective"),
    "rst": Fit("RST", ("lam",), "solve_rst", "rst_objective"),
    "trades": Fit("TRADES", ("beta",), "solve_trades", "trades_objective"),
}


def _function(module: str, name: str) -> Any:
    return getattr(importlib.import_module(f"lolip.staircase.{module}"), name)


@dataclass(frozen=True)
class StaircaseMethod:
    """A method of the config's ``methods:`` section as the staircase fits it: its name there,
    its loss, and the values of the loss's :data:`FITS` hyperparameters."""

    name: str
    loss: str
    params: Mapping[str, float]

    @property
    def label(self) -> str:
        """``TRADES(6)``, ``LLR(4,3)``; the bare name for a loss without hyperparameters."""
        base = FITS[self.loss].label
        values = ",".join(f"{v:g}" for v in self.params.values())
        return f"{base}({values})" if self.params else base

    def fit(self, pb: Problem) -> np.ndarray:
        """The coefficients that minimise :meth:`objective` on ``pb``."""
        return _function("solvers", FITS[self.loss].solver)(pb, **self.params)

    def objective(self, theta: np.ndarray, pb: Problem) -> float:
        return _function("objectives", FITS[self.loss].objective)(theta, pb, **self.params)


def _fit_of(name: str, entry: Mapping[str, Any], where: str) -> Fit:
    loss = entry.get("loss")
    if loss not in FITS:
        raise ValueError(
            f"{where}: method {name!r} has loss {loss!r}, which the staircase cannot fit "
            f"(it fits: {', '.join(FITS)})"
        )
    return FITS[loss]


def staircase_entries(
    names: Sequence[str],
    methods: Mapping[str, Mapping[str, Any]],
    where: str = "staircase.methods",
) -> dict[str, dict[str, Any]]:
    """The entries of ``methods`` (the config's ``methods:`` section) named by ``names``, in
    their order, each reduced to its loss and the hyperparameters the staircase uses: what a
    fit depends on, so that a change of any other key (GR's ``h``, a search's ``steps``) refits
    nothing.

    Raises ValueError, naming ``where`` and the name, for a name that is not in ``methods``, a
    name listed twice, or a method whose loss the staircase cannot fit.
    """
    entries: dict[str, dict[str, Any]] = {}
    for name in names:
        if name not in methods:
            raise ValueError(f"{where}: unknown method {name!r} (known: {', '.join(methods)})")
        if name in entries:
            raise ValueError(f"{where}: method {name!r} is listed twice")
        entry = methods[name]
        fit = _fit_of(name, entry, where)
        entries[name] = {
            "loss": entry["loss"],
            **{key: entry[key] for key in fit.hyperparameters if key in entry},
        }
    return entries


def resolve_methods(
    entries: Mapping[str, Mapping[str, Any]], where: str = "staircase.methods"
) -> list[StaircaseMethod]:
    """Each entry (name -> ``{loss, hyperparameters}``, as in the config's ``methods:``
    section) as a :class:`StaircaseMethod`, with the defaults of its method class filled in.

    Entries are checked as the training checks them (unknown keys, bounds), so a bad value
    fails here, before any fit.
    """
    from lolip.methods import build_method

    resolved = []
    for name, entry in entries.items():
        fit = _fit_of(name, entry, where)
        method = build_method(entry, where=f"{where}: method {name!r}")
        params = {key: float(getattr(method, key)) for key in fit.hyperparameters}
        resolved.append(StaircaseMethod(name, entry["loss"], params))
    return resolved
