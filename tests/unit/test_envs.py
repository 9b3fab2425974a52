"""envs/lolip.yaml, the environment of `snakemake --sdm conda`, follows its rules.

- channels: conda-forge and nodefaults only (no pytorch channel, no defaults);
- every conda dependency pinned as ``name=version``, every ``pip:`` one as ``name==version``;
- no path (Snakemake copies the file into .snakemake/conda/), no ``-e``, no channel prefix;
- the same dependency set as pyproject.toml's ``[project] dependencies`` (conda-forge names
  mapped to PyPI's), each version inside pyproject's range; python inside requires-python;
- the releases pinned in constraints.txt are the ones the environment pins.

``env_problems`` lists every broken rule; the mutation tests below show that each one is caught,
including a dependency added to only one of the two files.
"""

from __future__ import annotations

import copy
import re
import tomllib

import pytest
import yaml
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

from tests.helpers.workflow import ROOT

ENV_FILE = ROOT / "envs/lolip.yaml"
CHANNELS = ["conda-forge", "nodefaults"]
# conda-forge names that differ from PyPI's (canonical PyPI name -> conda-forge name)
CONDA_NAMES = {"torch": "pytorch", "matplotlib": "matplotlib-base"}
PYPI_NAMES = {conda: pypi for pypi, conda in CONDA_NAMES.items()}
# conda entries that are no project dependency: the interpreter and the installer of `pip:`
TOOLS = {"python", "pip"}
CONDA_PIN = re.compile(r"(?P<name>[a-z0-9][a-z0-9_.\-]*)=(?P<version>[0-9][0-9a-z.]*)")
PIP_PIN = re.compile(r"(?P<name>[A-Za-z0-9][A-Za-z0-9_.\-]*)==(?P<version>[0-9][0-9A-Za-z.]*)")


def load_project() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]


def load_env() -> dict:
    return yaml.safe_load(ENV_FILE.read_text())


def _pins(entries, pattern: re.Pattern, where: str, problems: list[str]) -> dict[str, str]:
    """``{canonical name: version}`` of the entries that match ``pattern``; the rest reported."""
    pins: dict[str, str] = {}
    for entry in entries:
        text = str(entry).strip()
        if text.startswith(("-", ".", "/", "~")) or "/" in text or "::" in text:
            problems.append(f"{where}: {text!r} is a path, an option or a channel prefix")
        elif not (m := pattern.fullmatch(text)):
            sign = "==" if pattern is PIP_PIN else "="
            problems.append(f"{where}: {text!r} is not pinned as name{sign}version")
        else:
            name = canonicalize_name(m["name"])
            if name in pins:
                problems.append(f"{where}: {name} listed twice")
            pins[name] = m["version"]
    return pins


def env_problems(env: dict, project: dict) -> list[str]:
    """Every rule of the module docstring that ``env`` breaks, one line each."""
    problems: list[str] = []
    if extra := set(env) - {"name", "channels", "dependencies"}:
        problems.append(f"unexpected top-level keys {sorted(extra)} (a prefix is a path)")
    if env.get("channels") != CHANNELS:
        problems.append(f"channels must be {CHANNELS}, not {env.get('channels')}")

    entries = env.get("dependencies") or []
    sections = [e for e in entries if isinstance(e, dict)]
    if any(set(s) != {"pip"} for s in sections):
        problems.append(f"only a pip: section may nest, not {sections}")
    conda = _pins([e for e in entries if not isinstance(e, dict)], CONDA_PIN, "conda", problems)
    pip = _pins([p for s in sections for p in s.get("pip") or []], PIP_PIN, "pip", problems)

    if "python" not in conda:
        problems.append("python is not pinned")
    elif not SpecifierSet(project["requires-python"]).contains(conda["python"]):
        problems.append(f"python={conda['python']} outside requires-python")
    if pip and "pip" not in conda:
        problems.append("a pip: section needs pip among the conda dependencies")

    wanted = {
        canonicalize_name(r.name): r.specifier for r in map(Requirement, project["dependencies"])
    }
    found = {PYPI_NAMES.get(n, n): (v, "conda") for n, v in conda.items() if n not in TOOLS}
    for name, version in pip.items():
        if name in found or name in TOOLS:
            problems.append(f"{name} is in both the conda and the pip: section")
        found[name] = (version, "pip")
    if missing := sorted(set(wanted) - set(found)):
        problems.append(f"in pyproject.toml but not in envs/lolip.yaml: {missing}")
    if extra := sorted(set(found) - set(wanted)):
        problems.append(f"in envs/lolip.yaml but not in pyproject.toml: {extra}")
    for name in sorted(set(wanted) & set(found)):
        version, where = found[name]
        try:
            inside = wanted[name].contains(Version(version), prereleases=True)
        except InvalidVersion:
            inside = False
        if not inside:
            problems.append(f"{where}: {name} {version} outside pyproject's {wanted[name]}")
    return problems


