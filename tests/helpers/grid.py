"""A small grid of the default workflow and its results, for the resume and SLURM tests.

Two digits models (natural, TRADES) trained for 3 epochs, so that a run takes seconds and
a TRADES epoch lasts long enough to kill the job in the middle of one.
"""

from __future__ import annotations

import json
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from lolip.model_file import load_model
from lolip.training.checkpoint import load_checkpoint
from tests.helpers.workflow import copy_workflow, edit_config, snakemake_command

METHODS = ("natural", "trades1")
EPOCHS = 3
KILLED = "trades1"  # the slow one: ~1-3 s per epoch on a busy 2-core CPU
EXP = "digits/DigitsCNN/{method}/seed0"
# Per-run measurements, the only values allowed to differ between two runs of one config.
NOT_RESULTS = ("seconds", "provenance")


def small_grid(dest: Path) -> Path:
    """A copy of the workflow whose config is the default one cut to METHODS and EPOCHS."""
    wf = copy_workflow(dest)

    def edit(config: dict[str, Any]) -> None:
        config["experiments"][0]["methods"] = list(METHODS)
        config["datasets"]["digits"]["training"].update(epochs=EPOCHS, milestones=[2])
        config["evaluation"]["subsets"] = {"train": 400, "test": 400}

    edit_config(wf / "config/config.yaml", edit)
    return wf


def model(wf: Path, method: str = KILLED) -> Path:
    return wf / "results/models" / EXP.format(method=method) / "model.safetensors"


def metrics(wf: Path, method: str) -> Path:
    return wf / "results/eval" / EXP.format(method=method) / "metrics.json"


def checkpoint(wf: Path, method: str = KILLED) -> Path:
    return model(wf, method).with_name("model.safetensors.partial") / "ckpt.pt"


def train_log(wf: Path, method: str = KILLED) -> str:
    return (wf / "logs/train_model" / f"{EXP.format(method=method)}.log").read_text()


def results_of(metrics_path: Path) -> dict[str, Any]:
    """A metrics file without its per-run measurements (timings, versions, device)."""
    data = json.loads(metrics_path.read_text())
    data["history"] = [
        {k: v for k, v in h.items() if k in ("epoch", "loss")} for h in data["history"]
    ]
    return {k: v for k, v in data.items() if k not in NOT_RESULTS}


def assert_same_model(a: Path, b: Path) -> None:
    """Bitwise-equal weights and per-epoch losses."""
    ma, mb = load_model(a), load_model(b)
    sa, sb = ma.state_dict(), mb.state_dict()
    assert sa.keys() == sb.keys()
    for key, value in sa.items():
        assert torch.equal(value, sb[key]), f"{a} vs {b}: weights {key} differ"
    losses = [[h["loss"] for h in m.lolip_metadata["history"]] for m in (ma, mb)]
    assert losses[0] == losses[1], f"{a} vs {b}: per-epoch losses differ"


def assert_same_results(a: Path, b: Path, methods=METHODS) -> None:
    """Two runs of the grid agree on every model, metric and per-example result."""
    for method in methods:
        assert_same_model(model(a, method), model(b, method))
        ma, mb = metrics(a, method), metrics(b, method)
        assert results_of(ma) == results_of(mb), method
        ea, eb = (m.with_name("examples.csv").read_bytes() for m in (ma, mb))
        assert ea == eb, f"{method}: per-example results differ"


def wait_until(ready, run: Run, what: str, timeout: float = 300) -> None:
    """Poll ``ready()`` until true; fail if ``run`` ends first or after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while not ready():
        code = run.poll()
        assert code is None, f"the run ended (exit {code}) before {what}:\n{run.output()}"
        assert time.monotonic() < deadline, f"no {what} after {timeout:.0f} s:\n{run.output()}"
        time.sleep(0.05)


def checkpoint_epoch(ckpt: Path) -> int:
    """Epochs done in the newest valid checkpoint at ``ckpt`` (0: none)."""
    state = load_checkpoint(ckpt) if ckpt.exists() else None
    return 0 if state is None else state["epoch"]


def wait_for_checkpoint(ckpt: Path, run: Run, epochs: int = 1) -> int:
    """Block until ``ckpt`` holds at least ``epochs`` finished epochs; return its epoch."""
    wait_until(lambda: checkpoint_epoch(ckpt) >= epochs, run, f"a checkpoint at epoch {epochs}")
    return checkpoint_epoch(ckpt)


@dataclass
class Run:
    """A Snakemake run in the background; its output goes to ``log``."""

    proc: subprocess.Popen
    log: Path

    @property
    def pid(self) -> int:
        return self.proc.pid

    def poll(self) -> int | None:
        return self.proc.poll()

    def wait(self, timeout: float) -> int:
        return self.proc.wait(timeout=timeout)

    def output(self) -> str:
        return self.log.read_text()

    def __enter__(self) -> Run:
        return self

    def __exit__(self, *exc) -> None:
        """A run still going when its block ends (a failed assertion) is stopped; Snakemake
        then cancels its jobs."""
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def start_snakemake(wf: Path, *args: str, env: dict[str, str] | None = None) -> Run:
    """``snakemake ARGS`` in ``wf`` in the background, output to ``wf/snakemake-<n>.log``."""
    command, full_env = snakemake_command(args, env)
    log = wf / f"snakemake-{len(list(wf.glob('snakemake-*.log')))}.log"
    with open(log, "w") as out:
        proc = subprocess.Popen(command, cwd=wf, stdout=out, stderr=subprocess.STDOUT, env=full_env)
    return Run(proc, log)


def descendants(pid: int) -> list[int]:
    """Every process below ``pid`` in the process tree."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    out, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            out.append(child)
            todo.append(child)
    return out


def cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""
