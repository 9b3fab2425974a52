"""A results folder's tables as terminal text: every table, every block, labelled columns."""

from __future__ import annotations

import json

import pytest

from lolip import findings, summary, tables
from lolip.tables import Block, TableSpec
from tests.helpers.tables import fake_metrics, fake_separation


def _write(results, spec, metrics, separation=None):
    df = tables.model_table(spec, metrics, separation=separation)
    out = [results / "tables" / f"{spec.name}.{ext}" for ext in tables.TABLE_EXTS]
    tables.write_model_table(df, spec, out, caption="c")


def test_tables_are_printed_separation_first_with_a_section_per_block(tmp_path):
    spec = TableSpec(
        "t_mt",
        (Block("b1", "mnist", "CNN001"), Block("b2", "mnist", "CNN002")),
        columns=("test_acc", "adv_test_acc_pgd", "adv_test_acc"),
        attack="multitarget",
    )
    metrics = [fake_metrics("mnist", a, m, 0) for a in ("CNN001", "CNN002") for m in ("at", "gr")]
    _write(tmp_path, spec, metrics)
    sep = tables.separation_table([fake_separation("mnist")])
    paths = [tmp_path / "tables" / f"{tables.SEPARATION_TABLE}.{e}" for e in tables.TABLE_EXTS]
    tables.write_separation_table(sep, paths, caption="c")
    text = summary.summary_text(tmp_path)
    assert text.index(tables.SEPARATION_TABLE) < text.index("t_mt")
    assert "b1: mnist, CNN001" in text and "b2: mnist, CNN002" in text
    # The CSV's attack column labels the bare adversarial column by its attack.
    assert "adv test acc (pgd)" in text and "adv test acc (multitarget)" in text
    at = metrics[0]
    row = next(line for line in text.splitlines() if line.startswith("at "))
    assert row.split() == [
        "at",
        *(f"{at[k]:.2f}" for k in ("test_acc", "adv_test_acc", "adv_test_acc_multitarget")),
    ]


def test_the_reports_findings_and_checks_tables_are_not_printed(tmp_path):
    spec = TableSpec("t", (Block("b", "mnist", "CNN001"),))
    metrics = [fake_metrics("mnist", "CNN001", m, 0) for m in ("at", "trades6", "natural")]
    _write(tmp_path, spec, metrics)
    found = findings.findings_table([spec], metrics, {})
    findings.write_findings_table(found, [tmp_path / "tables/findings.csv"], caption="f")
    checks = tables.checks_table(spec, [m | {"checks": {}} for m in metrics])
    tables.write_checks_table(checks, spec, [tmp_path / "tables/t_checks.csv"], caption="c")
    assert [name for name, _ in summary.results_tables(tmp_path)] == ["t"]
    assert "findings" not in summary.summary_text(tmp_path)


def test_without_tables_one_table_per_group_from_the_metrics(tmp_path):
    for arch in ("CNN001", "CNN002"):
        path = tmp_path / "eval/mnist" / arch / "at/seed0/metrics.json"
        path.parent.mkdir(parents=True)
        path.write_text(json.dumps(fake_metrics("mnist", arch, "at", 0)))
    (tmp_path / "separation").mkdir()
    (tmp_path / "separation/mnist.json").write_text(json.dumps(fake_separation("mnist")))
    names = [name for name, _ in summary.results_tables(tmp_path)]
    assert names == ["mnist_CNN001", "mnist_CNN002"]
    text = summary.summary_text(tmp_path)
    assert text.count("1-NN (theorem)  ") == 2 and "97.50" in text  # the 1-NN reference rows


def test_a_folder_without_tables_or_model_metrics_is_an_error(tmp_path):
    (tmp_path / "eval").mkdir()
    (tmp_path / "eval/metrics.json").write_text(json.dumps({"test_acc": 1.0}))  # no model
    with pytest.raises(summary.SummaryError, match="no tables/.*csv and no eval/"):
        summary.results_tables(tmp_path)
