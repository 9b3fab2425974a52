"""lolip.tables: the paper's table layout, cell values and the written files."""

from __future__ import annotations

import math
import re
from pathlib import Path

import numpy as np
import pytest
import yaml

from lolip import presentation, tables
from lolip.archs import ARCHS
from lolip.config import expand
from lolip.io import write_json
from lolip.tables import NN_ROW, Block, TableError, TableSpec
from tests.helpers.tables import PAPER, fake_metrics, fake_separation, paper_specs
from tests.helpers.workflow import REPORTED


def write_paper_run(tmp_path: Path, spec: TableSpec) -> tuple[list[str], list[str]]:
    """Fake metrics JSONs of config/paper.yaml's experiments shown by ``spec``, and the
    separation JSONs of its datasets: the inputs the workflow gives the table rule."""
    metrics = []
    for e in expand(PAPER):
        if spec.covers(e.dataset, e.arch, e.method):
            path = tmp_path / "eval" / e.key / "metrics.json"
            write_json(path, fake_metrics(e.dataset, e.arch, e.method, e.seed))
            metrics.append(str(path))
    separation = []
    for dataset in spec.datasets:
        path = tmp_path / "separation" / f"{dataset}.json"
        write_json(path, fake_separation(dataset))
        separation.append(str(path))
    return metrics, separation


def outputs(tmp_path: Path, stem: str) -> list[str]:
    return [str(tmp_path / "tables" / f"{stem}.{ext}") for ext in tables.TABLE_EXTS]


@pytest.mark.parametrize("table", ["table2_mnist", "table3", "table4_dropout"])
def test_paper_tables_have_reported_rows_and_columns(tmp_path, table):
    spec = paper_specs()[table]
    metrics, separation = write_paper_run(tmp_path, spec)
    out = outputs(tmp_path, table)
    presentation.make_model_table(
        metrics, separation, out, spec=spec.to_dict(), reported=str(REPORTED)
    )
    reported = tables.load_reported(REPORTED)[table]
    df = tables.read_table(out[0])
    assert list(spec.columns) == reported["columns"]
    assert [b.name for b in spec.blocks] == [k for k in reported if k != "columns"]
    md = Path(out[1]).read_text()
    for block in spec.blocks:
        rows = df.loc[df["block"] == block.name, "row"].tolist()
        assert rows == [*reported[block.name], NN_ROW]
        assert (df.loc[df["block"] == block.name, "status"].iloc[:-1] == "run").all()
        for row in rows:
            assert f"| {row} " in md
    labels = ["method", *(tables.column_label(c) for c in reported["columns"])]
    headers = re.findall(r"<thead>.*?</thead>", Path(out[3]).read_text(), flags=re.S)
    assert len(headers) == len(spec.blocks)
    for header in headers:
        assert re.findall(r"<th>(.*?)</th>", header) == labels


def test_paper_cells_compare_to_reported_values(tmp_path):
    spec = paper_specs()["table2_mnist"]
    metrics = [fake_metrics("mnist", "CNN001", "natural", 0)]
    reported = tables.load_reported(REPORTED)
    df = tables.model_table(spec, metrics, reported)
    row = df[(df["block"] == "CNN001") & (df["row"] == "natural")].iloc[0]
    paper = dict(
        zip(
            reported["table2_mnist"]["columns"],
            reported["table2_mnist"]["CNN001"]["natural"],
            strict=True,
        )
    )
    for col in spec.columns:
        assert row[f"{col}_paper"] == paper[col]
        assert row[f"{col}_diff"] == pytest.approx(metrics[0][col] - paper[col])


def test_cells_are_mean_and_sample_std_over_seeds_with_difference():
    spec = TableSpec("t", (Block("b", "mnist", "CNN001"),), columns=("test_acc",), reported="t")
    metrics = [
        {"dataset": "mnist", "arch": "CNN001", "method": "at", "seed": s, "test_acc": v}
        for s, v in enumerate([98.0, 99.0, 99.5])
    ]
    reported = {"t": {"columns": ["test_acc"], "b": {"at": [99.31]}}}
    df = tables.model_table(spec, metrics, reported)
    row = df[df["row"] == "at"].iloc[0]
    assert row["n_seeds"] == 3
    assert row["test_acc"] == pytest.approx(np.mean([98.0, 99.0, 99.5]))
    assert row["test_acc_std"] == pytest.approx(np.std([98.0, 99.0, 99.5], ddof=1))
    assert row["test_acc_diff"] == pytest.approx(row["test_acc"] - 99.31)
    assert tables.format_cell(row, "test_acc") == "98.83 ± 0.76 (99.31; -0.48)"


