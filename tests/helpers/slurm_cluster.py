"""A throwaway single-node SLURM cluster on loopback, for the tests.

:func:`ensure_installed` installs Debian's ``slurm-wlm`` and ``munge`` where they are
missing (root and a reachable package registry needed; otherwise :class:`SlurmUnavailable`
says why). :meth:`SlurmCluster.start` writes a self-contained configuration under a
directory: its own munge key and socket, a ``slurm.conf`` for this one node with the
machine's real CPUs and memory (``slurmd -C``), ``select/cons_tres`` with cores and memory
as consumable resources, ``proctrack/linuxproc`` (no cgroups needed), no accounting
database, free loopback ports. It starts munged, slurmctld and slurmd as child processes
and waits until ``sinfo`` shows the node idle.

The configuration is written to ``/etc/slurm/slurm.conf``, the path every SLURM program
reads by default: snakemake's jobstep executor removes ``SLURM_*`` variables such as
``SLURM_CONF`` before its inner ``srun``. A ``slurm.conf`` there that this module did not
write (a real cluster's) is never touched: the cluster is then unavailable.
:meth:`SlurmCluster.stop` cancels the jobs, stops the daemons, ends every process still
carrying the cluster's marker variable (job steps) and removes the file, so nothing
outlives the test session.
"""

from __future__ import annotations

import fcntl
import os
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from tests.helpers.apt import apt_install

PACKAGES = ("slurm-wlm", "munge")
SLURM_CONF = Path("/etc/slurm/slurm.conf")
# First line of the slurm.conf written here; any other slurm.conf is not ours to replace.
CONF_MARKER = "# lolip test cluster (tests/helpers/slurm_cluster.py); removed when the tests end"
# Set in the environment of the daemons and of every client and job of the cluster.
ENV_MARKER = "LOLIP_TEST_SLURM"
LOCK = Path(tempfile.gettempdir()) / "lolip-test-slurm.lock"
BINARIES = ("munged", "slurmctld", "slurmd", "sbatch", "squeue", "scancel", "sinfo", "scontrol")


class SlurmUnavailable(RuntimeError):
    """This machine cannot run the test cluster; the message says why."""


def missing_binaries() -> list[str]:
    return [b for b in BINARIES if shutil.which(b) is None]


def ensure_installed(timeout: float = 600) -> None:
    """Install ``slurm-wlm`` and ``munge`` with apt if any of their programs is missing."""
    if not missing_binaries():
        return
    apt_install(
        PACKAGES,
        missing=f"SLURM is not installed ({', '.join(missing_binaries())} missing)",
        error=SlurmUnavailable,
        timeout=timeout,
        options=["--no-install-recommends"],
    )
    if missing_binaries():
        raise SlurmUnavailable(f"installed {PACKAGES} but {missing_binaries()} still missing")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _node_line() -> str:
    """This machine as slurmd sees it: ``NodeName=... CPUs=... RealMemory=...``."""
    out = subprocess.run(["slurmd", "-C"], capture_output=True, text=True, check=True).stdout
    line = next(line for line in out.splitlines() if line.startswith("NodeName="))
    return f"{line} NodeAddr=127.0.0.1 State=UNKNOWN"


def _slurm_conf(root: Path, node_line: str) -> str:
    host = socket.gethostname().split(".")[0]
    return f"""\
{CONF_MARKER}
ClusterName=lolip-test
SlurmctldHost={host}(127.0.0.1)
SlurmctldPort={_free_port()}
SlurmdPort={_free_port()}
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
AuthInfo=socket={root}/munge/munge.socket
CredType=cred/munge
StateSaveLocation={root}/state
SlurmdSpoolDir={root}/spool
SlurmctldPidFile={root}/slurmctld.pid
SlurmdPidFile={root}/slurmd.pid
SlurmctldLogFile={root}/log/slurmctld.log
SlurmdLogFile={root}/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
SchedulerType=sched/backfill
MpiDefault=none
ReturnToService=2
# squeue reports finished jobs for this long: the executor plugin polls job states with it.
MinJobAge=600
KillWait=5
InactiveLimit=0
{node_line}
PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP
"""


