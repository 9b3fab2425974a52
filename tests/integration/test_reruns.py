"""A change reruns exactly what it affects: each job's params hold what its output depends
on and nothing else, and a dataset's raw files are inputs of its preparation.

Each test starts from a run made to look finished (tests/helpers/workflow.py:
pretend_finished), changes one thing and reads the jobs a dry run lists.
"""

from __future__ import annotations

import os
import shutil

import numpy as np
import pytest

from tests.helpers.workflow import (
    PRESENTATION,
    config_edits,
    copy_workflow,
    edit_config,
    finished_copy,
    job_counts,
    pretend_finished,
    snakemake,
)

MODELS = 10  # the default config: digits, ten methods


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    return finished_copy(tmp_path_factory.mktemp("reruns") / "wf")


@pytest.fixture()
def changed(finished):
    """Dry-run job counts after an edit of the config, which is put back afterwards."""
    with config_edits(finished) as run:
        yield run


def test_evaluation_settings_retrain_nothing(changed):
    counts = changed(lambda c: c["evaluation"]["lipschitz"].update(steps=20))
    assert counts["estimate_lipschitz"] == counts["evaluate_model"] == MODELS
    for rule in ("prepare_dataset", "train_model", "attack_model", "check_model"):
        assert rule not in counts, rule


@pytest.mark.parametrize(
    "attack", [{"type": "autoattack"}, {"type": "multitarget", "steps": 2}], ids=["aa", "mt"]
)
def test_adding_an_attack_schedules_only_its_jobs_and_the_gathers(changed, attack):
    counts = changed(lambda c: c["evaluation"]["attacks"].update(extra=attack))
    assert counts["attack_model"] == counts["evaluate_model"] == MODELS
    assert counts["make_model_table"] == 1
    for rule in ("train_model", "check_model", "estimate_lipschitz", "compute_separation"):
        assert rule not in counts, rule


def test_changing_an_attack_reruns_only_that_attack(changed):
    counts = changed(lambda c: c["evaluation"]["attacks"]["pgd"].update(steps=20))
    # PGD's settings feed its jobs and the sample checks (which run PGD), nothing else.
    assert counts["attack_model"] == counts["check_model"] == counts["evaluate_model"] == MODELS
    assert "train_model" not in counts and "estimate_lipschitz" not in counts


# A digits table of two columns, under a name of the test's choosing.
A_TABLE = {
    "caption": "a new caption",
    "columns": ["test_acc", "adv_test_acc"],
    "blocks": {"digits": {"dataset": "digits", "arch": "DigitsCNN"}},
}


def test_a_table_layout_reruns_only_presentation(changed):
    counts = changed(lambda c: c.update(tables={"mine": A_TABLE}))
    # A new table name is a new table: its sweep (PGD on the saved models) runs once.
    assert counts.pop("sweep_eps") == 1
    assert set(counts) <= PRESENTATION | {"all", "total"}


def test_a_tables_caption_and_columns_rerun_no_sweep(changed):
    counts = changed(lambda c: c.update(tables={"digits_DigitsCNN": A_TABLE}))
    assert counts["make_model_table"] == counts["plot_eps_sweep"] == 1
    assert set(counts) <= PRESENTATION | {"all", "total"}


def test_a_figure_only_setting_reruns_only_the_figures(changed):
    counts = changed(lambda c: c.update(figures={"dpi": 200}))
    figures = {r for r in PRESENTATION if r.startswith("plot_")} | {"plot_separation"}
    assert set(counts) == figures | {"all", "total"}
    assert all(counts[r] == 1 for r in figures)


def test_the_sweeps_radii_rerun_the_sweep_and_its_figure_only(changed):
    counts = changed(lambda c: c["sweep"].update(factors=[0, 1, 3]))
    assert counts == {"sweep_eps": 1, "plot_eps_sweep": 1, "all": 1, "total": 3}


def test_the_evaluations_pgd_reruns_the_sweep_too(changed):
    counts = changed(lambda c: c["evaluation"]["attacks"]["pgd"].update(restarts=2))
    assert counts["sweep_eps"] == 1 and counts["attack_model"] == MODELS
    assert "train_model" not in counts


def test_sweeping_no_table_drops_the_sweep_from_all(changed):
    counts = changed(lambda c: c["sweep"].update(tables=[]))
    assert counts == {}  # fewer inputs of `all`: nothing to make


def test_one_methods_hyperparameter_reruns_only_its_chain(changed):
    counts = changed(lambda c: c["methods"]["trades6"].update(beta=7.0))
    assert counts["train_model"] == counts["evaluate_model"] == counts["attack_model"] == 1
    assert "prepare_dataset" not in counts and "compute_separation" not in counts


def _npz(path, seed):
    rng = np.random.default_rng(seed)
    x = rng.integers(0, 256, (60, 6, 6, 3), dtype=np.uint8)
    y = np.arange(60) % 3
    np.savez(path, x_train=x[:40], y_train=y[:40], x_test=x[40:], y_test=y[40:])


def _two_datasets(wf, mnist_raw_dir):
    """The default config plus an npz dataset and a local MNIST copy, each with a model."""
    mnist = wf / "mnist"
    shutil.copytree(mnist_raw_dir, mnist)
    _npz(wf / "mine.npz", 0)

    def edit(c):
        c["datasets"].update(
            mine={"source": "npz", "path": "mine.npz", "eps": 0.05},
            mnist={"source": "mnist", "eps": 0.1, "dir": "mnist"},
        )
        training = {"epochs": 1, "batch_size": 8, "lr": 0.01}
        c["experiments"] += [
            {"dataset": d, "arch": a, "methods": ["natural"], "training": training}
            for d, a in (("mine", "DigitsCNN"), ("mnist", "CNN001"))
        ]

    edit_config(wf / "config/config.yaml", edit)
    return mnist


@pytest.fixture()
def two_datasets(tmp_path, mnist_raw_dir):
    wf = copy_workflow(tmp_path / "wf")
    mnist = _two_datasets(wf, mnist_raw_dir)
    pretend_finished(wf)
    return wf, mnist


def _reruns(wf):
    out = snakemake(wf, "-n").stdout
    prepared = [line for line in out.splitlines() if "output: results/datasets/" in line]
    return job_counts(out), prepared


def test_an_edited_npz_re_prepares_its_dataset_only(two_datasets):
    wf, _ = two_datasets
    stamp = os.stat(wf / "mine.npz")
    _npz(wf / "mine.npz", 1)  # other data, and back to the old modification time:
    os.utime(wf / "mine.npz", ns=(stamp.st_atime_ns, stamp.st_mtime_ns))  # only its content changed
    counts, prepared = _reruns(wf)
    assert prepared == ["    output: results/datasets/mine.h5"]
    assert counts["train_model"] == 1 and counts["compute_separation"] == 1


def test_a_replaced_mnist_file_re_prepares_mnist_only(two_datasets):
    wf, mnist = two_datasets
    labels = mnist / "t10k-labels-idx1-ubyte.gz"
    original = labels.read_bytes()
    labels.write_bytes(original)  # the same bytes again: nothing to redo
    assert "Nothing to be done" in snakemake(wf, "-n").stdout
    data = bytearray(original)
    data[-1] ^= 1
    labels.write_bytes(bytes(data))  # other bytes
    counts, prepared = _reruns(wf)
    assert prepared == ["    output: results/datasets/mnist.h5"]
    assert counts["train_model"] == 1
