"""Natural training."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from lolip.precision import Autocast


@dataclass
class Natural:
    """Natural training: ``loss_i = CE(f(x_i), y_i)``. ``eps`` is unused."""

    def __call__(
        self,
        model: nn.Module,
        x: torch.Tensor,
        y: torch.Tensor,
        eps: float,
        outer: Autocast = contextlib.nullcontext,
    ) -> torch.Tensor:
        with outer():
            return F.cross_entropy(model(x), y, reduction="none")
