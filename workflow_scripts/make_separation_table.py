"""Rule make_separation_table: Table 1 for every dataset of the run."""

from lolip import presentation
from lolip.progress import setup_logging

setup_logging(snakemake.log[0])
presentation.make_separation_table(
    list(snakemake.input.summaries),
    list(snakemake.input.random_labels) or None,
    list(snakemake.output),
    reported=snakemake.params.reported,
)