def constraint_pins() -> dict[str, str]:
    """``{canonical name: version}`` of constraints.txt's ``name==version`` lines."""
    pins = {}
    for line in (ROOT / "constraints.txt").read_text().splitlines():
        if line := line.split("#", 1)[0].strip():
            m = PIP_PIN.fullmatch(line)
            assert m, f"constraints.txt: {line!r} is not name==version"
            pins[canonicalize_name(m["name"])] = m["version"]
    return pins


def test_conda_environment_follows_the_rules():
    problems = env_problems(load_env(), load_project())
    assert not problems, "\n".join(problems)


def test_constraints_pin_what_the_environment_pins():
    env = load_env()
    conda = _pins([e for e in env["dependencies"] if isinstance(e, str)], CONDA_PIN, "conda", [])
    pins = constraint_pins()
    assert {"torch", "torchvision"} <= set(pins)
    for name, version in pins.items():
        pinned = conda.get(CONDA_NAMES.get(name, name))
        assert pinned == version, f"constraints.txt: {name}=={version}, envs/lolip.yaml: {pinned}"


def _replace(entries: list, name: str, new: str | None) -> None:
    """Replace (or, for ``None``, drop) the string entry for package ``name``."""
    i = next(
        i
        for i, e in enumerate(entries)
        if isinstance(e, str) and re.match(rf"{re.escape(name)}(?![a-z0-9_.\-])", e)
    )
    if new is None:
        del entries[i]
    else:
        entries[i] = new


def _deps(env: dict) -> list:
    return env["dependencies"]


def _pip(env: dict) -> list:
    return next(e for e in env["dependencies"] if isinstance(e, dict))["pip"]


NEW = "example-new-dependency"  # a name that neither file will ever list
MUTATIONS = {
    "pytorch channel": (lambda env, proj: env["channels"].insert(0, "pytorch"), "channels must"),
    "defaults channel": (lambda env, proj: env["channels"].remove("nodefaults"), "channels must"),
    "range, not pin": (
        lambda env, proj: _replace(_deps(env), "pytorch", "pytorch>=2.4"),
        "'pytorch>=2.4' is not pinned",
    ),
    "unpinned": (
        lambda env, proj: _replace(_deps(env), "pytorch", "pytorch"),
        "'pytorch' is not pinned",
    ),
    "channel prefix": (
        lambda env, proj: _replace(_deps(env), "pytorch", "pytorch::pytorch=2.14.1"),
        "channel prefix",
    ),
    "pip range": (
        lambda env, proj: _replace(_pip(env), "snakemake", "snakemake>=9"),
        "'snakemake>=9' is not pinned",
    ),
    "editable install": (lambda env, proj: _pip(env).append("-e .."), "'-e ..' is a path"),
    "relative path": (lambda env, proj: _pip(env).append("../lolip"), "'../lolip' is a path"),
    "prefix": (lambda env, proj: env.update(prefix="../.snakemake/lolip"), "prefix"),
    "dependency left out of the env": (
        lambda env, proj: _replace(_deps(env), "pytorch", None),
        "in pyproject.toml but not in envs/lolip.yaml: ['torch']",
    ),
    "dependency added to pyproject only": (
        lambda env, proj: proj["dependencies"].append(f"{NEW}>=1"),
        f"in pyproject.toml but not in envs/lolip.yaml: ['{NEW}']",
    ),
    "dependency added to the env only": (
        lambda env, proj: _deps(env).insert(1, f"{NEW}=1.0"),
        f"in envs/lolip.yaml but not in pyproject.toml: ['{NEW}']",
    ),
    "pip dependency added to the env only": (
        lambda env, proj: _pip(env).append(f"{NEW}==1.0"),
        f"in envs/lolip.yaml but not in pyproject.toml: ['{NEW}']",
    ),
    "version outside pyproject's range": (
        lambda env, proj: _replace(_deps(env), "numpy", "numpy=1.21.0"),
        "numpy 1.21.0 outside",
    ),
    "torch outside pyproject's range": (
        lambda env, proj: _replace(_deps(env), "pytorch", "pytorch=3.0.0"),
        "torch 3.0.0 outside",
    ),
    "pip version outside pyproject's range": (
        lambda env, proj: _replace(_pip(env), "snakemake", "snakemake==10.0.0"),
        "snakemake 10.0.0 outside",
    ),
    "python outside requires-python": (
        lambda env, proj: _replace(_deps(env), "python", "python=3.10"),
        "python=3.10 outside",
    ),
    "in both sections": (lambda env, proj: _pip(env).append("numpy==2.4.6"), "numpy is in both"),
    "pip section without pip": (lambda env, proj: _replace(_deps(env), "pip", None), "needs pip"),
}


@pytest.mark.parametrize("mutation", MUTATIONS)
def test_each_broken_rule_is_caught(mutation):
    env, project = copy.deepcopy(load_env()), copy.deepcopy(load_project())
    mutate, expected = MUTATIONS[mutation]
    mutate(env, project)
    problems = env_problems(env, project)
    assert any(expected in p for p in problems), problems
