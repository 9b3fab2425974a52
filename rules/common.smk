# Config handling: the experiment grid, wildcard constraints, every input function and
# job resources (the rule files hold rules only).
import functools
import math
import os
import re
import types

from lolip import datasets, robustbench, schema, snakemake_hooks
from lolip.archs import ARCHS
from lolip.bounds import from_mapping, to_mapping
from lolip.config import check
from lolip.evaluation.settings import PAPER_ATTACK, EvaluationSettings, attack_settings
from lolip.figures import FigureSettings
from lolip.io import WORKFLOW_CACHE
from lolip.resources import (
    ARCH_RESOURCES,
    DATA_MB,
    GATHER_RESOURCES,
    PREPARE_RESOURCES,
    SEPARATION_RESOURCES,
    SWEEP_RESOURCES,
    arch_family,
)
from lolip.staircase.methods import staircase_entries
from lolip.sweep import SweepSettings
from lolip.tables import (
    CHECKS_SUFFIX,
    FINDINGS_TABLE,
    TABLE_EXTS,
    TableError,
    load_reported,
    table_specs,
)

# Jobs import lolip from this checkout, whatever environment they run in (the conda env of
# envs/lolip.yaml holds lolip's dependencies, not lolip).
snakemake_hooks.put_on_pythonpath(workflow.basedir)


onstart:
    snakemake_hooks.on_start(workflow)


onsuccess:
    snakemake_hooks.on_success()


try:
    schema.validate(config, schema.load(workflow.source_path("../config/schema.yaml")))
    EXPERIMENTS = check(config)
except ValueError as err:
    raise WorkflowError(f"config error: {err}") from None

# Datasets of the run's experiments. Every configured dataset can still be asked for by
# path (e.g. results/separation/mine.json for a dataset without experiments).
DATASETS = list(dict.fromkeys(e.dataset for e in EXPERIMENTS))
GROUPS = sorted({(e.dataset, e.arch) for e in EXPERIMENTS})


def _choice(names):
    return "|".join(re.escape(n) for n in sorted(names, key=len, reverse=True))


BY_KEY = {e.key: e for e in EXPERIMENTS}
SETTINGS = {e.key: EvaluationSettings.from_dict(e.evaluation) for e in EXPERIMENTS}


wildcard_constraints:
    dataset=_choice(config["datasets"]),
    arch=_choice({e.arch for e in EXPERIMENTS} or {"none"}),
    method=_choice(set(config["methods"]) | {e.method for e in EXPERIMENTS}),
    seed=r"\d+",
    attack=_choice({a for s in SETTINGS.values() for a in s.attacks} or {"none"}),
    shard=r"\d+",
    shards=r"\d+",


EXP = "{dataset}/{arch}/{method}/seed{seed}"


def exp_paths(pattern):
    return [
        pattern.format(dataset=e.dataset, arch=e.arch, method=e.method, seed=e.seed)
        for e in EXPERIMENTS
    ]


def _key(wildcards):
    return (
        f"{wildcards.dataset}/{wildcards.arch}/{wildcards.method}/seed{wildcards.seed}"
    )


def get_experiment(wildcards):
    key = _key(wildcards)
    if key not in BY_KEY:
        raise WorkflowError(f"no experiment {key} in the config")
    return BY_KEY[key]


def get_training(wildcards):
    """What a model's weights depend on, as plain params: a change of anything else (the
    evaluation, a table) retrains nothing."""
    e = get_experiment(wildcards)
    subset = e.training.get("train_subset")
    check_fits(f"{e.key}: training.train_subset", subset, e.dataset, "train")
    return {"eps": e.eps, "method_spec": e.method_spec, "settings": e.training}


def get_eps(wildcards):
    return get_experiment(wildcards).eps


