"""The training augmentation, as tensor operations on a batch on its device."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from lolip.training.settings import Augment


def augment(x: torch.Tensor, aug: Augment) -> torch.Tensor:
    """Per-example random crop (after zero padding) and horizontal flip, on the batch.

    The crop is torchvision's ``RandomCrop(crop, padding=padding)``: pad every side by
    ``padding`` zeros, then take a ``crop`` x ``crop`` window at a uniformly drawn offset.
    """
    if aug.padding:
        x = F.pad(x, (aug.padding,) * 4)
    if aug.crop is not None:
        n, c, h, w = x.shape
        top = torch.randint(0, h - aug.crop + 1, (n, 1), device=x.device)
        left = torch.randint(0, w - aug.crop + 1, (n, 1), device=x.device)
        offsets = torch.arange(aug.crop, device=x.device)
        rows = (top + offsets)[:, None, :, None]
        cols = (left + offsets)[:, None, None, :]
        batch = torch.arange(n, device=x.device)[:, None, None, None]
        x = x[batch, torch.arange(c, device=x.device)[None, :, None, None], rows, cols]
    if aug.flip:
        flip = torch.rand(x.shape[0], device=x.device) < 0.5
        x = torch.where(flip[:, None, None, None], x.flip(-1), x)
    return x
