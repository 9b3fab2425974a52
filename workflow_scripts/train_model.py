"""Rule train_model: one model of the grid, resumable from its checkpoint."""

import torch

from lolip import pipeline
from lolip.progress import setup_logging

setup_logging(snakemake.log[0])
torch.set_num_threads(snakemake.threads)
pipeline.train_model(
    snakemake.input[0],
    snakemake.output[0],
    arch=snakemake.wildcards.arch,
    method=snakemake.wildcards.method,
    seed=int(snakemake.wildcards.seed),
    experiment=snakemake.params.experiment,
    checkpoint=snakemake.params.checkpoint,
)
