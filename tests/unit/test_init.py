"""The top-level package: its public functions load lazily, without torch."""

from __future__ import annotations

import subprocess
import sys

import lolip
from lolip.evaluation.robustness import evaluate_robustness
from lolip.model_file import load_model


def test_public_functions_are_the_library_functions():
    assert lolip.evaluate_robustness is evaluate_robustness
    assert lolip.load_model is load_model
    assert {"evaluate_robustness", "load_model"} <= set(dir(lolip)) & set(lolip.__all__)


def test_import_lolip_does_not_import_torch():
    code = "import sys, lolip; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
