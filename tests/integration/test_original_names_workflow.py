"""An experiment named by the original code's model string, through the workflow."""

from __future__ import annotations

from tests.helpers.workflow import copy_workflow, edit_config, job_counts, snakemake

TRAINING = {"epochs": 1, "lr": 0.0001, "batch_size": 64}


def test_workflow_runs_an_experiment_named_the_original_way(tmp_path):
    wf = copy_workflow(tmp_path / "wf")
    edit_config(
        wf / "config/config.yaml",
        lambda c: (
            c["experiments"].append(
                {"dataset": "mnist", "models": ["strades6ce-tor-CNN001"], "training": TRAINING}
            )
            or c["datasets"].update(mnist={"source": "mnist", "eps": 0.1})
        ),
    )
    out = snakemake(wf, "-n", "results/models/mnist/CNN001/trades6/seed0/model.safetensors").stdout
    assert job_counts(out)["train_model"] == 1
