"""The RobustBench export in the workflow: one record per model of the default config, and
the workflow with it stays lint-clean."""

from __future__ import annotations

import pytest
import yaml

from lolip import robustbench
from tests.helpers.workflow import copy_workflow, job_counts, snakemake


@pytest.fixture()
def wf(tmp_path):
    return copy_workflow(tmp_path / "wf")


def test_dry_run_has_one_export_per_model_of_the_default_config(wf):
    config = yaml.safe_load((wf / "config/config.yaml").read_text())
    models = [
        (g["dataset"], g["arch"], m, s)
        for g in config["experiments"]
        for m in g["methods"]
        for s in g["seeds"]
    ]
    out = snakemake(wf, "-n", "robustbench").stdout
    assert job_counts(out)["export_robustbench"] == len(models) == 10
    for dataset, arch, method, seed in models:
        assert (
            f"results/robustbench/{dataset}/Linf/{robustbench.model_id(arch, method, seed)}.json"
            in out
        )


def test_workflow_with_the_export_is_lint_clean(wf):
    proc = snakemake(wf, "--lint")
    assert "Congratulations" in proc.stdout + proc.stderr
