"""What every workflow job does around its one step.

:func:`job` wraps the call a thin ``workflow_scripts/`` script makes: it sends the job's
log records and stderr to the rule's ``log:`` file (warnings also to the console), makes
SIGTERM an interrupt (:mod:`lolip.interrupts`), claims a GPU of its own if the rule
declares ``gpu > 0`` (:func:`lolip.devices.claim_gpu`), sets torch's thread count to the
rule's ``threads``, and sorts failures into two kinds:

- *resource* failures (out of memory, a time limit, pre-emption, an interrupt), which a
  retry with more memory or time can cure: Snakemake retries them (``retries:``);
- every other error (a corrupt input file, a soundness check, a non-finite loss, a bug):
  deterministic, so retrying wastes the attempt. The job writes ``<log>.permanent`` with
  the error, and the workflow's hook (:func:`lolip.snakemake_hooks.no_retry_on_permanent`)
  fails it at once instead of retrying it.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from lolip.interrupts import Interrupted, terminate_as_interrupt
from lolip.progress import setup_logging

log = logging.getLogger("lolip")

PERMANENT_SUFFIX = ".permanent"
# Failures that more memory or another node can cure (CUDA's is torch.OutOfMemoryError).
RESOURCE_ERRORS = ("MemoryError", "OutOfMemoryError", "KeyboardInterrupt")


def permanent_marker(log_file: str | Path) -> Path:
    """The file whose existence tells the workflow not to retry the job of ``log_file``."""
    return Path(f"{log_file}{PERMANENT_SUFFIX}")


def is_resource_failure(err: BaseException) -> bool:
    return type(err).__name__ in RESOURCE_ERRORS or isinstance(err, Interrupted | SystemExit)


@contextlib.contextmanager
def job(snakemake: Any, *, torch_threads: bool = True) -> Iterator[None]:
    """Run the block as the job ``snakemake`` (the object Snakemake gives a script)."""
    marker = permanent_marker(snakemake.log[0])
    marker.unlink(missing_ok=True)
    setup_logging(snakemake.log[0])
    terminate_as_interrupt()
    gpus = snakemake.resources.get("gpu")
    if gpus:
        # Before anything initialises CUDA; outside the try: a job that found no free GPU
        # is retried.
        from lolip.devices import claim_gpu

        claim_gpu(label=snakemake.log[0])
    elif gpus == 0:
        # A job that declares no GPU computes on the CPU, not on a GPU another job claimed.
        os.environ["CUDA_VISIBLE_DEVICES"] = ""
    if torch_threads:
        import torch

        torch.set_num_threads(snakemake.threads)
    try:
        yield
    except Interrupted as err:
        log.warning("%s: the rerun resumes from the saved state", err)
        sys.exit(err.exit_code)
    except BaseException as err:
        if not is_resource_failure(err):
            marker.write_text(f"{type(err).__name__}: {err}\n")
        raise
