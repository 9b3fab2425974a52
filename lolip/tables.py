"""The paper's tables, from saved results only (no training or attack runs here).

A model table is a list of *blocks*. A block is one (dataset, arch) group of trained
models, one row per method; a dropout block pairs an arch with its dropout variant and
has the rows ``method`` and ``method+drop`` (the paper's Table 4). Which groups form which
table is the config's ``tables`` section, read by :func:`table_specs`; without one every
(dataset, arch) group of the run is a table of its own. A table names its section of
``reported.yaml`` (default: its own name) and each block its block there, so the paper's
values line up with ours cell by cell.

Cells: our mean over seeds, ``± std`` (sample standard deviation) with several seeds, and
the paper's reported value with the difference *ours - paper*. Paper rows the config does
not run say ``not run``; a value a finished run does not have (an attack not evaluated)
says ``n/a``. Rows are the paper's, in its order, then any of ours the paper lacks.

Each block ends with the reference row ``1-NN (theorem)``: the nearest-neighbour
classifier of the paper's existence theorem on the block's dataset
(:func:`lolip.separation.compute_separation`), with its clean test accuracy, its accuracy
*certified* at radius eps in every adversarial test column (a lower bound against any
attack), and its exact local Lipschitz constant ``1/r`` in the Lipschitz column.

Every table is written as CSV (all numbers: ``col``, ``col_std``, ``col_paper``,
``col_diff`` plus ``status``, ``n_seeds`` and, in a model table, ``attack``: the attack of
its bare adversarial columns), Markdown, LaTeX and HTML (for the Snakemake report), each
atomically.
"""

from __future__ import annotations

import html
import math
import os
import re
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from lolip.evaluation.verdict import ALARMS
from lolip.io import atomic_path

MODEL_COLUMNS = ("train_acc", "test_acc", "adv_test_acc", "test_lipschitz", "gap", "adv_gap")
SEPARATION_COLUMNS = (
    "eps",
    "train_train",
    "test_train",
    "train_train_raw",
    "nn_clean_acc",
    "nn_certified_acc",
)
RANDOM_LABEL_COLUMNS = ("train_train_random", "test_train_random")
TABLE_EXTS = ("csv", "md", "tex", "html")
SEPARATION_TABLE = "table1_separation"
FINDINGS_TABLE = "findings"  # lolip.findings
CHECKS_SUFFIX = "_checks"  # the soundness checks of table t: t_checks
NN_ROW = "1-NN (theorem)"
DROP_SUFFIX = "+drop"
DEFAULT_ATTACK = "pgd"

# A model-table column: a metric of lolip.evaluate, or an adversarial one of a named attack.
_COLUMN = re.compile(
    r"(?P<plain>(train|test)_(acc|lipschitz)|gap)"
    r"|adv_(?P<split>train|test)_acc(_(?P<acc_attack>\w+))?"
    r"|adv_gap(_(?P<gap_attack>\w+))?"
)
_TABLE_KEYS = {"caption", "columns", "blocks", "reported", "attack"}
_BLOCK_KEYS = {"dataset", "arch", "dropout_arch", "methods"}
_SEPARATION_DIGITS = 3
_LABELS = {
    "train_acc": "train acc",
    "test_acc": "test acc",
    "test_lipschitz": "test Lipschitz",
    "train_lipschitz": "train Lipschitz",
    "gap": "gap",
    "eps": "ε",
    "train_train": "train-train",
    "test_train": "test-train",
    "train_train_raw": "train-train (none dropped)",
    "nn_clean_acc": "1-NN clean acc",
    "nn_certified_acc": "1-NN certified acc",
    "train_train_random": "train-train (random labels)",
    "test_train_random": "test-train (random labels)",
}
NOTE = "Cells: ours ± std over seeds (paper; ours - paper)."
MASKING_MARK = "†"
MASKING_NOTE = (
    f"{MASKING_MARK}: gradient masking suspected (an alarm of the soundness checks rang: see "
    "the model's metrics.json, checks): its adversarial accuracy may overstate robustness."
)


