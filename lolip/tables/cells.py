"""A table's cells and headers as shown: ``ours ± std (paper; diff)``, column labels, marks.

The written formats (:mod:`lolip.tables.rendering`) show these; the CSV keeps the numbers.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd

from lolip.tables.layout import _COLUMN, DEFAULT_ATTACK, column_attack
from lolip.tables.values import RANDOM_LABEL_COLUMNS, SEPARATION_COLUMNS

_SEPARATION_DIGITS = 3
_LABELS = {
    "train_acc": "train acc",
    "test_acc": "test acc",
    "test_lipschitz": "test Lipschitz",
    "train_lipschitz": "train Lipschitz",
    "gap": "gap",
    "eps": "ε",
    "train_train": "train-train",
    "test_train": "test-train",
    "train_train_raw": "train-train (none dropped)",
    "nn_clean_acc": "1-NN clean acc",
    "nn_certified_acc": "1-NN certified acc",
    "train_train_random": "train-train (random labels)",
    "test_train_random": "test-train (random labels)",
}
NOTE = "Cells: ours ± std over seeds (paper; ours - paper)."
MASKING_MARK = "†"
MASKING_NOTE = (
    f"{MASKING_MARK}: gradient masking suspected (an alarm of the soundness checks rang: see "
    "the model's metrics.json, checks): its adversarial accuracy may overstate robustness."
)


def column_label(column: str, attack: str = DEFAULT_ATTACK) -> str:
    """A column's header: ``adv test acc (multitarget)`` for a non-PGD adversarial column."""
    if column in _LABELS:
        return _LABELS[column]
    name = column_attack(column, attack)
    if column.startswith("adv_gap"):
        base = "adv gap"
    else:
        base = f"adv {_COLUMN.fullmatch(column)['split']} acc"
    return base if name == DEFAULT_ATTACK and attack == DEFAULT_ATTACK else f"{base} ({name})"


def _digits(column: str) -> int:
    separation = column in SEPARATION_COLUMNS[:4] or column in RANDOM_LABEL_COLUMNS
    return _SEPARATION_DIGITS if separation else 2


def format_cell(row: Mapping[str, Any], column: str) -> str:
    """``ours ± std (paper; diff)``; ``not run`` or ``n/a`` where we have no value."""
    d = _digits(column)
    value = row[column]
    if row.get("status") == "not run":
        cell = "not run"
    elif pd.isna(value):
        cell = "n/a"
    else:
        cell = f"{value:.{d}f}"
        std = row.get(f"{column}_std", math.nan)
        if not pd.isna(std):
            cell += f" ± {std:.{d}f}"
    paper = row.get(f"{column}_paper", math.nan)
    if not pd.isna(paper):
        diff = row[f"{column}_diff"]
        cell += f" ({paper:.{d}f}; {diff:+.{d}f})" if not pd.isna(diff) else f" ({paper:.{d}f})"
    return cell


def _shown(
    df: pd.DataFrame, key: str, columns: Sequence[str], attack: str, *, header: str
) -> pd.DataFrame:
    """The formatted cells of ``df`` under human-readable headers (``key`` shown as ``header``)."""
    names = list(df[key])
    if "masking_suspected" in df.columns:
        flagged = df["masking_suspected"].fillna(0).to_numpy() > 0
        names = [f"{n} {MASKING_MARK}" if f else n for n, f in zip(names, flagged, strict=True)]
    cells = {header: names}
    for col in columns:
        cells[column_label(col, attack)] = [format_cell(r, col) for _, r in df.iterrows()]
    return pd.DataFrame(cells)
