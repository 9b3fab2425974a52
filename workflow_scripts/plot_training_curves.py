"""Rule plot_training_curves: the training loss per epoch of a table's models."""

from lolip import presentation
from lolip.progress import setup_logging

setup_logging(snakemake.log[0])
presentation.make_training_figure(
    list(snakemake.input.metrics),
    list(snakemake.output),
    spec=snakemake.params.spec,
    dpi=snakemake.params.dpi,
)
