"""RobustBench model-info records of the evaluated models (torch-free).

RobustBench (Croce et al. 2021) describes each model of a leaderboard by one JSON file,
``model_info/{dataset}/{threat_model}/{model_id}.json``; for example
(``model_info/cifar10/Linf/Zhang2019Theoretically.json``)::

    {"link": "https://arxiv.org/abs/1901.08573",
     "name": "Theoretically Principled Trade-off between Robustness and Accuracy",
     "authors": "Hongyang Zhang, Yaodong Yu, ...", "additional_data": false,
     "number_forward_passes": 1, "dataset": "cifar10", "venue": "ICML 2019",
     "architecture": "WideResNet-34-10", "eps": "0.031", "clean_acc": "84.92",
     "reported": "56.43", "footnote": "...", "autoattack_acc": "53.08"}

:func:`model_info` gives that record for a model lolip evaluated, from its
``metrics.json``, with the same keys in the same order and value formats:

- ``link``, ``name`` (the paper's title), ``authors``, ``venue``: the paper's;
- ``additional_data``: false (the paper's RST uses labelled data only);
  ``number_forward_passes``: 1;
- ``dataset``: the config's dataset name; ``architecture``: RobustBench's spelling where it
  has one (``WideResNet-40-10``, ``ResNet-50``, dropout variants ``... (dropout 0.2)``),
  else lolip's name;
- ``eps``: ``"k/255"`` where eps is exactly k/255 and that is shorter than the decimal
  (``"8/255"``), else the decimal (``"0.031"``, ``"0.1"``);
- ``clean_acc``: test accuracy; ``autoattack_acc``: test accuracy under the first attack
  of type ``autoattack`` that ran on the test split, else null; ``reported``: the paper's
  robust (PGD) test accuracy where ``reported.yaml`` has the model, else null; each a
  string with two decimals;
- ``footnote``: the method and seed, which attack ``adv_test_acc`` is (and that AutoAttack
  was not run, where it was not), the test points evaluated, the paper's clean accuracy,
  and the gradient-masking alarms that rang;
- ``unreliable`` (RobustBench's flag of an evaluation not to be trusted): whether a
  gradient-masking alarm rang;
- ``adv_test_acc`` (lolip's addition): the paper's adversarial column (attack ``pgd``).

The model id, the file's name, follows RobustBench's ``<Name><Year><FirstWordOfTheTitle>``
(the NeurIPS title, first word after the article) with the model:
``Yang2020Closer_{arch}_{method}_seed{seed}``.
"""

from __future__ import annotations

import json
import math
import os
import re
from collections.abc import Mapping
from typing import Any

from lolip.io import atomic_path, read_json
from lolip.tables import DEFAULT_ATTACK, reported_block

LINK = "https://arxiv.org/abs/2003.02460"
NAME = "A Closer Look at Accuracy vs. Robustness"
AUTHORS = (
    "Yao-Yuan Yang, Cyrus Rashtchian, Hongyang Zhang, Ruslan Salakhutdinov, Kamalika Chaudhuri"
)
VENUE = "NeurIPS 2020"
MODEL_PREFIX = "Yang2020Closer"
THREAT_MODEL = "Linf"
PIXEL_LEVELS = 255
PAPER_ATTACK = "pgd"
ATTACK_NAMES = {
    "pgd": "PGD",
    "multitarget": "multi-targeted PGD",
    "autoattack": "AutoAttack",
    "square": "Square",
}
# RobustBench's keys in its order, then lolip's (adv_test_acc).
KEYS = (
    "link",
    "name",
    "authors",
    "additional_data",
    "number_forward_passes",
    "dataset",
    "venue",
    "architecture",
    "eps",
    "clean_acc",
    "reported",
    "autoattack_acc",
    "adv_test_acc",
    "unreliable",
    "footnote",
)


def model_id(arch: str, method: str, seed: int) -> str:
    """The model's RobustBench id (its file name without ``.json``)."""
    return f"{MODEL_PREFIX}_{arch}_{method}_seed{seed}"


def format_eps(eps: float) -> str:
    """``"k/255"`` where eps is exactly k/255 and that is the shorter form, else the decimal."""
    decimal = repr(float(eps))
    k = round(eps * PIXEL_LEVELS)
    fraction = f"{k}/{PIXEL_LEVELS}"
    return (
        fraction if k > 0 and k / PIXEL_LEVELS == eps and len(fraction) < len(decimal) else decimal
    )


def format_acc(value: float | None) -> str | None:
    """An accuracy in percent as RobustBench writes it: a string with two decimals."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    return f"{value:.2f}"


_WRN = re.compile(r"WRN_(\d+)_(\d+)")
_RESNET = re.compile(r"ResNet(\d+)")
_DROP = re.compile(r"(.*)_drop(\d+)")


def architecture(arch: str) -> str:
    """lolip's architecture name in RobustBench's spelling (unchanged where it has none)."""
    drop = None
    if m := _DROP.fullmatch(arch):
        arch, drop = m[1], int(m[2]) / 100
    if m := _WRN.fullmatch(arch):
        arch = f"WideResNet-{m[1]}-{m[2]}"
    elif m := _RESNET.fullmatch(arch):
        arch = f"ResNet-{m[1]}"
    return arch if drop is None else f"{arch} (dropout {drop:g})"


def describe_attack(spec: Mapping[str, Any]) -> str:
    """``PGD (norm=linf, restarts=1, step_size=0.2, steps=10)``: an attack's full entry."""
    settings = ", ".join(f"{k}={v}" for k, v in sorted(spec.items()) if k != "type")
    return f"{ATTACK_NAMES.get(spec['type'], spec['type'])} ({settings})"