def get_evaluation_settings(wildcards):
    """The experiment's evaluation settings, defaults included (what the gather records)."""
    settings = SETTINGS[_key(wildcards)]
    for split in ("train", "test"):
        n = getattr(settings.subsets, split)
        check_fits(
            f"{_key(wildcards)}: evaluation.subsets.{split}",
            n,
            wildcards.dataset,
            split,
        )
    return settings.to_dict()


def _part_settings(wildcards, keys, attacks=()):
    full = get_evaluation_settings(wildcards)
    out = {k: full[k] for k in keys}
    if attacks:
        out["attacks"] = {a: full["attacks"][a] for a in attacks}
    return out


# Each part's params are the settings its output depends on, and no others: a change of
# the Lipschitz settings reruns only the Lipschitz jobs (and the gathers after them).
def get_check_settings(wildcards):
    return _part_settings(wildcards, ["seed", "subsets", "tf32", "checks"], ["pgd"])


def get_attack_settings(wildcards):
    common = ["seed", "subsets", "tf32", "batch_size", "chunk_size"]
    return _part_settings(wildcards, common, [wildcards.attack])


def get_lipschitz_settings(wildcards):
    common = ["seed", "subsets", "tf32", "batch_size", "chunk_size"]
    return _part_settings(wildcards, [*common, "lipschitz"])


def _shards(wildcards):
    k = SETTINGS[_key(wildcards)].shards
    return [f"shard{i}of{k}" for i in range(k)]


def get_evaluation_parts(wildcards):
    """Every part of a model's evaluation: each shard's table and record."""
    eval_dir = f"results/eval/{_key(wildcards)}"
    attacks = [
        f"{eval_dir}/attacks/{a}/{s}"
        for a in SETTINGS[_key(wildcards)].attacks
        for s in _shards(wildcards)
    ]
    lipschitz = [f"{eval_dir}/lipschitz/{s}" for s in _shards(wildcards)]
    return {
        "attack_tables": [f"{p}.csv" for p in attacks],
        "attack_records": [f"{p}.json" for p in attacks],
        "lipschitz_tables": [f"{p}.csv" for p in lipschitz],
        "lipschitz_records": [f"{p}.json" for p in lipschitz],
    }


def get_attack_of_table(wildcards):
    """The attack of each of get_evaluation_parts' attack tables, in order."""
    return [a for a in SETTINGS[_key(wildcards)].attacks for _ in _shards(wildcards)]


# Checks of large files (an npz's content, raw files' checksums) are remembered here, by
# each file's checksum, so a second invocation does not read them again.
CACHE = WORKFLOW_CACHE


@functools.cache
def inspect_dataset(name):
    """A dataset entry's raw files and split sizes, checked: called only for datasets a
    requested job needs, so an unused entry (a missing npz) blocks nothing."""
    if name not in config["datasets"]:
        raise WorkflowError(f"config error: unknown dataset {name!r}")
    spec, fixture = config["datasets"][name], config.get("fixtures", {}).get(name)
    if fixture is not None and spec.get("dir") != FIXTURES.format(dataset=name):
        raise WorkflowError(
            f"config error: dataset {name!r} has a fixture, so its dir must be "
            f"{FIXTURES.format(dataset=name)!r}, got {spec.get('dir')!r}"
        )
    try:
        return datasets.check(name, spec, cache=CACHE, fixture=fixture)
    except ValueError as err:
        raise WorkflowError(f"config error: {err}") from None


FIXTURES = "resources/fixtures/{dataset}"


def get_raw_inputs(wildcards):
    """A dataset's local raw files (the preparation's inputs), its fixture's directory, or
    its download's flag."""
    name = wildcards.dataset
    raw = inspect_dataset(name).raw
    if name in config.get("fixtures", {}):
        return {"raw": FIXTURES.format(dataset=name)}
    if datasets.needs_download(config["datasets"][name]):
        return {"download": f"resources/downloads/{name}.json"}
    return {"raw": raw}