class TableError(ValueError):
    """A table layout names something unknown or is inconsistent."""


# --------------------------------------------------------------------------- layout


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
    if unknown := set(t) - _TABLE_KEYS:
        raise TableError(f"table {name!r}: unknown keys {sorted(unknown)} (known: {_TABLE_KEYS})")
    if not t.get("blocks"):
        raise TableError(f"table {name!r} has no blocks")
    blocks = []
    for block_name, b in t["blocks"].items():
        if unknown := set(b) - _BLOCK_KEYS:
            raise TableError(
                f"table {name!r}, block {block_name!r}: unknown keys {sorted(unknown)} "
                f"(known: {sorted(_BLOCK_KEYS)})"
            )
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


# --------------------------------------------------------------------------- values


def load_reported(path: str | os.PathLike | None) -> dict[str, Any]:
    """The paper's reported numbers, or an empty dict when no file is given."""
    if not path:
        return {}
    return yaml.safe_load(Path(path).read_text())


def reported_block(
    reported: Mapping[str, Any], section: str | None, block: str
) -> dict[str, dict[str, float | None]]:
    """The paper's rows of one block, ``{row: {column: value}}`` in the paper's order."""
    table = reported.get(section or "", {}) if section else {}
    if block == "columns" or block not in table:
        return {}
    columns = table["columns"]
    return {row: dict(zip(columns, values, strict=True)) for row, values in table[block].items()}


def metric_value(metrics: Mapping[str, Any], column: str, attack: str = DEFAULT_ATTACK) -> float:
    """One column's value in a metrics JSON of :func:`lolip.evaluate.evaluate` (nan if absent).

    ``adv_{split}_acc`` of attack ``pgd`` is stored without suffix, every other attack's as
    ``adv_{split}_acc_{attack}``; ``adv_gap`` of an attack is its train minus test value.
    """
    name = column_attack(column, attack)
    if name is None:
        return _number(metrics.get(column))
    suffix = "" if name == DEFAULT_ATTACK else f"_{name}"
    if column.startswith("adv_gap"):
        train = _number(metrics.get(f"adv_train_acc{suffix}"))
        return train - _number(metrics.get(f"adv_test_acc{suffix}"))
    split = _COLUMN.fullmatch(column)["split"]
    return _number(metrics.get(f"adv_{split}_acc{suffix}"))


def _number(value: Any) -> float:
    return math.nan if value is None else float(value)


def model_rows(
    spec: TableSpec, metrics: Iterable[Mapping[str, Any]], columns: Sequence[str] | None = None
) -> pd.DataFrame:
    """One row per trained model of the table: block, row, seed and each column's value."""
    columns = list(spec.columns if columns is None else columns)
    rows = []
    for m in metrics:
        block = spec.block_of(m["dataset"], m["arch"])
        if not spec.covers(m["dataset"], m["arch"], m["method"]):
            raise TableError(
                f"metrics of {m['dataset']}/{m['arch']}/{m['method']} belong to no block of "
                f"table {spec.name!r} ({', '.join(b.title for b in spec.blocks)})"
            )
        row = {
            "block": block.name,
            "row": block.row_of(m["arch"], m["method"]),
            "seed": m["seed"],
            "masking": bool(m.get("checks", {}).get("masking_suspected")),
        }
        rows.append(row | {c: metric_value(m, c, spec.attack) for c in columns})
    return pd.DataFrame(rows, columns=["block", "row", "seed", "masking", *columns])


def _row_order(ours: Sequence[str], paper: Sequence[str]) -> list[str]:
    """The paper's rows in its order, then ours it lacks (each method before its +drop)."""
    have = set(ours)
    methods = dict.fromkeys(r.removesuffix(DROP_SUFFIX) for r in ours)
    ours_sorted = [r for m in methods for r in (m, f"{m}{DROP_SUFFIX}") if r in have]
    return list(dict.fromkeys([*paper, *ours_sorted]))