def paper_values(
    reported: Mapping[str, Any], specs: Mapping[str, Any], dataset: str, arch: str, method: str
) -> dict[str, Any] | None:
    """The paper's clean and PGD test accuracy of a model, from ``reported`` (reported.yaml)
    through the tables that show the model (:class:`lolip.tables.TableSpec` by name).

    ``{"test_acc", "adv_test_acc", "table"}`` (the first table reporting each; ``table``
    names the reported.yaml section and block), or None where no table reports the model.
    """
    found: dict[str, Any] = {}
    for spec in specs.values():
        if not spec.reported or not spec.covers(dataset, arch, method):
            continue
        block = spec.block_of(dataset, arch)
        values = reported_block(reported, spec.reported, block.name).get(
            block.row_of(arch, method), {}
        )
        if spec.attack != DEFAULT_ATTACK:
            values = {k: v for k, v in values.items() if not k.startswith("adv_")}
        for key in ("test_acc", "adv_test_acc"):
            if values.get(key) is not None and key not in found:
                found[key] = float(values[key])
                found.setdefault("table", f"{spec.reported}/{block.name}")
    return found or None


def _autoattack(metrics: Mapping[str, Any]) -> tuple[str, Mapping[str, Any]] | None:
    for name, record in metrics.get("attacks", {}).items():
        if record["spec"]["type"] == "autoattack" and f"adv_test_acc_{name}" in metrics:
            return name, record
    return None


def model_info(
    metrics: Mapping[str, Any], reported: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """The RobustBench record of one model's ``metrics.json`` (see the module docstring);
    ``reported``: its :func:`paper_values`."""
    pgd = metrics["attacks"][PAPER_ATTACK]["spec"]
    if pgd.get("norm", "linf") != "linf":
        raise ValueError(
            f"{metrics['dataset']}/{metrics['arch']}/{metrics['method']}: attack "
            f"{PAPER_ATTACK!r} has norm {pgd['norm']!r}; the RobustBench export is {THREAT_MODEL}"
        )
    aa = _autoattack(metrics)
    resolved = metrics.get("method_resolved", {}).get("class", metrics["method"])
    notes = [f"lolip's rebuild: {metrics['method']} ({resolved}), seed {metrics['seed']}."]
    if aa is None:
        notes.append("AutoAttack was not run (autoattack_acc is null).")
    else:
        library = aa[1].get("library") or {}
        version = f", {library['name']} {library['version']}" if library else ""
        notes.append(f"autoattack_acc: {describe_attack(aa[1]['spec'])}{version}.")
    notes.append(f"adv_test_acc: {describe_attack(pgd)}, the paper's attack.")
    subset = metrics.get("settings", {}).get("subsets", {}).get("test") is not None
    notes.append(f"On the {'first ' if subset else ''}{metrics['n_test']} test points.")
    if reported and reported.get("adv_test_acc") is not None:
        clean = reported.get("test_acc")
        paper = f"; the paper's clean accuracy {clean:.2f}" if clean is not None else ""
        notes.append(f"reported: the paper's PGD accuracy ({reported['table']}){paper}.")
    alarms = metrics["checks"].get("alarms", [])
    if alarms:
        notes.append(f"Gradient masking suspected: {'; '.join(alarms)}.")
    info = {
        "link": LINK,
        "name": NAME,
        "authors": AUTHORS,
        "additional_data": False,
        "number_forward_passes": 1,
        "dataset": metrics["dataset"],
        "venue": VENUE,
        "architecture": architecture(metrics["arch"]),
        "eps": format_eps(metrics["eps"]),
        "clean_acc": format_acc(metrics["test_acc"]),
        "reported": format_acc((reported or {}).get("adv_test_acc")),
        "autoattack_acc": None if aa is None else format_acc(metrics[f"adv_test_acc_{aa[0]}"]),
        "adv_test_acc": format_acc(metrics["adv_test_acc"]),
        "unreliable": bool(metrics["checks"].get("masking_suspected", False)),
        "footnote": " ".join(notes),
    }
    return info


def export(
    metrics_path: str | os.PathLike,
    out: str | os.PathLike,
    *,
    reported: Mapping[str, Any] | None = None,
) -> None:
    """Write the RobustBench record of ``metrics_path`` to ``out``, atomically, in
    RobustBench's key order."""
    info = model_info(read_json(metrics_path), reported)
    with atomic_path(out) as tmp:
        tmp.write_text(json.dumps(info, indent=2) + "\n")
