"""Rule evaluate_model: clean, PGD and Lipschitz numbers of one model."""

import torch

from lolip import pipeline
from lolip.progress import setup_logging

setup_logging(snakemake.log[0])
torch.set_num_threads(snakemake.threads)
pipeline.evaluate_model(
    snakemake.input.model,
    snakemake.input.data,
    snakemake.output.metrics,
    snakemake.output.examples,
    snakemake.params.evaluation,
)
