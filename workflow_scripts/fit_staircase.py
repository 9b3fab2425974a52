"""Rule fit_staircase: fit every method on one size of the 1-D staircase; table and fits."""

from lolip.progress import setup_logging
from lolip.staircase import run_staircase, write_results

setup_logging(snakemake.log[0])
params = snakemake.params
result = run_staircase(
    n_train=params.n_train,
    n_test=params.n_test,
    seed=params.seed,
    methods=params.methods,
    eps=params.eps,
    penalty=params.penalty,
)
write_results(result, table=snakemake.output.table, fits=snakemake.output.fits)
