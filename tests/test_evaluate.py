"""evaluate(): the metrics and per-example table, settings, and checks that fail loudly."""

from __future__ import annotations

import copy
import functools

import pandas as pd
import pytest
import torch
import torch.nn.functional as F
from torch import nn

import lolip.attacks.pgd
import lolip.evaluate
from lolip.attacks import AttackResult
from lolip.evaluate import DEFAULT_SETTINGS, EvaluationError, check_settings, evaluate
from tests.small import digits_tensors

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def splits() -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
    x, y = digits_tensors()
    return {"train": (x[:1200], y[:1200]), "test": (x[1200:], y[1200:])}


@pytest.fixture(scope="module")
def model(digits_mlp) -> nn.Module:
    """A small MLP with dropout trained on ``splits["train"]`` (conftest's ``digits_mlp``)."""
    return digits_mlp


SMALL = {
    "batch_size": 128,
    "subsets": {"train": 200, "test": 200},
    "check_size": 100,
}
EXTRA_ATTACKS = {
    "multitarget": {"type": "multitarget"},
    "pgd_strong": {"type": "pgd", "steps": 20, "step_size": 0.1, "restarts": 2},
}


@pytest.fixture(scope="module")
def result(model, splits):
    return evaluate(model, splits, 0.1, {**SMALL, "attacks": EXTRA_ATTACKS})


def test_evaluate_returns_every_metric_key(result):
    metrics, _ = result
    expected = {"eps", "gap", "adv_gap", "multitarget_target_success", "settings", "checks"}
    expected |= {"seconds"}
    for split in ("train", "test"):
        expected |= {f"n_{split}", f"{split}_acc", f"adv_{split}_acc", f"{split}_lipschitz"}
        expected |= {f"adv_{split}_acc_multitarget", f"adv_{split}_acc_pgd_strong"}
    assert set(metrics) == expected
    assert metrics["checks"]["all_passed"] is True
    assert set(metrics["checks"]) == {
        "batch_size_invariance",
        "input_gradient_nonzero",
        "eps_zero",
        "more_steps",
        "in_ball",
        "adv_not_above_clean",
        "all_passed",
    }
    assert metrics["settings"]["attacks"]["pgd"] == DEFAULT_SETTINGS["attacks"]["pgd"]


def test_metrics_agree_with_the_per_example_table(result):
    metrics, frame = result
    assert len(frame) == metrics["n_train"] + metrics["n_test"] == 400
    for split in ("train", "test"):
        rows = frame[frame["split"] == split]
        assert list(rows["index"]) == list(range(200))
        assert metrics[f"{split}_acc"] == pytest.approx(100 * rows["clean_correct"].mean())
        robust = rows["clean_correct"] & ~rows["broken_pgd"]
        assert metrics[f"adv_{split}_acc"] == pytest.approx(100 * robust.mean())
        strong = rows["clean_correct"] & ~rows["broken_pgd_strong"]
        assert metrics[f"adv_{split}_acc_pgd_strong"] == pytest.approx(100 * strong.mean())
        assert metrics[f"{split}_lipschitz"] == pytest.approx(rows["lipschitz"].mean())
        counts = metrics["multitarget_target_success"][split]["success"]
        assert counts == [int(rows[f"multitarget_target_{t}"].sum()) for t in range(10)]
        assert (rows["clean_pred"] == rows["label"]).equals(rows["clean_correct"])
    assert metrics["gap"] == pytest.approx(metrics["train_acc"] - metrics["test_acc"])
    assert metrics["adv_gap"] == pytest.approx(metrics["adv_train_acc"] - metrics["adv_test_acc"])
    # A natural model at eps 0.1: the attack must matter, and robust <= clean.
    assert metrics["adv_test_acc"] < metrics["test_acc"] - 20
    assert (frame["lipschitz"] > 0).all()


def test_per_example_columns_are_documented(result):
    _, frame = result
    fixed = ["split", "index", "label", "clean_pred", "clean_correct"]
    attacks = ["broken_pgd", "broken_multitarget", "broken_pgd_strong"]
    targets = [f"multitarget_target_{t}" for t in range(10)]
    assert list(frame.columns) == fixed + attacks + targets + ["lipschitz"]
    doc = lolip.evaluate.__doc__
    for column in ("split", "index", "label", "clean_pred", "clean_correct", "lipschitz"):
        assert column in doc
    assert "broken_{name}" in doc and "{name}_target_{t}" in doc


def test_evaluation_is_deterministic_and_restores_the_model(model, splits, result):
    model.train()
    try:
        metrics, frame = evaluate(model, splits, 0.1, {**SMALL, "attacks": EXTRA_ATTACKS})
        assert model.training
    finally:
        model.eval()
    pd.testing.assert_frame_equal(frame, result[1])
    strip = {"seconds", "checks"}
    assert {k: v for k, v in metrics.items() if k not in strip} == {
        k: v for k, v in result[0].items() if k not in strip
    }


class AlwaysDropout(nn.Module):
    """Dropout that ignores eval(): the original code's kind of evaluation bug."""

    def __init__(self, inner: nn.Module) -> None:
        super().__init__()
        self.inner = inner

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.inner(F.dropout(x, 0.3, training=True))


