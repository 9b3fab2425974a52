"""Helpers to run the Snakemake workflow on a copy of the repository in a temp dir."""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
REPORTED = ROOT / "config/reported.yaml"
LOCAL_PROFILE = ("--workflow-profile", "profiles/local")
WORKFLOW_PARTS = ("Snakefile", "rules", "config", "workflow_scripts", "profiles", "envs", "report")


def copy_workflow(dest: Path) -> Path:
    dest.mkdir(parents=True, exist_ok=True)
    for part in WORKFLOW_PARTS:
        src = ROOT / part
        if src.is_dir():
            shutil.copytree(src, dest / part, dirs_exist_ok=True)
        elif src.exists():
            shutil.copy(src, dest / part)
    return dest


def snakemake_command(args, env: dict | None = None) -> tuple[list[str], dict[str, str]]:
    """The command line and environment that run ``snakemake ARGS`` with this interpreter,
    under the local profile unless ARGS name another ``--workflow-profile`` (the last wins)."""
    full_env = {**os.environ, **(env or {})}
    return [sys.executable, "-m", "snakemake", *LOCAL_PROFILE, *args], full_env


def snakemake(workdir: Path, *args: str, check: bool = True, env: dict | None = None):
    """Run ``snakemake ARGS`` in ``workdir`` with this interpreter; return the completed process."""
    command, full_env = snakemake_command(args, env)
    proc = subprocess.run(command, cwd=workdir, capture_output=True, text=True, env=full_env)
    if check and proc.returncode != 0:
        raise AssertionError(f"snakemake {' '.join(args)} failed:\n{proc.stdout}\n{proc.stderr}")
    return proc


def job_counts(output: str) -> dict[str, int]:
    """The 'Job stats' table of a dry run as {rule: count}."""
    counts: dict[str, int] = {}
    in_table = False
    for line in output.splitlines():
        if line.startswith("Job stats"):
            in_table = True
            continue
        m = re.fullmatch(r"(\w+)\s+(\d+)", line.strip())
        if in_table and m:
            counts[m.group(1)] = int(m.group(2))
        elif in_table and counts and not line.strip():
            break
    return counts


def edit_config(path: Path, edit) -> None:
    config = yaml.safe_load(path.read_text())
    edit(config)
    path.write_text(yaml.safe_dump(config, sort_keys=False))


def dry_run_outputs(output: str) -> list[str]:
    """Every output file a dry run lists."""
    files = []
    for line in output.splitlines():
        if line.startswith("    output: "):
            files += [f.strip() for f in line.removeprefix("    output: ").split(",")]
    return sorted(set(files))


def pretend_finished(workdir: Path, *args: str, env: dict | None = None) -> None:
    """Make ``workdir``'s run look finished, in seconds: create every output a dry run
    lists (empty) and let ``snakemake --touch`` record them as made by their jobs, params
    included. Dry runs after a config change then list exactly the jobs it reruns."""
    for path in dry_run_outputs(snakemake(workdir, "-n", *args, env=env).stdout):
        target = workdir / path
        target.parent.mkdir(parents=True, exist_ok=True)
        if not target.exists():
            target.touch()
    snakemake(workdir, "--touch", "--forceall", "--cores", "1", *args, env=env)
    assert "Nothing to be done" in snakemake(workdir, "-n", *args, env=env).stdout


# The rules that draw tables and figures from saved results (no model is loaded).
PRESENTATION = {
    "make_model_table",
    "make_checks_table",
    "make_findings_table",
    "plot_gap",
    "plot_lipschitz_accuracy",
    "plot_training_curves",
    "plot_eps_sweep",
}


def finished_copy(dest: Path, *targets: str) -> Path:
    """A copy of the workflow in ``dest`` whose run of ``targets`` looks finished."""
    wf = copy_workflow(dest)
    pretend_finished(wf, *targets)
    return wf


@contextlib.contextmanager
def config_edits(wf: Path, *targets: str):
    """Yield ``run(edit)``: the job counts of a dry run of ``targets`` after ``edit`` of
    ``wf``'s config; the config is put back afterwards."""
    config = wf / "config/config.yaml"
    original = config.read_text()

    def run(edit):
        edit_config(config, edit)
        return job_counts(snakemake(wf, "-n", *targets).stdout)

    try:
        yield run
    finally:
        config.write_text(original)