def model_table(
    spec: TableSpec,
    metrics: Iterable[Mapping[str, Any]],
    reported: Mapping[str, Any] | None = None,
    separation: Mapping[str, Mapping[str, Any]] | None = None,
    *,
    columns: Sequence[str] | None = None,
) -> pd.DataFrame:
    """The table in long form: per block its rows, then the ``1-NN (theorem)`` row.

    ``separation`` maps a dataset to its separation summary (the reference row says
    ``not run`` without one). Per column: ``col`` (mean over seeds), ``col_std``,
    ``col_paper`` (only for columns of the paper's attack, PGD) and ``col_diff``.
    """
    columns = list(spec.columns if columns is None else columns)
    models = model_rows(spec, metrics, columns)
    separation = separation or {}
    out = []
    for block in spec.blocks:
        paper = reported_block(reported or {}, spec.reported, block.name)
        ours = models[models["block"] == block.name]
        for name in _row_order(list(ours["row"]), list(paper)):
            runs = ours[ours["row"] == name]
            row = _block_row(block, name, "run" if len(runs) else "not run", len(runs))
            row["masking_suspected"] = int(runs["masking"].sum())
            for col in columns:
                values = runs[col].dropna()
                row[col] = values.mean() if len(values) else math.nan
                row[f"{col}_std"] = values.std(ddof=1) if len(values) > 1 else math.nan
                compare = column_attack(col, spec.attack) in (None, DEFAULT_ATTACK)
                value = paper.get(name, {}).get(col) if compare else None
                row[f"{col}_paper"] = _number(value)
                row[f"{col}_diff"] = row[col] - row[f"{col}_paper"]
            out.append(row)
        out.append(_nn_row(block, columns, separation.get(block.dataset)))
    df = pd.DataFrame(out)
    # The CSV says which attack its bare adversarial columns are (lolip summary labels them).
    df.insert(df.columns.get_loc("row") + 1, "attack", spec.attack)
    return df


def _block_row(block: Block, name: str, status: str, n_seeds: int) -> dict[str, Any]:
    return {
        "block": block.name,
        "dataset": block.dataset,
        "arch": block.arch,
        "dropout_arch": block.dropout_arch,
        "row": name,
        "status": status,
        "n_seeds": n_seeds,
    }


def _nn_row(
    block: Block, columns: Sequence[str], summary: Mapping[str, Any] | None
) -> dict[str, Any]:
    """The theorem's 1-NN classifier in the columns it has a value for."""
    row = _block_row(block, NN_ROW, "reference" if summary else "not run", 0)
    for col in columns:
        value = math.nan
        if summary is not None:
            if col == "test_acc":
                value = _number(summary.get("nn_clean_acc"))
            elif col.startswith("adv_test_acc"):
                value = _number(summary.get("nn_certified_acc"))
            elif col == "test_lipschitz":
                value = _number(summary.get("nn_lipschitz"))
        row |= {col: value, f"{col}_std": math.nan, f"{col}_paper": math.nan}
        row[f"{col}_diff"] = math.nan
    return row


def separation_table(
    summaries: Iterable[Mapping[str, Any]],
    reported: Mapping[str, Any] | None = None,
    random_summaries: Iterable[Mapping[str, Any]] | None = None,
) -> pd.DataFrame:
    """Table 1: one row per dataset, the paper's first (in its order), then ours.

    Columns ``eps``, ``train_train``, ``test_train`` (with ``_paper`` / ``_diff``),
    ``train_train_raw`` (nothing dropped), the theorem's 1-NN ``nn_clean_acc`` and
    ``nn_certified_acc`` (at radius eps), and with ``random_summaries`` the random-label
    control's ``train_train_random`` / ``test_train_random``. The paper's datasets the run
    lacks say ``not run``.
    """
    paper = dict((reported or {}).get(SEPARATION_TABLE, {}))
    paper_columns = paper.pop("columns", [])
    ours = {s["dataset"]: s for s in summaries}
    random = {s["dataset"]: s for s in random_summaries} if random_summaries is not None else None
    columns = [*SEPARATION_COLUMNS, *(RANDOM_LABEL_COLUMNS if random is not None else ())]
    rows = []
    for dataset in dict.fromkeys([*paper, *ours]):
        s = ours.get(dataset)
        row: dict[str, Any] = {"dataset": dataset, "status": "run" if s else "not run"}
        values = {
            "eps": s and s["eps"],
            "train_train": s and s["train_train_min"],
            "test_train": s and s["test_train_min"],
            "train_train_raw": s and s["train_train_min_raw"],
            "nn_clean_acc": s and s["nn_clean_acc"],
            "nn_certified_acc": s and s["nn_certified_acc"],
        }
        if random is not None:
            r = random.get(dataset)
            values["train_train_random"] = r and r["train_train_min"]
            values["test_train_random"] = r and r["test_train_min"]
        ref = dict(zip(paper_columns, paper.get(dataset, []), strict=False))
        for col in columns:
            row[col] = _number(values[col])
            row[f"{col}_paper"] = _number(ref.get(col))
            row[f"{col}_diff"] = row[col] - row[f"{col}_paper"]
        rows.append(row)
    return pd.DataFrame(rows)


