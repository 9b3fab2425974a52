# Appendix illustration (after Raghunathan et al. 2020): a cubic spline fitted by every training
# method to a 1-D staircase, with few (small) or many (large) training points. The fit writes
# the table and the fitted functions; the figure is drawn from those, so a change of its look
# (the config's `staircase.plot`) redraws it without refitting. Params are read when a job is
# made, so a config without a `staircase` section still parses.


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
        fit=get_staircase_fit,
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
        # for the caption only (the fits file holds them too)
        fit=get_staircase_fit,
        style=get_staircase_style,
    script:
        "../workflow_scripts/plot_staircase.py"