def test_single_seed_cell_has_no_std():
    spec = TableSpec("t", (Block("b", "mnist", "CNN001"),), columns=("test_acc",))
    metrics = [{"dataset": "mnist", "arch": "CNN001", "method": "at", "seed": 0, "test_acc": 99.0}]
    row = tables.model_table(spec, metrics).iloc[0]
    assert math.isnan(row["test_acc_std"])
    assert tables.format_cell(row, "test_acc") == "99.00"


def test_paper_rows_absent_from_the_config_say_not_run(tmp_path):
    spec = TableSpec(
        "t", (Block("b", "mnist", "CNN001"),), columns=("test_acc", "gap"), reported="t"
    )
    reported = {
        "t": {"columns": ["test_acc", "gap"], "b": {"natural": [99.2, 0.8], "gr": [99.29, 0.7]}}
    }
    metrics = [fake_metrics("mnist", "CNN001", "gr", 0)]
    df = tables.model_table(spec, metrics, reported)
    assert df["row"].tolist() == ["natural", "gr", NN_ROW]
    natural = df[df["row"] == "natural"].iloc[0]
    assert natural["status"] == "not run" and natural["n_seeds"] == 0
    assert tables.format_cell(natural, "test_acc") == "not run (99.20)"
    out = outputs(tmp_path, "t")
    tables.write_model_table(df, spec, out, caption="caption")
    md = Path(out[1]).read_text()
    assert "| natural " in md and "not run (99.20)" in md
    assert "not run (99.20)" in Path(out[2]).read_text()


def test_our_rows_the_paper_lacks_follow_the_paper_rows():
    spec = TableSpec("t", (Block("b", "mnist", "CNN001"),), columns=("test_acc",), reported="t")
    reported = {"t": {"columns": ["test_acc"], "b": {"at": [99.3], "natural": [99.2]}}}
    metrics = [fake_metrics("mnist", "CNN001", m, 0) for m in ["mine", "natural", "at"]]
    df = tables.model_table(spec, metrics, reported)
    assert df["row"].tolist() == ["at", "natural", "mine", NN_ROW]


def test_dropout_block_pairs_each_method_with_its_drop_variant():
    block = Block("b", "svhn", "WRN_40_10", "WRN_40_10_drop50", methods=("natural", "at"))
    spec = TableSpec("t", (block,), columns=("test_acc",))
    metrics = [
        fake_metrics("svhn", arch, method, 0)
        for arch in ("WRN_40_10_drop50", "WRN_40_10")
        for method in ("at", "natural")
    ]
    df = tables.model_table(spec, metrics)
    assert df["row"].tolist() == ["at", "at+drop", "natural", "natural+drop", NN_ROW]
    drop = df[df["row"] == "natural+drop"].iloc[0]
    assert drop["test_acc"] == fake_metrics("svhn", "WRN_40_10_drop50", "natural", 0)["test_acc"]
    assert not spec.covers("svhn", "WRN_40_10", "gr")
    assert spec.covers("svhn", "WRN_40_10_drop50", "at")


def test_nn_reference_row_is_the_theorem_classifier():
    spec = TableSpec("t", (Block("b", "mnist", "CNN001"),))
    summary = fake_separation("mnist", r=0.4)
    df = tables.model_table(
        spec, [fake_metrics("mnist", "CNN001", "at", 0)], None, {"mnist": summary}
    )
    nn = df[df["row"] == NN_ROW].iloc[0]
    assert nn["status"] == "reference"
    assert nn["test_acc"] == summary["nn_clean_acc"]
    assert nn["adv_test_acc"] == summary["nn_certified_acc"]
    assert nn["test_lipschitz"] == pytest.approx(1 / 0.4)
    for col in ("train_acc", "gap", "adv_gap"):
        assert math.isnan(nn[col])
    assert tables.format_cell(nn, "train_acc") == "n/a"
    without = tables.model_table(spec, [fake_metrics("mnist", "CNN001", "at", 0)])
    assert without[without["row"] == NN_ROW].iloc[0]["status"] == "not run"


