"""The settings every search over the eps-ball shares, each bound defined once (torch-free).

Training methods (their inner maximisation), evaluation attacks and the Lipschitz estimate
all take projected gradient steps; their dataclass fields for steps, step size, model mode,
norm and restarts come from here, so the runtime checks and the config schema agree.
"""

from __future__ import annotations

from typing import Any

from lolip.bounds import setting

MODES = ("train", "eval")
NORMS = ("linf", "l2")


def steps(default: int) -> Any:
    """A search's number of steps (0: only the start point)."""
    return setting(default, type="integer", minimum=0, description="steps (0: the start only)")


def step_size(default: float, unit: str = "eps") -> Any:
    """A search's step size, in units of ``unit``."""
    return setting(default, type="number", minimum=0, description=f"step size in units of {unit}")


def mode(default: str) -> Any:
    """The model's mode during a search."""
    return setting(
        default, type="string", choices=MODES, description="model mode during the search"
    )


def norm(default: str = "linf") -> Any:
    """The norm of the ball."""
    return setting(default, type="string", choices=NORMS, description="the ball's norm")


def restarts(default: int = 1) -> Any:
    """Independent random starts; the strongest counts."""
    return setting(default, type="integer", minimum=1, description="random starts")
