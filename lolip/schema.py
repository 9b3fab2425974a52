"""The workflow config's JSON schema, generated from the settings classes, and its check.

Every setting's type and range is a bound of a dataclass field (:mod:`lolip.bounds`): the
training settings, every method's hyperparameters, every attack's settings, the evaluation
and Lipschitz settings, each dataset source's options, the fixtures. :func:`config_schema`
assembles them, with the registries' names, into one schema; ``python -m lolip.schema``
prints it as ``config/schema.yaml`` (committed, so a reader of the config finds every key
documented), and a test fails when the file and the code disagree. :func:`validate`, the
check of a config against it, is :mod:`lolip.schema_check`'s (importable from here too).
"""

from __future__ import annotations

import copy
import sys
from typing import Any

import yaml

from lolip.bounds import object_schema
from lolip.schema_check import validate as validate
from lolip.staircase.style import PlotStyle

HEADER = """\
# The workflow config's schema: every key, its type and its range. GENERATED from the
# settings classes by `python -m lolip.schema > config/schema.yaml`; do not edit by hand
# (tests/unit/test_schema.py fails when this file and the code disagree).
"""


def _switch(key: str, classes: dict[str, type], extra: dict[str, Any]) -> dict[str, Any]:
    """An object whose ``key`` picks its class: ``{key: name, <the class's fields>}``."""
    cases = []
    for name, cls in classes.items():
        fields = object_schema(cls, required=True)
        fields["properties"] = {key: {}, **copy.deepcopy(extra), **fields["properties"]}
        cases.append(
            {"if": {"required": [key], "properties": {key: {"const": name}}}, "then": fields}
        )
    return {
        "type": "object",
        "required": [key],
        "properties": {key: {"enum": list(classes)}},
        "allOf": cases,
    }


def _datasets() -> dict[str, Any]:
    from lolip.datasets import SOURCES, options_class
    from lolip.datasets.entry import Common

    common = object_schema(Common)["properties"]
    classes = {source: options_class(source) for source in SOURCES}
    schema = _switch("source", classes, {"training": {"$ref": "#/$defs/training"}, **common})
    for case in schema["allOf"]:
        case["then"]["required"] = ["eps", *case["then"]["required"]]
    return {
        "type": "object",
        "description": "dataset name -> source and options",
        "minProperties": 1,
        "additionalProperties": schema,
    }


def _methods() -> dict[str, Any]:
    from lolip.methods import LOSSES, method_class

    schema = _switch("loss", {loss: method_class(loss) for loss in LOSSES}, {})
    return {
        "type": "object",
        "description": "method name -> {loss, hyperparameters}; a new variant is a new entry",
        "minProperties": 1,
        "additionalProperties": schema,
    }


def _evaluation() -> dict[str, Any]:
    from lolip.attacks import ATTACKS, attack_class
    from lolip.evaluation.settings import SPLITS, EvaluationSettings

    splits = {
        "type": "array",
        "items": {"enum": list(SPLITS)},
        "description": "the splits it runs on (autoattack, square: test; others: both)",
    }
    schema = object_schema(EvaluationSettings)
    schema["description"] = "evaluation settings (lolip.evaluation.settings)"
    attack = _switch("type", {t: attack_class(t) for t in ATTACKS}, {"splits": splits})
    # An entry may leave out its type where another level of the config gives it (a
    # group's `pgd: {steps: 20}` over the top level's); the merged entry is checked again.
    del attack["required"]
    schema["properties"]["attacks"] = {
        "type": "object",
        "description": "attack name -> spec; `pgd` fills the paper's adversarial columns",
        "additionalProperties": attack,
    }
    return schema


def _training() -> dict[str, Any]:
    from lolip.training.settings import TrainSettings

    schema = object_schema(TrainSettings)
    schema["description"] = "training settings; later levels override earlier ones"
    return schema


EXPERIMENTS = {
    "type": "array",
    "items": {
        "type": "object",
        "required": ["dataset"],
        "anyOf": [{"required": ["arch", "methods"]}, {"required": ["models"]}],
        "additionalProperties": False,
        "properties": {
            "dataset": {"type": "string"},
            "arch": {"type": "string"},
            "methods": {"type": "array", "items": {"type": "string"}, "minItems": 1},
            "models": {
                "type": "array",
                "items": {"type": "string"},
                "minItems": 1,
                "description": "the original code's model strings, e.g. strades6ce-tor-CNN001",
            },
            "seeds": {
                "type": "array",
                "items": {"type": "integer", "minimum": 0},
                "minItems": 1,
                "default": [0],
            },
            "training": {"$ref": "#/$defs/training"},
            "training_by_method": {
                "type": "object",
                "additionalProperties": {"$ref": "#/$defs/training"},
            },
            "method_overrides": {
                "type": "object",
                "description": "method name -> hyperparameters that differ for this group only",
                "additionalProperties": {"type": "object"},
            },
            "evaluation": {"$ref": "#/$defs/evaluation"},
        },
    },
}

SEPARATION = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "random_labels": {"type": "boolean", "default": False},
        "random_label_seed": {"type": "integer", "default": 0},
        "shards": {
            "type": "integer",
            "minimum": 1,
            "description": "jobs per dataset's separation (query blocks)",
        },
    },
}

