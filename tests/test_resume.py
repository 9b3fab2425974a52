"""Whole training jobs under Snakemake: SIGKILL and rerun, and the directory lock.

An uninterrupted run of the TRADES model of tests/grid.py is the reference; while it runs, a
second Snakemake on the same directory and targets must be refused by Snakemake's lock
(which covers the files a run reads and writes: runs with disjoint targets may overlap).
"""

from __future__ import annotations

import os
import re
import shutil
import signal
from pathlib import Path

import pytest

from tests import grid
from tests.workflow import snakemake

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def prepared(tmp_path_factory) -> Path:
    """The small grid with its dataset prepared, copied by every run below."""
    wf = grid.small_grid(tmp_path_factory.mktemp("resume") / "prepared")
    snakemake(wf, "datasets")
    return wf


def _clone(prepared: Path, dest: Path) -> Path:
    # Without .snakemake/: no metadata, no lock; the prepared dataset is up to date.
    shutil.copytree(prepared, dest, ignore=shutil.ignore_patterns(".snakemake"))
    return dest


def _target(wf: Path) -> str:
    """The metrics of the model to kill: its training and evaluation jobs."""
    return str(grid.metrics(wf, grid.KILLED).relative_to(wf))


@pytest.fixture(scope="module")
def reference(prepared, tmp_path_factory):
    """An uninterrupted run of the TRADES model, and a second run started on it meanwhile."""
    wf = _clone(prepared, tmp_path_factory.mktemp("resume") / "reference")
    target = _target(wf)
    with grid.start_snakemake(wf, target) as first:
        locks = wf / ".snakemake/locks"
        grid.wait_until(lambda: locks.is_dir() and any(locks.iterdir()), first, "the lock")
        second = snakemake(wf, target, check=False)
        assert first.wait(timeout=600) == 0, first.output()
    return wf, second


def test_second_run_on_a_locked_directory_fails_and_first_completes(reference):
    wf, second = reference
    assert second.returncode != 0
    assert "Directory cannot be locked" in second.stdout + second.stderr
    assert grid.results_of(grid.metrics(wf, grid.KILLED))["test_acc"] > 50
    assert not (wf / ".snakemake/locks").exists() or not any((wf / ".snakemake/locks").iterdir())


def test_sigkilled_training_job_resumes_to_bitwise_identical_model(prepared, reference, tmp_path):
    wf = _clone(prepared, tmp_path / "wf")
    target = _target(wf)
    with grid.start_snakemake(wf, "--retries", "0", target) as killed:
        epoch = grid.wait_for_checkpoint(grid.checkpoint(wf), killed)
        jobs = [p for p in grid.descendants(killed.pid) if "train_model.py" in grid.cmdline(p)]
        assert len(jobs) == 1, [grid.cmdline(p) for p in grid.descendants(killed.pid)]
        os.kill(jobs[0], signal.SIGKILL)
        assert killed.wait(timeout=120) != 0
    assert not grid.model(wf).exists(), "the job finished before it could be killed"
    left = grid.checkpoint_epoch(grid.checkpoint(wf))
    assert epoch <= left < grid.EPOCHS

    snakemake(wf, target)
    assert re.search(rf"resuming from \S+ \(epoch {left} done[,)]", grid.train_log(wf))
    assert not grid.checkpoint(wf).exists()
    ref_wf, _ = reference
    grid.assert_same_results(ref_wf, wf, methods=[grid.KILLED])
