"""Rule make_model_table: the paper-style table of one (dataset, arch) group."""

from lolip import pipeline
from lolip.progress import setup_logging

setup_logging(snakemake.log[0])
pipeline.make_model_table(
    snakemake.input,
    snakemake.output,
    dataset=snakemake.wildcards.dataset,
    arch=snakemake.wildcards.arch,
    reported=snakemake.params.reported,
)