# --------------------------------------------------------------------------- checks

# The soundness checks of lolip.evaluation.checks in the order they run: the errors, then
# the gradient-masking alarms (CHECK_ALARMS). A check a record lacks (an older metrics
# file) shows "n/a"; one this list lacks is appended.
CHECKS = (
    "batch_size_invariance",
    "input_gradient_nonzero",
    "eps_zero",
    "more_steps",
    "in_ball",
    "adv_not_above_clean",
    "square_vs_pgd",
    "large_eps",
)
CHECK_ALARMS = ALARMS
_CHECK_LABELS = {
    "batch_size_invariance": "batch size",
    "input_gradient_nonzero": "input grad ≠ 0",
    "eps_zero": "PGD at ε=0",
    "more_steps": "2× steps",
    "in_ball": "in ε-ball",
    "adv_not_above_clean": "adv ≤ clean",
    "square_vs_pgd": "Square vs PGD (alarm)",
    "large_eps": "large ε (alarm)",
}
CHECKS_NOTE = (
    "pass: every record of the check passed (each evaluated split; in ε-ball and adv ≤ clean: "
    "each attack); FAIL or ALARM: the splits (/attacks) where it did not. Errors stop an "
    "evaluation, so a finished model passed them all; alarms are warnings."
)


def check_records(per_split: Mapping[str, Any]) -> list[tuple[str, Mapping[str, Any]]]:
    """A check's records as ``(where, record)``: ``{split: record}`` or
    ``{split: {attack: record}}`` flattened to ``test`` or ``test/pgd``."""
    flat = []
    for split, entry in per_split.items():
        if "passed" in entry:
            flat.append((split, entry))
        else:
            flat.extend((f"{split}/{attack}", record) for attack, record in entry.items())
    return flat


def alarm_evidence(name: str, where: str, record: Mapping[str, Any]) -> str:
    """One alarm's evidence in short: its numbers against its threshold."""
    if name == "square_vs_pgd":
        acc = record["attack_acc"]
        return (
            f"Square vs PGD on {where}: Square leaves {acc['square']:.1f}% unbroken, PGD "
            f"{acc['pgd']:.1f}% (margin {record['margin']:.1f}; n={record['n']}): PGD's "
            "gradients miss adversarial points a gradient-free search finds"
        )
    if name == "large_eps":
        return (
            f"large ε on {where}: PGD at ε={record['eps']:g} leaves {record['attack_acc']:.1f}% "
            f"unbroken, above chance {record['chance']:.1f}% + {record['margin']:.1f} "
            f"(n={record['n']}): the attack cannot follow the model even where every "
            "point is breakable"
        )
    numbers = ", ".join(f"{k}={v}" for k, v in record.items() if k != "passed")
    return f"{name} on {where}: {numbers}"


def check_cell(name: str, per_split: Mapping[str, Any] | None) -> str:
    """``pass``, ``FAIL: <where>`` (errors), ``ALARM: <where>`` (alarms) or ``n/a``."""
    if not isinstance(per_split, Mapping):
        return "n/a"
    failed = [where for where, record in check_records(per_split) if not record["passed"]]
    if not failed:
        return "pass"
    return f"{'ALARM' if name in CHECK_ALARMS else 'FAIL'}: {', '.join(failed)}"


