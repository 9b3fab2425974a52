"""The paper's findings, tested on this run's model tables and on the paper's own values.

Each finding is a claim of the paper with a statistic computed per block of a model table
(:mod:`lolip.tables`): from this run's models, each row (method, or ``method+drop``) taken
as its mean over seeds, exactly the table's cell; and from the paper's reported values of
the same block (``reported.yaml``), over the paper's rows, where its tables give the
columns. Every finding says whether it holds here and in the paper's numbers; where it
cannot be computed (too few methods run, no dropout block, no reported values) its row
says why instead.

The findings and their statistics (``L`` test Lipschitz, ``A`` adversarial test accuracy
under the table's attack, ``g`` gap = train acc - test acc, ``g_adv`` adv gap):

``trades_lipschitz``: *TRADES gives the smallest local Lipschitz constants.* The rank
    (1 = smallest) of ``min L`` over the TRADES rows (loss ``trades``, with or without
    ``+drop``) among the ``L`` of all rows. Holds: rank 1.
``lipschitz_vs_adv``: *Smaller local Lipschitz constants go with higher adversarial
    accuracy.* Spearman's rank correlation ρ(L, A) over the rows
    (:func:`scipy.stats.spearmanr`, average ranks for ties); needs 3 rows. Holds: ρ < 0.
``robust_gap`` / ``robust_adv_gap``: *Robust training generalises worse than natural
    training.* Δ = mean of ``g`` (``g_adv``) over the AT, RST and TRADES rows without
    ``+drop``, minus natural's; needs natural and one robust row. Holds: Δ > 0.
``dropout_gap`` / ``dropout_adv_gap``: *Dropout narrows the generalisation gap* (blocks
    with a dropout variant, Table 4). The share of methods m with both rows whose
    ``g(m+drop) < g(m)`` (``g_adv``). Holds: share > 1/2.
``rank_agreement``: *Our ranking of the methods is the paper's.* Per column of the table
    that the paper reports: Spearman's ρ between our values and the paper's over the rows
    both have; needs 3. Holds: ρ > 0. (The paper's own value would be 1: none is given.)

Findings that do not depend on the attack (``trades_lipschitz``, ``robust_gap``,
``dropout_gap``) are given once per set of models: a block of a later table with the same
models as an earlier one (the appendix tables repeat Table 2-4's models under other
attacks) is left out of them.
"""

from __future__ import annotations

import math
import os
import warnings
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd

from lolip import tables
from lolip.tables import DROP_SUFFIX, Block, Section, TableSpec

ROBUST_LOSSES = ("at", "rst", "trades")
MIN_RANKED = 3
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


@dataclass(frozen=True)
class Finding:
    """One claim: its statistic (``value`` of a block's rows, or a reason it has none), the
    test that it holds, and whether it depends on the table's attack."""

    id: str
    claim: str
    statistic: str
    holds: Callable[[float], bool]
    uses_attack: bool
    dropout_only: bool = False


FINDINGS = (
    Finding(
        "trades_lipschitz",
        "TRADES gives the smallest local Lipschitz constants",
        "rank (1 = smallest) of the best TRADES row's test Lipschitz among the block's rows; "
        "holds if 1",
        lambda v: v == 1,
        uses_attack=False,
    ),
    Finding(
        "lipschitz_vs_adv",
        "Smaller local Lipschitz constants go with higher adversarial accuracy",
        "Spearman ρ between test Lipschitz and adv test accuracy across the block's rows; "
        "holds if ρ < 0",
        lambda v: v < 0,
        uses_attack=True,
    ),
    Finding(
        "robust_gap",
        "Robust training (AT, RST, TRADES) generalises worse than natural training: clean gap",
        "mean gap of the AT/RST/TRADES rows minus natural's gap (percentage points); holds if > 0",
        lambda v: v > 0,
        uses_attack=False,
    ),
    Finding(
        "robust_adv_gap",
        "Robust training (AT, RST, TRADES) generalises worse than natural training: "
        "adversarial gap",
        "mean adv gap of the AT/RST/TRADES rows minus natural's adv gap (percentage points); "
        "holds if > 0",
        lambda v: v > 0,
        uses_attack=True,
    ),
    Finding(
        "dropout_gap",
        "Dropout narrows the generalisation gap: clean gap",
        "share of methods whose gap is smaller with +drop; holds if > 1/2",
        lambda v: v > 0.5,
        uses_attack=False,
        dropout_only=True,
    ),
    Finding(
        "dropout_adv_gap",
        "Dropout narrows the generalisation gap: adversarial gap",
        "share of methods whose adv gap is smaller with +drop; holds if > 1/2",
        lambda v: v > 0.5,
        uses_attack=True,
        dropout_only=True,
    ),
)
RANK_AGREEMENT = Finding(
    "rank_agreement",
    "Our ranking of the methods agrees with the paper's",
    "Spearman ρ between our column and the paper's across the rows both have; holds if ρ > 0",
    lambda v: v > 0,
    uses_attack=True,
)
_NEEDED = ("test_lipschitz", "adv_test_acc", "gap", "adv_gap")


# --------------------------------------------------------------------------- statistics


@dataclass(frozen=True)
class Value:
    """A statistic over ``n`` rows, or the reason (``note``) it has none."""

    value: float = math.nan
    n: int = 0
    note: str = ""

    @property
    def computable(self) -> bool:
        return not math.isnan(self.value)


def spearman(x: Sequence[float], y: Sequence[float]) -> float:
    """Spearman's ρ (scipy), nan if fewer than 3 pairs or a constant side."""
    from scipy import stats

    if len(x) < MIN_RANKED:
        return math.nan
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # constant input: nan, said by the caller
        return float(stats.spearmanr(x, y).statistic)


