"""The paper's grid (config/paper.yaml): its dry run, job counts per table, and inputs.

Restricted ImageNet is never downloaded: its config check needs a tree with the 203
synset folders under train/ and val/, made here as empty folders. MNIST, CIFAR-10 and
SVHN without a local dir download at prepare time, so their check passes offline.
"""

from __future__ import annotations

import re
from collections import Counter

import pytest
import yaml

from lolip.datasets.resimagenet import synsets
from tests.helpers.workflow import REPORTED, ROOT, copy_workflow, job_counts, snakemake

PAPER = yaml.safe_load((ROOT / "config/paper.yaml").read_text())
TRAININGS = {"mnist": 20, "cifar10": 15, "resimagenet": 10, "svhn": 10}
TABLE_MODELS = {
    "table2_mnist": 20,
    "table3": 20,
    "table4_dropout": 20,
    "table_multitarget": 55,
    "table_autoattack": 55,
}


def dry_run_jobs(output: str) -> list[dict[str, str]]:
    """The jobs a dry run prints: ``{"rule": name, "input": ..., "wildcards": ...}``."""
    jobs: list[dict[str, str]] = []
    for line in output.splitlines():
        if m := re.fullmatch(r"(?:local)?rule (\w+):", line.strip()):
            jobs.append({"rule": m.group(1)})
        elif jobs and (m := re.fullmatch(r" {4}(\w+): (.*)", line)):
            jobs[-1][m.group(1)] = m.group(2)
    return jobs


def wildcards(job: dict[str, str]) -> dict[str, str]:
    return dict(item.split("=", 1) for item in job.get("wildcards", "").split(", ") if item)


