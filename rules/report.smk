# Config handling of the presentation rules (rules/tables.smk, rules/figures.smk): the
# model tables of the config's `tables` section (lolip.tables.table_specs; without one, one
# table per (dataset, arch) group), their inputs and the report's tables and figures.
# Functions and the `table` wildcard constraint only (no rules), so that `snakemake --lint`
# keeps them apart from the rules.
from lolip import robustbench
from lolip.archs import ARCHS
from lolip.tables import TABLE_EXTS, TableError, load_reported, table_specs

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


def get_table_separation(wildcards):
    """Separation summaries behind the 1-NN reference rows (datasets the run prepares)."""
    return [
        f"results/separation/{d}.json"
        for d in TABLES[wildcards.table].datasets
        if d in DATASETS
    ]


def get_table_outputs():
    """Table 1 and every model table, in each format."""
    stems = ["table1_separation", *TABLES]
    return expand("results/tables/{stem}.{ext}", stem=stems, ext=TABLE_EXTS)


def get_figure_outputs():
    figures = expand(
        "results/figures/{table}_{kind}.png",
        table=TABLES,
        kind=["lipschitz_vs_adv", "gap"],
    )
    return figures + expand(
        "results/figures/separation_{dataset}.png", dataset=DATASETS
    )


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