@dataclass
class SlurmCluster:
    root: Path
    conf: Path = SLURM_CONF
    procs: dict[str, subprocess.Popen] = field(default_factory=dict)
    _wrote_conf: bool = False
    _lock: IO[str] | None = None

    @property
    def env(self) -> dict[str, str]:
        """Environment for clients (sbatch, squeue, snakemake) of this cluster."""
        return {**os.environ, "SLURM_CONF": str(self.conf), ENV_MARKER: str(self.root)}

    @classmethod
    def start(cls, root: Path, timeout: float = 60) -> SlurmCluster:
        cluster = cls(Path(root))
        try:
            cluster._start(timeout)
        except BaseException:
            cluster.stop()
            raise
        return cluster

    def _start(self, timeout: float) -> None:
        if os.geteuid() != 0:
            raise SlurmUnavailable(
                f"the test cluster runs its daemons as root and writes {self.conf}, "
                f"but this is euid {os.geteuid()}"
            )
        for sub in ("munge", "state", "spool", "log"):
            (self.root / sub).mkdir(parents=True, exist_ok=True)
        munge = self.root / "munge"
        munge.chmod(0o711)  # clients must reach the socket; only root reads the key
        key = munge / "munge.key"
        key.write_bytes(secrets.token_bytes(1024))
        key.chmod(0o400)
        self._lock_machine(timeout=600)
        if self.conf.exists() and not self.conf.read_text().startswith(CONF_MARKER):
            raise SlurmUnavailable(f"{self.conf} belongs to a real cluster: not replacing it")
        self.conf.parent.mkdir(parents=True, exist_ok=True)
        self.conf.write_text(_slurm_conf(self.root, _node_line()))
        self._wrote_conf = True
        munged = ["munged", "--foreground", "--force", f"--key-file={key}"]
        munged += [f"--socket={munge}/munge.socket", f"--pid-file={munge}/munged.pid"]
        munged += [f"--log-file={self.root}/log/munged.log", f"--seed-file={munge}/munged.seed"]
        self._spawn("munged", munged)
        self._wait(lambda: (munge / "munge.socket").exists(), timeout, "munged socket")
        self._spawn("slurmctld", ["slurmctld", "-D", "-f", str(self.conf)])
        self._wait(lambda: self._query(["scontrol", "ping"]).endswith("is UP"), timeout, "ctld")
        self._spawn("slurmd", ["slurmd", "-D", "-f", str(self.conf)])
        self._wait(lambda: self.node_state() == "idle", timeout, "node idle in sinfo")

    def _lock_machine(self, timeout: float) -> None:
        """One test cluster per machine: wait for another test session's to end."""
        self._lock = open(LOCK, "w")  # noqa: SIM115 - held until stop()
        deadline = time.monotonic() + timeout
        while True:
            try:
                fcntl.flock(self._lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise SlurmUnavailable(
                        f"another test session kept the test cluster ({LOCK}) for {timeout:.0f}s"
                    ) from None
                time.sleep(1)

    def _spawn(self, name: str, cmd: list[str]) -> None:
        log = open(self.root / "log" / f"{name}.out", "w")  # noqa: SIM115 - the daemon's
        self.procs[name] = subprocess.Popen(
            cmd, stdout=log, stderr=subprocess.STDOUT, env=self.env, start_new_session=True
        )
        log.close()

    def _query(self, cmd: list[str]) -> str:
        proc = subprocess.run(cmd, capture_output=True, text=True, env=self.env, timeout=30)
        return proc.stdout.strip()

    def _wait(self, ready, timeout: float, what: str) -> None:
        deadline = time.monotonic() + timeout
        while not ready():
            dead = {n: p.returncode for n, p in self.procs.items() if p.poll() is not None}
            if dead or time.monotonic() > deadline:
                raise RuntimeError(
                    f"test SLURM cluster: no {what} after {timeout:.0f}s "
                    f"(exited daemons: {dead or 'none'})\n{self.logs()}"
                )
            time.sleep(0.2)

    def node_state(self) -> str:
        return self._query(["sinfo", "--noheader", "--Node", "--format=%T"])

    def squeue(self, fmt: str) -> list[list[str]]:
        """Every job the controller still knows (running or finished), one field list each."""
        out = self._query(["squeue", "--states=all", "--noheader", f"--format={fmt}"])
        return [line.split("|") for line in out.splitlines() if line]

    def scancel(self, job_id: str) -> None:
        subprocess.run(["scancel", job_id], check=True, env=self.env, timeout=30)

    def logs(self, tail: int = 2000) -> str:
        parts = []
        for path in sorted((self.root / "log").glob("*")):
            parts.append(f"--- {path.name}\n{path.read_text(errors='replace')[-tail:]}")
        return "\n".join(parts)

    def stop(self) -> None:
        """Cancel every job, stop the daemons and kill leftovers of this cluster's jobs."""
        if "slurmctld" in self.procs and self.procs["slurmctld"].poll() is None:
            subprocess.run(
                ["scancel", "--full", "--user", "root"], env=self.env, capture_output=True
            )
            deadline = time.monotonic() + 15
            while self._query(["squeue", "--noheader"]) and time.monotonic() < deadline:
                time.sleep(0.5)
        for name in ("slurmd", "slurmctld", "munged"):
            proc = self.procs.get(name)
            if proc is None or proc.poll() is not None:
                continue
            proc.terminate()
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        self._kill_leftovers()
        if self._wrote_conf:
            self.conf.unlink(missing_ok=True)
        if self._lock is not None:
            self._lock.close()  # releases the flock

    def _kill_leftovers(self) -> None:
        """Job steps and their children: the processes whose environment has our marker."""
        marker = f"{ENV_MARKER}={self.root}".encode()
        for proc_dir in Path("/proc").glob("[0-9]*"):
            pid = int(proc_dir.name)
            if pid == os.getpid():
                continue
            try:
                environ = (proc_dir / "environ").read_bytes().split(b"\0")
            except OSError:
                continue
            if marker in environ:
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
