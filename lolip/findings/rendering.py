"""Writing the table of findings: CSV (all numbers), Markdown and HTML, a section per finding."""

from __future__ import annotations

import math
import os
from collections.abc import Sequence

import pandas as pd

from lolip import tables
from lolip.findings.claims import RANK_AGREEMENT
from lolip.tables import Section


def _format(finding: str, value: float) -> str:
    if math.isnan(value):
        return "n/a"
    if finding == "trades_lipschitz":
        return f"{value:.0f}"
    return f"{value:.2f}"


def _place(table: str, block: str) -> str:
    """``table / block``; the block alone where it is named like its table."""
    if not table:
        return "—"
    return table if block == table else f"{table} / {block}"


def write_findings_table(
    df: pd.DataFrame, paths: Sequence[str | os.PathLike], *, caption: str
) -> None:
    """Write a :func:`findings_table` to ``paths`` (csv, md, html), a section per finding."""
    sections = []
    for finding in dict.fromkeys(df["finding"]):
        own = df[df["finding"] == finding]
        first = own.iloc[0]
        statistic = first["statistic"]
        if finding == RANK_AGREEMENT.id:
            statistic = RANK_AGREEMENT.statistic
        cells = {"table / block": [_place(r["table"], r["block"]) for _, r in own.iterrows()]}
        if finding == RANK_AGREEMENT.id:
            cells["column"] = [c or "—" for c in own["column"]]
        cells |= {
            "attack": [r["attack"] or "—" for _, r in own.iterrows()],
            "ours": [_format(finding, v) for v in own["ours"]],
            "n": [str(n) if n else "—" for n in own["n_ours"]],
            "holds here": list(own["holds"]),
            "paper": [_format(finding, v) for v in own["paper"]],
            "holds in the paper": list(own["holds_paper"]),
            "note": [n or "" for n in own["note"]],
        }
        sections.append(Section(first["claim"], pd.DataFrame(cells), f"Statistic: {statistic}."))
    tables.write_sections(
        df,
        sections,
        paths,
        caption=caption,
        label=tables.FINDINGS_TABLE,
        note=FINDINGS_NOTE,
        align="left",
    )


FINDINGS_NOTE = (
    "ours: this run's models (each row the mean over seeds, as in the model tables); paper: "
    "the paper's reported values of the same block, where its tables give them; n/a: not "
    "computable (the note says why)."
)
