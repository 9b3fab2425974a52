"""The table of findings: every finding on every block of the run's model tables.

Per finding and block one row (columns :data:`COLUMNS`) with our statistic and the paper's,
and whether the claim holds on each; findings that do not depend on the attack are given
once per set of models; the rank agreement has one row per column the paper reports.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import pandas as pd

from lolip import tables
from lolip.findings.claims import (
    FINDINGS,
    RANK_AGREEMENT,
    Finding,
    Value,
    block_statistic,
    rank_agreement,
)
from lolip.methods import LOSSES
from lolip.tables import DROP_SUFFIX, Block, TableSpec

COLUMNS = (
    "finding",
    "claim",
    "table",
    "block",
    "attack",
    "column",
    "statistic",
    "ours",
    "paper",
    "n_ours",
    "n_paper",
    "holds",
    "holds_paper",
    "note",
)
_NEEDED = ("test_lipschitz", "adv_test_acc", "gap", "adv_gap")


def _block_values(
    spec: TableSpec, metrics: list[Mapping[str, Any]], columns: Sequence[str]
) -> dict[str, dict[str, dict[str, float]]]:
    """Per block the run rows' means over seeds: block -> row -> column -> value."""
    df = tables.model_table(spec, metrics, columns=list(columns))
    df = df[df["status"] == "run"]
    out: dict[str, dict[str, dict[str, float]]] = {b.name: {} for b in spec.blocks}
    for _, r in df.iterrows():
        out[r["block"]][r["row"]] = {c: float(r[c]) for c in columns}
    return out


def _covered(spec: TableSpec, metrics: list[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """The metrics of the models that ``spec`` shows."""
    return [m for m in metrics if spec.covers(m["dataset"], m["arch"], m["method"])]


def _loss_getter(losses: Mapping[str, str]) -> Callable[[str], str]:
    def loss_of(row: str) -> str:
        method = row.removesuffix(DROP_SUFFIX)
        if method in losses:
            return losses[method]
        # A paper row this config does not define: the paper's names say the loss (longest
        # name first, so that no loss is taken for a shorter one it starts with).
        for loss in sorted(LOSSES, key=len, reverse=True):
            if method.startswith(loss):
                return loss
        return method

    return loss_of


def _row(
    finding: Finding,
    spec: TableSpec | None,
    block: Block | None,
    ours: Value,
    paper: Value | None,
    note: str = "",
    statistic: str | None = None,
) -> dict[str, Any]:
    def verdict(v: Value | None) -> str:
        if v is None or not v.computable:
            return "n/a"
        return "yes" if finding.holds(v.value) else "no"

    notes = [note] if note else []
    notes += [f"ours: {ours.note}"] if ours.note else []
    notes += [f"paper: {paper.note}"] if paper is not None and paper.note else []
    return {
        "finding": finding.id,
        "claim": finding.claim,
        "table": spec.name if spec else "",
        "block": block.name if block else "",
        "attack": spec.attack if spec is not None and finding.uses_attack else "",
        "column": "",
        "statistic": statistic or finding.statistic,
        "ours": ours.value,
        "paper": paper.value if paper is not None else math.nan,
        "n_ours": ours.n,
        "n_paper": paper.n if paper is not None else 0,
        "holds": verdict(ours),
        "holds_paper": verdict(paper),
        "note": "; ".join(notes),
    }


def findings_table(
    specs: Iterable[TableSpec],
    metrics: Iterable[Mapping[str, Any]],
    reported: Mapping[str, Any] | None = None,
    *,
    losses: Mapping[str, str] | None = None,
) -> pd.DataFrame:
    """Every finding on every block of ``specs`` (columns :data:`COLUMNS`).

    ``metrics`` are the models' metrics (each table takes those it covers), ``losses`` maps
    a method name to its loss (config ``methods``; the paper's row names otherwise).
    """
    specs, metrics = list(specs), list(metrics)
    loss_of = _loss_getter(losses or {})
    rows: list[dict[str, Any]] = []
    seen: set[tuple[str, frozenset]] = set()
    covered = []  # per table: its models' metrics and their values by block, built once
    for spec in specs:
        own = _covered(spec, metrics)
        covered.append((spec, own, _block_values(spec, own, _NEEDED)))
    for finding in FINDINGS:
        found = []
        for spec, own, values in covered:
            for block in spec.blocks:
                if finding.dropout_only and block.dropout_arch is None:
                    continue
                models = frozenset(
                    (m["dataset"], m["arch"], m["method"])
                    for m in own
                    if spec.block_of(m["dataset"], m["arch"]) == block
                )
                if not finding.uses_attack and models:
                    if (finding.id, models) in seen:
                        continue
                    seen.add((finding.id, models))
                paper_rows = tables.reported_block(reported or {}, spec.reported, block.name)
                paper = (
                    block_statistic(finding, paper_rows, loss_of)
                    if paper_rows
                    else Value(note="the paper reports no values for this block")
                )
                ours = block_statistic(finding, values[block.name], loss_of)
                if not models:
                    ours = Value(note="no model of this block run")
                found.append(_row(finding, spec, block, ours, paper))
        if not found:
            why = "no block with a dropout variant" if finding.dropout_only else "no model table"
            found.append(_row(finding, None, None, Value(), None, f"not computable: {why}"))
        rows += found
    rows += _rank_agreement_rows(specs, metrics, reported or {})
    return pd.DataFrame(rows, columns=list(COLUMNS))


def _rank_agreement_rows(
    specs: list[TableSpec], metrics: list[Mapping[str, Any]], reported: Mapping[str, Any]
) -> list[dict[str, Any]]:
    rows = []
    for spec in specs:
        own = _covered(spec, metrics)
        # The paper's columns are PGD's: only those of the paper's attack compare.
        columns = [
            c
            for c in spec.columns
            if tables.column_attack(c, spec.attack) in (None, tables.DEFAULT_ATTACK)
        ]
        values = _block_values(spec, own, columns)
        for block in spec.blocks:
            paper_rows = tables.reported_block(reported, spec.reported, block.name)
            for column in columns:
                if not any(column in r for r in paper_rows.values()):
                    continue
                value = rank_agreement(values[block.name], paper_rows, column)
                statistic = f"{RANK_AGREEMENT.statistic} (column {column})"
                rows.append(
                    _row(RANK_AGREEMENT, spec, block, value, None, statistic=statistic)
                    | {"attack": tables.column_attack(column, spec.attack) or "", "column": column}
                )
    if not rows:
        note = "not computable: no table of this run has the paper's reported values"
        rows.append(_row(RANK_AGREEMENT, None, None, Value(), None, note))
    return rows
