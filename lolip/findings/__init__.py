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

The modules: :mod:`lolip.findings.claims` (the findings and their statistics),
:mod:`lolip.findings.table` (:func:`findings_table`, every finding on every block) and
:mod:`lolip.findings.rendering` (:func:`write_findings_table`). Every name callers use is
importable from :mod:`lolip.findings` itself.
"""

from __future__ import annotations

from lolip.findings.claims import (
    FINDINGS,
    MIN_RANKED,
    RANK_AGREEMENT,
    ROBUST_LOSSES,
    Finding,
    Value,
    block_statistic,
    dropout_share,
    lipschitz_correlation,
    rank_agreement,
    robust_gap,
    spearman,
    trades_rank,
)
from lolip.findings.rendering import FINDINGS_NOTE, write_findings_table
from lolip.findings.table import COLUMNS, findings_table

__all__ = [
    "COLUMNS",
    "FINDINGS",
    "FINDINGS_NOTE",
    "MIN_RANKED",
    "RANK_AGREEMENT",
    "ROBUST_LOSSES",
    "Finding",
    "Value",
    "block_statistic",
    "dropout_share",
    "findings_table",
    "lipschitz_correlation",
    "rank_agreement",
    "robust_gap",
    "spearman",
    "trades_rank",
    "write_findings_table",
]
