"""Rule export_robustbench: one model's RobustBench model-info JSON from its metrics."""

from lolip import jobs, robustbench

with jobs.job(snakemake, torch_threads=False):
    robustbench.export(snakemake.input[0], snakemake.output[0], reported=snakemake.params.reported)
