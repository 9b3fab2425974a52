"""Rule estimate_lipschitz: clean predictions and the local Lipschitz estimate on one shard."""

from lolip import jobs
from lolip.evaluation import jobs as evaluation

with jobs.job(snakemake):
    evaluation.estimate_lipschitz(
        snakemake.input.model,
        snakemake.input.data,
        snakemake.output.table,
        snakemake.output.record,
        shard=int(snakemake.wildcards.shard),
        shards=int(snakemake.wildcards.shards),
        eps=snakemake.params.eps,
        evaluation=snakemake.params.evaluation,
    )
