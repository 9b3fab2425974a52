"""What every training method is: per-example loss terms, and the loss they combine into.

A method computes its terms (``terms``: e.g. TRADES' ``ce`` and ``kl``) and combines them
(``combine``: ``ce + beta * kl``); calling it gives the per-example loss, shape ``(N,)``,
which the training loop reduces. ``outer`` is the context of the outer loss's forward
passes (bf16 autocast under ``precision: bf16``, else nothing: :data:`FP32`); inner searches
and regularisers run in fp32 whatever it is. Hyperparameters are bounded dataclass fields
(:func:`lolip.bounds.setting`), checked when the method is made.
"""

from __future__ import annotations

import contextlib
from abc import ABC, abstractmethod

import torch
from torch import nn

from lolip.bounds import check_fields
from lolip.precision import Autocast

Tensor = torch.Tensor
Terms = dict[str, torch.Tensor]
FP32: Autocast = contextlib.nullcontext


class TrainingMethod(ABC):
    """A training method: ``method(model, x, y, eps, outer)`` is ``combine(terms(...))``."""

    def __post_init__(self) -> None:
        check_fields(self)

    @abstractmethod
    def terms(
        self, model: nn.Module, x: Tensor, y: Tensor, eps: float, outer: Autocast = FP32
    ) -> Terms:
        """The loss's per-example terms, differentiable in the model's weights."""

    @abstractmethod
    def combine(self, terms: Terms) -> Tensor:
        """The per-example loss from :meth:`terms`."""

    def __call__(
        self, model: nn.Module, x: Tensor, y: Tensor, eps: float, outer: Autocast = FP32
    ) -> Tensor:
        return self.combine(self.terms(model, x, y, eps, outer))