def get_raw_fingerprint(wildcards):
    """The content of the local raw files (checksums), so an edited file re-prepares the
    data even where its modification time says otherwise. (A function of the wildcards
    only: Snakemake ignores params derived from the input when it looks for changes.)"""
    name = wildcards.dataset
    spec = config["datasets"][name]
    if name in config.get("fixtures", {}) or datasets.needs_download(spec):
        return None  # made by a rule of the workflow, which reruns it when needed
    return datasets.raw_fingerprint(name, spec, CACHE)


def get_preparation_options(wildcards):
    """The dataset entry less what only later steps read (eps, training, drop_smallest):
    a change of those re-prepares nothing."""
    later = ("eps", "training", "drop_smallest")
    return {
        k: v for k, v in config["datasets"][wildcards.dataset].items() if k not in later
    }


def get_sizes(dataset):
    return inspect_dataset(dataset).sizes


def check_fits(what, n, dataset, split):
    """``n`` points of ``split`` are asked for: the split must have them."""
    size = get_sizes(dataset)[split]
    if n is not None and n > size:
        raise WorkflowError(
            f"config error: {what} = {n}, but dataset {dataset!r} has only {size} {split} points"
        )


def get_reported():
    """The paper's reported values (config ``reported``; null: tables without them)."""
    path = config.get("reported")
    if path is not None and not os.path.isfile(path):
        raise WorkflowError(
            f"config error: reported: {path!r} does not exist (the paper's values; "
            "config/reported.yaml in the repository, or null for tables without them)"
        )
    return path


def get_dataset_outputs():
    return expand("results/datasets/{dataset}.h5", dataset=DATASETS)


def get_separation_summaries():
    return expand("results/separation/{dataset}.json", dataset=DATASETS)


def random_labels_enabled():
    return config.get("separation", {}).get("random_labels", False)


def get_random_label_summaries():
    if not random_labels_enabled():
        return []
    return expand("results/separation/{dataset}_random_labels.json", dataset=DATASETS)


def get_random_label_points(wildcards):
    if not random_labels_enabled():
        return []
    return f"results/separation/{wildcards.dataset}_random_labels_points.csv"


def get_separation_outputs():
    return get_separation_summaries() + get_random_label_summaries()


def get_shard(wildcards):
    """i of a separation shard's scatter item "i-of-K" (1-based)."""
    return int(wildcards.scatteritem.split("-of-")[0])


def get_shards(wildcards):
    """K of a separation shard's scatter item "i-of-K"."""
    return int(wildcards.scatteritem.split("-of-")[1])


def get_model_outputs():
    return exp_paths(f"results/models/{EXP}/model.safetensors")


def get_metrics_outputs():
    return exp_paths(f"results/eval/{EXP}/metrics.json")


def get_staircase_outputs():
    if "staircase" not in config:
        return []
    return expand(
        "results/staircase/{size}.{ext}",
        size=["small", "large"],
        ext=["csv", "png", "svg"],
    )


# The staircase's methods are entries of the config's `methods:` section, named and weighted
# as in training; a name not there, or a loss the staircase cannot fit, stops the workflow
# here, when it loads. Each entry keeps only what a fit depends on (lolip.staircase.methods).
if "staircase" in config:
    try:
        STAIRCASE_METHODS = staircase_entries(
            config["staircase"]["methods"], config.get("methods", {})
        )
    except ValueError as err:
        raise WorkflowError(f"config error: {err}") from None


def get_staircase_fit(wildcards):
    """lolip.staircase.run_staircase's arguments for one size."""
    stairs = config["staircase"]
    size = stairs[wildcards.size]
    return {
        "n_train": size["n_train"],
        "n_test": size["n_test"],
        "seed": size["seed"],
        "methods": STAIRCASE_METHODS,
        "eps": stairs["eps"],
        "penalty": stairs["lambda"],
    }


def get_staircase_style(wildcards):
    return config["staircase"].get("plot", {})


