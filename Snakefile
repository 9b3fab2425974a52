# lolip: Adversarial Robustness Through Local Lipschitzness (Yang et al., NeurIPS 2020),
# from raw data to every table. `snakemake --cores 2` runs config/config.yaml.
from snakemake.utils import min_version

min_version("9.0")


configfile: "config/config.yaml"


report: "report/workflow.rst"


# common.smk first checks the config against config/schema.yaml.
include: "rules/common.smk"
include: "rules/data.smk"
include: "rules/separation.smk"
include: "rules/train.smk"
include: "rules/evaluate.smk"
include: "rules/tables.smk"
include: "rules/sweep.smk"
include: "rules/staircase.smk"
include: "rules/figures.smk"
include: "rules/robustbench.smk"


rule all:
    default_target: True
    input:
        get_all_outputs(),


rule datasets:
    input:
        get_dataset_outputs(),


rule separation:
    input:
        get_separation_outputs(),


rule train:
    input:
        get_model_outputs(),


rule evaluate:
    input:
        get_metrics_outputs(),


rule tables:
    input:
        get_table_outputs(),


rule sweep:
    input:
        get_sweep_outputs(),


rule staircase:
    input:
        get_staircase_outputs(),


rule figures:
    input:
        get_figure_outputs(),


rule robustbench:
    input:
        get_robustbench_outputs(),
