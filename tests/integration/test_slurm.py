"""The workflow on a real single-node SLURM cluster, through the slurm profile.

tests/helpers/slurm_cluster.py installs (if needed) and starts the cluster for this session and
stops it afterwards. The small grid of tests/helpers/grid.py is run once locally and once with
`--workflow-profile profiles/slurm` (snakemake-executor-plugin-slurm); during the SLURM run
the TRADES training job is cancelled with `scancel` in the middle of an epoch, the profile's
retries resubmit it and it resumes from its checkpoint. Both runs must give the same bits.
"""

from __future__ import annotations

import re
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.helpers import grid
from tests.helpers.slurm_cluster import SlurmCluster, SlurmUnavailable, ensure_installed

pytestmark = [pytest.mark.slurm, pytest.mark.slow]

# The cluster has no accounting database, so job states come from squeue; poll often.
SLURM_ARGS = (
    "--workflow-profile",
    "profiles/slurm",
    "--slurm-status-command",
    "squeue",
    "--slurm-init-seconds-before-status-checks",
    "1",
    "--latency-wait",
    "5",
)
JOB_FORMAT = "%i|%T|%k|%C|%m|%l"  # id, state, comment (rule + wildcards), CPUs, memory, limit


@pytest.fixture(scope="session")
def cluster():
    try:
        ensure_installed()
    except SlurmUnavailable as err:
        pytest.skip(f"cannot start a test SLURM cluster here: {err}")
    # A short path: the munge socket's must fit in a sockaddr_un.
    root = Path(tempfile.mkdtemp(prefix="lolip-slurm-"))
    try:
        cluster = SlurmCluster.start(root)
    except SlurmUnavailable as err:
        shutil.rmtree(root, ignore_errors=True)
        pytest.skip(f"cannot start a test SLURM cluster here: {err}")
    try:
        yield cluster
    finally:
        cluster.stop()
        shutil.rmtree(root, ignore_errors=True)


def _jobs(cluster: SlurmCluster) -> list[dict[str, str]]:
    keys = ("id", "state", "comment", "cpus", "memory", "time_limit")
    return [dict(zip(keys, row, strict=True)) for row in cluster.squeue(JOB_FORMAT)]


@dataclass
class Runs:
    local: Path
    slurm: Path
    cancelled: str  # the SLURM job id scancelled
    epoch: int  # epochs in the checkpoint when it was
    jobs: list[dict[str, str]]  # every SLURM job of the run, as squeue shows it


@pytest.fixture(scope="module")
def runs(cluster, tmp_path_factory) -> Runs:
    """The grid locally and, at the same time, through SLURM with one scancel mid-epoch.

    The two run side by side: the SLURM run mostly waits for its status checks.
    """
    base = tmp_path_factory.mktemp("slurm")
    local_wf, wf = grid.small_grid(base / "local"), grid.small_grid(base / "cluster")
    with (
        grid.start_snakemake(local_wf, "evaluate") as local,
        grid.start_snakemake(wf, *SLURM_ARGS, "evaluate", env=cluster.env) as run,
    ):
        epoch = grid.wait_for_checkpoint(grid.checkpoint(wf), run)
        [job] = [
            j
            for j in _jobs(cluster)
            if "train_model" in j["comment"] and grid.KILLED in j["comment"]
        ]
        assert job["state"] == "RUNNING", job
        cluster.scancel(job["id"])
        assert run.wait(timeout=900) == 0, run.output()
        assert local.wait(timeout=900) == 0, local.output()
    return Runs(local_wf, wf, job["id"], epoch, _jobs(cluster))


def test_slurm_grid_gives_the_bits_of_a_local_run(runs):
    grid.assert_same_results(runs.local, runs.slurm)


def test_scancelled_training_job_is_resubmitted_and_resumes(runs):
    trades = [j for j in runs.jobs if "train_model" in j["comment"] and grid.KILLED in j["comment"]]
    assert len(trades) == 2
    assert {j["id"]: j["state"] for j in trades} == {
        j["id"]: "CANCELLED" if j["id"] == runs.cancelled else "COMPLETED" for j in trades
    }
    log = grid.train_log(runs.slurm)
    resumed = re.search(r"resuming from \S+ \(epoch (\d+) done[,)]", log)
    assert resumed, log
    assert int(resumed.group(1)) >= runs.epoch
    assert not grid.checkpoint(runs.slurm).exists()


def test_jobs_request_their_rule_resources(runs):
    by_rule = {}
    for job in runs.jobs:
        rule = job["comment"].removeprefix("rule_").split("_wildcards_")[0]
        by_rule.setdefault(rule, []).append(job)
    parts = ["attack_model", "check_model", "estimate_lipschitz"]
    assert sorted(by_rule) == [*parts, "prepare_dataset", "train_model"]  # the gather is local
    # DigitsCNN on digits (lolip/resources.py): 1 thread, 1000 + 100 MB, 30 min, no GPU;
    # the resubmitted job (attempt 2) gets twice the memory and time.
    requests = sorted((j["cpus"], j["memory"], j["time_limit"]) for j in by_rule["train_model"])
    assert requests == [("1", "1100M", "30:00")] * 2 + [("1", "2200M", "1:00:00")]
    for rule in parts:
        assert {(j["cpus"], j["memory"]) for j in by_rule[rule]} == {("1", "1100M")}
    # Preparing digits: 1 thread, twice the data's 100 MB, an hour.
    assert [(j["cpus"], j["memory"], j["time_limit"]) for j in by_rule["prepare_dataset"]] == [
        ("1", "200M", "1:00:00")
    ]


def test_missing_slurm_without_root_is_a_reason_to_skip(monkeypatch):
    import tests.helpers.slurm_cluster as sc

    monkeypatch.setattr(sc.shutil, "which", lambda name: None)
    monkeypatch.setattr(sc.os, "geteuid", lambda: 1000)
    with pytest.raises(SlurmUnavailable, match=r"munged.*needs root \(euid 1000\)"):
        ensure_installed()
