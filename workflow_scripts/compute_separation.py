"""Rule compute_separation: a dataset's shards gathered into its separation and 1-NN summary."""

from lolip.progress import setup_logging
from lolip.separation import jobs

setup_logging(snakemake.log[0])
jobs.gather_separation(
    list(snakemake.input.points),
    list(snakemake.input.info),
    snakemake.output.summary,
    snakemake.output.points,
    eps=snakemake.params.eps,
    drop_smallest=snakemake.params.drop_smallest,
)
