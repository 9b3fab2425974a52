"""rules/staircase.smk: the rule, the report, the checks at load."""

from __future__ import annotations

import textwrap
import zipfile

import pandas as pd
import pytest

from tests.workflow import ROOT, copy_workflow, edit_config, snakemake


@pytest.mark.slow
def test_fit_staircase_rule_writes_table_figure_and_report(tmp_path):
    """Run rules/staircase.smk on a tiny config, then build the report with its captions."""
    snakefile = tmp_path / "Snakefile"
    snakefile.write_text(
        textwrap.dedent(
            f"""
            config["staircase"] = {{
                "small": {{"n_train": 30, "n_test": 200, "seed": 1}},
                "large": {{"n_train": 300, "n_test": 200, "seed": 1}},
                "eps": 0.3333333,
                "lambda": 0.01,
                "methods": ["natural", "at", "trades6"],
            }}
            config["methods"] = {{
                "natural": {{"loss": "natural"}},
                "at": {{"loss": "at"}},
                "trades6": {{"loss": "trades", "beta": 6.0}},
            }}

            include: "{ROOT / "rules" / "staircase.smk"}"
            """
        )
    )
    targets = ["results/staircase/small.csv", "results/staircase/small.png"]
    snakemake(tmp_path, "--cores", "1", *targets)
    table = pd.read_csv(tmp_path / "results/staircase/small.csv")
    assert list(table["method"]) == ["natural", "at", "trades6"]
    assert (tmp_path / "results/staircase/small.png").read_bytes()[:4] == b"\x89PNG"
    assert "staircase" in (tmp_path / "logs/staircase/small.log").read_text()

    report = snakemake(tmp_path, "--cores", "1", "--report", "report.zip", *targets)
    assert "(ERROR" not in report.stderr  # docutils reports caption markup errors this way
    with zipfile.ZipFile(tmp_path / "report.zip") as archive:
        html = archive.read("report/report.html").decode()
    assert "small training set" in html  # the figure caption, with its wildcard filled in
    assert "test_local_lipschitz" in html  # the table caption


def test_a_staircase_method_not_in_the_main_grid_stops_the_workflow_at_load(tmp_path):
    wf = copy_workflow(tmp_path / "wf")
    edit_config(wf / "config/config.yaml", lambda c: c["staircase"]["methods"].append("trade6"))
    proc = snakemake(wf, "-n", check=False)
    assert proc.returncode != 0
    assert "config error: staircase.methods: unknown method 'trade6'" in proc.stdout + proc.stderr
    assert not (wf / "results").exists()
