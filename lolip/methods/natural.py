"""Natural training."""

from __future__ import annotations

from dataclasses import dataclass

import torch.nn.functional as F
from torch import nn

from lolip.methods.base import FP32, Tensor, Terms, TrainingMethod
from lolip.precision import Autocast


@dataclass
class Natural(TrainingMethod):
    """Natural training: ``loss_i = CE(f(x_i), y_i)``. ``eps`` is unused."""

    def terms(
        self, model: nn.Module, x: Tensor, y: Tensor, eps: float, outer: Autocast = FP32
    ) -> Terms:
        """Per-example ``ce = CE(f(x), y)``."""
        with outer():
            return {"ce": F.cross_entropy(model(x), y, reduction="none")}

    def combine(self, terms: Terms) -> Tensor:
        return terms["ce"]
