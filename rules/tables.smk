# Presentation: the paper's tables from saved metrics and separation summaries (never
# retrains or re-attacks anything). Layout and inputs: rules/report.smk. A rule's params
# are the layout only, so a layout change reruns the table and figure rules alone.


rule make_separation_table:
    input:
        summaries=get_separation_summaries(),
        random_labels=get_random_label_summaries(),
    output:
        multiext("results/tables/table1_separation", ".csv", ".md", ".tex"),
        report(
            "results/tables/table1_separation.html",
            caption="../report/table_separation.rst",
            category="Tables",
            labels={"table": "table1_separation"},
        ),
    log:
        "logs/make_separation_table.log",
    conda:
        "../envs/lolip.yaml"
    params:
        reported=get_reported(),
    script:
        "../workflow_scripts/make_separation_table.py"


rule make_model_table:
    input:
        metrics=get_table_metrics,
        separation=get_table_separation,
    output:
        multiext("results/tables/{table}", ".csv", ".md", ".tex"),
        report(
            "results/tables/{table}.html",
            caption="../report/table_model.rst",
            category="Tables",
            labels={"table": "{table}"},
        ),
    log:
        "logs/make_model_table/{table}.log",
    conda:
        "../envs/lolip.yaml"
    params:
        spec=get_table_spec,
        reported=get_reported(),
    script:
        "../workflow_scripts/make_model_table.py"
