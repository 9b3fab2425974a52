"""Rule plot_eps_sweep: robust test accuracy against the radius of a table's models."""

from lolip import presentation
from lolip.progress import setup_logging

setup_logging(snakemake.log[0])
presentation.make_sweep_figure(
    snakemake.input.sweep,
    list(snakemake.output),
    spec=snakemake.params.spec,
    dpi=snakemake.params.dpi,
)
