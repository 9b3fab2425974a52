"""A model's evaluation in the workflow: sharded, it gathers to the unsharded result; killed
with SIGKILL mid-attack, the rerun resumes from its last finished chunk and ends with bitwise
the same metrics and per-example results.

One natural digits model (tests/helpers/grid.py's small grid) is trained once; every run below
evaluates copies of it.
"""

from __future__ import annotations

import os
import shutil
import signal
from pathlib import Path

import pytest

from tests.helpers import grid
from tests.helpers.workflow import edit_config, job_counts, snakemake

pytestmark = pytest.mark.slow

METHOD = "natural"
# Enough work per chunk to kill a job between chunks: 50 points, 40 PGD steps each.
EVALUATION = {"chunk_size": 50, "batch_size": 50}


def _evaluation(c: dict) -> None:
    c["evaluation"].update(EVALUATION)
    c["evaluation"]["attacks"]["pgd"]["steps"] = 40


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> Path:
    wf = grid.small_grid(tmp_path_factory.mktemp("evaluation") / "trained")
    edit_config(wf / "config/config.yaml", _evaluation)
    snakemake(wf, str(grid.model(wf, METHOD).relative_to(wf)))
    return wf


def _clone(trained: Path, dest: Path, **evaluation) -> Path:
    shutil.copytree(trained, dest, ignore=shutil.ignore_patterns(".snakemake"))
    if evaluation:
        edit_config(dest / "config/config.yaml", lambda c: c["evaluation"].update(evaluation))
    snakemake(dest, "--touch", str(grid.model(dest, METHOD).relative_to(dest)))
    return dest


def _target(wf: Path) -> str:
    return str(grid.metrics(wf, METHOD).relative_to(wf))


@pytest.fixture(scope="module")
def reference(trained, tmp_path_factory) -> Path:
    wf = _clone(trained, tmp_path_factory.mktemp("evaluation") / "reference")
    snakemake(wf, _target(wf))
    return wf


def _same_evaluation(a: Path, b: Path) -> None:
    """Equal metrics (but the shard count they record) and byte-equal examples.csv."""
    results = [grid.results_of(grid.metrics(w, METHOD)) for w in (a, b)]
    for r in results:
        r["settings"].pop("shards")
    assert results[0] == results[1]
    examples = [grid.metrics(w, METHOD).with_name("examples.csv").read_bytes() for w in (a, b)]
    assert examples[0] == examples[1]


def test_three_shards_gather_to_the_unsharded_result(trained, reference, tmp_path):
    wf = _clone(trained, tmp_path / "wf", shards=3)
    counts = job_counts(snakemake(wf, "-n", _target(wf)).stdout)
    assert counts["attack_model"] == counts["estimate_lipschitz"] == 3
    snakemake(wf, _target(wf))
    _same_evaluation(reference, wf)


def test_a_killed_attack_resumes_from_its_last_chunk(trained, reference, tmp_path):
    wf = _clone(trained, tmp_path / "wf")
    scratch = grid.metrics(wf, METHOD).parent / "attacks/pgd/shard0of1.csv.partial"
    with grid.start_snakemake(wf, "--cores", "1", "--retries", "0", _target(wf)) as run:
        grid.wait_until(lambda: len(list(scratch.glob("*.json"))) >= 2, run, "two chunks")
        jobs = [p for p in grid.descendants(run.pid) if "attack_model.py" in grid.cmdline(p)]
        assert jobs, [grid.cmdline(p) for p in grid.descendants(run.pid)]
        for pid in jobs:
            os.kill(pid, signal.SIGKILL)
        assert run.wait(timeout=120) != 0
    done = sorted(p.name for p in scratch.glob("*.json"))
    assert done and not grid.metrics(wf, METHOD).exists()
    snakemake(wf, _target(wf))
    log = (grid.metrics(wf, METHOD).parent / "attacks/pgd/shard0of1.log").read_text()
    assert f"resumed: {len(done)} of" in log
    _same_evaluation(reference, wf)
