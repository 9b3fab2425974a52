"""A table's values: model rows from the metrics JSONs, and the paper's reported numbers.

Cells: our mean over seeds, ``± std`` (sample standard deviation) with several seeds, and
the paper's reported value with the difference *ours - paper*. Paper rows the config does
not run say ``not run``; a value a finished run does not have (an attack not evaluated)
says ``n/a``. Rows are the paper's, in its order, then any of ours the paper lacks.

Each block ends with the reference row ``1-NN (theorem)``: the nearest-neighbour
classifier of the paper's existence theorem on the block's dataset
(:func:`lolip.separation.compute_separation`), with its clean test accuracy, its accuracy
*certified* at radius eps in every adversarial test column (a lower bound against any
attack), and its exact local Lipschitz constant ``1/r`` in the Lipschitz column. Table 1
(:func:`separation_table`) has one row per dataset.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from lolip.tables.layout import (
    _COLUMN,
    DEFAULT_ATTACK,
    DROP_SUFFIX,
    SEPARATION_TABLE,
    Block,
    TableSpec,
    column_attack,
    model_block,
)

SEPARATION_COLUMNS = (
    "eps",
    "train_train",
    "test_train",
    "train_train_raw",
    "nn_clean_acc",
    "nn_certified_acc",
)
RANDOM_LABEL_COLUMNS = ("train_train_random", "test_train_random")
NN_ROW = "1-NN (theorem)"


def load_reported(path: str | os.PathLike | None) -> dict[str, Any]:
    """The paper's reported numbers, or an empty dict when no file is given."""
    if not path:
        return {}
    return yaml.safe_load(Path(path).read_text())


def reported_block(
    reported: Mapping[str, Any], section: str | None, block: str
) -> dict[str, dict[str, float | None]]:
    """The paper's rows of one block, ``{row: {column: value}}`` in the paper's order."""
    table = reported.get(section or "", {}) if section else {}
    if block == "columns" or block not in table:
        return {}
    columns = table["columns"]
    return {row: dict(zip(columns, values, strict=True)) for row, values in table[block].items()}


def metric_value(metrics: Mapping[str, Any], column: str, attack: str = DEFAULT_ATTACK) -> float:
    """One column's value in a metrics JSON of :func:`lolip.evaluate.evaluate` (nan if absent).

    ``adv_{split}_acc`` of attack ``pgd`` is stored without suffix, every other attack's as
    ``adv_{split}_acc_{attack}``; ``adv_gap`` of an attack is its train minus test value.
    """
    name = column_attack(column, attack)
    if name is None:
        return _number(metrics.get(column))
    suffix = "" if name == DEFAULT_ATTACK else f"_{name}"
    if column.startswith("adv_gap"):
        train = _number(metrics.get(f"adv_train_acc{suffix}"))
        return train - _number(metrics.get(f"adv_test_acc{suffix}"))
    split = _COLUMN.fullmatch(column)["split"]
    return _number(metrics.get(f"adv_{split}_acc{suffix}"))


def _number(value: Any) -> float:
    return math.nan if value is None else float(value)


def model_rows(
    spec: TableSpec, metrics: Iterable[Mapping[str, Any]], columns: Sequence[str] | None = None
) -> pd.DataFrame:
    """One row per trained model of the table: block, row, seed and each column's value."""
    columns = list(spec.columns if columns is None else columns)
    rows = []
    for m in metrics:
        block = model_block(spec, m)
        row = {
            "block": block.name,
            "row": block.row_of(m["arch"], m["method"]),
            "seed": m["seed"],
            "masking": bool(m.get("checks", {}).get("masking_suspected")),
        }
        rows.append(row | {c: metric_value(m, c, spec.attack) for c in columns})
    return pd.DataFrame(rows, columns=["block", "row", "seed", "masking", *columns])


def _row_order(ours: Sequence[str], paper: Sequence[str]) -> list[str]:
    """The paper's rows in its order, then ours it lacks (each method before its +drop)."""
    have = set(ours)
    methods = dict.fromkeys(r.removesuffix(DROP_SUFFIX) for r in ours)
    ours_sorted = [r for m in methods for r in (m, f"{m}{DROP_SUFFIX}") if r in have]
    return list(dict.fromkeys([*paper, *ours_sorted]))


