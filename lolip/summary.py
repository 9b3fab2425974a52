"""A results folder's tables as fixed-width text, for the terminal (``lolip summary``).

The tables are the workflow's ``tables/*.csv`` (:mod:`lolip.tables`: Table 1 first, then
the model tables by name; not the report's findings and soundness-check tables), each cell
as the Markdown tables show it (``ours ± std (paper; ours - paper)``), a model table one
section per block. A folder without tables (a run stopped before its table rules, or a
copy of ``eval/`` alone) gets one model table per (dataset, arch) built from its
``eval/**/metrics.json``, with the 1-NN reference row where ``separation/{dataset}.json``
is there; without the config, no paper values.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import pandas as pd
from tabulate import tabulate

from lolip import tables
from lolip.io import read_json

MODEL_KEYS = ("dataset", "arch", "method", "seed")


class SummaryError(ValueError):
    """A results folder has no tables and no metrics to build them from."""


def summary_text(results: str | os.PathLike) -> str:
    """Every table of the results folder ``results``, as text."""
    return "\n\n".join(table_text(name, df) for name, df in results_tables(results))


def results_tables(results: str | os.PathLike) -> list[tuple[str, pd.DataFrame]]:
    """``(name, table)`` in the long form of :func:`lolip.tables.model_table` (or
    :func:`~lolip.tables.separation_table`) of each table of ``results``."""
    root = Path(results)
    if not root.is_dir():
        raise SummaryError(f"results folder {str(root)!r} does not exist")
    csvs = sorted(
        (p for p in (root / "tables").glob("*.csv") if not report_only(p.stem)),
        key=lambda p: (p.stem != tables.SEPARATION_TABLE, p.stem),
    )
    if csvs:
        return [(p.stem, tables.read_table(p)) for p in csvs]
    metrics = [m for m in _metrics(root / "eval") if all(k in m for k in MODEL_KEYS)]
    if not metrics:
        raise SummaryError(
            f"results folder {str(root)!r} has no tables/*.csv and no eval/**/metrics.json "
            "of a lolip model"
        )
    return metrics_tables(metrics, root / "separation")


def report_only(stem: str) -> bool:
    """The report's tables of findings and soundness checks, which are not the paper's."""
    return stem == tables.FINDINGS_TABLE or stem.endswith(tables.CHECKS_SUFFIX)


def _metrics(folder: Path) -> Iterable[dict[str, Any]]:
    return (read_json(p) for p in sorted(folder.glob("**/metrics.json")))


def metrics_tables(
    metrics: list[Mapping[str, Any]], separation: str | os.PathLike | None = None
) -> list[tuple[str, pd.DataFrame]]:
    """One model table per (dataset, arch) of ``metrics`` (as the workflow's without a
    ``tables`` section), with the 1-NN rows of ``separation/{dataset}.json`` if there."""
    groups = sorted({(m["dataset"], m["arch"]) for m in metrics})
    specs = tables.table_specs(
        None, groups, datasets={d for d, _ in groups}, archs={a for _, a in groups}
    )
    out = []
    for name, spec in specs.items():
        summaries = {}
        for dataset in spec.datasets:
            path = Path(separation or "") / f"{dataset}.json"
            if separation is not None and path.is_file():
                summaries[dataset] = read_json(path)
        covered = [m for m in metrics if spec.covers(m["dataset"], m["arch"], m["method"])]
        out.append((name, tables.model_table(spec, covered, separation=summaries)))
    return out


def table_text(name: str, df: pd.DataFrame) -> str:
    """One long-form table as titled fixed-width text, a section per block."""
    columns = [c for c in df.columns if f"{c}_paper" in df.columns]
    if "block" not in df.columns:
        grid = _grid(df, "dataset", "dataset", columns, tables.DEFAULT_ATTACK)
        return "\n".join([*_heading(name), grid, "", tables.NOTE])
    attack = str(df["attack"].iloc[0]) if "attack" in df.columns else tables.DEFAULT_ATTACK
    parts = _heading(name)[:-1]
    for block_name, rows in df.groupby("block", sort=False):
        first = rows.iloc[0]
        drop = first.get("dropout_arch")
        block = tables.Block(
            str(block_name), first["dataset"], first["arch"], None if pd.isna(drop) else drop
        )
        parts += ["", block.title, _grid(rows, "row", "method", columns, attack)]
    parts += ["", tables.NOTE]
    return "\n".join(parts)


def _heading(name: str) -> list[str]:
    return [name, "=" * len(name), ""]


def _grid(df: pd.DataFrame, key: str, header: str, columns: list[str], attack: str) -> str:
    headers = [header, *(tables.column_label(c, attack) for c in columns)]
    body = [[r[key], *(tables.format_cell(r, c) for c in columns)] for _, r in df.iterrows()]
    return tabulate(body, headers=headers, tablefmt="simple", disable_numparse=True)
