"""Rule make_fixture: a dataset's fixture in the original's on-disk format."""

from lolip import jobs, pipeline

with jobs.job(snakemake, torch_threads=False):
    pipeline.make_fixture(
        snakemake.wildcards.dataset,
        snakemake.params.spec,
        snakemake.params.fixture,
        snakemake.output[0],
    )
