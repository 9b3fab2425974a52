"""The command line: ``lolip evaluate`` on any model gives the workflow's files (and, on a
workflow model, its numbers exactly); ``lolip summary`` prints a run's tables; bad input
stops before any work with one line and exit status 2."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import tomllib
from importlib import import_module
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from lolip.cli import main
from lolip.evaluation.verdict import ALARMS
from tests.helpers.small import digits_tensors
from tests.helpers.workflow import ROOT, copy_workflow, edit_config, snakemake

EXP = "digits/DigitsCNN/natural/seed0"
CHECKS = (
    *("batch_size_invariance", "input_gradient_nonzero", "eps_zero", "more_steps"),
    *("in_ball", "adv_not_above_clean", *ALARMS),
)
# Per-run measurements: the only values allowed to differ between two evaluations.
NOT_RESULTS = ("seconds", "provenance")
FAST = {
    "batch_size": 128,
    "subsets": {"train": 60, "test": 60},
    "checks": {"size": 30, "square_queries": 50},
    "attacks": {
        "mt": {"type": "multitarget", "steps": 3},
        "aa": {"type": "autoattack", "n_iter": 3, "n_queries": 20},
    },
}
MODEL_PY = """
import torch
import torch.nn.functional as F
from sklearn.datasets import load_digits
from torch import nn


def build():
    # A small MLP on sklearn's digits, trained for a second (inputs [0, 1], NCHW 1x8x8).
    torch.manual_seed(0)
    digits = load_digits()
    x = torch.tensor(digits.images, dtype=torch.float32)[:, None] / 16
    y = torch.tensor(digits.target)
    net = nn.Sequential(nn.Flatten(), nn.Linear(64, 32), nn.ReLU(), nn.Linear(32, 10))
    optimizer = torch.optim.Adam(net.parameters(), lr=1e-2)
    for _ in range(3):
        for batch in torch.randperm(len(y)).split(100):
            loss = F.cross_entropy(net(x[batch]), y[batch])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
    return net


def three_logits():
    return nn.Sequential(nn.Flatten(), nn.Linear(64, 3))


def not_a_module():
    return [1, 2, 3]


def broken():
    raise RuntimeError("no weights here")
