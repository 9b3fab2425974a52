"""Every caption and figure title of the written tables and figures, in one place.

The captions of the CSV/Markdown/LaTeX tables and the titles of the figures. The
Snakemake report's longer captions (with the definitions of every column) are
``report/*.rst``, one per table or figure kind.
"""

from __future__ import annotations

from lolip import tables

SEPARATION_TABLE = (
    "Table 1: l_inf separation (inputs in [0, 1]): the minimum over training (train-train) "
    "and test (test-train) points of the distance to the nearest training point of "
    "another class; 'none dropped' before dropping near-duplicates (paper: SVHN 4, "
    "Restricted ImageNet 6). 1-NN: the theorem's nearest-neighbour classifier, clean and "
    "certified-at-eps test accuracy (%). Random labels: the same minima with the training "
    "labels permuted."
)
FINDINGS_TABLE = (
    "The paper's findings, tested on this run's model tables and on the paper's values."
)


def model_table(spec: tables.TableSpec) -> str:
    attack = "PGD" if spec.attack == tables.DEFAULT_ATTACK else spec.attack
    text = spec.caption or f"{spec.name}: accuracies in %, test Lipschitz, gaps (train - test)."
    return (
        f"{text} Adversarial columns without a named attack: {attack}. Row "
        f"'{tables.NN_ROW}': the nearest-neighbour classifier of the existence theorem; "
        "its adversarial test accuracy is certified at radius eps (a lower bound against any "
        "attack) and its Lipschitz constant is the exact 1/r (r = half the train-train "
        "separation)."
    )


def checks_table(spec: tables.TableSpec) -> str:
    return f"{spec.name}: soundness checks and gradient-masking alarms of each model."


def lipschitz_figure(spec: tables.TableSpec) -> str:
    return f"{spec.name}: test Lipschitz vs adversarial test accuracy"


def gap_figure(spec: tables.TableSpec) -> str:
    return f"{spec.name}: generalisation gaps per method (adversarial: {spec.attack})"


def training_figure(spec: tables.TableSpec) -> str:
    return f"{spec.name}: training loss per epoch"


def sweep_figure(spec: tables.TableSpec) -> str:
    return f"{spec.name}: robust accuracy against the radius"


def separation_figure(dataset: str) -> str:
    return f"{dataset}: l∞ distance to the nearest training point of another class"
