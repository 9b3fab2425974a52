"""Rule compute_separation_shard: nearest neighbours of one block of a dataset's queries."""

import torch

from lolip.progress import setup_logging
from lolip.separation import jobs

setup_logging(snakemake.log[0])
torch.set_num_threads(snakemake.threads)
jobs.compute_separation_shard(
    snakemake.input[0],
    snakemake.output.points,
    snakemake.output.info,
    shard=snakemake.params.shard,
    shards=snakemake.params.shards,
    label_seed=snakemake.params.label_seed,
    threads=snakemake.threads,
)