def checks_table(spec: TableSpec, metrics: Iterable[Mapping[str, Any]]) -> pd.DataFrame:
    """One row per model of the table: each check's verdict and the alarms' evidence.

    Columns ``block``, ``row``, ``seed``, ``dataset``, ``arch``, ``method``, one per check
    (:data:`CHECKS`, cells of :func:`check_cell`), ``masking_suspected``, ``all_passed``
    and ``alarms`` (the evidence of every alarm that rang, :func:`alarm_evidence`, joined
    by "; "). Models are in the table's block order, each block's rows in the order of
    the model table (each method before its ``+drop`` row), seeds ascending.
    """
    metrics = list(metrics)
    names = list(CHECKS) + sorted(
        {k for m in metrics for k, v in m.get("checks", {}).items() if isinstance(v, Mapping)}
        - set(CHECKS)
    )
    rows = []
    for m in metrics:
        block = spec.block_of(m["dataset"], m["arch"])
        if not spec.covers(m["dataset"], m["arch"], m["method"]):
            raise TableError(
                f"metrics of {m['dataset']}/{m['arch']}/{m['method']} belong to no block of "
                f"table {spec.name!r} ({', '.join(b.title for b in spec.blocks)})"
            )
        checks = m.get("checks", {})
        evidence = [
            alarm_evidence(name, where, record)
            for name in names
            if isinstance(checks.get(name), Mapping) and name in CHECK_ALARMS
            for where, record in check_records(checks[name])
            if not record["passed"]
        ]
        rows.append(
            {
                "block": block.name,
                "row": block.row_of(m["arch"], m["method"]),
                "seed": m["seed"],
                "dataset": m["dataset"],
                "arch": m["arch"],
                "method": m["method"],
                **{name: check_cell(name, checks.get(name)) for name in names},
                "masking_suspected": bool(checks.get("masking_suspected", bool(evidence))),
                "all_passed": bool(checks.get("all_passed", False)),
                "alarms": "; ".join(evidence),
            }
        )
    columns = ["block", "row", "seed", "dataset", "arch", "method", *names]
    df = pd.DataFrame(rows, columns=[*columns, "masking_suspected", "all_passed", "alarms"])
    order = []
    for block in spec.blocks:
        own = df[df["block"] == block.name]
        for name in _row_order(list(own["row"]), []):
            order += list(own[own["row"] == name].sort_values("seed").index)
    return df.loc[order].reset_index(drop=True)


def write_checks_table(
    df: pd.DataFrame, spec: TableSpec, paths: Sequence[str | os.PathLike], *, caption: str
) -> None:
    """Write a :func:`checks_table` to ``paths`` (csv, md, html), one section per block."""
    names = [c for c in df.columns if c in _CHECK_LABELS or c not in _CHECK_FRAME_COLUMNS]
    sections = []
    for block in spec.blocks:
        own = df[df["block"] == block.name]
        cells = {"method": list(own["row"]), "seed": [str(s) for s in own["seed"]]}
        cells |= {_CHECK_LABELS.get(c, c): list(own[c]) for c in names}
        cells["alarm evidence"] = [a or "none" for a in own["alarms"]]
        sections.append(Section(block.title, pd.DataFrame(cells)))
    write_sections(
        df,
        sections,
        paths,
        caption=caption,
        label=f"{spec.name}_checks",
        note=CHECKS_NOTE,
        align="left",
    )


_CHECK_FRAME_COLUMNS = {
    "block",
    "row",
    "seed",
    "dataset",
    "arch",
    "method",
    "masking_suspected",
    "all_passed",
    "alarms",
}


# --------------------------------------------------------------------------- writing


