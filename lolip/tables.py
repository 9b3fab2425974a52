"""The paper's tables, from saved results only (no training or attack runs here).

Each table is a pandas DataFrame with numeric columns; :func:`write_table` writes it as
CSV (numbers), Markdown and LaTeX (formatted cells). Where the paper's reported value of
a cell is known (``reported.yaml``) it stands beside ours with the difference, ours minus
the paper's; with several seeds our cell is the mean and ``*_std`` the standard deviation.
Rows the paper reports that this run did not produce say ``not run``.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml

from lolip.io import atomic_path

MODEL_COLUMNS = ["train_acc", "test_acc", "adv_test_acc", "test_lipschitz", "gap", "adv_gap"]
SEPARATION_COLUMNS = ["eps", "train_train", "test_train"]
PAPER_DATASETS = {"mnist", "cifar10", "svhn", "resimagenet"}


def load_reported(path: str | os.PathLike | None) -> dict[str, Any]:
    """The paper's reported numbers, or an empty dict when no file is given."""
    if not path:
        return {}
    return yaml.safe_load(Path(path).read_text())


def _rows(block: dict[str, Any], columns: list[str]) -> dict[str, dict[str, float | None]]:
    return {row: dict(zip(columns, values, strict=True)) for row, values in block.items()}


def reported_model_rows(
    reported: dict[str, Any], dataset: str, arch: str
) -> dict[str, dict[str, float | None]]:
    """The paper's rows for ``dataset``/``arch``, keyed by method (empty if not reported)."""
    if dataset == "mnist" and arch in reported.get("table2_mnist", {}):
        table = reported["table2_mnist"]
        return _rows(table[arch], table["columns"])
    key = f"{dataset}_{arch}"
    if key in reported.get("table3", {}):
        table = reported["table3"]
        return _rows(table[key], table["columns"])
    base, _, drop = arch.partition("_drop")
    table = reported.get("table4_dropout", {})
    if f"{dataset}_{base}" in table:
        rows = _rows(table[f"{dataset}_{base}"], table["columns"])
        wanted = {m: r for m, r in rows.items() if m.endswith("+drop") == bool(drop)}
        return {m.removesuffix("+drop"): r for m, r in wanted.items()}
    return {}


def model_table(
    metrics: Sequence[dict[str, Any]], reported_rows: dict[str, dict[str, float | None]]
) -> pd.DataFrame:
    """One row per method: our mean (and std over seeds), the paper's value and the difference."""
    ours = pd.DataFrame(
        [{"method": m["method"], **{c: m[c] for c in MODEL_COLUMNS}} for m in metrics]
    )
    order = list(dict.fromkeys([*ours["method"], *reported_rows]))
    grouped = ours.groupby("method")
    rows = []
    for method in order:
        row: dict[str, Any] = {"method": method}
        have = method in grouped.groups
        row["n_seeds"] = len(grouped.get_group(method)) if have else 0
        for col in MODEL_COLUMNS:
            values = grouped.get_group(method)[col] if have else pd.Series(dtype=float)
            row[col] = values.mean() if have else np.nan
            row[f"{col}_std"] = values.std(ddof=1) if len(values) > 1 else np.nan
            paper = reported_rows.get(method, {}).get(col)
            row[f"{col}_paper"] = np.nan if paper is None else paper
            row[f"{col}_diff"] = row[col] - row[f"{col}_paper"]
        rows.append(row)
    return pd.DataFrame(rows)


def separation_table(summaries: Sequence[dict[str, Any]], reported: dict[str, Any]) -> pd.DataFrame:
    """Table 1: eps and the train-train / test-train separation, with the 1-NN classifier."""
    paper = reported.get("table1_separation", {})
    rows = []
    for s in summaries:
        ref = dict(zip(SEPARATION_COLUMNS, paper.get(s["dataset"], [None] * 3), strict=True))
        row = {
            "dataset": s["dataset"],
            "eps": s["eps"],
            "train_train": s["train_train_min"],
            "test_train": s["test_train_min"],
            "train_train_raw": s["train_train_min_raw"],
            "nn_clean_acc": s["nn_clean_acc"],
            "nn_certified_acc": s["nn_certified_acc"],
        }
        for col in ("train_train", "test_train"):
            row[f"{col}_paper"] = np.nan if ref[col] is None else ref[col]
            row[f"{col}_diff"] = row[col] - row[f"{col}_paper"]
        rows.append(row)
    return pd.DataFrame(rows)


def _formatted(df: pd.DataFrame, columns: list[str], key: str, digits: int) -> pd.DataFrame:
    """Human-readable cells: ``ours ± std (paper; diff)``, or ``not run``."""
    out = pd.DataFrame({key: df[key]})
    for col in columns:
        cells = []
        for _, r in df.iterrows():
            if pd.isna(r[col]):
                cell = "not run"
            else:
                cell = f"{r[col]:.{digits}f}"
                if f"{col}_std" in r and not pd.isna(r[f"{col}_std"]):
                    cell += f" ± {r[f'{col}_std']:.{digits}f}"
            if f"{col}_paper" in r and not pd.isna(r[f"{col}_paper"]):
                paper = f"{r[f'{col}_paper']:.{digits}f}"
                diff = r.get(f"{col}_diff")
                cell += f" ({paper}; {diff:+.{digits}f})" if not pd.isna(diff) else f" ({paper})"
            cells.append(cell)
        out[col] = cells
    return out


def write_table(
    df: pd.DataFrame,
    csv: str | os.PathLike,
    md: str | os.PathLike,
    tex: str | os.PathLike,
    *,
    columns: list[str],
    key: str,
    caption: str,
    digits: int = 2,
) -> None:
    """CSV with every numeric column; Markdown and LaTeX with formatted cells."""
    shown = _formatted(df, columns, key, digits)
    note = "Cells: ours ± std over seeds (paper; ours - paper)."
    with atomic_path(csv) as tmp:
        df.to_csv(tmp, index=False, float_format="%.6g")
    with atomic_path(md) as tmp:
        tmp.write_text(f"{caption}\n\n{shown.to_markdown(index=False)}\n\n{note}\n")
    with atomic_path(tex) as tmp:
        tmp.write_text(shown.to_latex(index=False, caption=f"{caption} {note}", escape=True))
