"""The paper's claims and their statistics, each computed over one block's rows.

A :class:`Finding` is a claim with the test that it holds; its statistic is a function of
the rows ``{row: {column: value}}`` of one block (ours or the paper's), returning a
:class:`Value`, or the reason it has none. The definitions: :mod:`lolip.findings`.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from lolip.tables import DROP_SUFFIX

ROBUST_LOSSES = ("at", "rst", "trades")
MIN_RANKED = 3


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


def block_statistic(
    finding: Finding, rows: Mapping[str, Mapping[str, float]], loss_of: Callable[[str], str]
) -> Value:
    """The statistic of ``finding`` over one block's ``rows``."""
    if finding.id == "trades_lipschitz":
        return trades_rank(rows, loss_of)
    if finding.id == "lipschitz_vs_adv":
        return lipschitz_correlation(rows)
    if finding.id.startswith("robust_"):
        return robust_gap(rows, finding.id.removeprefix("robust_"), loss_of)
    return dropout_share(rows, finding.id.removeprefix("dropout_"))