@pytest.fixture(scope="module")
def paper_dry_run(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("paper")
    imagenet = tmp / "imagenet"
    for split in ("train", "val"):
        for synset in synsets():
            (imagenet / split / synset.wnid).mkdir(parents=True)
    wf = copy_workflow(tmp / "wf")
    # PYTHONPROFILEIMPORTTIME: every module snakemake imports is listed on stderr.
    env = {"LOLIP_IMAGENET_DIR": str(imagenet), "PYTHONPROFILEIMPORTTIME": "1"}
    return snakemake(wf, "-n", "--configfile", "config/paper.yaml", env=env)


def test_paper_grid_trains_every_model_of_every_table(paper_dry_run):
    counts = job_counts(paper_dry_run.stdout)
    assert counts["train_model"] == counts["evaluate_model"] == sum(TRAININGS.values()) == 55
    assert counts["prepare_dataset"] == counts["compute_separation"] == 4
    assert counts["compute_separation_shard"] == 4
    assert counts["compute_separation_random_labels_shard"] == 4
    assert counts["compute_separation_random_labels"] == 4
    assert counts["make_separation_table"] == 1
    assert counts["make_model_table"] == len(PAPER["tables"]) == len(TABLE_MODELS)
    assert counts["plot_lipschitz_accuracy"] == counts["plot_gap"] == len(TABLE_MODELS)
    assert counts["plot_separation"] == 4
    jobs = dry_run_jobs(paper_dry_run.stdout)
    trained = Counter(wildcards(j)["dataset"] for j in jobs if j["rule"] == "train_model")
    assert trained == TRAININGS


def _table_jobs(stdout: str, rule: str) -> dict[str, list[str]]:
    """The input files of each job of a per-table ``rule``, by table."""
    jobs = [j for j in dry_run_jobs(stdout) if j["rule"] == rule]
    return {wildcards(j)["table"]: j["input"].split(", ") for j in jobs}


def test_the_sweep_loads_each_model_of_tables_2_to_4_once_per_table(paper_dry_run):
    counts = job_counts(paper_dry_run.stdout)
    assert counts["make_checks_table"] == counts["plot_training_curves"] == len(PAPER["tables"])
    assert counts["make_findings_table"] == 1
    swept = PAPER["sweep"]["tables"]
    assert counts["sweep_eps"] == counts["plot_eps_sweep"] == len(swept) == 3
    jobs = _table_jobs(paper_dry_run.stdout, "sweep_eps")
    assert sorted(jobs) == sorted(swept)
    for table, inputs in jobs.items():
        models = [p for p in inputs if p.endswith("/model.safetensors")]
        assert len(models) == len(set(models)) == TABLE_MODELS[table]
        datasets = {b["dataset"] for b in PAPER["tables"][table]["blocks"].values()}
        assert sorted(p for p in inputs if p.endswith(".h5")) == sorted(
            f"results/datasets/{d}.h5" for d in datasets
        )


def test_each_table_reads_exactly_its_models_and_datasets(paper_dry_run):
    jobs = _table_jobs(paper_dry_run.stdout, "make_model_table")
    assert sorted(jobs) == sorted(TABLE_MODELS)
    for table, inputs in jobs.items():
        metrics = [p for p in inputs if p.endswith("metrics.json")]
        separation = [p for p in inputs if p.startswith("results/separation/")]
        assert len(metrics) == len(set(metrics)) == TABLE_MODELS[table], table
        blocks = PAPER["tables"][table]["blocks"].values()
        assert sorted(separation) == sorted(
            {f"results/separation/{b['dataset']}.json" for b in blocks}
        )
        for path in metrics:
            dataset, arch, method = path.split("/")[2:5]
            block = next(
                b
                for b in blocks
                if b["dataset"] == dataset and arch in (b["arch"], b.get("dropout_arch"))
            )
            assert method in block.get("methods", PAPER["methods"])


def test_table4_cifar_block_reads_only_the_dropout_methods(paper_dry_run):
    job = next(
        j
        for j in dry_run_jobs(paper_dry_run.stdout)
        if j["rule"] == "make_model_table" and wildcards(j)["table"] == "table4_dropout"
    )
    cifar = {p.split("/")[4] for p in job["input"].split(", ") if "/cifar10/WRN_40_10/" in p}
    assert cifar == {"natural", "at", "rst2", "trades3", "trades6"}


def test_paper_tables_blocks_are_reported_blocks():
    reported = yaml.safe_load(REPORTED.read_text())
    for name, table in PAPER["tables"].items():
        section = table.get("reported", name)
        if section is None:
            continue
        assert list(table["blocks"]) == [k for k in reported[section] if k != "columns"]
        assert table.get("columns") == reported[section]["columns"]


def test_paper_grid_loads_without_torch(paper_dry_run):
    """Loading the workflow and building the DAG never imports torch (seconds, not tens)."""
    imported = re.findall(r"import time:.*\| +([\w.]+)$", paper_dry_run.stderr, flags=re.M)
    assert "snakemake" in imported and "lolip.tables" in imported
    assert not [m for m in imported if m == "torch" or m.startswith("torch.")]


PARTIAL_TARGETS = [
    "results/eval/mnist/CNN001/natural/seed0/metrics.json",
    "results/tables/table2_mnist.md",
    "results/separation/mnist.json",
]


NO_IMAGENET = {"LOLIP_IMAGENET_DIR": ""}


@pytest.fixture(scope="module")
def without_imagenet(tmp_path_factory):
    """The workflow with no ILSVRC2012 tree anywhere ($LOLIP_IMAGENET_DIR unset)."""
    return copy_workflow(tmp_path_factory.mktemp("no-imagenet") / "wf")


@pytest.mark.parametrize("target", PARTIAL_TARGETS)
def test_targets_without_resimagenet_need_no_imagenet_tree(without_imagenet, target):
    run = snakemake(
        without_imagenet, "-n", target, "--configfile", "config/paper.yaml", env=NO_IMAGENET
    )
    assert run.returncode == 0, run.stderr[-2000:]
    datasets = {wildcards(j).get("dataset") for j in dry_run_jobs(run.stdout)}
    assert "resimagenet" not in datasets and "mnist" in datasets


def test_a_target_needing_resimagenet_names_the_missing_tree_before_any_job(without_imagenet):
    run = snakemake(
        without_imagenet,
        "--cores",
        "1",
        "results/tables/table3.md",
        "--configfile",
        "config/paper.yaml",
        check=False,
        env=NO_IMAGENET,
    )
    assert run.returncode != 0
    assert "Restricted ImageNet needs an ILSVRC2012 tree: set 'dir' or $LOLIP_IMAGENET_DIR" in (
        run.stdout + run.stderr
    )
    assert not (without_imagenet / "results").exists()
