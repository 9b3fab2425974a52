"""Default job resources, by architecture family and dataset source, beside the registries.

Threads, memory (``mem_mb``), runtime (minutes) and GPUs of each kind of job; the workflow
(rules/common.smk) scales them by dataset, applies the config's ``resources:`` overrides
and multiplies memory and runtime by the attempt. A new architecture (lolip.archs.ARCHS)
or dataset source (lolip.datasets.SOURCES) gets its row here; a test checks every
registered name has one.
"""

from __future__ import annotations

import re


# Compute by architecture family (`_dropNN` variants share their base's row): the paper's
# recipe on one GPU each (the MNIST CNNs too: their 160 epochs of AT are days on CPUs), the
# digits CNN on CPU threads.
def _jobs(threads: int, mem_mb: int, train_hours: float, evaluate_hours: float, gpu: int = 1):
    """A family's training and evaluation rows (runtimes in minutes)."""
    job = {"threads": threads, "mem_mb": mem_mb, "gpu": gpu}
    return {
        "train": {**job, "runtime": round(train_hours * 60)},
        "evaluate": {**job, "runtime": round(evaluate_hours * 60)},
    }


ARCH_RESOURCES = {
    "DigitsCNN": _jobs(1, 1000, 0.5, 0.5, gpu=0),
    "CNN001": _jobs(2, 2000, 12, 4),
    "CNN002": _jobs(2, 2000, 12, 4),
    "WRN_40_10": _jobs(4, 8000, 72, 8),
    "ResNet50": _jobs(8, 8000, 72, 8),
    "ResNet152": _jobs(8, 12000, 120, 12),
}

# Memory (MB) to hold a dataset's splits in memory as stored and as float32 tensors, by source.
DATA_MB = {
    "digits": 100,
    "mnist": 1000,
    "cifar10": 2000,
    "svhn": 3000,
    "resimagenet": 40000,
    "npz": 4000,
}


# Preparing a dataset, by source: decoding Restricted ImageNet's JPEGs takes processes.
PREPARE_RESOURCES = {
    "resimagenet": {"threads": 8, "mem_mb": 16000, "runtime": 12 * 60},
    "*": {"threads": 1, "runtime": 60},
}

# Separation (Table 1), by dataset source: a shard job's threads, its memory (the training
# set as stored, cropped and tiled, a 8192-point float64 sample, Python and numba), and
# the CPU minutes of *all* of a dataset's queries where pruning is as weak as on uniform
# noise (benchmarks/separation.py's projections, doubled for a busy node). Shard i of K
# gets 1/K of the CPU minutes plus 10 minutes to read and lay out the data.
SEPARATION_RESOURCES = {
    "digits": {"threads": 2, "mem_mb": 1000, "cpu_minutes": 1},
    "mnist": {"threads": 2, "mem_mb": 2000, "cpu_minutes": 5},
    "cifar10": {"threads": 4, "mem_mb": 3000, "cpu_minutes": 15},
    "svhn": {"threads": 4, "mem_mb": 4000, "cpu_minutes": 35},
    "resimagenet": {"threads": 8, "mem_mb": 20000, "cpu_minutes": 1200},
    "npz": {"threads": 2, "mem_mb": 4000, "cpu_minutes": 120},
}
# The gather holds the per-point table only (about 100 bytes a point): small for any
# dataset here.
GATHER_RESOURCES = {"mem_mb": 2000, "runtime": 15}

# The eps sweep (rules/sweep.smk), one job per model table: the largest evaluation
# resources of the table's (dataset, arch) groups. A sweep is a small part of an
# evaluation (PGD on at most `sweep.subset` test points per radius), so one evaluation's
# runtime covers it; a table without models gets SWEEP_RESOURCES.
SWEEP_RESOURCES = {"threads": 1, "mem_mb": 1000, "runtime": 30, "gpu": 0}


def arch_family(arch: str) -> str:
    """The row of ARCH_RESOURCES of ``arch``: `_dropNN` variants share their base's."""
    return re.sub(r"_drop\d+$", "", arch)
