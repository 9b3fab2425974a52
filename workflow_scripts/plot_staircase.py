"""Rule plot_staircase: one size's fitted functions drawn, as PNG and SVG."""

from lolip.progress import setup_logging
from lolip.staircase import make_staircase_figure

setup_logging(snakemake.log[0])
make_staircase_figure(
    snakemake.input.fits,
    [snakemake.output.figure, snakemake.output.vector],
    size=snakemake.wildcards.size,
    style=snakemake.params.style,
)
