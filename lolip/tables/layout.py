"""A model table's layout: its blocks, columns, caption, reported.yaml section and attack.

A model table is a list of *blocks*. A block is one (dataset, arch) group of trained
models, one row per method; a dropout block pairs an arch with its dropout variant and
has the rows ``method`` and ``method+drop`` (the paper's Table 4). Which groups form which
table is the config's ``tables`` section, read by :func:`table_specs`; without one every
(dataset, arch) group of the run is a table of its own. A table names its section of
``reported.yaml`` (default: its own name) and each block its block there, so the paper's
values line up with ours cell by cell. Also here: the names of the tables that are not
model tables (separation, findings, checks), which no model table may take.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from lolip.bounds import check_keys

MODEL_COLUMNS = ("train_acc", "test_acc", "adv_test_acc", "test_lipschitz", "gap", "adv_gap")
SEPARATION_TABLE = "table1_separation"
FINDINGS_TABLE = "findings"  # lolip.findings
CHECKS_SUFFIX = "_checks"  # the soundness checks of table t: t_checks
DROP_SUFFIX = "+drop"
DEFAULT_ATTACK = "pgd"

# A model-table column: a metric of lolip.evaluate, or an adversarial one of a named attack.
_COLUMN = re.compile(
    r"(?P<plain>(train|test)_(acc|lipschitz)|gap)"
    r"|adv_(?P<split>train|test)_acc(_(?P<acc_attack>\w+))?"
    r"|adv_gap(_(?P<gap_attack>\w+))?"
)
_TABLE_KEYS = ("caption", "columns", "blocks", "reported", "attack")
_BLOCK_KEYS = ("dataset", "arch", "dropout_arch", "methods")


class TableError(ValueError):
    """A table layout names something unknown or is inconsistent."""


@dataclass(frozen=True)
class Block:
    """One block of a model table: the models of ``dataset``/``arch`` (and its dropout variant).

    ``methods``, when given, limits the block to those methods (Table 4 shows five of the
    ten methods trained on CIFAR-10's WRN_40_10).
    """

    name: str
    dataset: str
    arch: str
    dropout_arch: str | None = None
    methods: tuple[str, ...] | None = None

    @property
    def archs(self) -> tuple[str, ...]:
        return (self.arch,) if self.dropout_arch is None else (self.arch, self.dropout_arch)

    @property
    def title(self) -> str:
        drop = f" vs {self.dropout_arch} (+drop)" if self.dropout_arch else ""
        return f"{self.name}: {self.dataset}, {self.arch}{drop}"

    def row_of(self, arch: str, method: str) -> str | None:
        """The row a model of ``arch`` trained with ``method`` fills, or None if not ours."""
        if self.methods is not None and method not in self.methods:
            return None
        if arch == self.arch:
            return method
        if arch == self.dropout_arch:
            return f"{method}{DROP_SUFFIX}"
        return None


@dataclass(frozen=True)
class TableSpec:
    """A model table's layout: blocks, columns, caption, its reported.yaml section, attack.

    ``reported`` names the section of reported.yaml holding the paper's values (its block
    keys are the block names); None: no paper values. Bare adversarial columns
    (``adv_test_acc``, ``adv_train_acc``, ``adv_gap``) are those of ``attack``;
    ``adv_test_acc_<name>`` and ``adv_gap_<name>`` name an attack explicitly.
    """

    name: str
    blocks: tuple[Block, ...]
    columns: tuple[str, ...] = MODEL_COLUMNS
    caption: str = ""
    reported: str | None = None
    attack: str = DEFAULT_ATTACK
    _index: dict[tuple[str, str], Block] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        index: dict[tuple[str, str], Block] = {}
        for block in self.blocks:
            for arch in block.archs:
                if (block.dataset, arch) in index:
                    raise TableError(
                        f"table {self.name!r}: {block.dataset}/{arch} is in blocks "
                        f"{index[block.dataset, arch].name!r} and {block.name!r}"
                    )
                index[block.dataset, arch] = block
        object.__setattr__(self, "_index", index)

    def block_of(self, dataset: str, arch: str) -> Block | None:
        return self._index.get((dataset, arch))

    def covers(self, dataset: str, arch: str, method: str) -> bool:
        """Whether the model ``dataset``/``arch``/``method`` fills a row of this table."""
        block = self.block_of(dataset, arch)
        return block is not None and block.row_of(arch, method) is not None

    @property
    def datasets(self) -> list[str]:
        return list(dict.fromkeys(b.dataset for b in self.blocks))

    def to_dict(self) -> dict[str, Any]:
        """Plain data (a rule's ``params``): :meth:`from_dict` rebuilds the spec."""
        return {
            "name": self.name,
            "caption": self.caption,
            "columns": list(self.columns),
            "reported": self.reported,
            "attack": self.attack,
            "blocks": {
                b.name: {
                    "dataset": b.dataset,
                    "arch": b.arch,
                    "dropout_arch": b.dropout_arch,
                    "methods": None if b.methods is None else list(b.methods),
                }
                for b in self.blocks
            },
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> TableSpec:
        blocks = tuple(_block(name, b) for name, b in d["blocks"].items())
        return cls(
            name=d["name"],
            blocks=blocks,
            columns=tuple(d["columns"]),
            caption=d.get("caption", ""),
            reported=d.get("reported"),
            attack=d.get("attack", DEFAULT_ATTACK),
        )


def _block(name: str, b: Mapping[str, Any]) -> Block:
    methods = b.get("methods")
    return Block(
        name,
        b["dataset"],
        b["arch"],
        b.get("dropout_arch"),
        None if methods is None else tuple(methods),
    )


def column_attack(column: str, attack: str = DEFAULT_ATTACK) -> str | None:
    """The attack whose numbers an adversarial column shows (None: not adversarial)."""
    m = _COLUMN.fullmatch(column)
    if m is None:
        raise TableError(f"unknown table column {column!r} ({_known_columns()})")
    if m["plain"]:
        return None
    return m["acc_attack"] or m["gap_attack"] or attack


def _known_columns() -> str:
    return (
        "known: train_acc, test_acc, train_lipschitz, test_lipschitz, gap, adv_train_acc, "
        "adv_test_acc, adv_gap, or adv_test_acc_<attack>, adv_train_acc_<attack>, "
        "adv_gap_<attack>"
    )


def table_specs(
    section: Mapping[str, Any] | None,
    groups: Iterable[tuple[str, str]],
    *,
    datasets: Collection[str],
    archs: Collection[str],
    methods: Collection[str] | None = None,
    attacks: Collection[str] | None = None,
) -> dict[str, TableSpec]:
    """The model tables of a config: its ``tables`` section, else one table per group.

    ``section`` maps a table name (the file stem under ``results/tables/``) to
    ``{blocks: {name: {dataset, arch[, dropout_arch, methods]}}, columns, caption, reported,
    attack}``;
    a block's name is its key in the table's ``reported`` section of reported.yaml
    (default: the table's name; ``null`` for none). Without a section every
    ``(dataset, arch)`` of ``groups`` becomes the table ``{dataset}_{arch}`` with the
    paper's six columns. Names are checked against ``datasets``, ``archs`` and, when
    given, ``methods`` and ``attacks``.
    """
    if not section:
        specs = {f"{d}_{a}": TableSpec(f"{d}_{a}", (Block(f"{d}_{a}", d, a),)) for d, a in groups}
    else:
        specs = {name: _parse_table(name, t) for name, t in section.items()}
    for spec in specs.values():
        _check_names(spec, datasets, archs, methods, attacks)
    return specs


def _parse_table(name: str, t: Mapping[str, Any]) -> TableSpec:
    if name == SEPARATION_TABLE:
        raise TableError(f"table name {name!r} is taken by the separation table")
    if name == FINDINGS_TABLE:
        raise TableError(f"table name {name!r} is taken by the table of the paper's findings")
    if name.endswith(CHECKS_SUFFIX):
        raise TableError(
            f"table name {name!r}: names ending in {CHECKS_SUFFIX!r} are taken by the "
            "tables of soundness checks"
        )
    check_keys(f"table {name!r}", t, _TABLE_KEYS, TableError)
    if not t.get("blocks"):
        raise TableError(f"table {name!r} has no blocks")
    blocks = []
    for block_name, b in t["blocks"].items():
        check_keys(f"table {name!r}, block {block_name!r}", b, _BLOCK_KEYS, TableError)
        if "dataset" not in b or "arch" not in b:
            raise TableError(f"table {name!r}, block {block_name!r} needs a dataset and an arch")
        blocks.append(_block(block_name, b))
    return TableSpec(
        name=name,
        blocks=tuple(blocks),
        columns=tuple(t.get("columns", MODEL_COLUMNS)),
        caption=t.get("caption", ""),
        reported=t.get("reported", name),
        attack=t.get("attack", DEFAULT_ATTACK),
    )


def _check_names(
    spec: TableSpec,
    datasets: Collection[str],
    archs: Collection[str],
    methods: Collection[str] | None,
    attacks: Collection[str] | None,
) -> None:
    where = f"table {spec.name!r}"
    for block in spec.blocks:
        if block.dataset not in datasets:
            raise TableError(
                f"{where}, block {block.name!r}: unknown dataset {block.dataset!r} "
                f"(known: {', '.join(datasets)})"
            )
        for arch in block.archs:
            if arch not in archs:
                raise TableError(
                    f"{where}, block {block.name!r}: unknown arch {arch!r} "
                    f"(known: {', '.join(sorted(archs))})"
                )
        unknown = set(block.methods or ()) - set(methods if methods is not None else ())
        if methods is not None and unknown:
            raise TableError(
                f"{where}, block {block.name!r}: unknown method(s) {sorted(unknown)} "
                f"(known: {', '.join(methods)})"
            )
    used = {column_attack(c, spec.attack) for c in spec.columns} | {spec.attack}
    if attacks is not None and (unknown := used - set(attacks) - {None}):
        raise TableError(
            f"{where}: unknown attack(s) {sorted(unknown)} (evaluated: {', '.join(attacks)})"
        )


def model_block(spec: TableSpec, metrics: Mapping[str, Any]) -> Block:
    """The block of ``spec`` whose row the model of ``metrics`` fills (TableError if none)."""
    if not spec.covers(metrics["dataset"], metrics["arch"], metrics["method"]):
        raise TableError(
            f"metrics of {metrics['dataset']}/{metrics['arch']}/{metrics['method']} belong to "
            f"no block of table {spec.name!r} ({', '.join(b.title for b in spec.blocks)})"
        )
    return spec.block_of(metrics["dataset"], metrics["arch"])
