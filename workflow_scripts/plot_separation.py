"""Rule plot_separation: per-point separation histograms of one dataset."""

from lolip import presentation
from lolip.progress import setup_logging

setup_logging(snakemake.log[0])
presentation.make_separation_figure(
    snakemake.input.summary,
    snakemake.input.points,
    list(snakemake.output),
    random_points=snakemake.input.get("random_points"),
    dpi=snakemake.params.dpi,
)
