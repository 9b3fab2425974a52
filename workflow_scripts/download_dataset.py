"""Rule download_dataset: fetch a dataset's raw files into resources/ (a local rule)."""

from lolip import jobs, pipeline

with jobs.job(snakemake, torch_threads=False):
    pipeline.download_dataset(
        snakemake.wildcards.dataset,
        snakemake.params.spec,
        snakemake.output[0],
        snakemake.params.resources,
    )
