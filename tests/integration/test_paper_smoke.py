"""The paper smoke run: every job of config/paper.yaml, for real, on CPU fixtures.

`snakemake --cores 2 --configfile config/paper.yaml config/smoke.yaml` with only
LOLIP_MNIST_DIR set: MNIST from its real files, CIFAR-10, SVHN and Restricted ImageNet from
fixtures the workflow writes in their original formats, the paper's architectures at their
input sizes, every method of every table, every attack and check, every table and figure,
and the report. One run feeds every test here.
"""

from __future__ import annotations

import json

import pandas as pd
import pytest
import yaml

from tests.helpers.workflow import ROOT, copy_workflow, job_counts, snakemake

pytestmark = pytest.mark.slow

CONFIGS = ("--configfile", "config/paper.yaml", "config/smoke.yaml")
PAPER = yaml.safe_load((ROOT / "config/paper.yaml").read_text())
REPORTED = yaml.safe_load((ROOT / "config/reported.yaml").read_text())
DATASETS = ["mnist", "cifar10", "svhn", "resimagenet"]


@pytest.fixture(scope="module")
def smoke(tmp_path_factory, mnist_raw_dir):
    wf = copy_workflow(tmp_path_factory.mktemp("smoke") / "wf")
    env = {"LOLIP_MNIST_DIR": str(mnist_raw_dir)}
    for var in ("LOLIP_CIFAR10_DIR", "LOLIP_SVHN_DIR", "LOLIP_IMAGENET_DIR"):
        env[var] = ""
    planned = job_counts(snakemake(wf, "-n", *CONFIGS, env=env).stdout)
    snakemake(wf, "--cores", "2", *CONFIGS, env=env)
    return wf, planned, env


def _runs(block, arch):
    """The methods the paper grid trains for a block's dataset and ``arch``, in its order."""
    trained = [
        m
        for g in PAPER["experiments"]
        if g["dataset"] == block["dataset"] and g["arch"] == arch
        for m in g["methods"]
    ]
    return [m for m in trained if m in block.get("methods", trained)]


def _table(wf, name):
    return pd.read_csv(wf / f"results/tables/{name}.csv")


def test_every_job_of_the_paper_grid_ran(smoke):
    wf, planned, env = smoke
    assert planned["train_model"] == planned["evaluate_model"] == 55
    assert planned["make_fixture"] == 3 and planned["prepare_dataset"] == 4
    assert planned["attack_model"] == 55 * 3  # PGD, multi-targeted, AutoAttack
    assert "Nothing to be done" in snakemake(wf, "-n", *CONFIGS, env=env).stdout


def test_table1_has_every_dataset_with_the_papers_values(smoke):
    wf, _, _ = smoke
    table = _table(wf, "table1_separation").set_index("dataset")
    assert list(table.index[:4]) == DATASETS
    assert (table.loc[DATASETS, "status"] == "run").all()
    for column in ("train_train", "test_train"):
        assert table.loc[DATASETS, column].notna().all()
        assert table.loc[DATASETS, f"{column}_paper"].notna().all()
    # Real MNIST: the paper's minima, at the 3 digits it reports.
    assert table.loc["mnist", "train_train"] == pytest.approx(0.737, abs=6e-4)


@pytest.mark.parametrize("name", sorted(PAPER["tables"]))
def test_every_table_has_every_row_and_the_papers_values(smoke, name):
    wf, _, _ = smoke
    spec, table = PAPER["tables"][name], _table(wf, name)
    section = REPORTED.get(spec.get("reported", name)) if spec.get("reported", name) else None
    for block_name, block in spec["blocks"].items():
        rows = table[table["block"] == block_name].set_index("row")
        expected = _runs(block, block["arch"])
        if "dropout_arch" in block:
            expected += [f"{m}+drop" for m in _runs(block, block["dropout_arch"])]
        assert set(expected) <= set(rows.index), (name, block_name)
        assert (rows.loc[expected, "status"] == "run").all(), (name, block_name)
        for column in spec["columns"]:
            assert rows.loc[expected, column].notna().all(), (name, block_name, column)
        if section is not None:
            paper = rows.loc[[r for r in section[block_name] if r != "columns"]]
            assert paper[f"{spec['columns'][0]}_paper"].notna().all(), (name, block_name)


def test_every_model_was_evaluated_with_every_attack_and_check(smoke):
    wf, _, _ = smoke
    paths = sorted((wf / "results/eval").glob("*/*/*/seed0/metrics.json"))
    assert len(paths) == 55
    for path in paths:
        m = json.loads(path.read_text())
        assert {"adv_test_acc", "adv_test_acc_multitarget", "adv_test_acc_autoattack"} <= set(m)
        assert m["attacks"]["autoattack"]["library"]["name"] == "pyautoattack"
        assert {"square_vs_pgd", "large_eps", "in_ball", "eps_zero"} <= set(m["checks"])
        assert m["provenance"]["training"]["numerics"]["tf32"] is False


def test_the_figures_and_the_report(smoke):
    wf, _, env = smoke
    for name in PAPER["tables"]:
        for kind in ("lipschitz_vs_adv", "gap"):
            assert (wf / f"results/figures/{name}_{kind}.png").stat().st_size > 0
    for dataset in DATASETS:
        assert (wf / f"results/figures/separation_{dataset}.png").stat().st_size > 0
    snakemake(wf, "--report", "report.html", *CONFIGS, env=env)
    assert (wf / "report.html").stat().st_size > 100_000
