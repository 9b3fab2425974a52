"""Rule prepare_dataset: raw files (or a download) -> results/datasets/{dataset}.h5."""

from lolip import jobs, pipeline

with jobs.job(snakemake, torch_threads=False):
    pipeline.prepare_dataset(
        snakemake.wildcards.dataset,
        snakemake.params.spec,
        snakemake.output[0],
        snakemake.params.resources,
    )
