"""Evaluation settings: the config's ``evaluation:`` section, checked without torch.

The workflow reads these when it loads (its DAG has one job per attack and shard), so they
are torch-free; an attack's own settings are checked by its class when it is built (and,
at load, by the config schema generated from that class).
"""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass, field
from typing import Any

from lolip import search
from lolip.bounds import Bound, check_fields, from_mapping, nested, setting, to_mapping

SPLITS = ("train", "test")
NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")
# The attack that fills the paper's adversarial columns.
PAPER_ATTACK = "pgd"
# The splits an attack runs on unless its entry says otherwise: AutoAttack and Square are
# costly and reported on the test set (RobustBench's protocol).
DEFAULT_SPLITS = {"autoattack": ("test",), "square": ("test",)}
ATTACK_TYPES = ("pgd", "multitarget", "autoattack", "square")


@dataclass(frozen=True)
class LipschitzSettings:
    """The local Lipschitz estimator's settings (:mod:`lolip.lipschitz`)."""

    steps: int = search.steps(10)
    step_size: float = search.step_size(0.003, unit="[0, 1] pixels")
    restarts: int = search.restarts()
    init_std: float = setting(
        0.001, type="number", minimum=0, description="std of the Gaussian start around x"
    )

    def __post_init__(self) -> None:
        check_fields(self)


@dataclass(frozen=True)
class Subsets:
    """The first ``n`` points of each split are evaluated (null: all of them)."""

    train: int | None = setting(None, type="integer", minimum=1, nullable=True)
    test: int | None = setting(None, type="integer", minimum=1, nullable=True)

    def __post_init__(self) -> None:
        check_fields(self)


@dataclass(frozen=True)
class CheckSettings:
    """The soundness checks and gradient-masking alarms (:mod:`lolip.evaluation.checks`)."""

    size: int = setting(200, type="integer", minimum=1, description="sample size per split")
    strict: bool = setting(
        False, type="boolean", description="a gradient-masking alarm is an error, not a warning"
    )
    square_queries: int = setting(
        1000, type="integer", minimum=1, description="queries of the Square attack on the sample"
    )
    large_eps: float = setting(
        0.5,
        type="number",
        above=0,
        maximum=1,
        description="radius at which accuracy must fall to chance",
    )
    large_eps_steps: int = setting(
        20, type="integer", minimum=1, description="PGD steps (of eps/10) at the large radius"
    )

    def __post_init__(self) -> None:
        check_fields(self)


DEFAULT_ATTACKS = {PAPER_ATTACK: {"type": "pgd"}}


@dataclass(frozen=True)
class EvaluationSettings:
    """Everything an evaluation depends on besides the model, the data and eps.

    ``batch_size``, ``chunk_size`` and ``shards`` only organise the work: every random
    draw is per example (:mod:`lolip.noise`), chunks and shards are aligned at multiples
    of the chunk size, so they change no result. ``attacks``: name -> ``{type, splits,
    <settings>}``; ``pgd`` fills the paper's adversarial columns.
    """

    batch_size: int = setting(500, type="integer", minimum=1, description="examples per batch")
    chunk_size: int = setting(
        1000,
        type="integer",
        minimum=1,
        description="examples per resumable chunk (library attacks: their block_size)",
    )
    shards: int = setting(
        1, type="integer", minimum=1, description="jobs per attack and per Lipschitz estimate"
    )
    seed: int = setting(0, type="integer", minimum=0)
    tf32: bool = setting(
        False, type="boolean", description="allow TF32 in fp32 matmuls and convolutions on GPUs"
    )
    subsets: Subsets = nested(Subsets, "evaluate the first n points of each split")
    checks: CheckSettings = nested(CheckSettings)
    lipschitz: LipschitzSettings = nested(LipschitzSettings)
    attacks: dict[str, dict[str, Any]] = field(default_factory=lambda: dict(DEFAULT_ATTACKS))

    def __post_init__(self) -> None:
        check_fields(self)
        for name, spec in self.attacks.items():
            _check_attack(name, spec)
        if self.attacks[PAPER_ATTACK]["type"] != "pgd":
            raise ValueError(
                f"attacks.{PAPER_ATTACK} must have type 'pgd' (it fills the paper's adversarial "
                f"columns), got {self.attacks[PAPER_ATTACK]['type']!r}"
            )

    @classmethod
    def from_dict(
        cls, values: dict[str, Any] | None, where: str = "evaluation"
    ) -> EvaluationSettings:
        values = copy.deepcopy(values or {})
        if not isinstance(values.get("attacks", {}), dict):
            raise ValueError(f"{where}.attacks must be a mapping, got {values['attacks']!r}")
        given = values.get("attacks", {})
        values["attacks"] = {
            name: {**DEFAULT_ATTACKS.get(name, {}), **(spec if isinstance(spec, dict) else {})}
            if isinstance(spec, dict) or name not in DEFAULT_ATTACKS
            else spec
            for name, spec in {**DEFAULT_ATTACKS, **given}.items()
        }
        return from_mapping(cls, values, where)

    def to_dict(self) -> dict[str, Any]:
        """Plain data (a rule's params); :meth:`from_dict` rebuilds the settings."""
        return to_mapping(self)

    def splits_of(self, attack: str) -> tuple[str, ...]:
        """The splits attack ``attack`` runs on."""
        spec = self.attacks[attack]
        return tuple(spec.get("splits", DEFAULT_SPLITS.get(spec["type"], SPLITS)))


_SPLIT_LIST = Bound("array", items=Bound("string", choices=SPLITS))


def _check_attack(name: str, spec: Any) -> None:
    where = f"attacks.{name}"
    if not isinstance(name, str) or not NAME.match(name):
        raise ValueError(
            f"attacks: bad attack name {name!r} (a letter, then letters, digits or underscores)"
        )
    if not isinstance(spec, dict) or spec.get("type") not in ATTACK_TYPES:
        raise ValueError(f"{where} needs a type, one of {', '.join(ATTACK_TYPES)}, got {spec!r}")
    if "splits" in spec:
        _SPLIT_LIST.check(f"{where}.splits", spec["splits"])


def attack_settings(spec: dict[str, Any]) -> dict[str, Any]:
    """An attack entry without the keys the evaluation reads (``splits``)."""
    return {k: v for k, v in spec.items() if k != "splits"}
