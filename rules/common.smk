# Config handling: the experiment grid, wildcard constraints and input functions.
import os
import re

from lolip import snakemake_hooks
from lolip.config import ConfigError, check
from lolip.evaluation.settings import EvaluationSettings

# Jobs import lolip from this checkout, whatever environment they run in (the conda env of
# envs/lolip.yaml holds lolip's dependencies, not lolip).
snakemake_hooks.put_on_pythonpath(workflow.basedir)


onstart:
    snakemake_hooks.on_start(workflow)


onsuccess:
    snakemake_hooks.on_success()


try:
    EXPERIMENTS = check(config)
except ConfigError as err:
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
    return {"eps": e.eps, "method_spec": e.method_spec, "settings": e.training}


def get_eps(wildcards):
    return get_experiment(wildcards).eps


def get_evaluation_settings(wildcards):
    """The experiment's evaluation settings, defaults included (what the gather records)."""
    return EvaluationSettings.to_dict(SETTINGS[_key(wildcards)])


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


def get_download(wildcards):
    """The download flag of a dataset that torchvision fetches; nothing for local copies."""
    from lolip.datasets import needs_download

    spec = config["datasets"][wildcards.dataset]
    return (
        [f"resources/downloads/{wildcards.dataset}.json"]
        if needs_download(spec)
        else []
    )


def get_reported():
    path = os.environ.get("LOLIP_REPORTED") or config.get("reported")
    return path if path and os.path.exists(path) else None


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


def get_model_outputs():
    return exp_paths(f"results/models/{EXP}/model.safetensors")


def get_metrics_outputs():
    return exp_paths(f"results/eval/{EXP}/metrics.json")


def get_staircase_outputs():
    if "staircase" not in config:
        return []
    return expand(
        "results/staircase/{size}.{ext}", size=["small", "large"], ext=["csv", "png"]
    )


def get_all_outputs():
    # get_table_outputs, get_figure_outputs: rules/report.smk, included before any call
    return (
        get_separation_outputs()
        + get_metrics_outputs()
        + get_table_outputs()
        + get_figure_outputs()
        + get_staircase_outputs()
    )
