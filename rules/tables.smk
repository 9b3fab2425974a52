# Presentation: the paper's tables from saved metrics and separation summaries (never
# retrains or re-attacks anything). Layout and inputs: rules/common.smk. A rule's params
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


rule make_checks_table:
    input:
        metrics=get_table_metrics,
    output:
        "results/tables/{table}_checks.csv",
        "results/tables/{table}_checks.md",
        report(
            "results/tables/{table}_checks.html",
            caption="../report/table_checks.rst",
            category="Soundness checks",
            labels={"table": "{table}"},
        ),
    log:
        "logs/make_checks_table/{table}.log",
    conda:
        "../envs/lolip.yaml"
    params:
        spec=get_table_spec,
    script:
        "../workflow_scripts/make_checks_table.py"


rule make_findings_table:
    input:
        metrics=get_findings_metrics(),
    output:
        "results/tables/findings.csv",
        "results/tables/findings.md",
        report(
            "results/tables/findings.html",
            caption="../report/table_findings.rst",
            category="Findings",
            labels={"table": "findings"},
        ),
    log:
        "logs/make_findings_table.log",
    conda:
        "../envs/lolip.yaml"
    params:
        specs=get_table_specs(),
        reported=get_reported(),
        losses=get_method_losses(),
    script:
        "../workflow_scripts/make_findings_table.py"
