"""Fake run outputs for the table tests: metrics and separation JSONs as the workflow
writes them, and the table specs of config/paper.yaml."""

from __future__ import annotations

import zlib

import numpy as np
import yaml

from lolip import tables
from lolip.archs import ARCHS
from lolip.config import expand
from lolip.tables import TableSpec
from tests.helpers.workflow import ROOT

PAPER = yaml.safe_load((ROOT / "config/paper.yaml").read_text())
ALL_COLUMNS = ["train_acc", "test_acc", "adv_train_acc", "adv_test_acc", "test_lipschitz"]


def fake_metrics(dataset: str, arch: str, method: str, seed: int, rng=None) -> dict:
    """A metrics JSON as lolip.evaluate writes it, with random but consistent values."""
    rng = rng or np.random.default_rng(zlib.crc32(f"{dataset}/{arch}/{method}/{seed}".encode()))
    m = {"dataset": dataset, "arch": arch, "method": method, "seed": seed}
    m |= {c: float(rng.uniform(0, 100)) for c in ALL_COLUMNS}
    m["adv_train_acc_multitarget"] = float(rng.uniform(0, 100))
    m["adv_test_acc_multitarget"] = float(rng.uniform(0, 100))
    m["gap"] = m["train_acc"] - m["test_acc"]
    m["adv_gap"] = m["adv_train_acc"] - m["adv_test_acc"]
    return m


def fake_separation(dataset: str, r: float = 0.25) -> dict:
    return {
        "dataset": dataset,
        "eps": 0.1,
        "train_train_min": 2 * r,
        "train_train_min_raw": 2 * r - 0.01,
        "test_train_min": 2 * r + 0.02,
        "nn_clean_acc": 97.5,
        "nn_certified_acc": 91.25,
        "nn_lipschitz": 1 / r,
    }


def paper_specs() -> dict[str, TableSpec]:
    groups = sorted({(e.dataset, e.arch) for e in expand(PAPER)})
    return tables.table_specs(
        PAPER["tables"], groups, datasets=PAPER["datasets"], archs=ARCHS, methods=PAPER["methods"]
    )
