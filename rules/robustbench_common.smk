# Config handling of the RobustBench export (rules/robustbench.smk): its output paths and
# the paper's values of each model (lolip.robustbench). Functions only, no rules, so that
# `snakemake --lint` keeps them apart from the rules. Needs TABLES (rules/report.smk) and
# get_reported, exp_paths, get_experiment (rules/common.smk): include it after them.
from lolip import robustbench
from lolip.tables import load_reported

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
