"""Rule check_model: the soundness checks and gradient-masking alarms of one model."""

from lolip import jobs
from lolip.evaluation import jobs as evaluation

with jobs.job(snakemake):
    evaluation.check_model(
        snakemake.input.model,
        snakemake.input.data,
        snakemake.output[0],
        eps=snakemake.params.eps,
        evaluation=snakemake.params.evaluation,
    )