"""


def lolip(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    """``lolip ARGS`` in a fresh process (``python -m lolip``: the console script's code)."""
    command = [sys.executable, "-m", "lolip", *map(str, args)]
    return subprocess.run(command, cwd=cwd, capture_output=True, text=True)


def results_of(path: Path) -> dict:
    return {k: v for k, v in json.loads(path.read_text()).items() if k not in NOT_RESULTS}


@pytest.fixture(scope="module")
def inputs(tmp_path_factory) -> Path:
    """model.py (functions returning modules, or not), digits as .npz with and without a
    training split, and a settings file for a fast evaluation."""
    d = tmp_path_factory.mktemp("inputs")
    (d / "model.py").write_text(MODEL_PY)
    x, y = digits_tensors()
    x = (x.numpy() * 255).round().astype(np.uint8)  # uint8 images, as most datasets ship
    y = y.numpy()
    np.savez(d / "digits.npz", x_train=x[:1200], y_train=y[:1200], x_test=x[1200:], y_test=y[1200:])
    np.savez(d / "test_only.npz", x_test=x[1200:], y_test=y[1200:])
    (d / "fast.yaml").write_text(yaml.safe_dump({"evaluation": FAST}))
    return d


@pytest.fixture(scope="module")
def own_model(inputs, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("own")
    proc = lolip(
        "evaluate", f"{inputs}/model.py:build", "--data", inputs / "digits.npz",
        "--eps", "0.1", "--out", out, "--config", inputs / "fast.yaml",
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert "checks: all passed" in proc.stdout
    return out


def test_help_lists_every_command_with_one_line():
    proc = lolip("--help")
    assert proc.returncode == 0
    for command in ("evaluate", "summary"):
        assert re.search(rf"^\s+{command}\s+\w.*$", proc.stdout, re.M), proc.stdout


def test_console_script_is_the_command_line():
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    assert scripts == {"lolip": "lolip.cli:main"}
    module, function = scripts["lolip"].split(":")
    assert getattr(import_module(module), function) is main


def test_own_model_on_npz_writes_every_metric_and_column(own_model):
    metrics = json.loads((own_model / "metrics.json").read_text())
    for split in ("train", "test"):
        for key in ("n_{s}", "{s}_acc", "adv_{s}_acc", "adv_{s}_acc_mt", "{s}_lipschitz"):
            assert key.format(s=split) in metrics
    assert "adv_test_acc_aa" in metrics and "adv_train_acc_aa" not in metrics  # test only
    assert {"eps", "gap", "adv_gap", "mt_target_success", "settings", "attacks"} <= set(metrics)
    assert metrics["n_train"] == metrics["n_test"] == 60 and metrics["eps"] == 0.1
    assert metrics["attacks"]["aa"]["library"]["name"] == "pyautoattack"
    checks = metrics["checks"]
    assert set(CHECKS) <= set(checks), set(CHECKS) - set(checks)
    assert checks["all_passed"] is True and isinstance(checks["masking_suspected"], bool)
    assert metrics["provenance"]["inputs"]["model"].endswith("model.py:build")
    # No model file: none of its metadata.
    assert not {"dataset", "arch", "method", "seed", "training"} & set(metrics)
    examples = pd.read_csv(own_model / "examples.csv")
    mt = [f"mt_target_{t}" for t in range(10)]
    assert list(examples.columns) == [
        *("split", "index", "label", "clean_pred", "clean_correct"),
        *("broken_pgd", "broken_aa", "broken_mt", *mt, "lipschitz"),  # the settings' order
    ]
    assert len(examples) == 120
    assert examples[examples["split"] == "train"]["broken_aa"].isna().all()


def test_npz_without_training_split_evaluates_the_test_split(inputs, tmp_path):
    settings = {**FAST, "subsets": {"test": 40}, "attacks": {}}
    (tmp_path / "s.yaml").write_text(yaml.safe_dump(settings))  # the whole file: the settings
    proc = lolip(
        "evaluate", f"{inputs}/model.py:build", "--data", inputs / "test_only.npz",
        "--eps", "0.1", "--out", tmp_path / "out", "--config", tmp_path / "s.yaml",
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    metrics = json.loads((tmp_path / "out/metrics.json").read_text())
    assert metrics["n_test"] == 40 and "n_train" not in metrics and "gap" not in metrics
    assert metrics["settings"]["checks"]["size"] == 30


# --------------------------------------------------------------------------- the workflow


@pytest.fixture(scope="module")
def run(tmp_path_factory) -> Path:
    """One digits model, trained for 2 epochs and evaluated by the workflow on subsets,
    with its table and Table 1."""
    wf = copy_workflow(tmp_path_factory.mktemp("wf"))

    def edit(config):
        config["experiments"][0]["methods"] = ["natural"]
        config["datasets"]["digits"]["training"].update(epochs=2, milestones=[1])
        config["evaluation"].update(
            subsets={"train": 100, "test": 100},
            checks={"size": 50, "square_queries": 100},
        )
        config["evaluation"]["attacks"]["mt"] = {"type": "multitarget", "steps": 3}

    edit_config(wf / "config/config.yaml", edit)
    tables = [f"results/tables/{t}.csv" for t in ("digits_DigitsCNN", "table1_separation")]
    snakemake(wf, "--cores", "2", f"results/eval/{EXP}/metrics.json", *tables)
    return wf


def test_workflow_model_gives_the_workflows_numbers_exactly(run, tmp_path):
    workflow = run / "results/eval" / EXP
    threads = json.loads((workflow / "metrics.json").read_text())["provenance"]["evaluation"]
    proc = lolip(
        "evaluate", f"results/models/{EXP}/model.safetensors",
        "--data", "results/datasets/digits.h5", "--eps", "0.1", "--out", tmp_path,
        "--config", "config/config.yaml", "--device", "cpu", "--threads", threads["threads"],
        cwd=run,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    ours, theirs = results_of(tmp_path / "metrics.json"), results_of(workflow / "metrics.json")
    assert ours.keys() == theirs.keys()
    for key in theirs:
        assert ours[key] == theirs[key], key
    assert {"dataset", "arch", "method", "seed", "training", "history"} <= ours.keys()
    assert (tmp_path / "examples.csv").read_bytes() == (workflow / "examples.csv").read_bytes()
    full = json.loads((tmp_path / "metrics.json").read_text())
    assert (
        full["seconds"].keys()
        == json.loads((workflow / "metrics.json").read_text())["seconds"].keys()
    )
    assert {"evaluation", "training", "inputs"} <= full["provenance"].keys()


def test_summary_prints_the_runs_table_with_its_method_row(run):
    proc = lolip("summary", run / "results")
    assert proc.returncode == 0, proc.stderr
    metrics = json.loads((run / "results/eval" / EXP / "metrics.json").read_text())
    assert "digits_DigitsCNN: digits, DigitsCNN" in proc.stdout
    assert "adv test acc (mt)" not in proc.stdout  # the default table: the paper's columns
    row = next(line for line in proc.stdout.splitlines() if line.startswith("natural "))
    cells = row.split()
    assert cells[1:4] == [f"{metrics[k]:.2f}" for k in ("train_acc", "test_acc", "adv_test_acc")]
    assert "table1_separation" in proc.stdout and "1-NN (theorem)" in proc.stdout


def test_summary_without_tables_builds_them_from_the_metrics(run, tmp_path):
    import shutil

    shutil.copytree(run / "results/eval", tmp_path / "eval")
    proc = lolip("summary", tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert re.search(r"^natural\s+\d+\.\d\d\s", proc.stdout, re.M), proc.stdout


# --------------------------------------------------------------------------- bad input


@pytest.fixture(scope="module")
def bad_inputs(inputs, tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("bad")
    (d / "garbage.safetensors").write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00{not json")
    (d / "model.pt").write_bytes(b"")
    (d / "data.csv").write_text("x\n")
    (d / "syntax.py").write_text("def build(:\n")
    np.savez(d / "half.npz", x_train=np.zeros((4, 8, 8)), x_test=np.zeros((4, 8, 8)),
             y_test=np.zeros(4, int))  # fmt: skip
    for name, evaluation in {
        "negative": {"subsets": {"test": -1}},
        "steps": {"attacks": {"pgd": {"norm": "l7"}}},
        "toomany": {"subsets": {"test": 100000}},
        "unknown": {"betch_size": 10},
    }.items():
        (d / f"{name}.yaml").write_text(yaml.safe_dump({"evaluation": evaluation}))
    (d / "list.yaml").write_text("- 1\n- 2\n")
    return d


def _cases():
    model, data = "{i}/model.py:build", "{i}/digits.npz"
    return [
        # model
        ("{b}/missing.safetensors", data, "0.1", None, "missing.safetensors' does not exist"),
        ("{b}/garbage.safetensors", data, "0.1", None, "is truncated or damaged"),
        ("{b}/model.pt", data, "0.1", None, "unknown model '{b}/model.pt': expected a lolip"),
        ("{i}/model.py", data, "0.1", None, "needs its function: file.py:FUNCTION"),
        ("{i}/nope.py:build", data, "0.1", None, "model file '{i}/nope.py' does not exist"),
        ("{i}/model.py:nothing", data, "0.1", None, "has no function 'nothing' (it defines:"),
        ("{i}/model.py:not_a_module", data, "0.1", None, "returned list, not a torch.nn.Module"),
        ("{i}/model.py:broken", data, "0.1", None, "raised RuntimeError: no weights here"),
        ("{b}/syntax.py:build", data, "0.1", None, "cannot import '{b}/syntax.py': SyntaxError"),
        ("{i}/model.py:three_logits", data, "0.1", None, "with K >= 10 (the largest label + 1)"),
        # data
        (model, "{b}/missing.npz", "0.1", None, "data file '{b}/missing.npz' does not exist"),
        (model, "{b}/data.csv", "0.1", None, "unknown data file '{b}/data.csv': expected"),
        (model, "{b}/half.npz", "0.1", None, "lacks key(s) y_train"),
        # eps
        (model, data, "0", None, "--eps must be a number in (0, 1]"),
        (model, data, "1.5", None, "(inputs are in [0, 1]), got '1.5'"),
        (model, data, "abc", None, "got 'abc'"),
        # settings
        (model, data, "0.1", "{b}/absent.yaml", "config file '{b}/absent.yaml' does not exist"),
        (model, data, "0.1", "{b}/list.yaml", "must hold a mapping, got list"),
        (model, data, "0.1", "{b}/negative.yaml", "test must be an integer >= 1 or null, got -1"),
        (model, data, "0.1", "{b}/steps.yaml", "evaluation.attacks.pgd: norm"),
        (model, data, "0.1", "{b}/unknown.yaml", "betch_size"),
        (model, data, "0.1", "{b}/toomany.yaml", "subsets.test = 100000, but split 'test' has"),
    ]  # fmt: skip


@pytest.mark.parametrize("model, data, eps, config, message", _cases())
def test_bad_input_stops_before_any_work_with_one_line(
    inputs, bad_inputs, tmp_path, capsys, model, data, eps, config, message
):
    def fill(text):
        return text.format(i=inputs, b=bad_inputs)

    args = ["evaluate", fill(model), "--data", fill(data), "--eps", eps, "--out", tmp_path / "o"]
    status = main([*map(str, args), *(["--config", fill(config)] if config else [])])
    err = capsys.readouterr().err
    assert status == 2
    assert err.count("\n") == 1 and err.startswith("lolip evaluate: error: "), err
    assert fill(message) in err
    assert not (tmp_path / "o").exists()


def test_bad_input_exits_2_from_the_console(inputs, tmp_path):
    proc = lolip("evaluate", f"{inputs}/model.py:build", "--data", inputs / "digits.npz",
                 "--eps", "2", "--out", tmp_path)  # fmt: skip
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1
    assert "--eps must be a number in (0, 1]" in proc.stderr


@pytest.mark.parametrize(
    "args, message",
    [
        (["evaluate", "m.safetensors", "--eps", "0.1", "--out", "o"], "required: --data"),
        (["frobnicate"], "invalid choice: 'frobnicate'"),
    ],
)
def test_bad_arguments_stop_with_one_line(capsys, args, message):
    with pytest.raises(SystemExit) as stop:
        main(args)
    err = capsys.readouterr().err
    assert stop.value.code == 2 and err.count("\n") == 1 and message in err, err


@pytest.mark.parametrize(
    "args, message",
    [
        (["--threads", "0"], "--threads must be an integer >= 1, got '0'"),
        (["--device", "nodevice"], "--device 'nodevice' is not usable here"),
    ],
)
def test_bad_options_stop_with_one_line(capsys, tmp_path, args, message):
    common = ["evaluate", "m.safetensors", "--data", "d.h5", "--eps", "0.1", "--out", "o"]
    assert main([*common, *args]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and message in err, err


def test_summary_of_a_missing_folder_stops_with_one_line(capsys):
    assert main(["summary", "/nonexistent/results"]) == 2
    err = capsys.readouterr().err
    assert err == "lolip summary: error: results folder '/nonexistent/results' does not exist\n"
