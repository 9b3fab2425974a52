"""Whole training jobs under Snakemake: SIGKILL and rerun, and the directory lock.

An uninterrupted run of the TRADES model of tests/helpers/grid.py is the reference; while it runs, a
second Snakemake on the same directory and targets must be refused by Snakemake's lock
(which covers the files a run reads and writes: runs with disjoint targets may overlap).
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import stat
import time
from pathlib import Path

import pytest

from lolip.model_file import load_model
from lolip.training.checkpoint import load_checkpoint
from tests.helpers import grid
from tests.helpers.workflow import edit_config, job_counts, snakemake

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


def _job_pid(run: grid.Run) -> int:
    """The training job's own process (the Python that runs the job's script)."""
    jobs = [
        p
        for p in grid.descendants(run.pid)
        if "train_model.py" in grid.cmdline(p) and "python" in grid.cmdline(p)
    ]
    assert len(jobs) == 1, [grid.cmdline(p) for p in grid.descendants(run.pid)]
    return jobs[0]


def _targets(wf: Path) -> list[str]:
    return [str(grid.model(wf, m).relative_to(wf)) for m in grid.METHODS]


@pytest.mark.parametrize(
    ("signum", "to"),
    [
        (signal.SIGINT, "snakemake"),
        (signal.SIGTERM, "snakemake"),
        (signal.SIGINT, "job"),
        (signal.SIGTERM, "job"),
    ],
)
def test_an_interrupt_saves_the_job_and_keeps_finished_output(
    prepared, reference, tmp_path, signum, to
):
    """SIGINT or SIGTERM to Snakemake (forwarded) or to the training job itself: the job
    saves a mid-epoch checkpoint and exits within seconds, the finished model keeps its
    output, and the rerun resumes to the bits of an uninterrupted run."""
    wf = _clone(prepared, tmp_path / "wf")
    finished = grid.model(wf, "natural")
    # One core runs one job at a time, in an order that varies from run to run (Python's
    # hash seed) unless the natural model is given priority: it must be done, and TRADES
    # running, when the signal comes.
    first = ("--prioritize", str(finished.relative_to(wf)))  # last: it takes every word after it
    with grid.start_snakemake(wf, *_targets(wf), "--cores", "1", "--retries", "0", *first) as run:
        grid.wait_until(
            lambda: finished.exists() and grid.checkpoint_epoch(grid.checkpoint(wf)) >= 1,
            run,
            "the natural model and a TRADES checkpoint",
        )
        os.kill(run.pid if to == "snakemake" else _job_pid(run), signum)
        sent = time.monotonic()
        code = run.wait(timeout=120)
        assert time.monotonic() - sent < 30, "Snakemake took more than seconds to stop"
    assert code != 0
    assert not grid.model(wf).exists(), "the TRADES job finished before the signal"
    state = load_checkpoint(grid.checkpoint(wf))
    assert state["batch"] > 0, "no mid-epoch checkpoint"
    assert finished.exists()
    counts = job_counts(snakemake(wf, "-n", *_targets(wf)).stdout)
    assert counts.get("train_model") == 1, "the finished model would be retrained"

    snakemake(wf, *_targets(wf))
    log = grid.train_log(wf)
    assert re.search(
        rf"resuming from \S+ \(epoch {state['epoch']} done, {state['batch']} batches", log
    )
    ref_wf, _ = reference
    grid.assert_same_model(grid.model(ref_wf), grid.model(wf))


def test_a_changed_config_trains_from_scratch_not_from_the_old_checkpoint(prepared, tmp_path):
    """Interrupt TRADES(1) at epoch 1, change it to TRADES(2) with 4 epochs and another lr:
    the rerun discards the old checkpoint, saying so, and ends with bitwise the weights of
    an uninterrupted run under the new config."""

    def new_config(wf: Path) -> None:
        def edit(c):
            c["methods"]["trades1"]["beta"] = 2.0
            c["datasets"]["digits"]["training"].update(epochs=4, lr=0.0005)

        edit_config(wf / "config/config.yaml", edit)

    fresh = _clone(prepared, tmp_path / "fresh")
    new_config(fresh)
    snakemake(fresh, str(grid.model(fresh).relative_to(fresh)))

    wf = _clone(prepared, tmp_path / "wf")
    target = str(grid.model(wf).relative_to(wf))
    with grid.start_snakemake(wf, "--retries", "0", target) as killed:
        grid.wait_for_checkpoint(grid.checkpoint(wf), killed)
        os.kill(_job_pid(killed), signal.SIGKILL)
        killed.wait(timeout=120)
    assert grid.checkpoint(wf).exists() and not grid.model(wf).exists()
    new_config(wf)
    proc = snakemake(wf, target)
    log = grid.train_log(wf)
    assert "written under other settings" in log and "from scratch" in log
    assert "written under other settings" in proc.stdout + proc.stderr  # on the console too
    grid.assert_same_model(grid.model(fresh), grid.model(wf))
    history = load_model(grid.model(wf)).lolip_metadata["history"]
    assert [h["epoch"] for h in history] == [1, 2, 3, 4]


def test_results_are_readable_by_others_under_the_usual_umask(prepared, tmp_path):
    wf = _clone(prepared, tmp_path / "wf")
    old = os.umask(0o022)
    try:
        snakemake(wf, str(grid.model(wf, "natural").relative_to(wf)))
    finally:
        os.umask(old)
    for path in (grid.model(wf, "natural"), wf / "results/datasets/digits.h5"):
        assert stat.S_IMODE(path.stat().st_mode) == 0o644, path
