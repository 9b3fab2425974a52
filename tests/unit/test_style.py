"""House style: the Python passes ``ruff check`` and ``ruff format --check``."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.helpers.workflow import ROOT


@pytest.mark.parametrize("command", [["check"], ["format", "--check"]], ids=["lint", "format"])
def test_ruff_is_clean(command):
    proc = subprocess.run(
        [sys.executable, "-m", "ruff", *command, str(ROOT)], capture_output=True, text=True
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