class Quantised(nn.Module):
    """Rounds its input to 1/4 steps: piecewise constant, zero input gradient."""

    def __init__(self, inner: nn.Module) -> None:
        super().__init__()
        self.inner = inner

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.inner(torch.round(x * 4) / 4)


@pytest.mark.parametrize(
    ("wrapper", "check"),
    [(AlwaysDropout, "batch_size_invariance"), (Quantised, "input_gradient_nonzero")],
)
def test_checks_fail_loudly_on_a_broken_model(model, splits, wrapper, check):
    with pytest.raises(EvaluationError, match=check) as failure:
        evaluate(wrapper(model), splits, 0.1, SMALL)
    assert failure.value.checks["all_passed"] is False


def _leaves_ball(result: AttackResult, eps: float, steps: int) -> AttackResult:
    return AttackResult((result.x_adv + 2 * eps).clamp(0, 1), result.broken)


def _never_breaks(result: AttackResult, eps: float, steps: int) -> AttackResult:
    return result if eps == 0 else AttackResult(result.x_adv, torch.zeros_like(result.broken))


def _weaker_with_more_steps(result: AttackResult, eps: float, steps: int) -> AttackResult:
    return result if steps <= 10 else AttackResult(result.x_adv, torch.zeros_like(result.broken))


def _breaks_at_eps_zero(result: AttackResult, eps: float, steps: int) -> AttackResult:
    return result if eps > 0 else AttackResult(result.x_adv, torch.ones_like(result.broken))


@pytest.mark.parametrize(
    ("sabotage", "check"),
    [
        (_leaves_ball, "in_ball"),
        (_never_breaks, "adv_not_above_clean"),
        (_weaker_with_more_steps, "more_steps"),
        (_breaks_at_eps_zero, "eps_zero"),
    ],
)
def test_checks_fail_loudly_on_a_broken_attack(model, splits, monkeypatch, sabotage, check):
    original = lolip.attacks.pgd.pgd

    @functools.wraps(original)
    def sabotaged(model, x, y, eps, **settings):
        return sabotage(original(model, x, y, eps, **settings), eps, settings["steps"])

    monkeypatch.setattr(lolip.attacks.pgd, "pgd", sabotaged)
    with pytest.raises(EvaluationError, match=f"{check} on (train|test)") as failure:
        evaluate(model, splits, 0.1, SMALL)
    failed = [
        name
        for name, per_split in failure.value.checks.items()
        if isinstance(per_split, dict) and "False" in repr(per_split)
    ]
    assert failed == [check]


def test_check_settings_fills_the_paper_protocol():
    merged = check_settings(None)
    assert merged == DEFAULT_SETTINGS
    assert merged["attacks"]["pgd"] == {
        "type": "pgd",
        "norm": "linf",
        "steps": 10,
        "step_size": 0.2,
        "restarts": 1,
    }
    assert merged["lipschitz"] == {
        "steps": 10,
        "step_size": 0.003,
        "restarts": 1,
        "init_std": 0.001,
    }


def test_check_settings_merges_partial_entries():
    merged = check_settings(
        {"attacks": {"pgd": {"steps": 20}, "mt": {"type": "multitarget"}}, "subsets": {"test": 5}}
    )
    assert merged["attacks"]["pgd"]["steps"] == 20
    assert merged["attacks"]["pgd"]["step_size"] == 0.2
    assert merged["attacks"]["mt"] == {
        "type": "multitarget",
        "norm": "linf",
        "steps": 20,
        "step_size": 0.1,
        "restarts": 1,
    }
    assert merged["subsets"] == {"train": None, "test": 5}
    assert DEFAULT_SETTINGS["attacks"]["pgd"]["steps"] == 10  # defaults untouched


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"batchsize": 5}, "unknown evaluation setting 'batchsize'"),
        ({"batch_size": 0}, "batch_size: batch_size must be an integer >= 1, got 0"),
        ({"seed": "a"}, "seed must be an integer >= 0, got 'a'"),
        ({"subsets": {"test": -1}}, "subsets.test: .* got -1"),
        ({"subsets": [1]}, "subsets must be a mapping"),
        ({"attacks": {"pgd": {"type": "multitarget"}}}, "attacks.pgd must have type 'pgd'"),
        ({"attacks": {"pgd-2": {"type": "pgd"}}}, "bad attack name 'pgd-2'"),
        ({"attacks": {"strong": {"steps": 5}}}, "attacks.strong: .*needs a 'type'"),
        ({"attacks": {"pgd": {"steps": -3}}}, "attacks.pgd: steps must be .* got -3"),
        ({"lipschitz": {"stepz": 1}}, "unknown evaluation setting lipschitz.stepz"),
        ({"lipschitz": {"restarts": 0}}, "lipschitz: restarts must be an integer >= 1"),
    ],
)
def test_check_settings_rejects_bad_values_naming_them(settings, message):
    with pytest.raises(ValueError, match=message):
        check_settings(copy.deepcopy(settings))


def test_subsets_must_name_existing_splits_and_fit_them(model, splits):
    with pytest.raises(ValueError, match="subsets.valid = 10, but there is no split 'valid'"):
        evaluate(model, splits, 0.1, {"subsets": {"valid": 10}})
    with pytest.raises(ValueError, match="subsets.test = 5000, but split 'test' has only 597"):
        evaluate(model, splits, 0.1, {"subsets": {"test": 5000}})
