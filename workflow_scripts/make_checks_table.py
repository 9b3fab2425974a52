"""Rule make_checks_table: the soundness checks' verdicts of a table's models."""

from lolip import presentation
from lolip.progress import setup_logging

setup_logging(snakemake.log[0])
presentation.make_checks_table(
    list(snakemake.input.metrics), list(snakemake.output), spec=snakemake.params.spec
)
