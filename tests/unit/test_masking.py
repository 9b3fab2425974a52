"""Gradient masking is flagged: models whose gradients mislead PGD trip an alarm or a check,
an honest model trips none, and ``strict`` makes an alarm an error."""

from __future__ import annotations

import logging

import pytest
import torch

from lolip.evaluation.robustness import evaluate_robustness
from lolip.evaluation.verdict import EvaluationError
from tests.helpers.small import Quantised, Wrapper, digits_tensors

pytestmark = pytest.mark.usefixtures("one_thread")

SETTINGS = {"checks": {"size": 200}, "subsets": {"test": 200}}


class Oscillating(Wrapper):
    """``f(x + 0.03 sin(3000 x))``: almost the same function, but its input gradient flips
    sign every 0.001 of a pixel, so it points nowhere useful."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.inner(x + 0.03 * torch.sin(3000 * x))


class Saturated(Wrapper):
    """Logits times 10^4: the softmax saturates and CE's input gradient is exactly zero."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return 1e4 * self.inner(x)


@pytest.fixture(scope="module")
def test_xy():
    x, y = digits_tensors()
    return x[1200:], y[1200:]


def evaluate(model, test_xy, **extra):
    return evaluate_robustness(model, *test_xy, 0.1, settings={**SETTINGS, **extra})


def test_an_honest_model_raises_no_alarm(digits_mlp, test_xy):
    metrics, _ = evaluate(digits_mlp, test_xy)
    assert metrics["checks"]["masking_suspected"] is False
    assert metrics["checks"]["square_vs_pgd"]["test"]["passed"]
    assert metrics["checks"]["large_eps"]["test"]["attack_acc"] == 0


def test_useless_gradients_ring_both_alarms_with_their_evidence(digits_mlp, test_xy, caplog):
    with caplog.at_level(logging.WARNING, logger="lolip"):
        metrics, _ = evaluate(Oscillating(digits_mlp), test_xy)
    checks = metrics["checks"]
    assert checks["masking_suspected"] is True and checks["all_passed"] is True
    square = checks["square_vs_pgd"]["test"]
    assert not square["passed"]
    assert square["attack_acc"]["square"] < square["attack_acc"]["pgd"] - square["margin"]
    large = checks["large_eps"]["test"]
    assert not large["passed"] and large["attack_acc"] > large["chance"] + large["margin"]
    assert len(checks["alarms"]) == 2
    assert caplog.text.count("gradient masking suspected") >= 2
    # PGD's number looks robust, which is exactly what the alarm is about.
    assert metrics["adv_test_acc"] > 80


def test_strict_makes_an_alarm_an_error(digits_mlp, test_xy):
    with pytest.raises(EvaluationError, match="gradient masking suspected.*square_vs_pgd"):
        evaluate(Oscillating(digits_mlp), test_xy, checks={"size": 200, "strict": True})


@pytest.mark.parametrize("wrapper", [Quantised, Saturated])
def test_zero_gradients_stop_the_evaluation(digits_mlp, test_xy, wrapper):
    with pytest.raises(EvaluationError, match="input_gradient_nonzero"):
        evaluate(wrapper(digits_mlp), test_xy)
