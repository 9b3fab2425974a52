"""The staircase figure's look, the config's ``staircase.plot``: colours, sizes, resolution.

Kept apart from :mod:`lolip.staircase.plot` (and free of matplotlib) so the config schema is
generated from these fields without importing a plotting library. Only the plot rule reads
them, so a change reruns the figure and never a fit.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from lolip.bounds import check_fields, from_mapping, setting


@dataclass(frozen=True)
class PlotStyle:
    """Colours are any matplotlib colour ("black", "#1f77b4", "0.35" for a grey)."""

    colormap: str = setting(
        "tab10",
        type="string",
        description="matplotlib colormap of the methods' colours (a qualitative one, in order)",
    )
    reference_color: str = setting(
        "black", type="string", description="colour of Natural, the reference in every panel"
    )
    point_color: str = setting("0.35", type="string", description="colour of the training points")
    dpi: int = setting(110, type="integer", minimum=10, description="resolution of the PNG")
    width: float = setting(10.0, type="number", above=0, description="figure width, inches")
    panel_height: float = setting(
        3.4, type="number", above=0, description="height of each panel, inches"
    )

    def __post_init__(self) -> None:
        check_fields(self)

    @classmethod
    def from_dict(
        cls, values: Mapping[str, Any] | None, where: str = "staircase.plot"
    ) -> PlotStyle:
        return from_mapping(cls, values, where)
