"""envs/lolip.yaml and pyproject.toml declare the same dependencies."""

from __future__ import annotations

import re
import tomllib

import yaml

from tests.workflow import ROOT

# conda-forge names that differ from PyPI's
CONDA_NAMES = {"torch": "pytorch"}


def _name_and_spec(requirement: str) -> tuple[str, str]:
    m = re.fullmatch(r"([A-Za-z0-9_.\-]+)\s*(.*)", requirement.strip())
    return m.group(1).lower(), m.group(2).replace(" ", "")


def test_conda_environment_matches_pyproject():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    pip = dict(_name_and_spec(r) for r in project["dependencies"])
    pip = {CONDA_NAMES.get(k, k): v.replace("==", "=") for k, v in pip.items()}
    env = yaml.safe_load((ROOT / "envs/lolip.yaml").read_text())
    conda = dict(
        _name_and_spec(d) for d in env["dependencies"] if isinstance(d, str) and d != "pip"
    )
    conda.pop("python")
    assert conda == pip
