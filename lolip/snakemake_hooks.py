"""The workflow's ``onstart`` and ``onsuccess`` hooks, on the Snakemake process itself.

``onstart`` (:func:`on_start`), once the scheduler exists:

- :func:`forward_interrupts`: the first SIGINT or SIGTERM to Snakemake is forwarded to the
  running jobs, which save their state and exit within seconds (:mod:`lolip.interrupts`),
  and Snakemake then exits gracefully: it waits for them and records every job that
  finished, so a finished job keeps its output. Snakemake alone would otherwise either wait
  for every job to run to its end (SIGTERM) or stop recording finished jobs (SIGINT). A
  second signal, later than the repeat window, is handled as Snakemake would.
- :func:`no_retry_on_permanent`: a job that failed for a reason a retry cannot cure (it
  wrote ``<log>.permanent``, see :mod:`lolip.jobs`) is failed at once; retries stay for
  resource failures (memory, time, pre-emption).

``onsuccess`` (:func:`on_success`): :func:`remove_finished_scratch` deletes the resumable
state (``<output>.partial/``: training checkpoints, evaluation chunks) of outputs that are
complete, kept until then so that an interrupted run loses no finished work.

Snakemake offers no public hook for retries or signals; both wrap its scheduler (the
``exit_gracefully`` method and the private ``_handle_error``), and a test checks that they
exist in the Snakemake this project is tested with.
"""

from __future__ import annotations

import logging
import os
import shutil
import signal
import sys
import time
from pathlib import Path
from types import FrameType
from typing import Any

from lolip.interrupts import REPEAT_WINDOW, SIGNALS
from lolip.jobs import permanent_marker

log = logging.getLogger("snakemake.logging")

SCRATCH_SUFFIX = ".partial"
# A job's process runs the script Snakemake writes for it there.
SCRIPT_DIR = os.path.join(".snakemake", "scripts")


def reporting() -> bool:
    """Whether this Snakemake only writes the report (``--report``, not after a run)."""
    return "--report" in sys.argv and "--report-after-run" not in sys.argv


def put_on_pythonpath(directory: str) -> None:
    """Prepend ``directory`` to the ``PYTHONPATH`` every job inherits (locally or on SLURM)."""
    parts = [directory, *filter(None, os.environ.get("PYTHONPATH", "").split(os.pathsep))]
    os.environ["PYTHONPATH"] = os.pathsep.join(dict.fromkeys(parts))


def on_start(workflow: Any) -> None:
    forward_interrupts(workflow.scheduler)
    no_retry_on_permanent(workflow.scheduler)


def on_success(results: str | os.PathLike = "results") -> None:
    remove_finished_scratch(results)


def job_processes() -> list[Any]:
    """The processes below this one that run a job's script."""
    import psutil

    found = []
    for child in psutil.Process().children(recursive=True):
        try:
            if any(SCRIPT_DIR in part for part in child.cmdline()):
                found.append(child)
        except psutil.Error:
            continue
    return found


def forward_interrupts(scheduler: Any) -> None:
    """Handle SIGINT and SIGTERM: forward to the jobs, then exit gracefully (see above)."""
    previous = {s: signal.getsignal(s) for s in SIGNALS}
    first: dict[str, float] = {}

    def handle(signum: int, frame: FrameType | None) -> None:
        now = time.monotonic()
        if first and now - first["at"] > REPEAT_WINDOW:
            handler = previous[signum]
            if callable(handler):
                handler(signum, frame)
            return
        if first:
            return
        first["at"] = now
        jobs = job_processes()
        for process in jobs:
            process.send_signal(signum)
        log.warning(
            "%s: passed on to %d running job(s), which save their state; exiting once they "
            "have (send it again to stop at once)",
            signal.Signals(signum).name,
            len(jobs),
        )
        scheduler.exit_gracefully()

    for s in SIGNALS:
        signal.signal(s, handle)


def no_retry_on_permanent(scheduler: Any) -> None:
    """Fail, without retrying, every job that marked its failure as permanent."""
    handle_error = scheduler._handle_error

    def handle(job: Any, *args: Any, **kwargs: Any) -> Any:
        for log_file in getattr(job, "log", []):
            marker = permanent_marker(log_file)
            if marker.exists() and job.attempt <= job.restart_times:
                log.error(
                    "not retrying %s: it failed for a reason a retry cannot cure: %s",
                    job,
                    marker.read_text().strip(),
                )
                job.attempt = job.restart_times + 1
        return handle_error(job, *args, **kwargs)

    scheduler._handle_error = handle


def remove_finished_scratch(results: str | os.PathLike) -> list[Path]:
    """Delete every ``<output>.partial/`` under ``results`` whose output exists and is newer."""
    removed = []
    for scratch in Path(results).rglob(f"*{SCRATCH_SUFFIX}"):
        output = scratch.with_name(scratch.name.removesuffix(SCRATCH_SUFFIX))
        if scratch.is_dir() and output.exists():
            newest = max((p.stat().st_mtime for p in scratch.rglob("*")), default=0.0)
            if output.stat().st_mtime >= newest:
                shutil.rmtree(scratch)
                removed.append(scratch)
    return removed
