"""Rule train_model: one model of the grid, resumable from its checkpoint."""

from lolip import jobs, pipeline

with jobs.job(snakemake):
    pipeline.train_model(
        snakemake.input[0],
        snakemake.output[0],
        arch=snakemake.wildcards.arch,
        method=snakemake.wildcards.method,
        seed=int(snakemake.wildcards.seed),
        training=snakemake.params.training,
        checkpoint=snakemake.params.checkpoint,
    )
