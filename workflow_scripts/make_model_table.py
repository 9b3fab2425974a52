"""Rule make_model_table: one table of the paper's layout (blocks of (dataset, arch) groups)."""

from lolip import presentation
from lolip.progress import setup_logging

setup_logging(snakemake.log[0])
presentation.make_model_table(
    list(snakemake.input.metrics),
    list(snakemake.input.separation),
    list(snakemake.output),
    spec=snakemake.params.spec,
    reported=snakemake.params.reported,
)
