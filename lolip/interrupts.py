"""SIGINT and SIGTERM as a request to stop at a safe point.

A job may be interrupted: Ctrl-C, ``kill``, Snakemake forwarding its own interrupt
(:mod:`lolip.snakemake_hooks`), or SLURM at a time limit or pre-emption, which sends SIGTERM
some seconds before SIGKILL. Long loops that can save their state (training, evaluation
chunks) run inside :class:`StopRequest`: a signal then only sets a flag, the loop saves
what it has at the end of its current step and raises :class:`Interrupted`, and the job
exits with ``128 + signal`` within seconds. The rerun resumes from what was saved.

Outside such loops a job treats SIGTERM like SIGINT (:func:`terminate_as_interrupt`), so
``finally`` blocks still run and no temporary file is left behind.
"""

from __future__ import annotations

import signal
import time
from types import FrameType, TracebackType

SIGNALS = (signal.SIGINT, signal.SIGTERM)
# The same interrupt can arrive twice (a terminal's Ctrl-C reaches the job, and Snakemake
# forwards its own copy): repeats within this many seconds are one request.
REPEAT_WINDOW = 2.0


class Interrupted(Exception):
    """The run stopped at a safe point on a signal; its state is saved."""

    def __init__(self, signum: int) -> None:
        super().__init__(f"interrupted by {signal.Signals(signum).name}; state saved")
        self.signum = signum

    @property
    def exit_code(self) -> int:
        return 128 + self.signum


class StopRequest:
    """Within the block, SIGINT and SIGTERM ask the loop to stop (:attr:`requested`).

    A second signal more than :data:`REPEAT_WINDOW` seconds after the first raises
    KeyboardInterrupt at once, for a user who does not want to wait.
    """

    def __init__(self) -> None:
        self.signum: int | None = None
        self._first = 0.0
        self._saved: dict[int, object] = {}

    @property
    def requested(self) -> bool:
        return self.signum is not None

    def raise_if_requested(self) -> None:
        if self.signum is not None:
            raise Interrupted(self.signum)

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        now = time.monotonic()
        if self.signum is not None and now - self._first > REPEAT_WINDOW:
            raise KeyboardInterrupt
        if self.signum is None:
            self.signum, self._first = signum, now

    def __enter__(self) -> StopRequest:
        self._saved = {s: signal.signal(s, self._handle) for s in SIGNALS}
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        for s, handler in self._saved.items():
            signal.signal(s, handler)


def _raise_interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt(signal.Signals(signum).name)


def terminate_as_interrupt() -> None:
    """From now on SIGTERM raises KeyboardInterrupt, as SIGINT does."""
    signal.signal(signal.SIGTERM, _raise_interrupt)
