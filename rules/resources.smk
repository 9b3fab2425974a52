# Resources of the training and evaluation jobs (threads, mem_mb, runtime in minutes, gpu),
# scaled by dataset and architecture. The `gpu` resource is a request: SLURM turns it into
# `--gpus`, `--resources gpu=N` caps it locally, and the code uses CUDA only if present.
#
# The built-in numbers below are overridden by the config's `resources:` key, most specific
# entry last: "*" < "<dataset>" < "<arch>" < "<dataset>/<arch>", e.g.
#   resources:
#     train: {cifar10/WRN_40_10: {runtime: 4320}, "*": {gpu: 0}}
#     evaluate: {resimagenet: {mem_mb: 96000}}
#     gpu_model: a100        # else $LOLIP_SLURM_GPU_MODEL; only GPU jobs ask for it
# A retried job (after an out-of-memory kill or a time-out) gets `attempt` times the memory
# and runtime; training resumes from its checkpoint.
import math
import os
import re
import types

# Compute by architecture family (`_dropNN` variants share their base's row): the paper's
# recipe on one GPU each (the MNIST CNNs too: their 160 epochs of AT are days on CPUs), the
# digits CNN on CPU threads.
ARCH_RESOURCES = {
    "DigitsCNN": {
        "train": {"threads": 1, "mem_mb": 1000, "runtime": 30, "gpu": 0},
        "evaluate": {"threads": 1, "mem_mb": 1000, "runtime": 30, "gpu": 0},
    },
    "CNN001": {
        "train": {"threads": 2, "mem_mb": 2000, "runtime": 12 * 60, "gpu": 1},
        "evaluate": {"threads": 2, "mem_mb": 2000, "runtime": 4 * 60, "gpu": 1},
    },
    "CNN002": {
        "train": {"threads": 2, "mem_mb": 2000, "runtime": 12 * 60, "gpu": 1},
        "evaluate": {"threads": 2, "mem_mb": 2000, "runtime": 4 * 60, "gpu": 1},
    },
    "WRN_40_10": {
        "train": {"threads": 4, "mem_mb": 8000, "runtime": 72 * 60, "gpu": 1},
        "evaluate": {"threads": 4, "mem_mb": 8000, "runtime": 8 * 60, "gpu": 1},
    },
    "ResNet50": {
        "train": {"threads": 8, "mem_mb": 8000, "runtime": 72 * 60, "gpu": 1},
        "evaluate": {"threads": 8, "mem_mb": 8000, "runtime": 8 * 60, "gpu": 1},
    },
    "ResNet152": {
        "train": {"threads": 8, "mem_mb": 12000, "runtime": 120 * 60, "gpu": 1},
        "evaluate": {"threads": 8, "mem_mb": 12000, "runtime": 12 * 60, "gpu": 1},
    },
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


def prepare_resources(wildcards):
    source = config["datasets"][wildcards.dataset]["source"]
    out = dict(PREPARE_RESOURCES["*"], mem_mb=2 * DATA_MB[source])
    out.update(PREPARE_RESOURCES.get(source, {}))
    return out


def prepare_threads(wildcards):
    return prepare_resources(wildcards)["threads"]


def prepare_mem_mb(wildcards, attempt):
    return prepare_resources(wildcards)["mem_mb"] * attempt


def prepare_runtime(wildcards, attempt):
    return prepare_resources(wildcards)["runtime"] * attempt


def _arch_family(arch):
    return re.sub(r"_drop\d+$", "", arch)


def _configured(stage, wildcards):
    """The config's overrides for one job, least specific first."""
    table = config.get("resources", {}).get(stage, {})
    merged = {}
    for key in (
        "*",
        wildcards.dataset,
        wildcards.arch,
        f"{wildcards.dataset}/{wildcards.arch}",
    ):
        merged.update(table.get(key, {}))
    return merged


def job_resources(stage, wildcards):
    """threads, mem_mb, runtime and gpu of one `stage` ("train" or "evaluate") job."""
    family = _arch_family(wildcards.arch)
    if family not in ARCH_RESOURCES:
        raise WorkflowError(
            f"no resources for arch {wildcards.arch!r} (known families: "
            f"{', '.join(ARCH_RESOURCES)}); add its family to ARCH_RESOURCES in "
            f"rules/resources.smk"
        )
    out = dict(ARCH_RESOURCES[family][stage])
    source = config["datasets"][wildcards.dataset]["source"]
    out["mem_mb"] += DATA_MB[source]
    out.update(_configured(stage, wildcards))
    return out


def threads_of(stage):
    return lambda wildcards: job_resources(stage, wildcards)["threads"]


def mem_mb_of(stage):
    def mem_mb(wildcards, attempt):
        return job_resources(stage, wildcards)["mem_mb"] * attempt

    return mem_mb


def runtime_of(stage):
    def runtime(wildcards, attempt):
        return job_resources(stage, wildcards)["runtime"] * attempt

    return runtime


def gpu_of(stage):
    return lambda wildcards: job_resources(stage, wildcards)["gpu"]


def gpu_model_of(stage):
    """The GPU type GPU jobs ask SLURM for ("" = any; CPU jobs never name one)."""

    def gpu_model(wildcards):
        if not job_resources(stage, wildcards)["gpu"]:
            return ""
        configured = config.get("resources", {}).get("gpu_model")
        return configured or os.environ.get("LOLIP_SLURM_GPU_MODEL", "")

    return gpu_model


def slurm_partition_of(stage):
    """$LOLIP_SLURM_GPU_PARTITION for GPU jobs if set, else $LOLIP_SLURM_PARTITION ("" = default)."""

    def partition(wildcards):
        cpu_partition = os.environ.get("LOLIP_SLURM_PARTITION", "")
        if job_resources(stage, wildcards)["gpu"]:
            return os.environ.get("LOLIP_SLURM_GPU_PARTITION") or cpu_partition
        return cpu_partition

    return partition


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


def _separation_resources(wildcards):
    source = config["datasets"][wildcards.dataset]["source"]
    if source not in SEPARATION_RESOURCES:
        raise WorkflowError(
            f"no separation resources for source {source!r} (known: "
            f"{', '.join(SEPARATION_RESOURCES)}); add it to SEPARATION_RESOURCES in "
            f"rules/resources.smk"
        )
    return SEPARATION_RESOURCES[source]


def separation_threads(wildcards):
    return _separation_resources(wildcards)["threads"]


def separation_mem_mb(wildcards, attempt):
    return _separation_resources(wildcards)["mem_mb"] * attempt


def separation_runtime(wildcards, attempt):
    """Minutes of shard i of K (the K of its scatter item "i-of-K")."""
    res = _separation_resources(wildcards)
    shards = int(wildcards.scatteritem.split("-of-")[1])
    return (10 + math.ceil(res["cpu_minutes"] / (res["threads"] * shards))) * attempt


def gather_mem_mb(wildcards, attempt):
    return GATHER_RESOURCES["mem_mb"] * attempt


def gather_runtime(wildcards, attempt):
    return GATHER_RESOURCES["runtime"] * attempt


# The eps sweep (rules/sweep.smk), one job per model table: the largest evaluation
# resources of the table's (dataset, arch) groups. A sweep is a small part of an
# evaluation (PGD on at most `sweep.subset` test points per radius), so one evaluation's
# runtime covers it; a table without models gets SWEEP_RESOURCES.
SWEEP_RESOURCES = {"threads": 1, "mem_mb": 1000, "runtime": 30, "gpu": 0}


def sweep_resources(wildcards):
    each = [
        job_resources("evaluate", types.SimpleNamespace(dataset=dataset, arch=arch))
        for dataset, arch in get_sweep_groups(wildcards)  # rules/report.smk
    ]
    if not each:
        return dict(SWEEP_RESOURCES)
    return {key: max(r[key] for r in each) for key in SWEEP_RESOURCES}


def sweep_threads(wildcards):
    return sweep_resources(wildcards)["threads"]


def sweep_mem_mb(wildcards, attempt):
    return sweep_resources(wildcards)["mem_mb"] * attempt


def sweep_runtime(wildcards, attempt):
    return sweep_resources(wildcards)["runtime"] * attempt


def sweep_gpu(wildcards):
    return sweep_resources(wildcards)["gpu"]


def sweep_gpu_model(wildcards):
    if not sweep_gpu(wildcards):
        return ""
    configured = config.get("resources", {}).get("gpu_model")
    return configured or os.environ.get("LOLIP_SLURM_GPU_MODEL", "")


def sweep_slurm_partition(wildcards):
    cpu_partition = os.environ.get("LOLIP_SLURM_PARTITION", "")
    if sweep_gpu(wildcards):
        return os.environ.get("LOLIP_SLURM_GPU_PARTITION") or cpu_partition
    return cpu_partition
