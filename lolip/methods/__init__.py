"""Training methods of the paper, each a per-example loss.

A method is a callable ``method(model, x, y, eps, outer) -> loss`` returning a tensor of
shape ``(N,)``: the training loop reduces it (sum, as the original code does, or mean) so
the reduction is explicit in one place. ``outer`` is the context of the outer loss's
forward passes (bf16 autocast under ``precision: bf16``, else nothing); inner searches and
regularisers run in fp32. Methods with an inner maximisation have a field ``attack_mode``
("train" or "eval"): the model mode during that maximisation, recorded in every run's
metadata. Hyperparameters are bounded fields (:func:`lolip.bounds.setting`).

Config entries name a loss and its hyperparameters, e.g. ``trades6: {loss: trades, beta: 6}``,
so a new variant is a config line, not code.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any

from lolip.bounds import from_mapping
from lolip.registry import lookup

if TYPE_CHECKING:
    from lolip.methods.base import TrainingMethod

LOSSES: dict[str, str] = {
    "natural": "lolip.methods.natural:Natural",
    "gr": "lolip.methods.gr:GR",
    "llr": "lolip.methods.llr:LLR",
    "at": "lolip.methods.at:AT",
    "rst": "lolip.methods.rst:RST",
    "trades": "lolip.methods.trades:TRADES",
}


def method_class(loss: str) -> type:
    """The dataclass of the loss named ``loss``; unknown names list the known ones."""
    return lookup("loss", loss, LOSSES)


def build_method(spec: dict[str, Any], where: str = "method") -> TrainingMethod:
    """Build the method ``spec['loss']`` with the remaining keys as hyperparameters."""
    spec = dict(spec)
    if "loss" not in spec:
        raise ValueError(f"{where}: no 'loss' key (known: {', '.join(LOSSES)})")
    cls = method_class(spec.pop("loss"))
    return from_mapping(cls, spec, f"{where} ({cls.__name__})")


def describe(method: TrainingMethod) -> dict[str, Any]:
    """The method's class and every hyperparameter, defaults included, for run metadata."""
    return {"class": type(method).__name__, **dataclasses.asdict(method)}
