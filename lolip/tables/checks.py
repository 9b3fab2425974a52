"""The table of soundness checks of a model table's models (``<table>_checks``).

One row per model: each check of :mod:`lolip.evaluation.checks` as ``pass``, ``FAIL`` or
``ALARM`` with where it did not pass, and the evidence of every gradient-masking alarm that
rang; written as CSV, Markdown and HTML, one section per block.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import pandas as pd

from lolip.evaluation.verdict import ALARMS, _numbers, check_records
from lolip.tables.layout import CHECKS_SUFFIX, TableSpec, model_block
from lolip.tables.rendering import Section, write_sections
from lolip.tables.values import _row_order

# The soundness checks of lolip.evaluation.checks in the order they run: the errors, then
# the gradient-masking alarms (CHECK_ALARMS). A check a record lacks (an older metrics
# file) shows "n/a"; one this list lacks is appended.
_CHECK_LABELS = {
    "batch_size_invariance": "batch size",
    "input_gradient_nonzero": "input grad ≠ 0",
    "eps_zero": "PGD at ε=0",
    "more_steps": "2× steps",
    "in_ball": "in ε-ball",
    "adv_not_above_clean": "adv ≤ clean",
    "square_vs_pgd": "Square vs PGD (alarm)",
    "large_eps": "large ε (alarm)",
}
CHECKS = tuple(_CHECK_LABELS)
CHECK_ALARMS = ALARMS
CHECKS_NOTE = (
    "pass: every record of the check passed (each evaluated split; in ε-ball and adv ≤ clean: "
    "each attack); FAIL or ALARM: the splits (/attacks) where it did not. Errors stop an "
    "evaluation, so a finished model passed them all; alarms are warnings."
)


def alarm_evidence(name: str, where: str, record: Mapping[str, Any]) -> str:
    """One alarm's evidence in short: its numbers against its threshold."""
    if name == "square_vs_pgd":
        acc = record["attack_acc"]
        return (
            f"Square vs PGD on {where}: Square leaves {acc['square']:.1f}% unbroken, PGD "
            f"{acc['pgd']:.1f}% (margin {record['margin']:.1f}; n={record['n']}): PGD's "
            "gradients miss adversarial points a gradient-free search finds"
        )
    if name == "large_eps":
        return (
            f"large ε on {where}: PGD at ε={record['eps']:g} leaves {record['attack_acc']:.1f}% "
            f"unbroken, above chance {record['chance']:.1f}% + {record['margin']:.1f} "
            f"(n={record['n']}): the attack cannot follow the model even where every "
            "point is breakable"
        )
    return f"{name} on {where}: {_numbers(record)}"


def check_cell(name: str, per_split: Mapping[str, Any] | None) -> str:
    """``pass``, ``FAIL: <where>`` (errors), ``ALARM: <where>`` (alarms) or ``n/a``."""
    if not isinstance(per_split, Mapping):
        return "n/a"
    failed = [where for where, record in check_records(per_split) if not record["passed"]]
    if not failed:
        return "pass"
    return f"{'ALARM' if name in CHECK_ALARMS else 'FAIL'}: {', '.join(failed)}"


def checks_table(spec: TableSpec, metrics: Iterable[Mapping[str, Any]]) -> pd.DataFrame:
    """One row per model of the table: each check's verdict and the alarms' evidence.

    Columns ``block``, ``row``, ``seed``, ``dataset``, ``arch``, ``method``, one per check
    (:data:`CHECKS`, cells of :func:`check_cell`), ``masking_suspected``, ``all_passed``
    and ``alarms`` (the evidence of every alarm that rang, :func:`alarm_evidence`, joined
    by "; "). Models are in the table's block order, each block's rows in the order of
    the model table (each method before its ``+drop`` row), seeds ascending.
    """
    metrics = list(metrics)
    names = list(CHECKS) + sorted(
        {k for m in metrics for k, v in m.get("checks", {}).items() if isinstance(v, Mapping)}
        - set(CHECKS)
    )
    rows = []
    for m in metrics:
        block = model_block(spec, m)
        checks = m.get("checks", {})
        evidence = [
            alarm_evidence(name, where, record)
            for name in names
            if isinstance(checks.get(name), Mapping) and name in CHECK_ALARMS
            for where, record in check_records(checks[name])
            if not record["passed"]
        ]
        rows.append(
            {
                "block": block.name,
                "row": block.row_of(m["arch"], m["method"]),
                "seed": m["seed"],
                "dataset": m["dataset"],
                "arch": m["arch"],
                "method": m["method"],
                **{name: check_cell(name, checks.get(name)) for name in names},
                "masking_suspected": bool(checks.get("masking_suspected", bool(evidence))),
                "all_passed": bool(checks.get("all_passed", False)),
                "alarms": "; ".join(evidence),
            }
        )
    columns = ["block", "row", "seed", "dataset", "arch", "method", *names]
    df = pd.DataFrame(rows, columns=[*columns, "masking_suspected", "all_passed", "alarms"])
    order = []
    for block in spec.blocks:
        own = df[df["block"] == block.name]
        for name in _row_order(list(own["row"]), []):
            order += list(own[own["row"] == name].sort_values("seed").index)
    return df.loc[order].reset_index(drop=True)


def write_checks_table(
    df: pd.DataFrame, spec: TableSpec, paths: Sequence[str | os.PathLike], *, caption: str
) -> None:
    """Write a :func:`checks_table` to ``paths`` (csv, md, html), one section per block."""
    names = [c for c in df.columns if c not in _CHECK_FRAME_COLUMNS]
    sections = []
    for block in spec.blocks:
        own = df[df["block"] == block.name]
        cells = {"method": list(own["row"]), "seed": [str(s) for s in own["seed"]]}
        cells |= {_CHECK_LABELS.get(c, c): list(own[c]) for c in names}
        cells["alarm evidence"] = [a or "none" for a in own["alarms"]]
        sections.append(Section(block.title, pd.DataFrame(cells)))
    write_sections(
        df,
        sections,
        paths,
        caption=caption,
        label=f"{spec.name}{CHECKS_SUFFIX}",
        note=CHECKS_NOTE,
        align="left",
    )


_CHECK_FRAME_COLUMNS = {
    "block",
    "row",
    "seed",
    "dataset",
    "arch",
    "method",
    "masking_suspected",
    "all_passed",
    "alarms",
}