def model_table(
    spec: TableSpec,
    metrics: Iterable[Mapping[str, Any]],
    reported: Mapping[str, Any] | None = None,
    separation: Mapping[str, Mapping[str, Any]] | None = None,
    *,
    columns: Sequence[str] | None = None,
) -> pd.DataFrame:
    """The table in long form: per block its rows, then the ``1-NN (theorem)`` row.

    ``separation`` maps a dataset to its separation summary (the reference row says
    ``not run`` without one). Per column: ``col`` (mean over seeds), ``col_std``,
    ``col_paper`` (only for columns of the paper's attack, PGD) and ``col_diff``.
    """
    columns = list(spec.columns if columns is None else columns)
    models = model_rows(spec, metrics, columns)
    separation = separation or {}
    out = []
    for block in spec.blocks:
        paper = reported_block(reported or {}, spec.reported, block.name)
        ours = models[models["block"] == block.name]
        for name in _row_order(list(ours["row"]), list(paper)):
            runs = ours[ours["row"] == name]
            row = _block_row(block, name, "run" if len(runs) else "not run", len(runs))
            row["masking_suspected"] = int(runs["masking"].sum())
            for col in columns:
                values = runs[col].dropna()
                row[col] = values.mean() if len(values) else math.nan
                row[f"{col}_std"] = values.std(ddof=1) if len(values) > 1 else math.nan
                compare = column_attack(col, spec.attack) in (None, DEFAULT_ATTACK)
                value = paper.get(name, {}).get(col) if compare else None
                row[f"{col}_paper"] = _number(value)
                row[f"{col}_diff"] = row[col] - row[f"{col}_paper"]
            out.append(row)
        out.append(_nn_row(block, columns, separation.get(block.dataset)))
    df = pd.DataFrame(out)
    # The CSV says which attack its bare adversarial columns are (lolip summary labels them).
    df.insert(df.columns.get_loc("row") + 1, "attack", spec.attack)
    return df


def _block_row(block: Block, name: str, status: str, n_seeds: int) -> dict[str, Any]:
    return {
        "block": block.name,
        "dataset": block.dataset,
        "arch": block.arch,
        "dropout_arch": block.dropout_arch,
        "row": name,
        "status": status,
        "n_seeds": n_seeds,
    }


def _nn_row(
    block: Block, columns: Sequence[str], summary: Mapping[str, Any] | None
) -> dict[str, Any]:
    """The theorem's 1-NN classifier in the columns it has a value for."""
    row = _block_row(block, NN_ROW, "reference" if summary else "not run", 0)
    for col in columns:
        value = math.nan
        if summary is not None:
            if col == "test_acc":
                value = _number(summary.get("nn_clean_acc"))
            elif col.startswith("adv_test_acc"):
                value = _number(summary.get("nn_certified_acc"))
            elif col == "test_lipschitz":
                value = _number(summary.get("nn_lipschitz"))
        row |= {col: value, f"{col}_std": math.nan, f"{col}_paper": math.nan}
        row[f"{col}_diff"] = math.nan
    return row


def separation_table(
    summaries: Iterable[Mapping[str, Any]],
    reported: Mapping[str, Any] | None = None,
    random_summaries: Iterable[Mapping[str, Any]] | None = None,
) -> pd.DataFrame:
    """Table 1: one row per dataset, the paper's first (in its order), then ours.

    Columns ``eps``, ``train_train``, ``test_train`` (with ``_paper`` / ``_diff``),
    ``train_train_raw`` (nothing dropped), the theorem's 1-NN ``nn_clean_acc`` and
    ``nn_certified_acc`` (at radius eps), and with ``random_summaries`` the random-label
    control's ``train_train_random`` / ``test_train_random``. The paper's datasets the run
    lacks say ``not run``.
    """
    paper = dict((reported or {}).get(SEPARATION_TABLE, {}))
    paper_columns = paper.pop("columns", [])
    ours = {s["dataset"]: s for s in summaries}
    random = {s["dataset"]: s for s in random_summaries} if random_summaries is not None else None
    columns = [*SEPARATION_COLUMNS, *(RANDOM_LABEL_COLUMNS if random is not None else ())]
    rows = []
    for dataset in dict.fromkeys([*paper, *ours]):
        s = ours.get(dataset)
        row: dict[str, Any] = {"dataset": dataset, "status": "run" if s else "not run"}
        values = {
            "eps": s and s["eps"],
            "train_train": s and s["train_train_min"],
            "test_train": s and s["test_train_min"],
            "train_train_raw": s and s["train_train_min_raw"],
            "nn_clean_acc": s and s["nn_clean_acc"],
            "nn_certified_acc": s and s["nn_certified_acc"],
        }
        if random is not None:
            r = random.get(dataset)
            values["train_train_random"] = r and r["train_train_min"]
            values["test_train_random"] = r and r["test_train_min"]
        ref = dict(zip(paper_columns, paper.get(dataset, []), strict=False))
        for col in columns:
            row[col] = _number(values[col])
            row[f"{col}_paper"] = _number(ref.get(col))
            row[f"{col}_diff"] = row[col] - row[f"{col}_paper"]
        rows.append(row)
    return pd.DataFrame(rows)
