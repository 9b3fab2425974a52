# Config handling of the presentation rules (rules/tables.smk, rules/figures.smk) and of
# the eps sweep (rules/sweep.smk): the model tables of the config's `tables` section
# (lolip.tables.table_specs; without one, one table per (dataset, arch) group), their
# inputs, the `sweep` and `figures` settings, and the report's tables and figures.
# Functions and the `table` wildcard constraint only (no rules), so that `snakemake --lint`
# keeps them apart from the rules.
from lolip import robustbench
from lolip.archs import ARCHS
from lolip.bounds import from_mapping, to_mapping
from lolip.evaluation.settings import PAPER_ATTACK, attack_settings
from lolip.figures import FigureSettings
from lolip.sweep import SweepSettings
from lolip.tables import (
    CHECKS_SUFFIX,
    FINDINGS_TABLE,
    TABLE_EXTS,
    TableError,
    load_reported,
    table_specs,
)

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


def get_table_metrics(wildcards):
    """Metrics of the config's experiments that the table shows (none of other configs)."""
    spec = TABLES[wildcards.table]
    return [
        f"results/eval/{e.key}/metrics.json"
        for e in EXPERIMENTS
        if spec.covers(e.dataset, e.arch, e.method)
    ]


def get_table_specs():
    """Every model table's layout, by name (the findings' params)."""
    return {name: spec.to_dict() for name, spec in TABLES.items()}


def get_findings_metrics():
    """The metrics of every model some table shows, once each."""
    return list(
        dict.fromkeys(
            f"results/eval/{e.key}/metrics.json"
            for e in EXPERIMENTS
            for spec in TABLES.values()
            if spec.covers(e.dataset, e.arch, e.method)
        )
    )


def get_method_losses():
    """Each configured method's loss (natural, at, rst, trades, ...): the findings' groups."""
    return {name: spec["loss"] for name, spec in config["methods"].items()}


def get_dataset_eps(wildcards):
    return config["datasets"][wildcards.dataset]["eps"]


def _table_experiments(table):
    spec = TABLES[table]
    return [e for e in EXPERIMENTS if spec.covers(e.dataset, e.arch, e.method)]


def get_sweep_inputs(wildcards):
    """The table's models and the prepared datasets they were trained on."""
    experiments = _table_experiments(wildcards.table)
    return {
        "models": [f"results/models/{e.key}/model.safetensors" for e in experiments],
        "data": [f"results/datasets/{d}.h5" for d in get_sweep_datasets(wildcards)],
    }


def get_sweep_datasets(wildcards):
    return list(dict.fromkeys(e.dataset for e in _table_experiments(wildcards.table)))


def get_sweep_groups(wildcards):
    """The (dataset, arch) groups of the table's models (the sweep job's resources)."""
    return list(
        dict.fromkeys((e.dataset, e.arch) for e in _table_experiments(wildcards.table))
    )


def get_sweep_models(wildcards):
    """Per model of the table (in get_sweep_inputs' order) what its sweep depends on: eps
    and its evaluation's PGD, seed, batch size and TF32 setting."""
    out = []
    for e in _table_experiments(wildcards.table):
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
