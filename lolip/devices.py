"""Which device a job computes on, and which GPU it may use when several jobs share GPUs.

:func:`default_device` is ``$LOLIP_DEVICE``, else CUDA when available, else the CPU.

:func:`claim_gpu` gives a job a GPU of its own. A workflow job that declares ``gpu > 0``
(:func:`lolip.jobs.job`) calls it before anything initialises CUDA. It tries
``fcntl.flock(LOCK_EX | LOCK_NB)`` on ``<lock dir>/gpu<id>.lock`` for each visible GPU in
turn, keeps the first lock it gets for the rest of the process and sets
``CUDA_VISIBLE_DEVICES`` to that GPU's id, so the job sees one GPU, as ``cuda:0``. The
kernel drops the lock when the process ends, however it ends (a crash, SIGKILL), so no GPU
stays claimed by a job that is gone. With every GPU claimed the job waits (up to
``$LOLIP_GPU_WAIT`` seconds, default 3600), then raises :class:`NoFreeGPU`. So
``snakemake --resources gpu=N`` runs up to N GPU jobs at once, each on its own GPU.

The visible GPUs are the entries of ``$CUDA_VISIBLE_DEVICES`` if set (as SLURM sets it
for its allocation: one GPU allocated, one visible), else ``0 .. n-1``; ``n`` is
``torch.cuda.device_count()``, asked in a child process (0 without asking on a machine
without the NVIDIA driver's device nodes). CUDA reads
``CUDA_VISIBLE_DEVICES`` once, when it initialises, and in this process nothing may
initialise it first: ``torch.cuda.is_available()`` does (it calls ``cudaGetDeviceCount``),
and ``torch.cuda.device_count()`` does too whenever it cannot count through NVML (no
``libnvidia-ml``, MIG ids in ``CUDA_VISIBLE_DEVICES``). Importing torch does not
(``tests/unit/test_devices.py`` checks that importing the job modules calls neither). A lock
is named by the GPU's id, not its position, so two Snakemakes given different
``CUDA_VISIBLE_DEVICES`` share only the GPUs they share.

The lock directory is ``$LOLIP_GPU_LOCK_DIR``, else ``<temp dir>/lolip-gpu-<uid>`` (one
per user; inside a SLURM job a subdirectory per job, since SLURM may number each job's
GPUs from 0). Processes that share GPUs must share it: users who share GPUs set it to one
directory all of them can write. Each lock file holds its holder (pid, host, job, time).

``$LOLIP_SIMULATED_GPUS=N`` is for tests only: N GPUs are taken to exist (no child process
asks CUDA), claiming works as above and sets ``CUDA_VISIBLE_DEVICES``, and on a machine
without CUDA the job still computes on the CPU.
"""

from __future__ import annotations

import fcntl
import logging
import os
import re
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import torch

log = logging.getLogger("lolip")

LOCK_DIR_ENV = "LOLIP_GPU_LOCK_DIR"
WAIT_ENV = "LOLIP_GPU_WAIT"
SIMULATED_ENV = "LOLIP_SIMULATED_GPUS"
DEFAULT_WAIT_S = 3600.0
# CUDA on Linux reaches the NVIDIA driver through these device nodes (/dev/dxg under WSL):
# without any of them no GPU can be visible, and asking CUDA costs a child process.
DRIVER_NODES = (Path("/dev/nvidiactl"), Path("/dev/dxg"))
# The open lock file of this process's claim: the lock lasts as long as it stays open.
_held: list[tuple[IO[str], Claim]] = []


class NoFreeGPU(RuntimeError):
    """Every visible GPU stayed claimed by other processes for the whole wait."""


@dataclass(frozen=True)
class Claim:
    """The GPU a process claimed: its id (now ``CUDA_VISIBLE_DEVICES``), its position among
    the GPUs visible before the claim, and the lock file held."""

    device: str
    index: int
    lock: Path