def get_dataset_entry(wildcards):
    return config["datasets"][wildcards.dataset]


def get_fixture_settings(wildcards):
    return config["fixtures"][wildcards.dataset]


def get_drop_smallest(wildcards):
    return config["datasets"][wildcards.dataset].get("drop_smallest", 0)


def get_downloads_root(wildcards, output):
    """resources/downloads/{dataset}.json -> resources/ (a literal prefix of the output
    fails `snakemake --lint`)."""
    return os.path.dirname(os.path.dirname(output[0]))


def get_checkpoint_path(wildcards, output):
    """Not an output: Snakemake must not delete it when a killed job is rerun."""
    return f"{output[0]}.partial/ckpt.pt"


def get_all_outputs():
    """Everything; for a report alone (`snakemake --report`), what has been made so far, so
    that a report after a partial run shows what exists instead of failing on the rest.
    """
    outputs = _all_outputs()
    if snakemake_hooks.reporting():
        return [p for p in outputs if os.path.exists(p)]
    return outputs


def _all_outputs():
    return (
        get_separation_outputs()
        + get_metrics_outputs()
        + get_table_outputs()
        + get_sweep_outputs()
        + get_figure_outputs()
        + get_staircase_outputs()
    )


# Resources of the training and evaluation jobs (threads, mem_mb, runtime in minutes, gpu),
# scaled by dataset and architecture. The `gpu` resource is a request: SLURM turns it into
# `--gpus`, `--resources gpu=N` caps it locally, and the code uses CUDA only if present.
#
# The built-in numbers (lolip/resources.py) are overridden by the config's `resources:` key, most specific
# entry last: "*" < "<dataset>" < "<arch>" < "<dataset>/<arch>", e.g.
#   resources:
#     train: {cifar10/WRN_40_10: {runtime: 4320}, "*": {gpu: 0}}
#     evaluate: {resimagenet: {mem_mb: 96000}}
#     gpu_model: a100        # else $LOLIP_SLURM_GPU_MODEL; only GPU jobs ask for it
# A retried job (after an out-of-memory kill or a time-out) gets `attempt` times the memory
# and runtime; training resumes from its checkpoint.


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
    family = arch_family(wildcards.arch)
    if family not in ARCH_RESOURCES:
        raise WorkflowError(
            f"no resources for arch {wildcards.arch!r} (known families: "
            f"{', '.join(ARCH_RESOURCES)}); add its family to ARCH_RESOURCES in "
            f"lolip/resources.py"
        )
    out = dict(ARCH_RESOURCES[family][stage])
    source = config["datasets"][wildcards.dataset]["source"]
    out["mem_mb"] += DATA_MB[source]
    out.update(_configured(stage, wildcards))
    return out


def sweep_resources(wildcards):
    each = [
        job_resources("evaluate", types.SimpleNamespace(dataset=dataset, arch=arch))
        for dataset, arch in get_sweep_groups(wildcards)
    ]
    if not each:
        return dict(SWEEP_RESOURCES)
    return {key: max(r[key] for r in each) for key in SWEEP_RESOURCES}


def stage_resources(stage, wildcards):
    """threads, mem_mb, runtime and gpu of one job of `stage` ("train", "evaluate", "sweep")."""
    if stage == "sweep":
        return sweep_resources(wildcards)
    return job_resources(stage, wildcards)


def threads_of(stage):
    return lambda wildcards: stage_resources(stage, wildcards)["threads"]


def mem_mb_of(stage):
    def mem_mb(wildcards, attempt):
        return stage_resources(stage, wildcards)["mem_mb"] * attempt

    return mem_mb


def runtime_of(stage):
    def runtime(wildcards, attempt):
        return stage_resources(stage, wildcards)["runtime"] * attempt

    return runtime


def gpu_of(stage):
    return lambda wildcards: stage_resources(stage, wildcards)["gpu"]