TABLES = {
    "type": "object",
    "description": (
        "model tables in the paper's layout (lolip.tables.table_specs): table name (file stem "
        "under results/tables/) -> blocks of (dataset, arch) groups; without it, one table per "
        "(dataset, arch) group of the run"
    ),
    "additionalProperties": {
        "type": "object",
        "required": ["blocks"],
        "additionalProperties": False,
        "properties": {
            "caption": {"type": "string"},
            "reported": {
                "type": ["string", "null"],
                "description": "section of reported.yaml (default: the table name)",
            },
            "attack": {
                "type": "string",
                "description": "attack of the bare adv_* columns (default: pgd)",
            },
            "columns": {
                "type": "array",
                "minItems": 1,
                "items": {"type": "string"},
                "description": (
                    "metrics: train_acc, test_acc, test_lipschitz, gap, "
                    "adv_test_acc[_<attack>], adv_gap[_<attack>], ..."
                ),
            },
            "blocks": {
                "type": "object",
                "minProperties": 1,
                "description": "block name (its key in the reported.yaml section) -> models",
                "additionalProperties": {
                    "type": "object",
                    "required": ["dataset", "arch"],
                    "additionalProperties": False,
                    "properties": {
                        "dataset": {"type": "string"},
                        "arch": {"type": "string"},
                        "dropout_arch": {
                            "type": "string",
                            "description": "its models fill the rows <method>+drop",
                        },
                        "methods": {
                            "type": "array",
                            "items": {"type": "string"},
                            "minItems": 1,
                            "description": "only these methods' models (default: every one)",
                        },
                    },
                },
            },
        },
    },
}

STAIRCASE_SIZE = {
    "type": "object",
    "additionalProperties": False,
    "required": ["n_train", "n_test", "seed"],
    "properties": {
        "n_train": {"type": "integer", "minimum": 2},
        "n_test": {"type": "integer", "minimum": 1},
        "seed": {"type": "integer"},
    },
}

STAIRCASE = {
    "type": "object",
    "description": "the 1-D staircase illustration (rules/staircase.smk)",
    "additionalProperties": False,
    "properties": {
        "small": STAIRCASE_SIZE,
        "large": STAIRCASE_SIZE,
        "eps": {"type": "number", "exclusiveMinimum": 0, "maximum": 0.5},
        "lambda": {
            "type": "number",
            "exclusiveMinimum": 0,
            "description": "smoothness penalty weight",
        },
        "methods": {
            "type": "array",
            "items": {"type": "string"},
            "minItems": 1,
            "description": (
                "names of `methods:` entries, fitted with their loss and hyperparameters "
                "(lolip.staircase.methods)"
            ),
        },
        "plot": {
            **object_schema(PlotStyle),
            "description": "the figure's look (lolip.staircase.style); a change refits nothing",
        },
    },
}

JOB_RESOURCES = {
    "type": "object",
    "additionalProperties": {
        "type": "object",
        "additionalProperties": False,
        "properties": {
            "threads": {"type": "integer", "minimum": 1},
            "mem_mb": {"type": "integer", "minimum": 1},
            "runtime": {"type": "integer", "minimum": 1, "description": "minutes"},
            "gpu": {"type": "integer", "minimum": 0},
        },
    },
}

RESOURCES = {
    "type": "object",
    "description": (
        "cluster resources of training/evaluation jobs over rules/common.smk's built-in "
        'table; per stage, entries "*" < "<dataset>" < "<arch>" < "<dataset>/<arch>" '
        "(later wins)"
    ),
    "additionalProperties": False,
    "properties": {
        "gpu_model": {
            "type": ["string", "null"],
            "description": "GPU type GPU jobs ask SLURM for (else $LOLIP_SLURM_GPU_MODEL)",
        },
        "train": JOB_RESOURCES,
        "evaluate": JOB_RESOURCES,
    },
}


def _described(cls: type, description: str) -> dict[str, Any]:
    schema = object_schema(cls)
    schema["description"] = description
    return schema


def config_schema() -> dict[str, Any]:
    """The whole config schema."""
    from lolip.datasets.fixtures import Fixture
    from lolip.figures import FigureSettings
    from lolip.sweep import SweepSettings

    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "description": "lolip workflow configuration",
        "type": "object",
        "required": ["datasets", "methods", "experiments"],
        "additionalProperties": False,
        "$defs": {"training": _training(), "evaluation": _evaluation()},
        "properties": {
            "datasets": _datasets(),
            "fixtures": {
                "type": "object",
                "description": "datasets made by the workflow (rule make_fixture) -> sizes",
                "additionalProperties": object_schema(Fixture, required=True),
            },
            "methods": _methods(),
            "experiments": EXPERIMENTS,
            "training_overrides": {
                "$ref": "#/$defs/training",
                "description": "training settings over every experiment's (e.g. a smoke run's)",
            },
            "evaluation": {"$ref": "#/$defs/evaluation"},
            "separation": SEPARATION,
            "reported": {
                "type": ["string", "null"],
                "description": "the paper's reported values (config/reported.yaml); null: none",
            },
            "tables": TABLES,
            "sweep": _described(
                SweepSettings,
                "robust accuracy against the radius, per model table (lolip.sweep)",
            ),
            "figures": _described(
                FigureSettings, "the figures' look: read by the figure rules alone"
            ),
            "staircase": STAIRCASE,
            "resources": RESOURCES,
        },
    }


class _Dumper(yaml.SafeDumper):
    def ignore_aliases(self, data: Any) -> bool:  # write repeated parts out in full
        return True


def schema_text() -> str:
    body = yaml.dump(
        config_schema(), Dumper=_Dumper, sort_keys=False, width=100, default_flow_style=None
    )
    return HEADER + body


def load(path: str) -> dict[str, Any]:
    with open(path) as f:
        return yaml.safe_load(f)


if __name__ == "__main__":
    sys.stdout.write(schema_text())
