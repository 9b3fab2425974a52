"""The training loop: one readable loop over tensors held in memory.

Each step draws a batch by index from the in-memory training tensors, applies the
dataset's augmentation as tensor operations, asks the method for per-example losses and
reduces them explicitly: ``sum`` as the original code does (its learning rates assume it)
or ``mean``. Every epoch ends with an atomic, checksummed checkpoint holding the full state
(weights, optimiser, scheduler, RNG states, history), so a killed job resumes where it left
off and, on CPU, ends with bitwise the same weights as an uninterrupted run.
"""

from __future__ import annotations

import contextlib
import logging
import os
import time
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from lolip.checkpoint import load_checkpoint, remove_checkpoint, save_checkpoint
from lolip.layout import channels_last
from lolip.methods import Method
from lolip.settings import Augment, TrainSettings

log = logging.getLogger("lolip")


class TrainingError(RuntimeError):
    """Training cannot go on (e.g. a non-finite loss)."""


def augment(x: torch.Tensor, aug: Augment) -> torch.Tensor:
    """Per-example random crop (after zero padding) and horizontal flip, on the batch."""
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


def _optimizer(model: nn.Module, s: TrainSettings) -> torch.optim.Optimizer:
    if s.optimizer == "adam":
        return torch.optim.Adam(model.parameters(), lr=s.lr, weight_decay=s.weight_decay)
    return torch.optim.SGD(
        model.parameters(), lr=s.lr, momentum=s.momentum, weight_decay=s.weight_decay
    )


def _rng_state() -> dict[str, Any]:
    state = {"torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def _set_rng_state(state: dict[str, Any]) -> None:
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def train(
    model: nn.Module,
    method: Method,
    x: torch.Tensor,
    y: torch.Tensor,
    eps: float,
    settings: TrainSettings,
    *,
    seed: int,
    checkpoint: str | os.PathLike | None = None,
) -> list[dict[str, float]]:
    """Train ``model`` in place with ``method``; return the per-epoch history.

    ``x`` (float, [0, 1], NCHW) and ``y`` live on the device to train on; the model is
    moved there. With ``checkpoint``, the run resumes from it if present and rewrites it
    after every epoch; it is removed once training finishes.
    """
    device = x.device
    torch.manual_seed(seed)
    bf16 = device.type == "cuda" if settings.bf16 is None else settings.bf16
    model.to(device)
    if settings.train_subset is not None:
        x, y = x[: settings.train_subset], y[: settings.train_subset]
    optimizer = _optimizer(model, settings)
    scheduler = torch.optim.lr_scheduler.MultiStepLR(
        optimizer, milestones=list(settings.milestones), gamma=settings.gamma
    )
    history: list[dict[str, float]] = []
    state = load_checkpoint(checkpoint) if checkpoint else None
    if state is not None:
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        scheduler.load_state_dict(state["scheduler"])
        history = state["history"]
        _set_rng_state(state["rng"])
    start = len(history)
    started = time.perf_counter()
    for epoch in range(start, settings.epochs):
        history.append(_epoch(model, method, x, y, eps, settings, optimizer, epoch, bf16))
        scheduler.step()
        _log_epoch(history[-1], epoch, settings.epochs - start, start, started)
        if checkpoint:
            save_checkpoint(
                checkpoint,
                {
                    "epoch": epoch + 1,
                    "model": model.state_dict(),
                    "optimizer": optimizer.state_dict(),
                    "scheduler": scheduler.state_dict(),
                    "rng": _rng_state(),
                    "history": history,
                },
            )
    if checkpoint:
        remove_checkpoint(checkpoint)
    model.eval()
    return history


def _epoch(
    model: nn.Module,
    method: Method,
    x: torch.Tensor,
    y: torch.Tensor,
    eps: float,
    s: TrainSettings,
    optimizer: torch.optim.Optimizer,
    epoch: int,
    bf16: bool,
) -> dict[str, float]:
    model.train()
    tic = time.perf_counter()
    order = torch.randperm(len(x)).to(x.device)
    total_loss = torch.zeros((), device=x.device, dtype=torch.float64)
    with channels_last(model, s.channels_last):
        for batch, start in enumerate(range(0, len(x), s.batch_size)):
            idx = order[start : start + s.batch_size]
            xb = augment(x[idx], s.augment)
            where = f"epoch {epoch + 1}, batch {batch + 1}"
            total_loss += _step(model, method, xb, y[idx], eps, s, optimizer, bf16, where).sum()
    seconds = time.perf_counter() - tic
    return {
        "epoch": epoch + 1,
        "loss": total_loss.item() / len(x),
        "seconds": seconds,
        "images_per_second": len(x) / seconds,
    }


def _step(
    model: nn.Module,
    method: Method,
    xb: torch.Tensor,
    yb: torch.Tensor,
    eps: float,
    s: TrainSettings,
    optimizer: torch.optim.Optimizer,
    bf16: bool,
    where: str,
) -> torch.Tensor:
    """One optimiser step on the batch's reduced loss; returns the per-example losses.

    A non-finite loss raises :class:`TrainingError` naming ``where`` before any step.
    """
    autocast = (
        torch.autocast(xb.device.type, dtype=torch.bfloat16) if bf16 else contextlib.nullcontext()
    )
    with autocast:
        losses = method(model, xb, yb, eps)
    loss = losses.sum() if s.reduction == "sum" else losses.mean()
    if not torch.isfinite(loss):
        raise TrainingError(f"non-finite loss ({loss.item()}) at {where}")
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    optimizer.step()
    return losses.detach()


def _log_epoch(row: dict[str, float], epoch: int, todo: int, start: int, started: float) -> None:
    done = epoch + 1 - start
    elapsed = time.perf_counter() - started
    eta = elapsed / done * (todo - done)
    log.info(
        "epoch %d: loss %.4f, %.0f img/s, elapsed %.0fs, ETA %.0fs",
        row["epoch"],
        row["loss"],
        row["images_per_second"],
        elapsed,
        eta,
    )