def gpu_model_of(stage):
    """The GPU type GPU jobs ask SLURM for ("" = any; CPU jobs never name one)."""

    def gpu_model(wildcards):
        if not stage_resources(stage, wildcards)["gpu"]:
            return ""
        configured = config.get("resources", {}).get("gpu_model")
        return configured or os.environ.get("LOLIP_SLURM_GPU_MODEL", "")

    return gpu_model


def slurm_partition_of(stage):
    """$LOLIP_SLURM_GPU_PARTITION for GPU jobs if set, else $LOLIP_SLURM_PARTITION ("" = default)."""

    def partition(wildcards):
        cpu_partition = os.environ.get("LOLIP_SLURM_PARTITION", "")
        if stage_resources(stage, wildcards)["gpu"]:
            return os.environ.get("LOLIP_SLURM_GPU_PARTITION") or cpu_partition
        return cpu_partition

    return partition


def _separation_resources(wildcards):
    source = config["datasets"][wildcards.dataset]["source"]
    if source not in SEPARATION_RESOURCES:
        raise WorkflowError(
            f"no separation resources for source {source!r} (known: "
            f"{', '.join(SEPARATION_RESOURCES)}); add it to SEPARATION_RESOURCES in "
            f"lolip/resources.py"
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


# The presentation rules (rules/tables.smk, rules/figures.smk) and the eps sweep
# (rules/sweep.smk): the model tables of the config's `tables` section
# (lolip.tables.table_specs; without one, one table per (dataset, arch) group), their
# inputs, the `sweep` and `figures` settings, and the report's tables and figures.
ATTACKS = {"pgd"} | {
    name for e in EXPERIMENTS for name in e.evaluation.get("attacks", {})
}

try:
    TABLES = table_specs(
        config.get("tables"),
        GROUPS,
        datasets=config["datasets"],
        archs=ARCHS,
        methods=config["methods"],
        attacks=ATTACKS,
    )
except TableError as err:
    raise WorkflowError(f"config error: {err}") from None

try:
    SWEEP = from_mapping(SweepSettings, config.get("sweep"), "sweep")
    FIGURES = from_mapping(FigureSettings, config.get("figures"), "figures")
except ValueError as err:
    raise WorkflowError(f"config error: {err}") from None
if unknown := sorted(set(SWEEP.tables or ()) - set(TABLES)):
    raise WorkflowError(
        f"config error: sweep.tables: unknown table(s) {unknown} (known: {', '.join(TABLES)})"
    )
# The model tables whose models the eps sweep runs on.
SWEPT = [t for t in TABLES if SWEEP.tables is None or t in SWEEP.tables]


wildcard_constraints:
    table=_choice(TABLES),


def get_table_spec(wildcards):
    return TABLES[wildcards.table].to_dict()


# Per table, the config's experiments that it shows (none of other configs).
TABLE_EXPERIMENTS = {
    name: [e for e in EXPERIMENTS if spec.covers(e.dataset, e.arch, e.method)]
    for name, spec in TABLES.items()
}


def get_table_metrics(wildcards):
    """Metrics of the experiments that the table shows."""
    return [
        f"results/eval/{e.key}/metrics.json" for e in TABLE_EXPERIMENTS[wildcards.table]
    ]


def get_table_specs():
    """Every model table's layout, by name (the findings' params)."""
    return {name: spec.to_dict() for name, spec in TABLES.items()}


def get_findings_metrics():
    """The metrics of every model some table shows, once each."""
    shown = {e.key for experiments in TABLE_EXPERIMENTS.values() for e in experiments}
    return list(
        dict.fromkeys(
            f"results/eval/{e.key}/metrics.json" for e in EXPERIMENTS if e.key in shown
        )
    )


def get_method_losses():
    """Each configured method's loss (natural, at, rst, trades, ...): the findings' groups."""
    return {name: spec["loss"] for name, spec in config["methods"].items()}


def get_dataset_eps(wildcards):
    return config["datasets"][wildcards.dataset]["eps"]


def get_sweep_inputs(wildcards):
    """The table's models and the prepared datasets they were trained on."""
    experiments = TABLE_EXPERIMENTS[wildcards.table]
    return {
        "models": [f"results/models/{e.key}/model.safetensors" for e in experiments],
        "data": [f"results/datasets/{d}.h5" for d in get_sweep_datasets(wildcards)],
    }


def get_sweep_datasets(wildcards):
    return list(dict.fromkeys(e.dataset for e in TABLE_EXPERIMENTS[wildcards.table]))


def get_sweep_groups(wildcards):
    """The (dataset, arch) groups of the table's models (the sweep job's resources)."""
    return list(
        dict.fromkeys((e.dataset, e.arch) for e in TABLE_EXPERIMENTS[wildcards.table])
    )


def get_sweep_models(wildcards):
    """Per model of the table (in get_sweep_inputs' order) what its sweep depends on: eps
    and its evaluation's PGD, seed, batch size and TF32 setting."""
    out = []
    for e in TABLE_EXPERIMENTS[wildcards.table]:
        settings = SETTINGS[e.key]
        out.append(
            {
                "model": e.key,
                "dataset": e.dataset,
                "arch": e.arch,
                "method": e.method,
                "seed": e.seed,
                "eps": e.eps,
                "pgd": attack_settings(settings.attacks[PAPER_ATTACK]),
                "seed_eval": settings.seed,
                "batch_size": settings.batch_size,
                "tf32": settings.tf32,
            }
        )
    return out


def get_sweep_settings():
    """The radii and points of the sweep (its `tables` choose jobs, not their results)."""
    settings = to_mapping(SWEEP)
    settings.pop("tables")
    return settings


def get_sweep_outputs():
    return expand("results/sweep/{table}.csv", table=SWEPT)


def get_table_separation(wildcards):
    """Separation summaries behind the 1-NN reference rows (datasets the run prepares)."""
    return [
        f"results/separation/{d}.json"
        for d in TABLES[wildcards.table].datasets
        if d in DATASETS
    ]


def get_table_outputs():
    """Table 1 and every model table, in each format; each model table's soundness checks
    and the findings (csv, md, html)."""
    stems = ["table1_separation", *TABLES]
    report_tables = [f"{t}{CHECKS_SUFFIX}" for t in TABLES] + [FINDINGS_TABLE]
    return expand("results/tables/{stem}.{ext}", stem=stems, ext=TABLE_EXTS) + expand(
        "results/tables/{stem}.{ext}", stem=report_tables, ext=["csv", "md", "html"]
    )


def get_figure_outputs():
    """Every figure, PNG and SVG: per model table, per swept table, per dataset."""
    stems = expand(
        "{table}_{kind}", table=TABLES, kind=["lipschitz_vs_adv", "gap", "training"]
    )
    stems += expand("{table}_eps_sweep", table=SWEPT)
    stems += expand("separation_{dataset}", dataset=DATASETS)
    return expand("results/figures/{stem}.{ext}", stem=stems, ext=["png", "svg"])


# The RobustBench export (rules/robustbench.smk): its output paths and each model's
# paper values (lolip.robustbench).

ROBUSTBENCH = (
    "results/robustbench/{dataset}/"
    + robustbench.THREAT_MODEL
    + "/"
    + robustbench.model_id("{arch}", "{method}", "{seed}")
    + ".json"
)
REPORTED = load_reported(get_reported())


def get_robustbench_outputs():
    """One model-info JSON per model of the run."""
    return exp_paths(ROBUSTBENCH)


def get_robustbench_reported(wildcards):
    """The paper's clean and PGD accuracy of the model, where reported.yaml has them."""
    e = get_experiment(wildcards)
    return robustbench.paper_values(REPORTED, TABLES, e.dataset, e.arch, e.method)
