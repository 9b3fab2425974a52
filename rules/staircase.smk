# Appendix illustration (after Raghunathan et al. 2020): a cubic spline fitted by every training
# method to a 1-D staircase, with few (small) or many (large) training points. The fit writes
# the table and the fitted functions; the figure is drawn from those, so a change of its look
# (the config's `staircase.plot`) redraws it without refitting. Params are read when a job is
# made, so a config without a `staircase` section still parses.
from lolip.staircase.methods import staircase_entries

# The staircase's methods are entries of the config's `methods:` section, named and weighted
# as in training; a name not there, or a loss the staircase cannot fit, stops the workflow
# here, when it loads. Each entry keeps only what a fit depends on (lolip.staircase.methods).
if "staircase" in config:
    try:
        STAIRCASE_METHODS = staircase_entries(
            config["staircase"]["methods"], config.get("methods", {})
        )
    except ValueError as err:
        raise WorkflowError(f"config error: {err}") from None


rule fit_staircase:
    output:
        table=report(
            "results/staircase/{size}.csv",
            caption="../report/staircase_table.rst",
            category="Staircase",
            subcategory="{size}",
        ),
        fits="results/staircase/{size}_fits.npz",
    log:
        "logs/fit_staircase/{size}.log",
    benchmark:
        "results/benchmarks/fit_staircase/{size}.tsv"
    wildcard_constraints:
        size="small|large",
    conda:
        "../envs/lolip.yaml"
    # Seconds per fit; the memory is mostly torch's, imported for the method classes' defaults.
    resources:
        mem_mb=2000,
        runtime=15,
    params:
        n_train=lambda wildcards: config["staircase"][wildcards.size]["n_train"],
        n_test=lambda wildcards: config["staircase"][wildcards.size]["n_test"],
        seed=lambda wildcards: config["staircase"][wildcards.size]["seed"],
        eps=lambda wildcards: config["staircase"]["eps"],
        penalty=lambda wildcards: config["staircase"]["lambda"],
        methods=lambda wildcards: STAIRCASE_METHODS,
    script:
        "../workflow_scripts/fit_staircase.py"


rule plot_staircase:
    input:
        fits="results/staircase/{size}_fits.npz",
    output:
        figure=report(
            "results/staircase/{size}.png",
            caption="../report/staircase_figure.rst",
            category="Staircase",
            subcategory="{size}",
        ),
        vector="results/staircase/{size}.svg",
    log:
        "logs/plot_staircase/{size}.log",
    wildcard_constraints:
        size="small|large",
    conda:
        "../envs/lolip.yaml"
    params:
        # n_train, eps, penalty: for the caption (the fits file holds them too)
        n_train=lambda wildcards: config["staircase"][wildcards.size]["n_train"],
        eps=lambda wildcards: config["staircase"]["eps"],
        penalty=lambda wildcards: config["staircase"]["lambda"],
        style=lambda wildcards: config["staircase"].get("plot", {}),
    script:
        "../workflow_scripts/plot_staircase.py"
