"""lolip.sweep: robust accuracy at multiples of eps, the evaluation's PGD on a test subset."""

from __future__ import annotations

import json

import pandas as pd
import pytest
import torch

from lolip import pipeline
from lolip.bounds import from_mapping
from lolip.datasets.prepared import Split
from lolip.evaluation.parts import attack_part
from lolip.evaluation.settings import EvaluationSettings
from lolip.sweep import COLUMNS, SweepSettings, sweep_model

EPS = 0.1
PGD = {"type": "pgd", "norm": "linf", "steps": 5, "step_size": 0.2, "restarts": 1}


@pytest.fixture(scope="module")
def test_split() -> Split:
    """300 held-out digits (the shared MLP trained on the first 1200)."""
    from tests.helpers.small import digits_tensors

    x, y = digits_tensors()
    return Split(x[1200:1500], y[1200:1500], 1.0)


def evaluation_robust(model, split: Split, eps: float, seed: int) -> float:
    """The evaluation's adversarial accuracy (%): clean correct and never broken by PGD."""
    settings = EvaluationSettings.from_dict({"seed": seed, "attacks": {"pgd": PGD}})
    frame, _ = attack_part(model, {"test": split}, eps, settings, name="pgd")
    with torch.no_grad():
        clean = (model(split.images(slice(None))).argmax(1) == split.y).numpy()
    return 100 * float((clean & ~frame["broken"].to_numpy(bool)).mean())


def test_at_eps_the_sweep_is_the_evaluations_attack(digits_mlp, test_split, one_thread):
    for seed in (0, 3):
        curve = sweep_model(digits_mlp, test_split, EPS, [1, 2], PGD, seed=seed, batch_size=64)
        for point, factor in zip(curve, (1, 2), strict=True):
            expected = evaluation_robust(digits_mlp, test_split, factor * EPS, seed)
            assert point["robust_acc"] == pytest.approx(expected, abs=1e-9), (seed, factor)
            assert point["eps"] == pytest.approx(factor * EPS)
            assert point["n"] == len(test_split)


def test_at_radius_zero_the_sweep_is_clean_accuracy(digits_mlp, test_split, one_thread):
    (point,) = sweep_model(digits_mlp, test_split, EPS, [0], PGD)
    with torch.no_grad():
        clean = digits_mlp(test_split.images(slice(None))).argmax(1) == test_split.y
    assert point["robust_acc"] == pytest.approx(100 * clean.double().mean().item())
    assert point["eps"] == 0


