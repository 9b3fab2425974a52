"""rules/staircase.smk: the fit and plot rules, the report, the checks at load, what a change
reruns."""

from __future__ import annotations

import os
import zipfile

import pandas as pd
import pytest

from lolip import staircase as st
from tests.helpers.workflow import (
    config_edits,
    copy_workflow,
    edit_config,
    finished_copy,
    job_counts,
    snakemake,
)


@pytest.mark.slow
def test_the_rules_write_table_fits_figures_and_report(tmp_path):
    """The workflow's staircase rules on a tiny staircase, then the report with its captions."""
    tmp_path = copy_workflow(tmp_path / "wf")

    def tiny(config):
        config["staircase"].update(
            small={"n_train": 30, "n_test": 200, "seed": 1},
            large={"n_train": 300, "n_test": 200, "seed": 1},
            eps=0.3333333,
            methods=["natural", "at", "trades6"],
        )

    edit_config(tmp_path / "config/config.yaml", tiny)
    targets = [f"results/staircase/small.{ext}" for ext in ("csv", "png", "svg")]
    snakemake(tmp_path, "--cores", "1", *targets)
    results = tmp_path / "results/staircase"
    table = pd.read_csv(results / "small.csv")
    assert list(table["method"]) == ["natural", "at", "trades6"]
    assert list(table["label"]) == ["Natural", "AT", "TRADES(6)"]
    fits = st.load_fits(results / "small_fits.npz")
    assert [m.name for m in fits.methods] == ["natural", "at", "trades6"]
    assert (results / "small.png").read_bytes()[:4] == b"\x89PNG"
    assert "<svg" in (results / "small.svg").read_text()
    assert "staircase" in (tmp_path / "logs/fit_staircase/small.log").read_text()
    assert (tmp_path / "logs/plot_staircase/small.log").exists()
    assert (tmp_path / "results/benchmarks/fit_staircase/small.tsv").exists()

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


# ----------------------------------------------------------------------------- what reruns
# From a run made to look finished (tests/helpers/workflow.py: pretend_finished), one change and the
# jobs a dry run of the `staircase` target lists.


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    return finished_copy(tmp_path_factory.mktemp("staircase") / "wf", "staircase")


@pytest.fixture()
def changed(finished):
    """Job counts of a dry run after ``edit`` of the config; the config is put back after."""
    with config_edits(finished, "staircase") as run:
        yield run


def test_the_staircase_target_fits_and_draws_each_size_once(tmp_path):
    counts = job_counts(snakemake(copy_workflow(tmp_path / "wf"), "-n", "staircase").stdout)
    assert counts == {"fit_staircase": 2, "plot_staircase": 2, "staircase": 1, "total": 5}


@pytest.mark.parametrize(
    "look",
    [{"dpi": 200}, {"reference_color": "0.2"}, {"colormap": "Dark2", "width": 12.0}],
    ids=["dpi", "reference_color", "colormap_and_width"],
)
def test_a_change_of_the_figure_look_redraws_without_refitting(changed, look):
    counts = changed(lambda c: c["staircase"].setdefault("plot", {}).update(look))
    assert counts["plot_staircase"] == 2
    assert "fit_staircase" not in counts


def test_an_edited_plot_script_redraws_without_refitting(finished):
    script = finished / "workflow_scripts/plot_staircase.py"
    original, stat = script.read_text(), script.stat()
    try:
        script.write_text(original + "# a change of the figure's code\n")
        counts = job_counts(snakemake(finished, "-n", "staircase").stdout)
    finally:  # Snakemake takes a newer script for changed code too: put back its time as well
        script.write_text(original)
        os.utime(script, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert counts["plot_staircase"] == 2
    assert "fit_staircase" not in counts


@pytest.mark.parametrize(
    ("edit", "sizes"),
    [
        (lambda c: c["staircase"].update({"lambda": 0.02}), 2),
        (lambda c: c["staircase"]["small"].update(n_test=500), 1),
        (lambda c: c["methods"]["trades6"].update(beta=5.0), 2),  # a staircase method's weight
        (lambda c: c["staircase"]["methods"].remove("rst1"), 2),
    ],
    ids=["penalty", "small_n_test", "trades6_beta", "one_method_fewer"],
)
def test_a_change_of_what_a_fit_depends_on_refits_and_redraws(changed, edit, sizes):
    counts = changed(edit)
    assert counts["fit_staircase"] == counts["plot_staircase"] == sizes


@pytest.mark.parametrize(
    "edit",
    [
        lambda c: c["methods"]["gr"].update(h=0.5),
        lambda c: c["methods"]["at"].update(steps=20),
        lambda c: c["methods"].update(trades9={"loss": "trades", "beta": 9.0}),
    ],
    ids=["gr_h", "at_steps", "a_method_the_staircase_does_not_fit"],
)
def test_a_setting_the_staircase_does_not_use_refits_nothing(changed, edit):
    """GR's finite-difference step and the searches' settings have no staircase counterpart
    (it differentiates and maximises exactly); they retrain models, never the staircase."""
    assert changed(edit) == {}
