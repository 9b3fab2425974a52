"""Training methods of the paper, each a per-example loss.

A method is a callable ``method(model, x, y, eps) -> loss`` returning a tensor of shape
``(N,)``: the training loop reduces it (sum, as the original code does, or mean) so the
reduction is explicit in one place. Methods with an inner maximisation have a field
``attack_mode`` ("train" or "eval"): the model mode during that maximisation, recorded in
every run's metadata.

Config entries name a loss and its hyperparameters, e.g. ``trades6: {loss: trades, beta: 6}``,
so a new variant is a config line, not code.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any, Protocol

from lolip.registry import lookup

if TYPE_CHECKING:
    import torch
    from torch import nn

LOSSES: dict[str, str] = {
    "natural": "lolip.methods.natural:Natural",
    "gr": "lolip.methods.gr:GR",
    "llr": "lolip.methods.llr:LLR",
    "at": "lolip.methods.at:AT",
    "rst": "lolip.methods.rst:RST",
    "trades": "lolip.methods.trades:TRADES",
}


class Method(Protocol):
    def __call__(
        self, model: nn.Module, x: torch.Tensor, y: torch.Tensor, eps: float
    ) -> torch.Tensor: ...


def build_method(spec: dict[str, Any]) -> Method:
    """Build the method ``spec['loss']`` with the remaining keys as hyperparameters."""
    spec = dict(spec)
    if "loss" not in spec:
        raise ValueError(f"method spec {spec} has no 'loss' key (known: {', '.join(LOSSES)})")
    cls = lookup("loss", spec.pop("loss"), LOSSES)
    known = {f.name for f in dataclasses.fields(cls)}
    unknown = set(spec) - known
    if unknown:
        raise ValueError(
            f"{cls.__name__} has no hyperparameter {', '.join(sorted(unknown))} "
            f"(known: {', '.join(sorted(known)) or 'none'})"
        )
    return cls(**spec)


def describe(method: Method) -> dict[str, Any]:
    """The method's class and every hyperparameter, defaults included, for run metadata."""
    return {"class": type(method).__name__, **dataclasses.asdict(method)}