def default_device() -> torch.device:
    """``$LOLIP_DEVICE`` if set, else CUDA when available, else the CPU."""
    name = os.environ.get("LOLIP_DEVICE") or ("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


def _listed_devices() -> list[str] | None:
    """The entries of ``$CUDA_VISIBLE_DEVICES`` (None if unset); as CUDA, up to the first
    empty or negative one."""
    value = os.environ.get("CUDA_VISIBLE_DEVICES")
    if value is None:
        return None
    entries = []
    for entry in (e.strip() for e in value.split(",")):
        if not entry or entry.startswith("-"):
            break
        entries.append(entry)
    return entries


def _env_number(name: str, default: float, kind: type = float) -> float:
    value = os.environ.get(name)
    try:
        number = default if value in (None, "") else kind(value)
    except ValueError:
        number = -1
    if number < 0:
        raise ValueError(f"${name} must be a non-negative {kind.__name__}, got {value!r}")
    return number


def device_count() -> int:
    """How many GPUs CUDA will show this process, without initialising CUDA here."""
    if os.environ.get(SIMULATED_ENV):
        return int(_env_number(SIMULATED_ENV, 0, int))
    if not torch.backends.cuda.is_built() or not any(node.exists() for node in DRIVER_NODES):
        return 0
    child = subprocess.run(
        [sys.executable, "-c", "import torch; print(torch.cuda.device_count())"],
        capture_output=True,
        text=True,
    )
    try:
        return int(child.stdout.strip().splitlines()[-1])
    except (IndexError, ValueError):
        log.warning("could not count the GPUs (%s): taking none", child.stderr.strip()[-500:])
        return 0


def visible_gpus() -> list[str]:
    """The ids of the GPUs this process may claim, in CUDA's order."""
    count = device_count()
    listed = _listed_devices()
    return (listed if listed is not None else [str(i) for i in range(count)])[:count]


def default_lock_dir() -> Path:
    directory = Path(tempfile.gettempdir()) / f"lolip-gpu-{os.getuid()}"
    if os.environ.get("SLURM_JOB_ID"):
        directory = directory / f"slurm-job{os.environ['SLURM_JOB_ID']}"
    return directory


def _lock_path(directory: Path, device: str) -> Path:
    return directory / f"gpu{re.sub(r'[^A-Za-z0-9._-]', '_', device)}.lock"


def _try_lock(path: Path, holder: str) -> IO[str] | None:
    """The open, exclusively locked ``path`` with ``holder`` written in it; None if taken."""
    handle = open(path, "a+")  # noqa: SIM115 - stays open: the lock lives as long as it
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.close()
        return None
    handle.truncate(0)
    handle.write(holder + "\n")
    handle.flush()
    return handle


def _holders(paths: list[Path]) -> str:
    return "; ".join(f"{p.name}: {p.read_text().strip() or '?'}" for p in paths if p.exists())


def claim_gpu(
    label: str = "", *, lock_dir: str | os.PathLike | None = None, timeout: float | None = None
) -> Claim | None:
    """Claim a free visible GPU for the life of this process (None if no GPU is visible).

    ``label`` names the claimant in the lock file (a job's log file); ``lock_dir`` defaults
    to ``$LOLIP_GPU_LOCK_DIR`` or :func:`default_lock_dir`; ``timeout`` (seconds) to
    ``$LOLIP_GPU_WAIT`` or an hour. A second call returns the first call's claim.
    """
    if _held:
        return _held[0][1]
    if torch.cuda.is_initialized():
        raise RuntimeError(
            "claim_gpu() must run before CUDA is initialised: CUDA has read "
            f"CUDA_VISIBLE_DEVICES={os.environ.get('CUDA_VISIBLE_DEVICES')!r} already"
        )
    devices = visible_gpus()
    if not devices:
        log.info("no GPU visible: nothing to claim")
        return None
    directory = Path(lock_dir or os.environ.get(LOCK_DIR_ENV) or default_lock_dir())
    directory.mkdir(parents=True, exist_ok=True)
    timeout = _env_number(WAIT_ENV, DEFAULT_WAIT_S) if timeout is None else timeout
    paths = [_lock_path(directory, device) for device in devices]
    holder = f"pid {os.getpid()} on {socket.gethostname()}, {label or 'no label'}"
    deadline = time.monotonic() + timeout
    waiting = False
    while True:
        for index, (device, path) in enumerate(zip(devices, paths, strict=True)):
            handle = _try_lock(path, f"{holder}, since {time.strftime('%Y-%m-%d %H:%M:%S')}")
            if handle is not None:
                claim = Claim(device, index, path)
                _held.append((handle, claim))
                os.environ["CUDA_VISIBLE_DEVICES"] = device
                log.info(
                    "claimed GPU %s (index %d of the visible %s; lock %s): CUDA_VISIBLE_DEVICES=%s",
                    device,
                    index,
                    ",".join(devices),
                    path,
                    device,
                )
                return claim
        if time.monotonic() >= deadline:
            raise NoFreeGPU(
                f"no free GPU after {timeout:.0f} s: all {len(devices)} visible "
                f"({','.join(devices)}) are claimed in {directory} ({_holders(paths)}); "
                f"run fewer GPU jobs (--resources gpu=N) or wait longer (${WAIT_ENV})"
            )
        if not waiting:
            log.warning(
                "all %d visible GPUs are claimed (%s); waiting up to %.0f s for one",
                len(devices),
                _holders(paths),
                timeout,
            )
            waiting = True
        time.sleep(min(0.5, max(0.0, deadline - time.monotonic())))
