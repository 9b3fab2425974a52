"""Training settings: every hyperparameter of a training run, in one place.

Kept free of torch so the workflow can validate a config without importing it.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

OPTIMIZERS = ("sgd", "adam")
REDUCTIONS = ("sum", "mean")


@dataclass(frozen=True)
class Augment:
    """Random crop of ``crop`` pixels after zero-padding by ``padding``; horizontal flip."""

    crop: int | None = None
    padding: int = 0
    flip: bool = False


@dataclass(frozen=True)
class TrainSettings:
    """Every hyperparameter of a training run, in one place.

    ``lr`` applies to the ``reduction`` used: with plain SGD, a summed loss at ``lr`` takes
    the same steps as a mean loss at ``lr * batch_size`` (on full batches; the last, smaller
    batch of an epoch takes a smaller summed step).
    """

    epochs: int
    batch_size: int
    lr: float
    optimizer: str = "sgd"
    momentum: float = 0.9
    weight_decay: float = 0.0
    milestones: tuple[int, ...] = ()
    gamma: float = 0.1
    reduction: str = "sum"
    augment: Augment = field(default_factory=Augment)
    train_subset: int | None = None
    channels_last: bool = True  # faster on CPU too: CNN001 natural 1.2x, AT with PGD 1.2x
    bf16: bool | None = None  # None: on CUDA only; ~15x slower on CPUs without bf16 units

    def __post_init__(self) -> None:
        if self.optimizer not in OPTIMIZERS:
            raise ValueError(f"unknown optimizer {self.optimizer!r} (known: {OPTIMIZERS})")
        if self.reduction not in REDUCTIONS:
            raise ValueError(f"unknown reduction {self.reduction!r} (known: {REDUCTIONS})")
        for name in ("epochs", "batch_size"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1, got {getattr(self, name)}")
        if self.lr <= 0:
            raise ValueError(f"lr must be positive, got {self.lr}")

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> TrainSettings:
        values = dict(values)
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = set(values) - known
        if unknown:
            raise ValueError(
                f"unknown training setting(s) {', '.join(sorted(unknown))} "
                f"(known: {', '.join(sorted(known))})"
            )
        required = {f.name for f in dataclasses.fields(cls) if f.default is dataclasses.MISSING}
        required -= {
            f.name for f in dataclasses.fields(cls) if f.default_factory is not dataclasses.MISSING
        }
        missing = required - set(values)
        if missing:
            raise ValueError(f"missing training setting(s) {', '.join(sorted(missing))}")
        values["augment"] = Augment(**values.get("augment", {}))
        values["milestones"] = tuple(values.get("milestones", ()))
        return cls(**values)
