"""Rule evaluate_model: one model's parts gathered into metrics.json and examples.csv."""

from collections import defaultdict

from lolip import jobs
from lolip.evaluation import jobs as evaluation

with jobs.job(snakemake, torch_threads=False):
    attacks = defaultdict(list)
    for name, table, record in zip(
        snakemake.params.attack_of_table,
        snakemake.input.attack_tables,
        snakemake.input.attack_records,
        strict=True,
    ):
        attacks[name].append((table, record))
    evaluation.evaluate_model(
        snakemake.input.model,
        snakemake.input.checks,
        list(zip(snakemake.input.lipschitz_tables, snakemake.input.lipschitz_records, strict=True)),
        dict(attacks),
        snakemake.output.metrics,
        snakemake.output.examples,
        eps=snakemake.params.eps,
        evaluation=snakemake.params.evaluation,
    )