class _ZeroIsClassZero(torch.nn.Module):
    """Class 1 wherever the image has any ink, class 0 on the blank image (a tie)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        ink = (x * torch.ones_like(x)).flatten(1).sum(1)  # a gradient of its own storage
        return torch.stack([torch.zeros_like(ink), 100 * ink], dim=1)


def test_a_misclassified_point_is_never_robust():
    """The blank image labelled 1 is misclassified, but every point of its ball around it
    that PGD visits in one step has ink: the attack alone would call it robust."""
    split = Split(torch.zeros(3, 1, 4, 4), torch.ones(3, dtype=torch.long), 1.0)
    one_step = {**PGD, "steps": 1}
    curve = sweep_model(_ZeroIsClassZero(), split, EPS, [0, 1], one_step)
    assert [c["robust_acc"] for c in curve] == [0, 0]


def test_a_larger_radius_breaks_more_points(digits_mlp, test_split, one_thread):
    curve = sweep_model(digits_mlp, test_split, EPS, [0, 0.5, 1, 4], PGD)
    accs = [c["robust_acc"] for c in curve]
    assert accs == sorted(accs, reverse=True)
    assert accs[0] > 80 and accs[-1] < 5  # digits at eps 0.4: nearly every point falls


def test_batches_change_no_result(digits_mlp, test_split, one_thread):
    runs = [sweep_model(digits_mlp, test_split, EPS, [0.5, 1], PGD, batch_size=b) for b in (7, 300)]
    assert runs[0] == runs[1]


def test_the_model_keeps_its_mode_and_gradients(digits_mlp, test_split, one_thread):
    digits_mlp.train()
    try:
        sweep_model(digits_mlp, test_split, EPS, [1], PGD)
        assert digits_mlp.training
        assert all(p.requires_grad for p in digits_mlp.parameters())
    finally:
        digits_mlp.eval()


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"factors": []}, "factors must list at least one multiple of eps"),
        ({"factors": [1, -0.5]}, "factors must be a list of a number >= 0s"),
        ({"factors": [1, 1]}, "factors must differ from each other"),
        ({"subset": 0}, "subset must be an integer >= 1 or null, got 0"),
        ({"radii": [1]}, "sweep: unknown key 'radii' (known: factors, subset, tables)"),
    ],
)
def test_bad_sweep_settings_are_named(values, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        from_mapping(SweepSettings, values, "sweep")


def test_the_defaults_are_five_radii_on_500_points():
    settings = from_mapping(SweepSettings, None, "sweep")
    assert list(settings.factors) == [0, 0.5, 1, 2, 4]
    assert settings.subset == 500 and settings.tables is None


# --------------------------------------------------------------------------- workflow


@pytest.mark.slow
def test_the_sweep_job_repeats_the_evaluation_on_its_subset(finished_run, tmp_path):
    """pipeline.sweep_eps on a finished run's files: at eps the evaluation's per-example
    PGD results (examples.csv) on the first points, at 0 their clean accuracy."""
    from tests.helpers.grid import METHODS, metrics, model

    metrics_files = [metrics(finished_run, m) for m in METHODS]
    records = [json.loads(p.read_text()) for p in metrics_files]
    models = [
        {
            "model": f"digits/DigitsCNN/{r['method']}/seed0",
            **{k: r[k] for k in ("dataset", "arch", "method", "seed", "eps")},
            "pgd": r["settings"]["attacks"]["pgd"],
            "seed_eval": r["settings"]["seed"],
            "batch_size": r["settings"]["batch_size"],
            "tf32": False,
        }
        for r in records
    ]
    out = tmp_path / "sweep.csv"
    n = 120
    pipeline.sweep_eps(
        [str(model(finished_run, m)) for m in METHODS],
        [str(finished_run / "results/datasets/digits.h5")],
        str(out),
        models=models,
        dataset_names=["digits"],
        sweep={"factors": [0, 1], "subset": n},
    )
    sweep = pd.read_csv(out)
    assert list(sweep.columns) == list(COLUMNS)
    for path, r in zip(metrics_files, records, strict=True):
        examples = pd.read_csv(path.with_name("examples.csv"))
        first = examples[(examples["split"] == "test") & (examples["index"] < n)]
        own = sweep[sweep["method"] == r["method"]].set_index("factor")
        robust = first["clean_correct"] & ~first["broken_pgd"].astype(bool)
        assert own.loc[1, "robust_acc"] == pytest.approx(100 * robust.mean())
        assert own.loc[0, "robust_acc"] == pytest.approx(100 * first["clean_correct"].mean())
        assert (own["n"] == n).all() and (own["dataset_eps"] == r["eps"]).all()


@pytest.mark.slow
def test_the_workflows_sweep_has_every_model_and_radius(finished_run):
    from tests.helpers.grid import METHODS

    sweep = pd.read_csv(finished_run / "results/sweep/digits_DigitsCNN.csv")
    assert sorted(sweep["method"].unique()) == sorted(METHODS)
    assert sorted(sweep["factor"].unique()) == [0, 0.5, 1, 2, 4]
    assert (sweep["n"] == 450).all()  # subset 500, capped at digits' 450 test points
    assert sweep["eps"].tolist() == pytest.approx((sweep["factor"] * 0.1).tolist())
