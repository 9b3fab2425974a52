"""The Snakemake workflow: DAG, lint, bad input caught before any job runs."""

from __future__ import annotations

import pytest

from tests.helpers.workflow import copy_workflow, edit_config, job_counts, snakemake

METHODS = ["natural", "gr", "llr", "at", "rst0.5", "rst1", "rst2", "trades1", "trades3", "trades6"]


@pytest.fixture()
def wf(tmp_path):
    return copy_workflow(tmp_path / "wf")


def test_default_dag_has_every_stage(wf):
    out = snakemake(wf, "-n").stdout
    counts = job_counts(out)
    assert counts["prepare_dataset"] == 1
    assert counts["compute_separation_shard"] == counts["compute_separation"] == 1
    assert counts["compute_separation_random_labels_shard"] == 1
    assert counts["compute_separation_random_labels"] == 1
    assert counts["train_model"] == len(METHODS)
    assert counts["evaluate_model"] == len(METHODS)
    assert counts["make_model_table"] == 1 and counts["make_separation_table"] == 1


def test_separation_shards_are_one_job_per_query_block_and_one_gather(wf):
    edit_config(wf / "config/config.yaml", lambda c: c["separation"].update(shards=3))
    out = snakemake(wf, "-n", "separation").stdout
    counts = job_counts(out)
    assert counts["compute_separation_shard"] == 3
    assert counts["compute_separation_random_labels_shard"] == 3
    assert counts["compute_separation"] == counts["compute_separation_random_labels"] == 1
    for stem in ("digits", "digits_random_labels"):
        shards = [f"results/separation/shards/{stem}/{i}-of-3" for i in (1, 2, 3)]
        gather_input = ", ".join([f"{s}.csv" for s in shards] + [f"{s}.json" for s in shards])
        assert f"input: {gather_input}\n" in out
        for shard in shards:
            assert f"output: {shard}.csv, {shard}.json\n" in out


def test_set_scatter_overrides_the_configured_shards(wf):
    out = snakemake(wf, "-n", "separation", "--set-scatter", "separation=4").stdout
    assert job_counts(out)["compute_separation_shard"] == 4
    assert "results/separation/shards/digits/4-of-4.csv" in out


@pytest.mark.parametrize(
    "target", ["datasets", "separation", "train", "evaluate", "tables", "sweep", "figures"]
)
def test_stage_targets_exist(wf, target):
    counts = job_counts(snakemake(wf, "-n", target).stdout)
    assert counts[target] == 1


def test_single_model_target_builds_only_its_chain(wf):
    path = "results/eval/digits/DigitsCNN/trades6/seed0/metrics.json"
    counts = job_counts(snakemake(wf, "-n", path).stdout)
    assert counts == {
        "prepare_dataset": 1,
        "train_model": 1,
        "check_model": 1,
        "attack_model": 1,
        "estimate_lipschitz": 1,
        "evaluate_model": 1,
        "total": 6,
    }


def test_lint_is_clean(wf):
    proc = snakemake(wf, "--lint")
    assert "Congratulations" in proc.stdout + proc.stderr


def test_snakefmt_is_clean(wf):
    import subprocess
    import sys

    files = [str(wf / "Snakefile"), *map(str, (wf / "rules").glob("*.smk"))]
    proc = subprocess.run(
        [sys.executable, "-m", "snakefmt", "--check", *files], capture_output=True, text=True
    )
    assert proc.returncode == 0, proc.stderr


def _fails_before_any_job(wf, message):
    proc = snakemake(wf, "-n", check=False)
    assert proc.returncode != 0
    assert message in proc.stdout + proc.stderr
    assert not (wf / "results").exists()


@pytest.mark.parametrize(
    "edit, message",
    [
        (lambda c: c["experiments"][0].update(dataset="digitz"), "unknown dataset 'digitz'"),
        (lambda c: c["experiments"][0].update(arch="CNN999"), "unknown arch 'CNN999'"),
        (lambda c: c["experiments"][0]["methods"].append("trade6"), "unknown method 'trade6'"),
        (lambda c: c["datasets"]["digits"].update(eps=1.5), "eps"),
        (lambda c: c["datasets"]["digits"].update(eps=0), "eps"),
        (lambda c: c["methods"].update(bad={"loss": "tradez"}), "tradez"),
        (lambda c: c["methods"]["trades6"].update(betta=6), "betta"),
        (
            lambda c: c["datasets"]["digits"]["training"].update(optimizer="rmsprop"),
            "rmsprop",
        ),
        (lambda c: c["separation"].update(shards=0), "shards"),
        (
            lambda c: c["sweep"].update(tables=["digits_DigitsCNN", "nope"]),
            "sweep.tables: unknown table(s) ['nope'] (known: digits_DigitsCNN)",
        ),
        (lambda c: c["sweep"].update(factors=[]), "factors must list at least one multiple"),
    ],
)
def test_bad_config_stops_before_any_job(wf, edit, message):
    edit_config(wf / "config/config.yaml", edit)
    _fails_before_any_job(wf, message)


def _add_mnist(wf, **extra):
    edit_config(
        wf / "config/config.yaml",
        lambda c: c["datasets"].update(mnist={"source": "mnist", "eps": 0.1, **extra}),
    )


def test_download_runs_as_a_local_rule_before_preparation(wf):
    _add_mnist(wf)
    out = snakemake(wf, "-n", "results/datasets/mnist.h5", env={"LOLIP_MNIST_DIR": ""}).stdout
    counts = job_counts(out)
    assert counts["download_dataset"] == 1 and counts["prepare_dataset"] == 1


def test_local_copy_needs_no_download(wf, mnist_raw_dir):
    _add_mnist(wf, dir=str(mnist_raw_dir))
    counts = job_counts(snakemake(wf, "-n", "results/datasets/mnist.h5").stdout)
    assert "download_dataset" not in counts and counts["prepare_dataset"] == 1
