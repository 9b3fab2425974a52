"""A config's dataset entry: the keys every entry has, and each source's own options.

``datasets.<name>`` is ``{source, eps, [drop_smallest], [training], <the source's options>}``.
:class:`Common` holds the keys later steps read (the radius, the separation's dropped
points, training settings); each source module declares how to read its data as a
dataclass ``Options`` of bounded settings (:mod:`lolip.bounds`) on :class:`SourceOptions`.
An unknown key (``test_fracton``) or a bad value is named when the workflow loads, by the
config schema generated from these classes and again here (:func:`parse_entry`).
Torch-free.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from lolip.bounds import Bound, check_fields, from_mapping, setting
from lolip.datasets.prepared import DatasetError

MD5 = Bound("object", items=Bound("string", pattern="[0-9a-f]{32}"))


@dataclass(frozen=True, kw_only=True)
class SourceOptions:
    """A source's options; each source adds its own."""

    source: str = setting(type="string", description="where the data come from")

    def __post_init__(self) -> None:
        check_fields(self)


@dataclass(frozen=True, kw_only=True)
class Common:
    """The keys of every dataset entry that later steps read (not the preparation)."""

    eps: float = setting(
        type="number", above=0, maximum=1, description="l_inf radius in [0, 1] pixel units"
    )
    drop_smallest: int = setting(
        0,
        type="integer",
        minimum=0,
        description="smallest train-train separations dropped (paper: SVHN 4, ImageNet 6)",
    )
    training: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        check_fields(self)


def directory(description: str) -> Any:
    return setting(None, type="string", nullable=True, description=description)


def md5s(files: str) -> Any:
    return setting(
        None,
        type="object",
        items=MD5.items,
        nullable=True,
        description=f"MD5 per file name ({files}) replacing the published ones (a mirror's)",
    )


COMMON_KEYS = tuple(Common.__dataclass_fields__)


def parse_entry(name: str, spec: Any, options: type) -> Any:
    """The source's ``Options`` from a dataset entry (its common keys set aside); a
    ValueError names the dataset."""
    if not isinstance(spec, dict):
        raise ValueError(f"dataset {name!r} must be a mapping, got {spec!r}")
    own = {k: v for k, v in spec.items() if k not in COMMON_KEYS}
    try:
        return from_mapping(options, own, f"dataset {name!r}")
    except ValueError as err:
        raise DatasetError(str(err)) from None
