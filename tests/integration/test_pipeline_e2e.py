"""End to end: the embedded default config, run for real in a temp directory.

One module-scoped run (`snakemake --cores 2`) feeds every test here: the outputs, their
numbers, partial reruns and single targets.
"""

from __future__ import annotations

import json
import re

import numpy as np
import pandas as pd
import pytest
import torch

import lolip
from tests.helpers.workflow import ROOT, copy_workflow, edit_config, job_counts, snakemake

pytestmark = pytest.mark.slow

METHODS = ["natural", "gr", "llr", "at", "rst0.5", "rst1", "rst2", "trades1", "trades3", "trades6"]
KEYS = [
    "train_acc",
    "test_acc",
    "adv_train_acc",
    "adv_test_acc",
    "train_lipschitz",
    "test_lipschitz",
    "gap",
    "adv_gap",
]


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    wf = copy_workflow(tmp_path_factory.mktemp("e2e"))
    snakemake(wf, "--cores", "2")
    return wf


def _metrics(run, method):
    path = run / f"results/eval/digits/DigitsCNN/{method}/seed0/metrics.json"
    return json.loads(path.read_text())


def test_prepared_dataset_records_split_and_provenance(run):
    from lolip.datasets import read_prepared

    ds = read_prepared(run / "results/datasets/digits.h5")
    assert len(ds.y_train) + len(ds.y_test) == 1797
    assert ds.provenance["origin"] == "sklearn.datasets.load_digits"
    assert "index_train" in ds.extras


def test_separation_json_has_exact_minimum(run):
    summary = json.loads((run / "results/separation/digits.json").read_text())
    assert summary["eps"] == 0.1
    # digits pixels are multiples of 1/16: the exact minimum is one of them
    assert summary["train_train_min"] * 16 == pytest.approx(round(summary["train_train_min"] * 16))
    assert summary["test_train_min"] > 2 * summary["eps"]


def test_every_model_loads_in_eval_mode_and_predicts(run):
    from lolip.datasets import read_prepared

    test = read_prepared(run / "results/datasets/digits.h5").split("test")
    x, y = test.images(slice(None)), test.y
    for method in METHODS:
        path = run / f"results/models/digits/DigitsCNN/{method}/seed0/model.safetensors"
        model = lolip.load_model(path)
        assert not model.training
        with torch.no_grad():
            acc = (model(x).argmax(1) == y).float().mean().item()
        assert acc == pytest.approx(_metrics(run, method)["test_acc"] / 100, abs=1e-6)


def test_metrics_have_every_key_and_consistent_numbers(run):
    for method in METHODS:
        m = _metrics(run, method)
        assert set(KEYS) <= set(m)
        assert m["gap"] == pytest.approx(m["train_acc"] - m["test_acc"])
        assert m["adv_gap"] == pytest.approx(m["adv_train_acc"] - m["adv_test_acc"])
        assert m["adv_test_acc"] <= m["test_acc"]
        assert m["provenance"]["evaluation"]["torch_version"] == torch.__version__
        assert m["settings"]["attacks"]["pgd"]["steps"] == 10


def test_the_science_shows_up_on_digits(run):
    natural, at, trades6 = (_metrics(run, m) for m in ("natural", "at", "trades6"))
    assert natural["test_acc"] > 90
    assert at["adv_test_acc"] > natural["adv_test_acc"] + 10
    assert trades6["adv_test_acc"] > natural["adv_test_acc"]
    assert trades6["test_lipschitz"] < natural["test_lipschitz"]


def test_per_example_results_match_metrics(run):
    examples = pd.read_csv(run / "results/eval/digits/DigitsCNN/at/seed0/examples.csv")
    test = examples[examples["split"] == "test"]
    m = _metrics(run, "at")
    assert 100 * test["clean_correct"].mean() == pytest.approx(m["test_acc"])
    assert 100 * (test["clean_correct"] & ~test["broken_pgd"]).mean() == pytest.approx(
        m["adv_test_acc"]
    )
    assert test["lipschitz"].mean() == pytest.approx(m["test_lipschitz"], rel=1e-5)


def test_tables_written_in_three_formats(run):
    for stem in ("table1_separation", "digits_DigitsCNN"):
        for ext in ("csv", "md", "tex"):
            assert (run / f"results/tables/{stem}.{ext}").stat().st_size > 0
    table = pd.read_csv(run / "results/tables/digits_DigitsCNN.csv").set_index("row")
    assert list(table.index) == [*METHODS, "1-NN (theorem)"]
    at = table.loc["at"]
    assert at["test_acc"] == pytest.approx(_metrics(run, "at")["test_acc"])


def test_nothing_left_to_do_after_the_run(run):
    assert "Nothing to be done" in snakemake(run, "-n").stdout


