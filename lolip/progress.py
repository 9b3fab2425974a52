"""Progress reports with rate and ETA for long jobs (training, attacks, separation)."""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterable, Iterator
from typing import TypeVar

from tqdm import tqdm

T = TypeVar("T")

log = logging.getLogger("lolip")


def setup_logging(logfile: str | None = None, level: int = logging.INFO) -> None:
    """Send ``lolip`` log records and progress bars to ``logfile`` (a rule's ``log:``).

    Without a file they go to stderr. With one, stderr itself is redirected there, so
    warnings and tracebacks of the job end up in the rule's log too, and warnings are
    also shown on the console (the stderr the job was started with: Snakemake's).
    """
    console = sys.stderr
    if logfile:
        sys.stderr = open(logfile, "a", buffering=1)  # noqa: SIM115 - lives for the job
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
    root = logging.getLogger("lolip")
    root.handlers[:] = [handler]
    if logfile:
        warnings = logging.StreamHandler(console)
        warnings.setLevel(logging.WARNING)
        warnings.setFormatter(logging.Formatter(f"lolip ({logfile}): %(levelname)s %(message)s"))
        root.addHandler(warnings)
    root.setLevel(level)


def progress(
    iterable: Iterable[T], desc: str, total: int | None = None, unit: str = "it"
) -> Iterator[T]:
    """Iterate with a tqdm bar (rate, elapsed, ETA) written to stderr.

    Snakemake rules redirect stderr to the rule's log file, so the bar's updates
    (at most every 5 s) land in the log.
    """
    return iter(
        tqdm(
            iterable,
            desc=desc,
            total=total,
            unit=unit,
            mininterval=5.0,
            file=sys.stderr,
            dynamic_ncols=False,
            ncols=100,
        )
    )
