# Presentation: the paper's figures from saved metrics and per-point separation distances.
# Per model table (rules/tables.smk): test Lipschitz vs adversarial test accuracy, and the
# train - test gaps per method. Per dataset: the separation histograms (appendix).


rule plot_lipschitz_accuracy:
    input:
        metrics=get_table_metrics,
    output:
        report(
            "results/figures/{table}_lipschitz_vs_adv.png",
            caption="../report/figure_lipschitz.rst",
            category="Figures",
            subcategory="Lipschitz vs robustness",
            labels={"table": "{table}"},
        ),
    log:
        "logs/plot_lipschitz_accuracy/{table}.log",
    conda:
        "../envs/lolip.yaml"
    params:
        spec=get_table_spec,
    script:
        "../workflow_scripts/plot_lipschitz_accuracy.py"


rule plot_gap:
    input:
        metrics=get_table_metrics,
    output:
        report(
            "results/figures/{table}_gap.png",
            caption="../report/figure_gap.rst",
            category="Figures",
            subcategory="Generalisation gaps",
            labels={"table": "{table}"},
        ),
    log:
        "logs/plot_gap/{table}.log",
    conda:
        "../envs/lolip.yaml"
    params:
        spec=get_table_spec,
    script:
        "../workflow_scripts/plot_gap.py"


rule plot_separation:
    input:
        summary="results/separation/{dataset}.json",
        points="results/separation/{dataset}_points.csv",
        random_points=get_random_label_points,
    output:
        report(
            "results/figures/separation_{dataset}.png",
            caption="../report/figure_separation.rst",
            category="Figures",
            subcategory="Separation histograms",
            labels={"dataset": "{dataset}"},
        ),
    log:
        "logs/plot_separation/{dataset}.log",
    conda:
        "../envs/lolip.yaml"
    script:
        "../workflow_scripts/plot_separation.py"
