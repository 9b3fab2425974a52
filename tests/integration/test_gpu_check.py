"""The GPU check (benchmarks/gpu_check.py): its --tiny run prints the whole table on the CPU."""

from __future__ import annotations

import importlib.util
import math
import os
import re
import subprocess
import sys

import pytest
import yaml

from tests.helpers.workflow import ROOT

SCRIPT = ROOT / "benchmarks" / "gpu_check.py"


def _load_script():
    spec = importlib.util.spec_from_file_location("gpu_check", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


gpu_check = _load_script()


@pytest.fixture(scope="module")
def tiny_output() -> str:
    path = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
    proc = subprocess.run(
        [sys.executable, str(SCRIPT), "--tiny"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": path},
        timeout=600,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc.stdout


def _rows(output: str) -> dict[tuple[str, str, str], list[str]]:
    archs = {case.arch for case in gpu_check.TINY}
    rows = {}
    for line in output.splitlines():
        fields = line.split()
        if len(fields) == len(gpu_check.COLUMNS) and fields[0] in archs:
            rows[tuple(fields[:3])] = fields
    return rows


def test_tiny_table_has_every_arch_method_and_precision_with_finite_rates(tiny_output):
    expected = {
        (case.arch, method, precision)
        for case in gpu_check.TINY
        for method in gpu_check.METHODS
        for precision in ("fp32", "bf16")
    } | {(case.arch, "eval", "fp32") for case in gpu_check.TINY}
    rows = _rows(tiny_output)
    assert set(rows) == expected, tiny_output
    for fields in rows.values():
        rate = float(fields[5])
        assert math.isfinite(rate) and rate > 0, fields
        assert fields[6] == "n/a", fields  # no GPU memory on the CPU


def test_tiny_run_prints_device_numerics_and_logits_agreement(tiny_output):
    assert "device: CPU" in tiny_output and "TF32 off" in tiny_output
    number = r"(\S+)"
    for case in gpu_check.TINY:
        pattern = (
            rf"logits {case.arch}\s+CPU vs cpu: TF32 off: max\|diff\| {number} "
            rf"\(relative {number}\); TF32 on: max\|diff\| {number} \(relative {number}\)"
        )
        match = re.search(pattern, tiny_output)
        assert match, tiny_output
        values = [float(v) for v in match.groups()]
        assert all(math.isfinite(v) for v in values)
        assert values[0] == 0.0  # the CPU against itself


def test_paper_cases_are_config_paper_yaml_batches_and_eps():
    from lolip.config import expand

    experiments = expand(yaml.safe_load((ROOT / "config" / "paper.yaml").read_text()))
    for case in gpu_check.PAPER:
        mine = [e for e in experiments if e.arch == case.arch]
        assert mine, case.arch
        assert {e.training["batch_size"] for e in mine} == {case.batch}, case.arch
        assert {e.eps for e in mine} == {case.eps}, case.arch
