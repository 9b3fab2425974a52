"""Rule download_dataset: fetch a dataset's raw files into resources/ (a local rule)."""

from lolip import pipeline
from lolip.progress import setup_logging

setup_logging(snakemake.log[0])
pipeline.download_dataset(
    snakemake.wildcards.dataset,
    snakemake.params.spec,
    snakemake.output[0],
    snakemake.params.resources,
)
