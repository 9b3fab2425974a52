"""Rules plot_lipschitz_accuracy, plot_gap and plot_training_curves: one figure of the models
of a table, drawn from their metrics by the rule's function of lolip.presentation."""

from lolip import presentation
from lolip.progress import setup_logging

FIGURES = {
    "plot_lipschitz_accuracy": presentation.make_lipschitz_figure,  # Lipschitz vs adv acc
    "plot_gap": presentation.make_gap_figure,  # train - test gaps per method
    "plot_training_curves": presentation.make_training_figure,  # loss per epoch
}

setup_logging(snakemake.log[0])
FIGURES[snakemake.rule](
    list(snakemake.input.metrics),
    list(snakemake.output),
    spec=snakemake.params.spec,
    dpi=snakemake.params.dpi,
)
