"""The benchmarks still run on the current API (tiny sizes; nothing here is timed).

Each benchmark script runs as its README line says, in a subprocess, with arguments that
make it take seconds; the test checks it finishes and prints its result line.
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tests.helpers.workflow import ROOT

pytestmark = pytest.mark.slow

MNIST_RUNS = {
    "attack_throughput.py": (
        ["--images", "40", "--batch-size", "20", "--rounds", "1", "--train-images", "256"],
        "no point breaks | ratio ours / torchattacks",
    ),
    "train_throughput.py": (
        ["--n", "128", "--n-robust", "64", "--rounds", "1"],
        "trades6",
    ),
    "autoattack_cost.py": (
        ["--images", "10", "--rounds", "1", "--train-images", "0", "--only", "natural"],
        "AA / PGD-10",
    ),
}


def run_benchmark(script: str, args: list[str], env: dict[str, str]) -> str:
    env = {**os.environ, **env, "PYTHONPATH": str(ROOT)}
    out = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / script), *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert out.returncode == 0, f"{script} failed:\n{out.stdout[-3000:]}\n{out.stderr[-3000:]}"
    return out.stdout


@pytest.mark.parametrize("script", MNIST_RUNS)
def test_mnist_benchmark_runs(script, mnist_raw_dir):
    args, expected = MNIST_RUNS[script]
    stdout = run_benchmark(script, args, {"LOLIP_MNIST_DIR": str(mnist_raw_dir)})
    assert expected in stdout


def test_data_memory_benchmark_runs(tmp_path):
    stdout = run_benchmark(
        "data_memory.py",
        ["--fraction", "0.001", "--batches", "1", "--chunks", "1", "--dir", str(tmp_path)],
        {},
    )
    for case in ("train", "evaluate"):
        assert f"{case}: peak ours" in stdout
    assert not list(tmp_path.iterdir()), "the synthetic files are removed without --keep"