def column_label(column: str, attack: str = DEFAULT_ATTACK) -> str:
    """A column's header: ``adv test acc (multitarget)`` for a non-PGD adversarial column."""
    if column in _LABELS:
        return _LABELS[column]
    name = column_attack(column, attack)
    if column.startswith("adv_gap"):
        base = "adv gap"
    else:
        base = f"adv {_COLUMN.fullmatch(column)['split']} acc"
    return base if name == DEFAULT_ATTACK and attack == DEFAULT_ATTACK else f"{base} ({name})"


def _digits(column: str) -> int:
    separation = column in SEPARATION_COLUMNS[:4] or column in RANDOM_LABEL_COLUMNS
    return _SEPARATION_DIGITS if separation else 2


def format_cell(row: Mapping[str, Any], column: str) -> str:
    """``ours ± std (paper; diff)``; ``not run`` or ``n/a`` where we have no value."""
    d = _digits(column)
    value = row[column]
    if row.get("status") == "not run":
        cell = "not run"
    elif pd.isna(value):
        cell = "n/a"
    else:
        cell = f"{value:.{d}f}"
        std = row.get(f"{column}_std", math.nan)
        if not pd.isna(std):
            cell += f" ± {std:.{d}f}"
    paper = row.get(f"{column}_paper", math.nan)
    if not pd.isna(paper):
        diff = row[f"{column}_diff"]
        cell += f" ({paper:.{d}f}; {diff:+.{d}f})" if not pd.isna(diff) else f" ({paper:.{d}f})"
    return cell


def _shown(
    df: pd.DataFrame, key: str, columns: Sequence[str], attack: str, *, header: str
) -> pd.DataFrame:
    """The formatted cells of ``df`` under human-readable headers (``key`` shown as ``header``)."""
    names = list(df[key])
    if "masking_suspected" in df.columns:
        flagged = df["masking_suspected"].fillna(0).to_numpy() > 0
        names = [f"{n} {MASKING_MARK}" if f else n for n, f in zip(names, flagged, strict=True)]
    cells = {header: names}
    for col in columns:
        cells[column_label(col, attack)] = [format_cell(r, col) for _, r in df.iterrows()]
    return pd.DataFrame(cells)


@dataclass(frozen=True)
class Section:
    """A titled part of a written table (a block), with its formatted cells and an optional
    line of text under its title."""

    title: str | None
    cells: pd.DataFrame
    text: str = ""


def write_model_table(
    df: pd.DataFrame, spec: TableSpec, paths: Sequence[str | os.PathLike], *, caption: str
) -> None:
    """Write a :func:`model_table` to ``paths`` (csv, md, tex, html), one section per block."""
    sections = [
        Section(
            block.title,
            _shown(
                df[df["block"] == block.name], "row", spec.columns, spec.attack, header="method"
            ),
        )
        for block in spec.blocks
    ]
    if df.get("masking_suspected", pd.Series(dtype=float)).fillna(0).gt(0).any():
        caption = f"{caption} {MASKING_NOTE}"
    write_sections(df, sections, paths, caption=caption, label=spec.name)


def write_separation_table(
    df: pd.DataFrame, paths: Sequence[str | os.PathLike], *, caption: str
) -> None:
    """Write a :func:`separation_table` to ``paths`` (csv, md, tex, html)."""
    columns = [c for c in (*SEPARATION_COLUMNS, *RANDOM_LABEL_COLUMNS) if c in df.columns]
    write_sections(
        df,
        [Section(None, _shown(df, "dataset", columns, DEFAULT_ATTACK, header="dataset"))],
        paths,
        caption=caption,
        label=SEPARATION_TABLE,
    )


def write_sections(
    df: pd.DataFrame,
    sections: Sequence[Section],
    paths: Sequence[str | os.PathLike],
    *,
    caption: str,
    label: str,
    note: str = NOTE,
    align: str = "right",
) -> None:
    """Each of ``paths`` in the format of its suffix (csv, md, tex, html), atomically."""
    formats = [Path(p).suffix.removeprefix(".") for p in paths]
    if unknown := [str(p) for p, f in zip(paths, formats, strict=True) if f not in TABLE_EXTS]:
        raise TableError(f"table outputs must end in one of {TABLE_EXTS}, got {unknown}")
    for path, fmt in zip(paths, formats, strict=True):
        with atomic_path(path) as tmp:
            if fmt == "csv":
                df.to_csv(tmp, index=False, float_format="%.6g")
            elif fmt == "md":
                tmp.write_text(_markdown(sections, caption, note))
            elif fmt == "tex":
                tmp.write_text(_latex(sections, caption, label, note))
            else:
                tmp.write_text(_html(sections, caption, note, align))