def test_adversarial_columns_follow_the_tables_attack():
    spec = TableSpec(
        "t",
        (Block("b", "mnist", "CNN001"),),
        columns=("adv_test_acc_pgd", "adv_test_acc", "adv_gap"),
        reported="t",
        attack="multitarget",
    )
    m = fake_metrics("mnist", "CNN001", "at", 0)
    reported = {"t": {"columns": ["adv_test_acc", "adv_test_acc_pgd"], "b": {"at": [1.0, 2.0]}}}
    row = tables.model_table(spec, [m], reported).iloc[0]
    assert row["adv_test_acc_pgd"] == m["adv_test_acc"]
    assert row["adv_test_acc"] == m["adv_test_acc_multitarget"]
    assert row["adv_gap"] == pytest.approx(
        m["adv_train_acc_multitarget"] - m["adv_test_acc_multitarget"]
    )
    # The paper's adversarial numbers are PGD's: never set beside another attack's.
    assert math.isnan(row["adv_test_acc_paper"]) and row["adv_test_acc_pgd_paper"] == 2.0
    assert tables.column_label("adv_test_acc", "multitarget") == "adv test acc (multitarget)"
    assert tables.column_label("adv_test_acc_pgd", "multitarget") == "adv test acc (pgd)"
    assert tables.column_label("adv_test_acc") == "adv test acc"


def test_model_table_csv_names_the_attack_of_its_bare_columns(tmp_path):
    spec = TableSpec("t", (Block("b", "mnist", "CNN001"),), columns=("adv_test_acc",), attack="mt")
    df = tables.model_table(spec, [fake_metrics("mnist", "CNN001", "at", 0)])
    out = [tmp_path / f"t.{ext}" for ext in tables.TABLE_EXTS]
    tables.write_model_table(df, spec, out, caption="c")
    assert set(tables.read_table(out[0])["attack"]) == {"mt"}


def test_attack_not_evaluated_is_not_available():
    spec = TableSpec("t", (Block("b", "mnist", "CNN001"),), columns=("adv_test_acc",), attack="aa")
    row = tables.model_table(spec, [fake_metrics("mnist", "CNN001", "at", 0)]).iloc[0]
    assert row["status"] == "run" and tables.format_cell(row, "adv_test_acc") == "n/a"


def test_without_a_tables_section_each_group_is_a_table():
    specs = tables.table_specs(
        None,
        [("digits", "DigitsCNN"), ("mnist", "CNN001")],
        datasets=["digits", "mnist"],
        archs=ARCHS,
    )
    assert list(specs) == ["digits_DigitsCNN", "mnist_CNN001"]
    assert specs["mnist_CNN001"].blocks == (Block("mnist_CNN001", "mnist", "CNN001"),)
    assert specs["mnist_CNN001"].columns == tables.MODEL_COLUMNS


def test_spec_survives_the_round_trip_through_rule_params():
    for spec in paper_specs().values():
        again = TableSpec.from_dict(yaml.safe_load(yaml.safe_dump(spec.to_dict(), sort_keys=False)))
        assert again == spec and again.blocks == spec.blocks


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda t: t["t"]["blocks"]["b"].update(dataset="mnsit"), "unknown dataset 'mnsit'"),
        (lambda t: t["t"]["blocks"]["b"].update(arch="CNN3"), "unknown arch 'CNN3'"),
        (
            lambda t: t["t"]["blocks"]["b"].update(methods=["trade6"]),
            "unknown method(s) ['trade6']",
        ),
        (
            lambda t: t["t"].update(columns=["test_acc", "accuracy"]),
            "unknown table column 'accuracy'",
        ),
        (lambda t: t["t"].update(columns=["adv_test_acc_aa"]), "unknown attack(s) ['aa']"),
        (
            lambda t: t["t"]["blocks"].update(c={"dataset": "mnist", "arch": "CNN001"}),
            "is in blocks",
        ),
        (lambda t: t.update(table1_separation=t["t"]), "taken by the separation table"),
        (
            lambda t: t["t"]["blocks"]["b"].update(drop="x"),
            "block 'b': unknown key 'drop' (known: dataset",
        ),
    ],
)
def test_bad_layout_names_the_bad_value(edit, message):
    section = {"t": {"blocks": {"b": {"dataset": "mnist", "arch": "CNN001"}}}}
    edit(section)
    with pytest.raises(TableError, match=re.escape(message)):
        tables.table_specs(
            section, [], datasets=["mnist"], archs=ARCHS, methods=["at"], attacks=["pgd"]
        )


def test_metrics_of_models_outside_the_table_are_rejected():
    spec = TableSpec("t", (Block("b", "mnist", "CNN001"),))
    with pytest.raises(TableError, match="mnist/CNN002/at belong to no block"):
        tables.model_table(spec, [fake_metrics("mnist", "CNN002", "at", 0)])


