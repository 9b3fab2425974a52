"""Rule attack_model: one attack on one shard of a model's evaluated points."""

from lolip import jobs
from lolip.evaluation import jobs as evaluation

with jobs.job(snakemake):
    evaluation.attack_model(
        snakemake.input.model,
        snakemake.input.data,
        snakemake.output.table,
        snakemake.output.record,
        name=snakemake.wildcards.attack,
        shard=int(snakemake.wildcards.shard),
        shards=int(snakemake.wildcards.shards),
        eps=snakemake.params.eps,
        evaluation=snakemake.params.evaluation,
    )
