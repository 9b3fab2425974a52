# Presentation: tables from the saved metrics (never retrains or re-attacks anything).


rule make_separation_table:
    input:
        expand("results/separation/{dataset}.json", dataset=DATASETS),
    output:
        expand("results/tables/table1_separation.{ext}", ext=["csv", "md", "tex"]),
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
        get_group_metrics,
    output:
        multiext("results/tables/{dataset}_{arch}", ".csv", ".md", ".tex"),
    log:
        "logs/make_model_table/{dataset}_{arch}.log",
    conda:
        "../envs/lolip.yaml"
    params:
        reported=get_reported(),
    script:
        "../workflow_scripts/make_model_table.py"
