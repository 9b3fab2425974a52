"""lolip.findings: the paper's claims tested on a run's tables and on the reported values."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from lolip import findings, tables
from lolip.tables import Block, TableSpec
from tests.helpers.tables import PAPER, paper_specs
from tests.helpers.workflow import REPORTED

REPORTED_VALUES = tables.load_reported(REPORTED)
LOSSES = {name: spec["loss"] for name, spec in PAPER["methods"].items()}
MNIST = TableSpec("t", (Block("b", "mnist", "CNN001"),))


def model(method: str, seed: int = 0, arch: str = "CNN001", **values: float) -> dict:
    return {"dataset": "mnist", "arch": arch, "method": method, "seed": seed, **values}


def rows_of(df: pd.DataFrame, finding: str) -> pd.DataFrame:
    return df[df["finding"] == finding].reset_index(drop=True)


def no_ties_spearman(x, y) -> float:
    rx, ry = np.argsort(np.argsort(x)), np.argsort(np.argsort(y))
    n = len(x)
    return 1 - 6 * float(np.sum((rx - ry) ** 2)) / (n * (n**2 - 1))


def paper_column(block: str, section: str, column: str) -> dict[str, float]:
    return {
        r: v[column]
        for r, v in tables.reported_block(REPORTED_VALUES, section, block).items()
        if v[column] is not None
    }


def test_the_trades_rank_is_one_where_a_trades_row_is_smallest():
    rows = {
        "natural": {"test_lipschitz": 50.0},
        "at": {"test_lipschitz": 9.0},
        "trades1": {"test_lipschitz": 12.0},
        "trades6": {"test_lipschitz": 10.0},
    }
    value = findings.trades_rank(rows, lambda r: LOSSES[r])
    assert (value.value, value.n) == (2, 4)  # trades6 beaten by at
    rows["trades6"]["test_lipschitz"] = 3.0
    assert findings.trades_rank(rows, lambda r: LOSSES[r]).value == 1
    del rows["trades1"], rows["trades6"]
    assert not findings.trades_rank(rows, lambda r: LOSSES[r]).computable


def test_the_correlation_is_spearmans_rho_of_lipschitz_and_adversarial_accuracy():
    rng = np.random.default_rng(0)
    lip, adv = rng.uniform(1, 100, 8), rng.uniform(0, 100, 8)
    rows = {
        f"m{i}": {"test_lipschitz": a, "adv_test_acc": b}
        for i, (a, b) in enumerate(zip(lip, adv, strict=True))
    }
    value = findings.lipschitz_correlation(rows)
    assert value.value == pytest.approx(no_ties_spearman(lip, adv))
    assert value.n == 8
    rows["m0"]["adv_test_acc"] = math.nan  # a row without both values is left out
    assert findings.lipschitz_correlation(rows).n == 7
    two = dict(list(rows.items())[1:3])
    assert not findings.lipschitz_correlation(two).computable


def test_the_robust_gap_is_the_robust_rows_mean_minus_naturals():
    rows = {
        "natural": {"gap": 1.0},
        "gr": {"gap": 50.0},  # neither natural nor robust training: left out
        "at": {"gap": 4.0},
        "rst2": {"gap": 2.0},
        "trades6": {"gap": 6.0},
        "at+drop": {"gap": 100.0},  # dropout rows are the dropout finding's
    }
    value = findings.robust_gap(rows, "gap", lambda r: LOSSES[r.removesuffix("+drop")])
    assert value.value == pytest.approx((4 + 2 + 6) / 3 - 1)
    del rows["natural"]
    assert "no natural row" in findings.robust_gap(rows, "gap", lambda r: LOSSES[r]).note


def test_the_dropout_share_counts_methods_whose_gap_shrinks():
    rows = {
        "natural": {"gap": 6.0},
        "natural+drop": {"gap": 7.0},
        "at": {"gap": 16.0},
        "at+drop": {"gap": 14.0},
        "rst2": {"gap": 15.0},
        "rst2+drop": {"gap": math.nan},  # no pair
        "trades3": {"gap": 14.0},
    }
    value = findings.dropout_share(rows, "gap")
    assert (value.value, value.n) == (0.5, 2)
    assert value.note == "1 of 2: at"


def test_paper_values_are_the_papers_own_finding():
    df = findings.findings_table(paper_specs().values(), [], REPORTED_VALUES, losses=LOSSES)
    lip = rows_of(df, "trades_lipschitz").set_index(["table", "block"])
    for key in (("table2_mnist", "CNN001"), ("table3", "cifar10_WRN_40_10")):
        assert lip.loc[key, "paper"] == 1 and lip.loc[key, "holds_paper"] == "yes"
    assert lip.loc[("table2_mnist", "CNN001"), "note"].startswith(
        "ours: no model of this block run; paper: best TRADES: trades6 (2.87)"
    )
    corr = rows_of(df, "lipschitz_vs_adv").set_index(["table", "block"])
    cnn = tables.reported_block(REPORTED_VALUES, "table2_mnist", "CNN001")
    expected = no_ties_spearman(
        [v["test_lipschitz"] for v in cnn.values()], [v["adv_test_acc"] for v in cnn.values()]
    )
    assert corr.loc[("table2_mnist", "CNN001"), "paper"] == pytest.approx(expected)
    assert corr.loc[("table2_mnist", "CNN001"), "holds_paper"] == "yes"
    # Robust training's clean gap: larger than natural's on CIFAR-10, not on MNIST.
    gap = rows_of(df, "robust_gap").set_index(["table", "block"])
    mnist = paper_column("CNN001", "table2_mnist", "gap")
    robust = [v for r, v in mnist.items() if LOSSES[r] in ("at", "rst", "trades")]
    assert gap.loc[("table2_mnist", "CNN001"), "paper"] == pytest.approx(
        np.mean(robust) - mnist["natural"]
    )
    assert gap.loc[("table2_mnist", "CNN001"), "holds_paper"] == "no"
    assert gap.loc[("table3", "cifar10_WRN_40_10"), "holds_paper"] == "yes"
    # Dropout: SVHN's natural+drop has no gap in the paper, so 3 methods pair up.
    drop = rows_of(df, "dropout_gap").set_index(["table", "block"])
    svhn = drop.loc[("table4_dropout", "svhn_WRN_40_10")]
    assert (svhn["paper"], svhn["n_paper"], svhn["holds_paper"]) == (1.0, 3, "yes")
    adv = rows_of(df, "dropout_adv_gap").set_index(["table", "block"])
    assert adv.loc[("table4_dropout", "svhn_WRN_40_10"), "paper"] == pytest.approx(4 / 5)
    # Nothing of ours was run: every one of our values says why it is missing.
    assert (df["holds"] == "n/a").all()


def test_attack_independent_findings_skip_blocks_repeating_earlier_models():
    metrics = [model(m, test_lipschitz=v) for m, v in (("natural", 9.0), ("trades6", 1.0))]
    twice = [MNIST, TableSpec("u", MNIST.blocks, attack="multitarget")]
    df = findings.findings_table(twice, metrics, {}, losses=LOSSES)
    assert rows_of(df, "trades_lipschitz")["table"].tolist() == ["t"]
    assert rows_of(df, "lipschitz_vs_adv")["attack"].tolist() == ["pgd", "multitarget"]


def test_a_run_without_paper_values_or_dropout_says_so():
    metrics = [
        model(m, s, test_lipschitz=lip + s, adv_test_acc=adv, adv_train_acc=adv + 3 * gap, gap=gap)
        for m, lip, adv, gap in (
            ("natural", 100.0, 10.0, 1.0),
            ("at", 20.0, 60.0, 3.0),
            ("trades6", 5.0, 70.0, 2.0),
        )
        for s in (0, 1)
    ]
    df = findings.findings_table([MNIST], metrics, {}, losses=LOSSES)
    assert list(df.columns) == list(findings.COLUMNS)
    got = df.set_index("finding")
    assert (
        got.loc["trades_lipschitz", "ours"] == 1 and got.loc["trades_lipschitz", "holds"] == "yes"
    )
    assert got.loc["lipschitz_vs_adv", "ours"] == pytest.approx(-1.0)
    assert got.loc["robust_gap", "ours"] == pytest.approx(1.5)  # means over the two seeds
    assert got.loc["robust_adv_gap", "ours"] == pytest.approx(4.5)
    for finding in ("dropout_gap", "dropout_adv_gap"):
        assert got.loc[finding, "note"] == "not computable: no block with a dropout variant"
        assert got.loc[finding, "holds"] == "n/a"
    assert got.loc["rank_agreement", "note"].startswith("not computable: no table")
    assert (df["holds_paper"] == "n/a").all()


def test_rank_agreement_compares_our_columns_with_the_papers_rows():
    spec = paper_specs()["table2_mnist"]
    paper = tables.reported_block(REPORTED_VALUES, "table2_mnist", "CNN001")
    # Ours: the paper's test accuracies reversed, and its test Lipschitz exactly.
    metrics = [
        model(r, test_acc=-v["test_acc"], test_lipschitz=v["test_lipschitz"])
        for r, v in paper.items()
    ]
    df = rows_of(
        findings.findings_table([spec], metrics, REPORTED_VALUES, losses=LOSSES), "rank_agreement"
    )
    cnn = df[df["block"] == "CNN001"].set_index("column")
    assert cnn.loc["test_lipschitz", "ours"] == pytest.approx(1.0)
    assert cnn.loc["test_lipschitz", "holds"] == "yes"
    assert cnn.loc["test_acc", "ours"] == pytest.approx(-1.0)
    assert cnn.loc["test_acc", "holds"] == "no"
    assert cnn.loc["adv_test_acc", "holds"] == "n/a"  # not run here
    assert (df[df["block"] == "CNN002"]["holds"] == "n/a").all()


def test_the_findings_table_is_written_a_section_per_finding(tmp_path):
    metrics = [model(m, test_lipschitz=v) for m, v in (("natural", 9.0), ("trades6", 1.0))]
    df = findings.findings_table([MNIST], metrics, {}, losses=LOSSES)
    out = [tmp_path / f"findings.{ext}" for ext in ("csv", "md", "html")]
    findings.write_findings_table(df, out, caption="Findings.")
    back = tables.read_table(out[0])
    assert back["finding"].tolist() == df["finding"].tolist()
    md = out[1].read_text()
    for finding in [*findings.FINDINGS, findings.RANK_AGREEMENT]:
        assert f"**{finding.claim}**\n\nStatistic: {finding.statistic.split(' (')[0]}" in md
    assert "| t / b" in md
    assert "<table" in out[2].read_text()
