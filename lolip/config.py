"""The experiment grid: from the workflow config to one resolved experiment per model.

An experiment is a (dataset, arch, method, seed) with everything needed to train and
evaluate it. Training settings are merged in order of precedence (later wins):

1. ``datasets.<dataset>.training``        (e.g. CIFAR-10's augmentation)
2. ``experiments[i].training``            (the table's optimiser, lr, schedule, epochs)
3. the original model string's own settings (``...-adambs128``), for groups that name
   their models the original's way (``models:``)
4. ``experiments[i].training_by_method``  (e.g. SVHN's lr 1e-3 for AT, RST and LLR)
5. ``training_overrides``                 (every experiment: e.g. a smoke run's short epochs)

A group's ``method_overrides`` changes a method's hyperparameters for that group only
(Restricted ImageNet's LLR uses lambda 3, mu 6 but keeps the table row ``llr``).

Evaluation settings merge ``evaluation`` with ``experiments[i].evaluation``. Because the
resolved settings are a rule's ``params``, changing one method's hyperparameter retrains
exactly the models that use it.

Nothing here imports torch: the workflow loads (and a dry run of the paper's grid
finishes) in seconds. Method hyperparameters are checked by the config schema.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

from lolip.archs import ARCHS
from lolip.evaluation.settings import EvaluationSettings
from lolip.methods import LOSSES
from lolip.original_names import parse_original
from lolip.training.settings import TrainSettings


class ConfigError(ValueError):
    """The workflow config names something unknown or holds a bad value."""


@dataclass(frozen=True)
class Experiment:
    dataset: str
    arch: str
    method: str
    seed: int
    eps: float
    method_spec: dict[str, Any]
    training: dict[str, Any]
    evaluation: dict[str, Any]

    @property
    def key(self) -> str:
        return f"{self.dataset}/{self.arch}/{self.method}/seed{self.seed}"


def merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    """Recursive dict merge: ``override`` wins; nested dicts are merged, not replaced."""
    out = copy.deepcopy(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def expand(config: dict[str, Any]) -> list[Experiment]:
    """Every experiment of the config's grid, validated; duplicates are an error."""
    out: dict[str, Experiment] = {}
    for group in config.get("experiments", []):
        for arch, method, spec, overrides in _members(config, group):
            for seed in group.get("seeds", [0]):
                exp = _resolve(config, group, arch, method, spec, overrides, seed)
                if exp.key in out:
                    raise ConfigError(f"experiment {exp.key} is listed twice")
                out[exp.key] = exp
    return list(out.values())


Member = tuple[str, str, dict[str, Any], dict[str, Any]]


def _members(config: dict[str, Any], group: dict[str, Any]) -> list[Member]:
    """(arch, method, method spec, training overrides) of each model of a group.

    A group names its models by our method names (``arch`` + ``methods``) or by the
    original code's model strings (``models: [strades6ce-tor-CNN001, ...]``), which carry
    their own arch, method, hyperparameters and training overrides.
    """
    where = f"experiment group {group.get('dataset')}/{group.get('arch', '')}"
    runs = set(group.get("methods", []))
    for key in ("method_overrides", "training_by_method"):
        stray = [m for m in group.get(key, {}) if m not in runs]
        if stray and not group.get("models"):
            raise ConfigError(
                f"{where}: {key} names method(s) {', '.join(map(repr, stray))} that the group "
                f"does not run (it runs: {', '.join(group.get('methods', []))})"
            )
    members = []
    for method in group.get("methods", []):
        if method not in config.get("methods", {}):
            raise ConfigError(
                f"{where}: unknown method {method!r} "
                f"(known: {', '.join(config.get('methods', {}))})"
            )
        spec = merge(config["methods"][method], group.get("method_overrides", {}).get(method, {}))
        members.append((group.get("arch"), method, spec, {}))
    for model in group.get("models", []):
        try:
            parsed = parse_original(model)
        except ValueError as err:
            raise ConfigError(f"{where}: {err}") from err
        members.append(
            (parsed["arch"], parsed["method"], parsed["method_spec"], parsed["training"])
        )
    return members


def _resolve(
    config: dict[str, Any],
    group: dict[str, Any],
    arch: str,
    method: str,
    spec: dict[str, Any],
    overrides: dict[str, Any],
    seed: int,
) -> Experiment:
    name = group["dataset"]
    where = f"experiment {name}/{arch}/{method}"
    if name not in config.get("datasets", {}):
        raise ConfigError(
            f"{where}: unknown dataset {name!r} (known: {', '.join(config.get('datasets', {}))})"
        )
    if arch not in ARCHS:
        raise ConfigError(f"{where}: unknown arch {arch!r} (known: {', '.join(sorted(ARCHS))})")
    if spec.get("loss") not in LOSSES:
        raise ConfigError(
            f"{where}: unknown loss {spec.get('loss')!r} (known: {', '.join(LOSSES)})"
        )
    dataset = config["datasets"][name]
    training = merge(dataset.get("training", {}), group.get("training", {}))
    training = merge(training, overrides)
    training = merge(training, group.get("training_by_method", {}).get(method, {}))
    training = merge(training, config.get("training_overrides", {}))
    evaluation = merge(config.get("evaluation", {}), group.get("evaluation", {}))
    try:
        TrainSettings.from_dict(training, "training")
        EvaluationSettings.from_dict(evaluation, "evaluation")
    except ValueError as err:
        raise ConfigError(f"{where}: {err}") from None
    return Experiment(
        name, arch, method, int(seed), float(dataset["eps"]), spec, training, evaluation
    )


def check(config: dict[str, Any]) -> list[Experiment]:
    """Validate names and values of everything the config will run.

    Dataset entries and their raw files are checked when a job needs the dataset
    (:func:`lolip.datasets.check`), so a dataset no target uses cannot block a run.
    """
    return expand(config)


def find(config: dict[str, Any], dataset: str, arch: str, method: str, seed: int) -> Experiment:
    """The experiment behind one model path; unknown combinations name themselves."""
    for exp in expand(config):
        if (exp.dataset, exp.arch, exp.method, exp.seed) == (dataset, arch, method, int(seed)):
            return exp
    raise ConfigError(f"no experiment {dataset}/{arch}/{method}/seed{seed} in the config")