def test_separation_table_has_paper_rows_random_labels_and_not_run(tmp_path):
    ours = [fake_separation("digits"), fake_separation("mnist", r=0.3)]
    ours[1]["eps"] = 0.1
    random = [fake_separation("digits", r=0.05), fake_separation("mnist", r=0.01)]
    paths = {"ours": [], "random": []}
    for kind, summaries in (("ours", ours), ("random", random)):
        for s in summaries:
            path = tmp_path / kind / f"{s['dataset']}.json"
            write_json(path, s)
            paths[kind].append(str(path))
    out = outputs(tmp_path, "table1_separation")
    presentation.make_separation_table(paths["ours"], paths["random"], out, reported=str(REPORTED))
    df = tables.read_table(out[0])
    paper = tables.load_reported(REPORTED)["table1_separation"]
    assert df["dataset"].tolist() == [*[k for k in paper if k != "columns"], "digits"]
    mnist = df[df["dataset"] == "mnist"].iloc[0]
    assert mnist["train_train"] == pytest.approx(0.6)
    assert mnist["train_train_paper"] == paper["mnist"][1]
    assert mnist["train_train_diff"] == pytest.approx(0.6 - paper["mnist"][1])
    assert mnist["train_train_random"] == pytest.approx(0.02)
    assert mnist["nn_certified_acc"] == 91.25 and mnist["train_train_raw"] == pytest.approx(0.59)
    assert mnist["eps_diff"] == pytest.approx(0.0)
    assert df[df["dataset"] == "cifar10"].iloc[0]["status"] == "not run"
    md = Path(out[1]).read_text()
    assert "not run (0.212)" in md and "train-train (random labels)" in md
    assert "0.600 (0.737; -0.137)" in md


def test_separation_table_without_random_labels_has_no_random_columns():
    df = tables.separation_table([fake_separation("digits")])
    assert df["dataset"].tolist() == ["digits"]
    assert not set(tables.RANDOM_LABEL_COLUMNS) & set(df.columns)
    assert df.iloc[0]["test_train"] == pytest.approx(0.52)


def test_latex_escapes_special_characters(tmp_path):
    spec = TableSpec("my_table", (Block("b_1", "mnist", "CNN001"),), columns=("test_acc",))
    metrics = [fake_metrics("mnist", "CNN001", m, s) for m in ("rst0.5", "at") for s in (0, 1)]
    out = outputs(tmp_path, "my_table")
    tables.write_model_table(
        tables.model_table(spec, metrics), spec, out, caption="acc in % & more"
    )
    tex = Path(out[2]).read_text()
    assert r"acc in \% \& more" in tex and r"\label{tab:my_table}" in tex
    assert r"$\pm$" in tex and "±" not in tex
    body = [line for line in tex.splitlines() if line.startswith(("rst0.5", "at", "1-NN"))]
    assert len(body) == 3 and all(line.count("&") == 1 for line in body)


def test_a_model_with_a_masking_alarm_is_marked_on_its_row(tmp_path):
    spec = tables.TableSpec("t", (tables.Block("b", "digits", "DigitsCNN"),), ("test_acc",))
    metrics = [
        {
            "dataset": "digits",
            "arch": "DigitsCNN",
            "method": m,
            "seed": 0,
            "test_acc": 90.0,
            "checks": {"masking_suspected": m == "at"},
        }
        for m in ("natural", "at")
    ]
    df = tables.model_table(spec, metrics)
    flagged = df.set_index("row")["masking_suspected"]
    assert (flagged["at"], flagged["natural"]) == (1, 0)
    out = [tmp_path / f"t.{ext}" for ext in tables.TABLE_EXTS]
    tables.write_model_table(df, spec, out, caption="T.")
    md = out[1].read_text()
    assert f"| at {tables.MASKING_MARK}" in md and f"| natural {tables.MASKING_MARK}" not in md
    assert "gradient masking suspected" in md


# --------------------------------------------------------------------------- checks table


def _record(passed: bool, **numbers) -> dict:
    return {"passed": passed, **numbers}


