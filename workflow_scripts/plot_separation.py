"""Rule plot_separation: per-point separation histograms of one dataset."""

from lolip import pipeline
from lolip.progress import setup_logging

setup_logging(snakemake.log[0])
pipeline.make_separation_figure(
    snakemake.input.summary,
    snakemake.input.points,
    snakemake.output[0],
    random_points=snakemake.input.get("random_points"),
)