def _markdown(sections: Sequence[Section], caption: str, note: str = NOTE) -> str:
    parts = [caption, ""]
    for s in sections:
        if s.title:
            parts += [f"**{s.title}**", ""]
        if s.text:
            parts += [s.text, ""]
        parts += [s.cells.to_markdown(index=False), ""]
    return "\n".join([*parts, note, ""] if note else [*parts, ""])


_TEX_SPECIAL = {
    "\\": r"\textbackslash{}",
    "&": r"\&",
    "%": r"\%",
    "$": r"\$",
    "#": r"\#",
    "_": r"\_",
    "{": r"\{",
    "}": r"\}",
    "~": r"\textasciitilde{}",
    "^": r"\textasciicircum{}",
    "±": r"$\pm$",
    "ε": r"$\varepsilon$",
    "∞": r"$\infty$",
}


def tex_escape(text: str) -> str:
    """``text`` as LaTeX source: special characters escaped, ± ε ∞ as math."""
    return "".join(_TEX_SPECIAL.get(ch, ch) for ch in str(text))


def _latex(sections: Sequence[Section], caption: str, label: str, note: str = NOTE) -> str:
    header = list(sections[0].cells.columns)
    n = len(header)
    lines = [
        r"\begin{table}",
        r"\centering",
        r"\small",
        rf"\caption{{{tex_escape(' '.join(filter(None, (caption, note))))}}}",
        rf"\label{{tab:{label}}}",
        rf"\begin{{tabular}}{{{'l' * n}}}",
        r"\toprule",
        " & ".join(tex_escape(h) for h in header) + r" \\",
    ]
    for s in sections:
        lines.append(r"\midrule")
        if s.title:
            lines.append(rf"\multicolumn{{{n}}}{{l}}{{\textbf{{{tex_escape(s.title)}}}}} \\")
        for _, r in s.cells.iterrows():
            lines.append(" & ".join(tex_escape(v) for v in r) + r" \\")
    lines += [r"\bottomrule", r"\end{tabular}", r"\end{table}", ""]
    return "\n".join(lines)


def _html(sections: Sequence[Section], caption: str, note: str = NOTE, align: str = "right") -> str:
    style = (
        "body{font-family:sans-serif;font-size:14px}"
        "table{border-collapse:collapse;margin-bottom:1.5em}"
        f"th,td{{border:1px solid #ccc;padding:3px 8px;text-align:{align}}}"
        "td:first-child,th:first-child{text-align:left}"
        "td.bad{background:#fde2e2;color:#8a1010;font-weight:bold}"
        "h3{margin-bottom:0.3em}h3+p{margin-top:0;color:#444}"
    )
    parts = [
        "<!DOCTYPE html>",
        '<html><head><meta charset="utf-8"><style>' + style + "</style></head><body>",
        f"<p>{html.escape(caption)}</p>",
    ]
    for s in sections:
        if s.title:
            parts.append(f"<h3>{html.escape(s.title)}</h3>")
        if s.text:
            parts.append(f"<p>{html.escape(s.text)}</p>")
        cells = s.cells.to_html(index=False, escape=True, border=0)
        parts.append(re.sub(r"<td>(FAIL|ALARM)", r'<td class="bad">\1', cells))
    parts += [f"<p>{html.escape(note)}</p>"] if note else []
    parts += ["</body></html>", ""]
    return "\n".join(parts)


def read_table(path: str | os.PathLike) -> pd.DataFrame:
    """A written CSV back as a DataFrame (row names stay strings, e.g. ``rst0.5``)."""
    return pd.read_csv(path, dtype={"row": str, "dataset": str, "block": str}, keep_default_na=True)
