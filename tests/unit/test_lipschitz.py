"""Local Lipschitz estimate: brute force on linear maps, the ball, ascent vs the original."""

from __future__ import annotations

import itertools

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from lolip.evaluation.settings import LipschitzSettings
from lolip.lipschitz import lipschitz_ratio, local_lipschitz
from lolip.noise import noise_for
from tests.helpers.small import digits_tensors


def estimate_of(model, x, eps, seed=0, ascend=True, **settings):
    """The estimate with ``settings`` (paper defaults otherwise), draws seeded by ``seed``."""
    noise = noise_for(seed, "test/lipschitz", 0, len(x))
    return local_lipschitz(model, x, eps, LipschitzSettings(**settings), noise=noise, ascend=ascend)


pytestmark = pytest.mark.usefixtures("one_thread")


def inf_to_one_norm(weight: torch.Tensor) -> float:
    """max_{d != 0} ||W d||_1 / ||d||_inf = max over sign vectors s of ||W s||_1.

    ||W d||_1 is convex in d, so its maximum over the unit l_inf ball is at a vertex.
    """
    signs = torch.tensor(list(itertools.product([-1.0, 1.0], repeat=weight.shape[1])))
    return (signs @ weight.T).abs().sum(1).max().item()


@pytest.fixture(scope="module")
def linear() -> tuple[nn.Linear, float]:
    torch.manual_seed(0)
    layer = nn.Linear(8, 3)
    return layer, inf_to_one_norm(layer.weight.detach())


def test_ratio_matches_its_definition():
    gen = torch.Generator().manual_seed(0)
    x, xp = torch.rand(5, 1, 4, 4, generator=gen), torch.rand(5, 1, 4, 4, generator=gen)
    fx, fxp = torch.randn(5, 10, generator=gen), torch.randn(5, 10, generator=gen)
    expected = [(fx[i] - fxp[i]).abs().sum() / (x[i] - xp[i]).abs().max() for i in range(len(x))]
    assert torch.allclose(lipschitz_ratio(fx, fxp, x, xp), torch.stack(expected))
    assert lipschitz_ratio(fx, fxp, x, x).eq(0).all()  # x' = x: defined as 0, not nan


def test_linear_model_estimate_approaches_and_never_exceeds_brute_force(linear):
    layer, true_max = linear
    x = 0.5 + 0.1 * torch.rand(20, 8, generator=torch.Generator().manual_seed(1))
    estimate = estimate_of(layer, x, 0.1, steps=50, step_size=0.01, restarts=8)
    assert estimate.max() <= true_max * (1 + 1e-5)
    # Signed steps saturate every coordinate but can leave the largest one short of a
    # vertex by one step (0.01 of 0.1): within a few percent, never above.
    assert estimate.min() >= 0.97 * true_max
    assert estimate.max() >= 0.99 * true_max


def test_paper_settings_on_linear_model_stay_below_brute_force(linear):
    layer, true_max = linear
    x = 0.5 + 0.1 * torch.rand(50, 8, generator=torch.Generator().manual_seed(2))
    estimate = estimate_of(layer, x, 0.1)
    assert estimate.max() <= true_max * (1 + 1e-5)
    assert estimate.mean() >= 0.8 * true_max


class Kinks(nn.Module):
    """f(x) = sum_i [relu(x_i - high) + relu(low - x_i) + 0.001 x_i].

    Between the kinks the ratio is at most 0.001 D; past either kink it grows fast.
    """

    def __init__(self, low: float, high: float) -> None:
        super().__init__()
        self.low, self.high = low, high

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        flat = x.flatten(1)
        kinks = F.relu(flat - self.high) + F.relu(self.low - flat)
        return (kinks + 0.001 * flat).sum(1, keepdim=True)


@pytest.mark.parametrize(
    ("centre", "eps", "kinks", "reachable"),
    [
        (0.5, 0.04, (0.45, 0.55), False),  # kinks outside the ball
        (0.5, 0.1, (0.45, 0.55), True),
        (0.98, 0.1, (-1.0, 1.02), False),  # kink inside the ball but outside [0, 1]
    ],
)
def test_estimate_searches_only_the_ball_and_unit_box(centre, eps, kinks, reachable):
    dim = 6
    x = torch.full((10, dim), centre)
    # Restarts: the start's noise decides whether a point climbs up or down.
    estimate = estimate_of(Kinks(*kinks), x, eps, steps=20, step_size=0.01, restarts=8)
    smooth_part = 0.001 * dim
    if reachable:
        assert estimate.min() > 10 * smooth_part
    else:
        assert estimate.max() <= smooth_part * (1 + 1e-4)


@pytest.fixture(scope="module")
def mlp(digits_mlp) -> tuple[nn.Module, torch.Tensor]:
    x, _ = digits_tensors()
    return digits_mlp, x[1200:1500]


def test_ascent_finds_larger_ratios_than_the_originals_descent(mlp):
    model, x = mlp
    ours = estimate_of(model, x, 0.1)
    original = estimate_of(model, x, 0.1, ascend=False)
    # Same starts, so every point's ascent record is at least the start's ratio, and the
    # ascent climbs well above what the descent keeps.
    assert ours.mean() > 1.3 * original.mean()
    assert (ours >= original).float().mean() > 0.9


def test_more_steps_and_restarts_never_lower_the_estimate_much(mlp):
    model, x = mlp
    paper = estimate_of(model, x, 0.1)
    longer = estimate_of(model, x, 0.1, steps=30, restarts=3)
    assert longer.mean() >= paper.mean()


def test_estimate_runs_in_eval_mode_and_restores_the_callers_state(mlp):
    model, x = mlp
    model.zero_grad(set_to_none=True)
    model.train()
    try:
        first, second = (estimate_of(model, x[:50], 0.1) for _ in range(2))
        assert torch.equal(first, second)  # active dropout would make them differ
        assert model.training
        assert all(p.requires_grad and p.grad is None for p in model.parameters())
    finally:
        model.eval()


@pytest.mark.parametrize(
    ("setting", "message"),
    [
        ({"steps": -1}, "steps must be an integer >= 0"),
        ({"restarts": 0}, "restarts must be an integer >= 1"),
        ({"step_size": -0.003}, "step_size must be a number >= 0"),
        ({"init_std": float("nan")}, "init_std must be a number >= 0"),
    ],
)
def test_bad_settings_are_rejected_naming_them(setting, message):
    with pytest.raises(ValueError, match=message):
        LipschitzSettings(**setting)


def test_an_examples_estimate_does_not_depend_on_its_batch(mlp):
    model, x = mlp
    whole = estimate_of(model, x[:60], 0.1)
    noise = noise_for(0, "test/lipschitz", 20, 60)
    part = local_lipschitz(model, x[20:60], 0.1, noise=noise)
    torch.testing.assert_close(part, whole[20:], rtol=1e-5, atol=0)
