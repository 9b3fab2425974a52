"""Rule sweep_eps: robust accuracy at a few radii of every model of one table."""

from lolip import jobs, pipeline

with jobs.job(snakemake):
    pipeline.sweep_eps(
        list(snakemake.input.models),
        list(snakemake.input.data),
        snakemake.output[0],
        models=snakemake.params.models,
        dataset_names=snakemake.params.datasets,
        sweep=snakemake.params.sweep,
    )
