# Config handling: the experiment grid, wildcard constraints and input functions.
import os
import re

from lolip.config import ConfigError, check, find

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


wildcard_constraints:
    dataset=_choice(config["datasets"]),
    arch=_choice({e.arch for e in EXPERIMENTS} or {"none"}),
    method=_choice(set(config["methods"]) | {e.method for e in EXPERIMENTS}),
    seed=r"\d+",


EXP = "{dataset}/{arch}/{method}/seed{seed}"


def exp_paths(pattern):
    return [
        pattern.format(dataset=e.dataset, arch=e.arch, method=e.method, seed=e.seed)
        for e in EXPERIMENTS
    ]


def get_experiment(wildcards):
    """The resolved experiment behind a model or metrics path, as plain params."""
    e = find(
        config, wildcards.dataset, wildcards.arch, wildcards.method, wildcards.seed
    )
    return {
        "eps": e.eps,
        "method_spec": e.method_spec,
        "training": e.training,
        "evaluation": e.evaluation,
    }


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


def get_shard(wildcards):
    """i of a separation shard's scatter item "i-of-K" (1-based)."""
    return int(wildcards.scatteritem.split("-of-")[0])


def get_shards(wildcards):
    """K of a separation shard's scatter item "i-of-K"."""
    return int(wildcards.scatteritem.split("-of-")[1])


def get_model_outputs():
    return exp_paths(f"results/models/{EXP}/model.pt")


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
