"""The training loop: one readable loop over a split held on the device.

Each step draws a batch by index from the split as stored (uint8 or float32), converts
that batch alone to float in [0, 1], applies the dataset's augmentation as tensor
operations, asks the method for per-example losses and reduces them explicitly: ``sum`` as
the original code does (its learning rates assume it) or ``mean``.

The run can stop and resume anywhere. After every epoch, and at the next batch boundary
after SIGINT or SIGTERM (:class:`lolip.interrupts.StopRequest`), the full state (weights,
optimiser, scheduler, RNG states, history, the epoch's batch order and how far into it the
run is) goes to an atomic, checksummed checkpoint with the run's fingerprint; on CPU a
resumed run ends with bitwise the same weights as an uninterrupted one. The checkpoint of
the finished run is kept: should the job end before Snakemake records its output, the
rerun rebuilds the model from it at once (the workflow removes it after a successful run).
"""

from __future__ import annotations

import logging
import os
import time
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from lolip.channels_last import channels_last
from lolip.datasets.prepared import Split
from lolip.interrupts import Interrupted, StopRequest
from lolip.methods.base import TrainingMethod as Method
from lolip.precision import Autocast, outer_autocast
from lolip.training.augment import augment
from lolip.training.checkpoint import load_checkpoint, save_checkpoint
from lolip.training.settings import TrainSettings

log = logging.getLogger("lolip")


class TrainingError(RuntimeError):
    """Training cannot go on (e.g. a non-finite loss)."""


@dataclass
class Position:
    """How far a run is: finished epochs, and within the next one its batch order, the
    batches done, their summed loss and the seconds spent."""

    epoch: int = 0
    batch: int = 0
    order: torch.Tensor | None = None
    loss_sum: torch.Tensor | float = 0.0
    seconds: float = 0.0
    history: list[dict[str, float]] = field(default_factory=list)


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


class _Run:
    """The optimiser, the scheduler and the position of one run, saved and restored together."""

    def __init__(self, model: nn.Module, settings: TrainSettings, fingerprint: str | None):
        self.model, self.fingerprint = model, fingerprint
        self.optimizer = _optimizer(model, settings)
        self.scheduler = torch.optim.lr_scheduler.MultiStepLR(
            self.optimizer, milestones=list(settings.milestones), gamma=settings.gamma
        )
        self.position = Position()

    def save(self, path: str | os.PathLike) -> None:
        p = self.position
        save_checkpoint(
            path,
            {
                "fingerprint": self.fingerprint,
                "epoch": p.epoch,
                "batch": p.batch,
                "order": None if p.order is None else p.order.cpu(),
                "loss_sum": p.loss_sum,
                "seconds": p.seconds,
                "history": p.history,
                "model": self.model.state_dict(),
                "optimizer": self.optimizer.state_dict(),
                "scheduler": self.scheduler.state_dict(),
                "rng": _rng_state(),
            },
        )

    def restore(self, state: dict[str, Any], device: torch.device) -> None:
        self.model.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.scheduler.load_state_dict(state["scheduler"])
        order = state["order"]
        self.position = Position(
            epoch=state["epoch"],
            batch=state["batch"],
            order=None if order is None else order.to(device),
            loss_sum=state["loss_sum"],
            seconds=state["seconds"],
            history=state["history"],
        )
        _set_rng_state(state["rng"])


def train(
    model: nn.Module,
    method: Method,
    data: Split,
    eps: float,
    settings: TrainSettings,
    *,
    seed: int,
    checkpoint: str | os.PathLike | None = None,
    fingerprint: str | None = None,
) -> list[dict[str, float]]:
    """Train ``model`` in place with ``method``; return the per-epoch history.

    ``data`` lives on the device to train on; the model is moved there. With
    ``checkpoint``, the run resumes from it if its fingerprint is ``fingerprint`` and
    rewrites it after every epoch and when interrupted (then raising
    :class:`lolip.interrupts.Interrupted`).
    """
    device = data.x.device
    torch.manual_seed(seed)
    model.to(device)
    if settings.train_subset is not None:
        data = data.head(settings.train_subset)
    run = _Run(model, settings, fingerprint)
    state = load_checkpoint(checkpoint, fingerprint) if checkpoint else None
    if state is not None:
        run.restore(state, device)
    autocast = outer_autocast(settings.precision, device)
    started, start_epoch = time.perf_counter(), run.position.epoch
    with StopRequest() as stop:
        while run.position.epoch < settings.epochs:
            finished = _epoch(model, method, data, eps, settings, run, autocast, stop)
            if finished:
                run.scheduler.step()
                _log_epoch(run.position.history[-1], settings.epochs, start_epoch, started)
            if checkpoint:
                run.save(checkpoint)
            stop.raise_if_requested()
    model.eval()
    return run.position.history


def _epoch(
    model: nn.Module,
    method: Method,
    data: Split,
    eps: float,
    s: TrainSettings,
    run: _Run,
    autocast: Autocast,
    stop: StopRequest,
) -> bool:
    """Run the current epoch on from ``run.position``; False if a stop cut it short."""
    p = run.position
    if p.order is None:
        p.order = torch.randperm(len(data)).to(data.x.device)
    starts = range(0, len(data), s.batch_size)
    model.train()
    tic = time.perf_counter()
    with channels_last(model, s.channels_last):
        for batch in range(p.batch, len(starts)):
            idx = p.order[starts[batch] : starts[batch] + s.batch_size]
            xb = augment(data.images(idx), s.augment)
            where = f"epoch {p.epoch + 1}, batch {batch + 1}"
            losses = _step(model, method, xb, data.y[idx], eps, s, run.optimizer, autocast, where)
            p.loss_sum = p.loss_sum + losses.double().sum()
            p.batch = batch + 1
            if stop.requested and p.batch < len(starts):
                p.seconds += time.perf_counter() - tic
                return False
    seconds = p.seconds + time.perf_counter() - tic
    p.history.append(
        {
            "epoch": p.epoch + 1,
            "loss": float(p.loss_sum) / len(data),
            "seconds": seconds,
            "images_per_second": len(data) / seconds,
        }
    )
    p.epoch, p.batch, p.order, p.loss_sum, p.seconds = p.epoch + 1, 0, None, 0.0, 0.0
    return True


def _step(
    model: nn.Module,
    method: Method,
    xb: torch.Tensor,
    yb: torch.Tensor,
    eps: float,
    s: TrainSettings,
    optimizer: torch.optim.Optimizer,
    autocast: Autocast,
    where: str,
) -> torch.Tensor:
    """One optimiser step on the batch's reduced loss; returns the per-example losses.

    A non-finite loss raises :class:`TrainingError` naming ``where`` before any step.
    """
    losses = method(model, xb, yb, eps, outer=autocast)
    loss = losses.sum() if s.reduction == "sum" else losses.mean()
    if not torch.isfinite(loss):
        raise TrainingError(f"non-finite loss ({loss.item()}) at {where}")
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    optimizer.step()
    return losses.detach()


def _log_epoch(row: dict[str, float], epochs: int, start_epoch: int, started: float) -> None:
    done = row["epoch"] - start_epoch
    elapsed = time.perf_counter() - started
    eta = elapsed / done * (epochs - row["epoch"])
    log.info(
        "epoch %d: loss %.4f, %.0f img/s, elapsed %.0fs, ETA %.0fs",
        row["epoch"],
        row["loss"],
        row["images_per_second"],
        elapsed,
        eta,
    )


__all__ = ["Interrupted", "TrainingError", "train"]
