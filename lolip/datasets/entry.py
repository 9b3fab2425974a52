"""A config's dataset entry: the keys every source shares, and each source's own options.

``datasets.<name>`` is ``{source, eps, [drop_smallest], [training], <the source's options>}``.
Each source module declares its options as a dataclass ``Options`` of bounded settings
(:mod:`lolip.bounds`) on top of :class:`Common`, so an unknown key (``test_fracton``) or a
bad value is named when the workflow loads, by the config schema generated from these
classes and again here (:func:`parse_entry`). Torch-free.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from lolip.bounds import Bound, check_fields, from_mapping, setting

MD5 = Bound("object", items=Bound("string", pattern="[0-9a-f]{32}"))


@dataclass(frozen=True, kw_only=True)
class Common:
    """The keys of every dataset entry."""

    source: str = setting(type="string", description="where the data come from")
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


def parse_entry(name: str, spec: Any, options: type) -> Any:
    """The source's ``Options`` from a dataset entry; a ValueError names the dataset."""
    if not isinstance(spec, dict):
        raise ValueError(f"dataset {name!r} must be a mapping, got {spec!r}")
    return from_mapping(options, spec, f"dataset {name!r}")
