"""Natural training."""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn


@dataclass
class Natural:
    """Natural training: ``loss_i = CE(f(x_i), y_i)``. ``eps`` is unused."""

    def __call__(
        self, model: nn.Module, x: torch.Tensor, y: torch.Tensor, eps: float
    ) -> torch.Tensor:
        return F.cross_entropy(model(x), y, reduction="none")
