"""Rule fit_staircase: fit every method on one size of the 1-D staircase; table and figure."""

from lolip.io import atomic_path
from lolip.progress import setup_logging
from lolip.staircase import plot_staircase, run_staircase

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
with atomic_path(snakemake.output.table) as tmp:
    result.table.to_csv(tmp, index=False, float_format="%.6g")
plot_staircase(
    result,
    snakemake.output.figure,
    title=(
        f"Staircase, {snakemake.wildcards.size}: n_train = {params.n_train}, "
        f"eps = {params.eps:.4g}, lambda = {params.penalty:g}"
    ),
)
