"""Rule compute_separation: exact l_inf separation and the 1-NN classifier of one dataset."""

import torch

from lolip import pipeline
from lolip.progress import setup_logging

setup_logging(snakemake.log[0])
torch.set_num_threads(snakemake.threads)
pipeline.compute_separation(
    snakemake.input[0],
    snakemake.output.summary,
    snakemake.output.points,
    eps=snakemake.params.eps,
    drop_smallest=snakemake.params.drop_smallest,
    label_seed=snakemake.params.label_seed,
    threads=snakemake.threads,
)
