"""Rule fit_staircase: fit every method on one size of the 1-D staircase; table and fits."""

from lolip.progress import setup_logging
from lolip.staircase import run_staircase, write_results

setup_logging(snakemake.log[0])
result = run_staircase(**snakemake.params.fit)
write_results(result, table=snakemake.output.table, fits=snakemake.output.fits)
