"""Rule make_findings_table: the paper's findings on every model table of the run."""

from lolip import presentation
from lolip.progress import setup_logging

setup_logging(snakemake.log[0])
presentation.make_findings_table(
    list(snakemake.input.metrics),
    list(snakemake.output),
    specs=snakemake.params.specs,
    reported=snakemake.params.reported,
    losses=snakemake.params.losses,
)
