"""Training settings: every hyperparameter of a training run, in one place.

Kept free of torch so the workflow can validate a config without importing it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from lolip.bounds import Bound, check_fields, from_mapping, nested, setting

OPTIMIZERS = ("sgd", "adam")
REDUCTIONS = ("sum", "mean")
PRECISIONS = ("fp32", "bf16")


@dataclass(frozen=True)
class Augment:
    """Random crop of ``crop`` pixels after zero-padding by ``padding``; horizontal flip."""

    crop: int | None = setting(
        None, type="integer", minimum=1, nullable=True, description="crop size (null: none)"
    )
    padding: int = setting(0, type="integer", minimum=0, description="zero padding before the crop")
    flip: bool = setting(False, type="boolean", description="random horizontal flip")

    def __post_init__(self) -> None:
        check_fields(self)


@dataclass(frozen=True)
class TrainSettings:
    """Every hyperparameter of a training run, in one place.

    ``lr`` applies to the ``reduction`` used: with plain SGD, a summed loss at ``lr`` takes
    the same steps as a mean loss at ``lr * batch_size`` (on full batches; the last, smaller
    batch of an epoch takes a smaller summed step). ``precision`` and ``tf32`` are the
    floating-point protocol (:mod:`lolip.precision`): fp32 without TF32 by default, as the
    paper; ``bf16`` autocasts the outer training loss only.
    """

    epochs: int = setting(type="integer", minimum=1, description="epochs (the last is reported)")
    batch_size: int = setting(type="integer", minimum=1)
    lr: float = setting(
        type="number", above=0, description="learning rate, for the loss reduction used"
    )
    optimizer: str = setting("sgd", type="string", choices=OPTIMIZERS)
    momentum: float = setting(0.9, type="number", minimum=0, description="SGD momentum")
    weight_decay: float = setting(0.0, type="number", minimum=0)
    milestones: tuple[int, ...] = setting(
        (),
        type="array",
        items=Bound("integer", minimum=1),
        description="epochs after which the lr is multiplied by gamma",
    )
    gamma: float = setting(0.1, type="number", above=0, description="lr factor at each milestone")
    reduction: str = setting(
        "sum",
        type="string",
        choices=REDUCTIONS,
        description="sum over the batch (as the original code) or mean; lr applies to it",
    )
    augment: Augment = nested(Augment, "training augmentation (per batch, on the device)")
    train_subset: int | None = setting(
        None, type="integer", minimum=1, nullable=True, description="train on the first n points"
    )
    channels_last: bool = setting(
        True,
        type="boolean",
        description="channels-last layout for images, weights and pooling gradients",
    )
    precision: str = setting(
        "fp32",
        type="string",
        choices=PRECISIONS,
        description="fp32 (the paper), or bf16 autocast for the outer training loss only",
    )
    tf32: bool = setting(
        False, type="boolean", description="allow TF32 in fp32 matmuls and convolutions on GPUs"
    )

    def __post_init__(self) -> None:
        check_fields(self)

    @classmethod
    def from_dict(cls, values: dict[str, Any], where: str = "training") -> TrainSettings:
        """Settings from a config mapping; errors name ``where`` and the bad key or value."""
        return from_mapping(cls, values, where)
