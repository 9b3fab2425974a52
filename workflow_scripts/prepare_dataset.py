"""Rule prepare_dataset: raw files (or a download) -> results/datasets/{dataset}.h5."""

from lolip import pipeline
from lolip.progress import setup_logging

setup_logging(snakemake.log[0])
pipeline.prepare_dataset(
    snakemake.wildcards.dataset,
    snakemake.params.spec,
    snakemake.output[0],
    snakemake.params.resources,
)
