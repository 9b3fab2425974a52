"""GPU claims (lolip.devices.claim_gpu): one GPU per job, through lock files, on a CPU
machine with a simulated GPU count."""

from __future__ import annotations

import fcntl
import os
import select
import signal
import subprocess
import sys

import pytest

from lolip import devices
from tests.helpers.workflow import ROOT

# A process that claims a GPU, prints its id and holds the claim until stdin closes.
HOLDER = """
import sys
from lolip.devices import claim_gpu
claim = claim_gpu("test holder", timeout=float(sys.argv[1]))
print(claim.device, flush=True)
sys.stdin.read()
"""


@pytest.fixture()
def lock_dir(tmp_path, monkeypatch):
    """A fresh lock dir, no claim held by this process, and CUDA_VISIBLE_DEVICES restored."""
    monkeypatch.setattr(devices, "_held", [])
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    monkeypatch.setenv(devices.LOCK_DIR_ENV, str(tmp_path / "locks"))
    yield tmp_path / "locks"
    for handle, _ in devices._held:
        handle.close()


def _holder(gpus: int, wait: float = 60.0) -> subprocess.Popen:
    env = {
        **os.environ,
        devices.SIMULATED_ENV: str(gpus),
        "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
    }
    env.pop("CUDA_VISIBLE_DEVICES", None)
    return subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(wait)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )


def _claimed(proc: subprocess.Popen, timeout: float) -> str | None:
    """The GPU id ``proc`` prints, or None if it prints nothing within ``timeout`` seconds."""
    ready, _, _ = select.select([proc.stdout], [], [], timeout)
    return proc.stdout.readline().strip() if ready else None


def _stop(procs: list[subprocess.Popen]) -> None:
    for proc in procs:
        if proc.poll() is None:
            proc.kill()
        proc.wait()


def _hold(path) -> object:
    """Lock ``path`` from this process (another open file: flock treats it as another holder)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle = open(path, "a+")  # noqa: SIM115 - closed by the caller
    fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    return handle


def test_concurrent_claims_get_distinct_gpus_and_a_killed_holders_gpu_is_freed(lock_dir):
    procs = [_holder(4) for _ in range(4)]
    try:
        claimed = [_claimed(proc, 60) for proc in procs]
        assert sorted(claimed) == ["0", "1", "2", "3"], [p.stderr.read() for p in procs]
        fifth = _holder(4)
        procs.append(fifth)
        assert _claimed(fifth, 3) is None  # every GPU is held: it waits
        victim = procs[claimed.index("2")]
        os.kill(victim.pid, signal.SIGKILL)
        victim.wait()
        assert _claimed(fifth, 30) == "2"
    finally:
        _stop(procs)


def test_the_claim_sets_cuda_visible_devices_to_the_claimed_gpu(lock_dir, monkeypatch):
    monkeypatch.setenv(devices.SIMULATED_ENV, "2")
    claim = devices.claim_gpu("test")
    assert (claim.device, claim.index) == ("0", 0)
    assert os.environ["CUDA_VISIBLE_DEVICES"] == "0"
    assert claim.lock == lock_dir / "gpu0.lock"
    assert "test" in claim.lock.read_text()
    assert devices.claim_gpu("again") is claim  # one claim per process


def test_claims_pick_among_the_gpus_cuda_visible_devices_lists(lock_dir, monkeypatch):
    monkeypatch.setenv(devices.SIMULATED_ENV, "3")
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "3,5,7")
    with _hold(lock_dir / "gpu3.lock"):
        claim = devices.claim_gpu("test")
    assert (claim.device, claim.index) == ("5", 1)
    assert os.environ["CUDA_VISIBLE_DEVICES"] == "5"
    assert claim.lock == lock_dir / "gpu5.lock"


def test_one_visible_gpu_as_under_slurm_is_claimed_as_it_is(lock_dir, monkeypatch):
    monkeypatch.setenv(devices.SIMULATED_ENV, "1")
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "6")
    claim = devices.claim_gpu("test")
    assert (claim.device, claim.index) == ("6", 0)
    assert os.environ["CUDA_VISIBLE_DEVICES"] == "6"


def test_slurm_jobs_get_a_lock_dir_each(monkeypatch):
    monkeypatch.setenv("SLURM_JOB_ID", "4242")
    assert devices.default_lock_dir().name == "slurm-job4242"
    assert devices.default_lock_dir().parent.name == f"lolip-gpu-{os.getuid()}"


def test_no_visible_gpu_claims_nothing(lock_dir, monkeypatch):
    monkeypatch.setenv(devices.SIMULATED_ENV, "0")
    assert devices.claim_gpu("test") is None
    assert "CUDA_VISIBLE_DEVICES" not in os.environ


def test_without_the_driver_the_count_is_zero_and_cuda_is_not_asked(monkeypatch, tmp_path):
    monkeypatch.delenv(devices.SIMULATED_ENV, raising=False)
    monkeypatch.setattr(devices, "DRIVER_NODES", (tmp_path / "nvidiactl",))

    def ask(*args, **kwargs):
        raise AssertionError(f"a child process was started: {args}")

    monkeypatch.setattr(subprocess, "run", ask)
    assert devices.device_count() == 0


def test_with_the_driver_cuda_is_asked_in_a_child(monkeypatch, tmp_path):
    monkeypatch.delenv(devices.SIMULATED_ENV, raising=False)
    (tmp_path / "nvidiactl").touch()
    monkeypatch.setattr(devices, "DRIVER_NODES", (tmp_path / "nvidiactl",))
    monkeypatch.setattr(devices.torch.backends.cuda, "is_built", lambda: True)
    asked = []

    def ask(command, **kwargs):
        asked.append(command)
        return subprocess.CompletedProcess(command, 0, stdout="3\n", stderr="")

    monkeypatch.setattr(subprocess, "run", ask)
    assert devices.device_count() == 3
    assert "torch.cuda.device_count()" in asked[0][-1]


def test_a_wait_that_times_out_names_the_holders(lock_dir, monkeypatch):
    monkeypatch.setenv(devices.SIMULATED_ENV, "1")
    with _hold(lock_dir / "gpu0.lock") as handle:
        handle.write("pid 1 on elsewhere, the other job\n")
        handle.flush()
        with pytest.raises(devices.NoFreeGPU, match="gpu0.lock: pid 1 on elsewhere, the other"):
            devices.claim_gpu("test", timeout=0.2)


def test_a_bad_simulated_count_is_named(lock_dir, monkeypatch):
    monkeypatch.setenv(devices.SIMULATED_ENV, "two")
    with pytest.raises(ValueError, match=r"\$LOLIP_SIMULATED_GPUS must be .* got 'two'"):
        devices.claim_gpu("test")


def test_importing_the_job_modules_does_not_touch_cuda():
    """The claim works only if nothing initialises CUDA before it, imports included."""
    code = """
import torch
calls = []
torch._C._cuda_getDeviceCount = lambda: calls.append("count") or 0
torch.cuda._lazy_init = lambda: calls.append("init")
from lolip import jobs, pipeline, presentation
from lolip.evaluation import jobs as evaluation
from lolip import devices
assert not calls, calls
"""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    assert proc.returncode == 0, proc.stderr