def fake_checks(alarm: str | None = None, where: str = "test") -> dict:
    """A metrics record's ``checks`` as lolip.evaluation writes it; ``alarm`` rings on
    ``where``."""
    per_split = {
        "batch_size_invariance": {s: _record(True, max_abs_difference=0.0) for s in SPLITS},
        "input_gradient_nonzero": {s: _record(True, fraction_nonzero=1.0) for s in SPLITS},
        "eps_zero": {s: _record(True, mismatches=0) for s in SPLITS},
        "more_steps": {s: _record(True, attack_acc=[60.0, 59.5]) for s in SPLITS},
        "in_ball": {s: {"pgd": _record(True, max_distance=0.1)} for s in SPLITS},
        "adv_not_above_clean": {s: {"pgd": _record(True, attack_acc=60.0)} for s in SPLITS},
        "square_vs_pgd": {
            s: _record(
                not (alarm == "square_vs_pgd" and s == where),
                attack_acc={"pgd": 62.5, "square": 41.0},
                margin=7.25,
                n=200,
                square_queries=1000,
            )
            for s in SPLITS
        },
        "large_eps": {
            s: _record(
                not (alarm == "large_eps" and s == where),
                eps=0.5,
                steps=20,
                attack_acc=48.5,
                chance=11.5,
                margin=5.0,
                n=200,
            )
            for s in SPLITS
        },
    }
    alarms = ["x"] if alarm else []
    return per_split | {"masking_suspected": bool(alarm), "alarms": alarms, "all_passed": True}


SPLITS = ("train", "test")


def test_the_checks_table_gives_each_checks_verdict_and_the_alarms_evidence(tmp_path):
    spec = TableSpec("t", (Block("b", "svhn", "WRN_40_10", "WRN_40_10_drop50"),))
    models = [
        ("WRN_40_10_drop50", "at", 0, "large_eps", "train"),
        ("WRN_40_10", "at", 1, None, None),
        ("WRN_40_10", "at", 0, "square_vs_pgd", "test"),
        ("WRN_40_10", "natural", 0, None, None),
    ]
    metrics = [
        {"dataset": "svhn", "arch": a, "method": m, "seed": s, "checks": fake_checks(alarm, w)}
        for a, m, s, alarm, w in models
    ]
    df = tables.checks_table(spec, metrics)
    assert list(zip(df["row"], df["seed"], strict=True)) == [
        ("at", 0),
        ("at", 1),
        ("at+drop", 0),
        ("natural", 0),
    ]
    by = df.set_index(["row", "seed"])
    for check in tables.CHECKS[:6]:
        assert (df[check] == "pass").all(), check
    assert by.loc[("at", 0), "square_vs_pgd"] == "ALARM: test"
    assert by.loc[("at", 0), "large_eps"] == "pass"
    assert by.loc[("at+drop", 0), "large_eps"] == "ALARM: train"
    assert by["masking_suspected"].tolist() == [True, False, True, False]
    evidence = by.loc[("at", 0), "alarms"]
    assert "Square vs PGD on test: Square leaves 41.0% unbroken, PGD 62.5%" in evidence
    assert "(margin 7.2; n=200)" in evidence
    assert by.loc[("at+drop", 0), "alarms"].startswith(
        "large ε on train: PGD at ε=0.5 leaves 48.5% unbroken, above chance 11.5% + 5.0"
    )
    assert by.loc[("natural", 0), "alarms"] == ""
    out = [tmp_path / f"t_checks.{ext}" for ext in ("csv", "md", "html")]
    tables.write_checks_table(df, spec, out, caption="Checks of t.")
    assert tables.read_table(out[0])["square_vs_pgd"].tolist() == df["square_vs_pgd"].tolist()
    md = out[1].read_text()
    assert "| Square vs PGD (alarm)" in md and "| ALARM: test" in md
    assert "Checks of t." in md and tables.NOTE not in md
    assert "<h3>b: svhn, WRN_40_10 vs WRN_40_10_drop50 (+drop)</h3>" in out[2].read_text()


def test_a_failed_error_check_names_where_and_a_missing_one_is_not_available():
    spec = TableSpec("t", (Block("b", "digits", "DigitsCNN"),))
    checks = fake_checks()
    checks["in_ball"]["test"]["pgd"]["passed"] = False
    checks["in_ball"]["train"]["pgd"]["passed"] = False
    del checks["more_steps"]
    metrics = [{"dataset": "digits", "arch": "DigitsCNN", "method": "at", "seed": 0}]
    df = tables.checks_table(spec, [metrics[0] | {"checks": checks}])
    assert df.loc[0, "in_ball"] == "FAIL: train/pgd, test/pgd"
    assert df.loc[0, "more_steps"] == "n/a"
    assert df.loc[0, "alarms"] == ""


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("findings", "taken by the table of the paper's findings"),
        ("table3_checks", "names ending in '_checks' are taken"),
    ],
)
def test_the_report_tables_names_are_reserved(name, message):
    section = {name: {"blocks": {"b": {"dataset": "digits", "arch": "DigitsCNN"}}}}
    with pytest.raises(TableError, match=message):
        tables.table_specs(section, [], datasets=["digits"], archs=ARCHS)
