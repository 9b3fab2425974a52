"""The staircase's method registry and its name grammar (``"trades6"``, ``"llr4,3"``)."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from lolip.staircase.objectives import (
    at_objective,
    gr_objective,
    llr_objective,
    natural_objective,
    rst_objective,
    trades_objective,
)
from lolip.staircase.problem import Problem
from lolip.staircase.solvers import (
    solve_at,
    solve_gr,
    solve_llr,
    solve_natural,
    solve_rst,
    solve_trades,
)


@dataclass(frozen=True)
class MethodDef:
    solve: Callable[..., np.ndarray]
    objective: Callable[..., float]
    defaults: tuple[float, ...]
    label: str


# Defaults are the paper's: GR weight 1, LLR (lambda, mu) = (4, 3), TRADES's own beta = 6, and
# the middle of the paper's RST grid {0.5, 1, 2}.
METHODS: dict[str, MethodDef] = {
    "natural": MethodDef(solve_natural, natural_objective, (), "Natural"),
    "gr": MethodDef(solve_gr, gr_objective, (1.0,), "GR"),
    "llr": MethodDef(solve_llr, llr_objective, (4.0, 3.0), "LLR"),
    "at": MethodDef(solve_at, at_objective, (), "AT"),
    "rst": MethodDef(solve_rst, rst_objective, (1.0,), "RST"),
    "trades": MethodDef(solve_trades, trades_objective, (6.0,), "TRADES"),
}

_METHOD_RE = re.compile(r"^([a-z]+)((?:\d+(?:\.\d*)?|\.\d+)(?:,(?:\d+(?:\.\d*)?|\.\d+))*)?$")


@dataclass(frozen=True)
class Method:
    """A method name with its hyperparameters, parsed from ``"trades6"``, ``"rst0.5"``,
    ``"llr4,3"`` or a bare name (``"gr"``: the defaults in :data:`METHODS`)."""

    name: str
    params: tuple[float, ...]

    @classmethod
    def parse(cls, spec: str) -> Method:
        match = _METHOD_RE.match(spec)
        if match is None or match.group(1) not in METHODS:
            raise ValueError(
                f"unknown method '{spec}' (known: {', '.join(METHODS)}, optionally followed by "
                "comma-separated numbers, e.g. 'trades6', 'rst0.5', 'llr4,3')"
            )
        name, numbers = match.groups()
        defaults = METHODS[name].defaults
        params = tuple(float(v) for v in numbers.split(",")) if numbers else defaults
        if len(params) != len(defaults):
            raise ValueError(
                f"method '{spec}' has {len(params)} parameter(s); '{name}' takes {len(defaults)}"
            )
        return cls(name, params)

    @property
    def label(self) -> str:
        base = METHODS[self.name].label
        return f"{base}({','.join(f'{p:g}' for p in self.params)})" if self.params else base

    def fit(self, pb: Problem) -> np.ndarray:
        return METHODS[self.name].solve(pb, *self.params)

    def objective(self, theta: np.ndarray, pb: Problem) -> float:
        return METHODS[self.name].objective(theta, pb, *self.params)
