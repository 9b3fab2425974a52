# Presentation: the paper's figures and the report's, from saved metrics, sweeps and per-point
# separation distances (never from models). Per model table (rules/tables.smk): test
# Lipschitz vs adversarial test accuracy, the train - test gaps per method, the training
# curves and robust accuracy against the radius (rules/sweep.smk); per dataset: the
# separation histograms (appendix). Each figure is a PNG (in the report) and an SVG beside
# it; `figures` settings (the PNGs' dpi) are params of these rules alone.


rule plot_lipschitz_accuracy:
    input:
        metrics=get_table_metrics,
    output:
        png=report(
            "results/figures/{table}_lipschitz_vs_adv.png",
            caption="../report/figure_lipschitz.rst",
            category="Figures",
            subcategory="Lipschitz vs robustness",
            labels={"table": "{table}"},
        ),
        svg="results/figures/{table}_lipschitz_vs_adv.svg",
    log:
        "logs/plot_lipschitz_accuracy/{table}.log",
    conda:
        "../envs/lolip.yaml"
    params:
        spec=get_table_spec,
        dpi=FIGURES.dpi,
    script:
        "../workflow_scripts/plot_table_figure.py"


rule plot_gap:
    input:
        metrics=get_table_metrics,
    output:
        png=report(
            "results/figures/{table}_gap.png",
            caption="../report/figure_gap.rst",
            category="Figures",
            subcategory="Generalisation gaps",
            labels={"table": "{table}"},
        ),
        svg="results/figures/{table}_gap.svg",
    log:
        "logs/plot_gap/{table}.log",
    conda:
        "../envs/lolip.yaml"
    params:
        spec=get_table_spec,
        dpi=FIGURES.dpi,
    script:
        "../workflow_scripts/plot_table_figure.py"


rule plot_training_curves:
    input:
        metrics=get_table_metrics,
    output:
        png=report(
            "results/figures/{table}_training.png",
            caption="../report/figure_training.rst",
            category="Figures",
            subcategory="Training curves",
            labels={"table": "{table}"},
        ),
        svg="results/figures/{table}_training.svg",
    log:
        "logs/plot_training_curves/{table}.log",
    conda:
        "../envs/lolip.yaml"
    params:
        spec=get_table_spec,
        dpi=FIGURES.dpi,
    script:
        "../workflow_scripts/plot_table_figure.py"


rule plot_eps_sweep:
    input:
        sweep="results/sweep/{table}.csv",
    output:
        png=report(
            "results/figures/{table}_eps_sweep.png",
            caption="../report/figure_eps_sweep.rst",
            category="Figures",
            subcategory="Robustness vs radius",
            labels={"table": "{table}"},
        ),
        svg="results/figures/{table}_eps_sweep.svg",
    log:
        "logs/plot_eps_sweep/{table}.log",
    conda:
        "../envs/lolip.yaml"
    params:
        spec=get_table_spec,
        factors=SWEEP.factors,
        subset=SWEEP.subset,
        dpi=FIGURES.dpi,
    script:
        "../workflow_scripts/plot_eps_sweep.py"


rule plot_separation:
    input:
        summary="results/separation/{dataset}.json",
        points="results/separation/{dataset}_points.csv",
        random_points=get_random_label_points,
    output:
        png=report(
            "results/figures/separation_{dataset}.png",
            caption="../report/figure_separation.rst",
            category="Figures",
            subcategory="Separation histograms",
            labels={"dataset": "{dataset}"},
        ),
        svg="results/figures/separation_{dataset}.svg",
    log:
        "logs/plot_separation/{dataset}.log",
    conda:
        "../envs/lolip.yaml"
    params:
        eps=get_dataset_eps,
        dpi=FIGURES.dpi,
    script:
        "../workflow_scripts/plot_separation.py"