def _finite(rows: Mapping[str, Mapping[str, float]], *columns: str) -> dict[str, list[float]]:
    """Rows with a finite value in every one of ``columns``: row -> values."""
    out = {}
    for row, values in rows.items():
        got = [values.get(c) for c in columns]
        if all(v is not None and math.isfinite(v) for v in got):
            out[row] = got
    return out


def trades_rank(rows: Mapping[str, Mapping[str, float]], loss_of: Callable[[str], str]) -> Value:
    """Rank (1 = smallest) of the smallest TRADES test Lipschitz among all rows'."""
    values = {r: v[0] for r, v in _finite(rows, "test_lipschitz").items()}
    trades = {r: v for r, v in values.items() if loss_of(r) == "trades"}
    if not trades:
        return Value(note="no TRADES row with a test Lipschitz value")
    if len(values) < 2:
        return Value(note="no other row to compare with")
    best = min(trades, key=trades.get)
    rank = 1 + sum(v < trades[best] for v in values.values())
    smallest = min(values, key=values.get)
    note = f"best TRADES: {best} ({trades[best]:.3g}); smallest: {smallest} "
    note += f"({values[smallest]:.3g})"
    return Value(float(rank), len(values), note)


def lipschitz_correlation(rows: Mapping[str, Mapping[str, float]]) -> Value:
    """Spearman's ρ between test Lipschitz and adversarial test accuracy over the rows."""
    pairs = _finite(rows, "test_lipschitz", "adv_test_acc")
    if len(pairs) < MIN_RANKED:
        return Value(n=len(pairs), note=f"{len(pairs)} rows with both values (needs 3)")
    rho = spearman([p[0] for p in pairs.values()], [p[1] for p in pairs.values()])
    return Value(rho, len(pairs), "" if math.isfinite(rho) else "a constant column")


def robust_gap(
    rows: Mapping[str, Mapping[str, float]], column: str, loss_of: Callable[[str], str]
) -> Value:
    """Mean ``column`` of the robust rows (without +drop) minus natural's."""
    values = {r: v[0] for r, v in _finite(rows, column).items() if not r.endswith(DROP_SUFFIX)}
    natural = [v for r, v in values.items() if loss_of(r) == "natural"]
    robust = {r: v for r, v in values.items() if loss_of(r) in ROBUST_LOSSES}
    if not natural:
        return Value(note=f"no natural row with a {column} value")
    if not robust:
        return Value(note=f"no AT, RST or TRADES row with a {column} value")
    mean = sum(robust.values()) / len(robust)
    rows_ = "row" if len(robust) == 1 else "rows"
    note = f"robust mean {mean:.2f} over {len(robust)} {rows_}; natural {natural[0]:.2f}"
    return Value(mean - natural[0], len(robust) + 1, note)


def dropout_share(rows: Mapping[str, Mapping[str, float]], column: str) -> Value:
    """Share of methods with both rows whose ``column`` is smaller with +drop."""
    values = {r: v[0] for r, v in _finite(rows, column).items()}
    pairs = {
        r: (values[r], values[f"{r}{DROP_SUFFIX}"])
        for r in values
        if not r.endswith(DROP_SUFFIX) and f"{r}{DROP_SUFFIX}" in values
    }
    if not pairs:
        return Value(note=f"no method with a {column} value with and without dropout")
    narrower = [r for r, (plain, drop) in pairs.items() if drop < plain]
    note = f"{len(narrower)} of {len(pairs)}: " + (", ".join(narrower) or "none")
    return Value(len(narrower) / len(pairs), len(pairs), note)


def rank_agreement(
    ours: Mapping[str, Mapping[str, float]], paper: Mapping[str, Mapping[str, float]], column: str
) -> Value:
    """Spearman's ρ between our ``column`` and the paper's over the rows both have."""
    a, b = _finite(ours, column), _finite(paper, column)
    common = [r for r in a if r in b]
    if len(common) < MIN_RANKED:
        return Value(n=len(common), note=f"{len(common)} rows with both values (needs 3)")
    rho = spearman([a[r][0] for r in common], [b[r][0] for r in common])
    return Value(rho, len(common), "" if math.isfinite(rho) else "a constant column")


# --------------------------------------------------------------------------- the table


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


def _loss_getter(losses: Mapping[str, str]) -> Callable[[str], str]:
    def loss_of(row: str) -> str:
        method = row.removesuffix(DROP_SUFFIX)
        if method in losses:
            return losses[method]
        # A paper row this config does not define: the paper's names say the loss.
        for loss in ("natural", "trades", "rst", "at", "llr", "gr"):
            if method.startswith(loss):
                return loss
        return method

    return loss_of


def _statistic(
    finding: Finding, rows: Mapping[str, Mapping[str, float]], loss_of: Callable[[str], str]
) -> Value:
    if finding.id == "trades_lipschitz":
        return trades_rank(rows, loss_of)
    if finding.id == "lipschitz_vs_adv":
        return lipschitz_correlation(rows)
    if finding.id.startswith("robust_"):
        return robust_gap(rows, finding.id.removeprefix("robust_"), loss_of)
    return dropout_share(rows, finding.id.removeprefix("dropout_"))


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
    for finding in FINDINGS:
        found = []
        for spec in specs:
            own = [m for m in metrics if spec.covers(m["dataset"], m["arch"], m["method"])]
            values = _block_values(spec, own, _NEEDED)
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
                    _statistic(finding, paper_rows, loss_of)
                    if paper_rows
                    else Value(note="the paper reports no values for this block")
                )
                ours = _statistic(finding, values[block.name], loss_of)
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
        own = [m for m in metrics if spec.covers(m["dataset"], m["arch"], m["method"])]
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


# --------------------------------------------------------------------------- writing


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