def test_changing_one_hyperparameter_reruns_only_its_chain(run, tmp_path):
    config = run / "config/config.yaml"
    original = config.read_text()
    try:
        edit_config(config, lambda c: c["methods"]["trades6"].update(beta=7.0))
        counts = job_counts(snakemake(run, "-n").stdout)
    finally:
        config.write_text(original)
    assert counts["train_model"] == 1 and counts["evaluate_model"] == 1
    assert counts["make_model_table"] == 1
    assert "prepare_dataset" not in counts and "compute_separation" not in counts


def _without_timings(path):
    summary = json.loads(path.read_text())
    return {k: v for k, v in summary.items() if k not in ("seconds", "shard_seconds")}


def test_three_shards_give_the_outputs_of_one(run, tmp_path):
    wf = copy_workflow(tmp_path / "three")
    edit_config(wf / "config/config.yaml", lambda c: c["separation"].update(shards=3))
    proc = snakemake(wf, "--cores", "2", "separation")
    counts = job_counts(proc.stdout + proc.stderr)
    assert counts["compute_separation_shard"] == 3
    assert counts["compute_separation_random_labels_shard"] == 3
    for stem in ("digits", "digits_random_labels"):
        one, three = run / "results/separation", wf / "results/separation"
        assert (three / f"{stem}_points.csv").read_bytes() == (
            one / f"{stem}_points.csv"
        ).read_bytes()
        assert _without_timings(three / f"{stem}.json") == _without_timings(one / f"{stem}.json")
        assert len(json.loads((three / f"{stem}.json").read_text())["shard_seconds"]) == 3


def test_custom_npz_dataset_runs_through_the_same_rules(run):
    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, (60, 6, 6, 3), dtype=np.uint8)
    y = rng.integers(0, 3, 60)
    np.savez(run / "mine.npz", x_train=x[:40], y_train=y[:40], x_test=x[40:], y_test=y[40:])
    config = run / "config/config.yaml"
    original = config.read_text()
    try:
        edit_config(
            config,
            lambda c: c["datasets"].update(mine={"source": "npz", "path": "mine.npz", "eps": 0.05}),
        )
        snakemake(run, "--cores", "2", "results/separation/mine.json")
    finally:
        config.write_text(original)
    summary = json.loads((run / "results/separation/mine.json").read_text())
    flat = x.reshape(60, -1).astype(int) / 255
    d = np.abs(flat[40:, None] - flat[None, :40]).max(-1)
    d[y[40:, None] == y[None, :40]] = np.inf
    assert summary["test_train_min"] == pytest.approx(d.min())


def test_no_digits_model_rings_a_masking_alarm(run):
    for method in METHODS:
        checks = _metrics(run, method)["checks"]
        assert checks["masking_suspected"] is False, (method, checks["alarms"])
        assert checks["all_passed"] is True


@pytest.mark.parametrize("method", ["natural", "trades6"])
def test_official_autoattack_is_at_most_pgd_on_digits_models(run, method):
    """AutoAttack (the authors' package, standard version) on the first 150 test points
    leaves at most PGD's accuracy, within one standard error."""
    from lolip.datasets import read_prepared
    from lolip.evaluation.robustness import evaluate_robustness

    test = read_prepared(run / "results/datasets/digits.h5").split("test")
    model = lolip.load_model(
        run / f"results/models/digits/DigitsCNN/{method}/seed0/model.safetensors"
    )
    settings = {"subsets": {"test": 150}, "attacks": {"autoattack": {"type": "autoattack"}}}
    metrics, _ = evaluate_robustness(
        model, test.images(slice(None)), test.y, 0.1, settings=settings
    )
    pgd, aa = metrics["adv_test_acc"] / 100, metrics["adv_test_acc_autoattack"] / 100
    assert aa <= pgd + np.sqrt(pgd * (1 - pgd) / 150)
    assert metrics["attacks"]["autoattack"]["library"]["name"] == "pyautoattack"


README_TABLE = re.compile(
    r"^\| method \| test acc \| adv test acc \| test Lipschitz \| gap \| adv gap \|\n"
    r"\|[-| ]+\|\n((?:\|.*\|\n)+)",
    re.M,
)


def test_the_readme_shows_this_runs_digits_numbers(run):
    """The README's table of the default run is what the code produces today: a change that
    moves these numbers updates the README in the same commit."""
    match = README_TABLE.search((ROOT / "README.md").read_text())
    assert match, "the README has no table of the default run"
    rows = [[c.strip() for c in line.strip("|").split("|")] for line in match.group(1).splitlines()]
    assert [r[0] for r in rows[: len(METHODS)]] == METHODS
    for method, *cells in rows[: len(METHODS)]:
        m = _metrics(run, method)
        expected = [m["test_acc"], m["adv_test_acc"], m["test_lipschitz"], m["gap"], m["adv_gap"]]
        assert cells == [f"{v:.2f}" for v in expected], method
