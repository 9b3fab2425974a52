"""GPU jobs of the workflow with the GPU profile: each claims its own (simulated) GPU, and
as many run at once as the `gpu` resource allows."""

from __future__ import annotations

import re
from datetime import datetime

import pytest

from lolip import devices
from tests.helpers.workflow import copy_workflow, edit_config, snakemake

# Two training jobs declaring `gpu: 1`, through the workflow with the GPU profile.
STAMP = re.compile(r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3}) ")


def _claim_and_span(log_text: str) -> tuple[str, datetime, datetime]:
    """The GPU a job's log says it claimed, and the times of its first and last log record."""
    claimed = re.search(r"claimed GPU (\S+)", log_text)
    assert claimed, log_text
    times = [
        datetime.strptime(m.group(1), "%Y-%m-%d %H:%M:%S,%f")
        for m in map(STAMP.match, log_text.splitlines())
        if m
    ]
    return claimed.group(1), times[0], times[-1]


@pytest.mark.parametrize("gpus", [2, 1], ids=["resources-gpu-2", "profile-default"])
def test_gpu_jobs_of_the_workflow_run_at_once_each_on_its_own_gpu(tmp_path, gpus):
    wf = copy_workflow(tmp_path / "wf")

    def two_gpu_trainings(config):
        config["experiments"][0]["methods"] = ["at", "trades6"]
        config["resources"] = {"train": {"*": {"gpu": 1}}}
        config["datasets"]["digits"]["training"]["epochs"] = 2

    edit_config(wf / "config/config.yaml", two_gpu_trainings)
    models = [
        f"results/models/digits/DigitsCNN/{m}/seed0/model.safetensors" for m in ("at", "trades6")
    ]
    args = ["--workflow-profile", "profiles/gpu", "--cores", "2", *models]
    if gpus == 2:
        args[2:2] = ["--resources", "gpu=2"]
    env = {
        devices.SIMULATED_ENV: "2",
        "CUDA_VISIBLE_DEVICES": "0,1",
        devices.LOCK_DIR_ENV: str(tmp_path / "locks"),
    }
    snakemake(wf, *args, env=env)
    spans = [
        _claim_and_span((wf / f"logs/train_model/digits/DigitsCNN/{m}/seed0.log").read_text())
        for m in ("at", "trades6")
    ]
    overlap = max(s[1] for s in spans) < min(s[2] for s in spans)
    if gpus == 2:
        # A claim takes the first free GPU: two jobs one after the other would both get 0.
        assert sorted(s[0] for s in spans) == ["0", "1"] and overlap, spans
    else:
        assert [s[0] for s in spans] == ["0", "0"] and not overlap, spans
