"""Attacks: the ball, eps = 0, the any-iterate rule, targets, per-example random draws,
torchattacks as PGD's reference, and the official AutoAttack and Square packages."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from lolip.attacks import AttackResult, attack_spec, build_attack
from lolip.attacks.autoattack import AutoAttack
from lolip.attacks.multitarget import MultiTarget
from lolip.attacks.pgd import PGD
from lolip.attacks.square import Square
from lolip.noise import ExampleNoise, noise_for
from tests.helpers.small import digits_tensors, train_mlp


def draws(n: int, seed: int = 0, stream: str = "test") -> ExampleNoise:
    return noise_for(seed, stream, 0, n)


def pgd(model, x, y, eps, seed=0, **settings):
    return PGD(**settings)(model, x, y, eps, draws(len(y), seed))


def multitarget(model, x, y, eps, seed=0, **settings):
    return MultiTarget(**settings)(model, x, y, eps, draws(len(y), seed))


pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def digits_split() -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """sklearn's 8x8 digits in [0, 1], NCHW: (x_train, y_train, x_test, y_test)."""
    x, y = digits_tensors()
    return x[:1200], y[:1200], x[1200:], y[1200:]


@pytest.fixture(scope="module")
def model(digits_split) -> nn.Module:
    """A small MLP with dropout, trained naturally for a few seconds (~92% test accuracy)."""
    return train_mlp(digits_split[0], digits_split[1], dropout=0.2, epochs=12)


def standard_error(accuracy: float, n: int) -> float:
    return math.sqrt(accuracy * (1 - accuracy) / n)


def distances(x: torch.Tensor, x_adv: torch.Tensor, norm: str) -> torch.Tensor:
    diff = (x_adv - x).flatten(1)
    return diff.abs().amax(1) if norm == "linf" else diff.norm(dim=1)


@pytest.mark.parametrize(("norm", "eps"), [("linf", 0.3), ("l2", 1.5)])
@pytest.mark.parametrize("attack", [pgd, multitarget])
def test_adversarial_inputs_stay_in_ball_and_unit_box(model, digits_split, attack, norm, eps):
    x, y = digits_split[2][:100], digits_split[3][:100]
    result = attack(model, x, y, eps, norm=norm, steps=5, step_size=0.5, restarts=2, seed=0)
    assert distances(x, result.x_adv, norm).max() <= eps * (1 + 1e-5)
    assert result.x_adv.min() >= 0 and result.x_adv.max() <= 1
    # The attack must actually move: far from the clean point, not only inside the ball.
    assert distances(x, result.x_adv, norm).max() > eps / 2


@pytest.mark.parametrize("norm", ["linf", "l2"])
def test_returned_input_is_misclassified_exactly_when_broken(model, digits_split, norm):
    x, y = digits_split[2], digits_split[3]
    result = pgd(model, x, y, 0.1 if norm == "linf" else 0.8, norm=norm, restarts=3, seed=1)
    with torch.no_grad():
        wrong = model(result.x_adv).argmax(1) != y
    assert 0 < result.broken.float().mean() < 1
    assert torch.equal(wrong, result.broken)


@pytest.mark.parametrize("attack", [pgd, multitarget])
def test_eps_zero_breaks_exactly_the_misclassified_points(model, digits_split, attack):
    x, y = digits_split[2], digits_split[3]
    result = attack(model, x, y, 0.0, seed=0)
    with torch.no_grad():
        wrong = model(x).argmax(1) != y
    assert wrong.any()
    assert torch.equal(result.broken, wrong)
    assert torch.equal(result.x_adv, x)


class Bump(nn.Module):
    """Two classes on a 1-pixel input: margin m(x) = z_1 - z_0 = 1 - 10 |x - 0.55|.

    Misclassified (label 0) exactly on (0.45, 0.65). Around x = 0.3 with eps = 0.3 the
    ball is [0, 0.6]; a sign step of 0.6 jumps between its ends, and CE ascent points up
    below 0.55 and down above it, so from any start in [0, 0.5) the iterates run
    0.6 (misclassified), 0 (correct), 0.6, 0: after an even number of steps the last
    iterate is correct although an earlier one was not.
    """

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        margin = 1 - 10 * (x.flatten(1)[:, 0] - 0.55).abs()
        return torch.stack([torch.zeros_like(margin), margin], dim=1)


def test_point_broken_at_intermediate_iterate_stays_broken():
    model = Bump()
    x, y = torch.full((400, 1, 1, 1), 0.3), torch.zeros(400, dtype=torch.long)
    settings = {"steps": 4, "step_size": 2.0}  # step 0.6 = 2 eps
    result = pgd(model, x, y, 0.3, seed=0, **settings)
    assert result.broken.all()
    with torch.no_grad():
        assert (model(result.x_adv).argmax(1) == 1).all()
    # A last-iterate verdict misses most of them: only starts above 0.55 end at 0.6.
    torchattacks = pytest.importorskip("torchattacks")
    torch.manual_seed(0)
    last = torchattacks.PGD(model, eps=0.3, alpha=0.6, steps=4, random_start=True)(x, y)
    with torch.no_grad():
        assert (model(last).argmax(1) == 1).float().mean() < 0.3


class TwoRoutes(nn.Module):
    """Three classes on 2 x 20 pixels a, b; x = 0.5 everywhere, eps = 0.2, label 0.

    With means m_a, m_b of (a - 0.5), (b - 0.5): z_0 = 0, z_1 = -1 + 2 m_a stays below 0
    in the ball, so target 1 cannot succeed; z_2 = -0.3 + 3 m_b exceeds 0 once m_b > 0.1,
    which PGD towards class 2 reaches (m_b -> 0.2) but a random start practically never
    does (its m_b has a standard deviation of 0.026).
    """

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        flat = x.flatten(1) - 0.5
        z1 = -1 + 2 * flat[:, :20].mean(1)
        z2 = -0.3 + 3 * flat[:, 20:].mean(1)
        return torch.stack([torch.zeros_like(z1), z1, z2], dim=1)


def test_multitarget_breaks_a_point_if_any_target_succeeds():
    x, y = torch.full((50, 40), 0.5), torch.zeros(50, dtype=torch.long)
    result = multitarget(TwoRoutes(), x, y, 0.2, seed=0)
    assert result.broken.all()
    assert result.target_success[:, 2].all()
    assert not result.target_success[:, 0].any()  # the true class is never a target
    assert not result.target_success[:, 1].any()


def test_multitarget_at_least_as_strong_as_pgd_with_same_budget(model, digits_split):
    x, y = digits_split[2], digits_split[3]
    targeted = multitarget(model, x, y, 0.1, seed=0)
    untargeted = pgd(model, x, y, 0.1, steps=20, step_size=0.1, seed=0)
    acc_targeted = 1 - targeted.broken.float().mean().item()
    acc_untargeted = 1 - untargeted.broken.float().mean().item()
    assert acc_targeted <= acc_untargeted + standard_error(acc_untargeted, len(y))
    # Per-target flags add up to the verdict.
    assert torch.equal(targeted.target_success.any(1), targeted.broken)


def test_our_pgd_at_least_as_strong_as_torchattacks(model, digits_split):
    torchattacks = pytest.importorskip("torchattacks")
    x, y = digits_split[2], digits_split[3]
    eps, steps, alpha = 0.1, 10, 0.02
    ours = pgd(
        model,
        x,
        y,
        eps,
        steps=steps,
        step_size=alpha / eps,
        seed=0,
    )
    torch.manual_seed(0)
    reference = torchattacks.PGD(model, eps=eps, alpha=alpha, steps=steps, random_start=True)
    x_ref = reference(x, y)
    with torch.no_grad():
        ref_acc = (model(x_ref).argmax(1) == y).float().mean().item()
    our_acc = 1 - ours.broken.float().mean().item()
    assert 0.05 < ref_acc < 0.95  # a regime where the comparison means something
    assert our_acc <= ref_acc + standard_error(ref_acc, len(y))


def test_restarts_break_points_no_single_start_breaks(model, digits_split):
    # Small steps from different random starts reach different points of the ball; a point
    # counts as broken if any restart breaks it, so 8 restarts beat 1 clearly here.
    x, y = digits_split[2], digits_split[3]
    settings = {"steps": 10, "step_size": 0.05}
    for seed in (0, 1):
        one = pgd(model, x, y, 0.08, restarts=1, seed=seed, **settings)
        eight = pgd(model, x, y, 0.08, restarts=8, seed=seed, **settings)
        assert eight.broken.float().mean() >= one.broken.float().mean() + 0.01


class ModeSpy(nn.Module):
    """Records the training flag of every forward call."""

    def __init__(self, inner: nn.Module) -> None:
        super().__init__()
        self.inner, self.modes = inner, []

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.modes.append(self.training)
        return self.inner(x)


@pytest.mark.parametrize("attack", [pgd, multitarget])
def test_attack_runs_in_eval_mode_and_restores_the_callers_state(model, digits_split, attack):
    spy = ModeSpy(model)
    spy.zero_grad(set_to_none=True)
    spy.train()
    try:
        attack(spy, digits_split[2][:20], digits_split[3][:20], 0.1, steps=2)
        assert spy.modes and not any(spy.modes)
        assert spy.training and spy.inner.training
        assert all(p.requires_grad and p.grad is None for p in spy.parameters())
    finally:
        model.eval()


def test_same_seed_gives_identical_results(model, digits_split):
    x, y = digits_split[2][:200], digits_split[3][:200]
    runs = [pgd(model, x, y, 0.1, restarts=2, seed=3) for _ in range(2)]
    assert torch.equal(runs[0].x_adv, runs[1].x_adv)
    assert torch.equal(runs[0].broken, runs[1].broken)


def test_an_examples_draws_do_not_depend_on_its_batch():
    like = torch.zeros(1)
    whole = noise_for(5, "test/pgd", 0, 10).uniform((3, 4), "start", like)
    part = noise_for(5, "test/pgd", 4, 7).uniform((3, 4), "start", like)
    picked = (
        noise_for(5, "test/pgd", 0, 10).select(torch.tensor([6, 2])).uniform((3, 4), "start", like)
    )
    assert torch.equal(part, whole[4:7])
    assert torch.equal(picked, whole[[6, 2]])
    other = noise_for(5, "train/pgd", 0, 10).uniform((3, 4), "start", like)
    assert not torch.equal(other, whole)  # streams differ
    assert not torch.equal(whole[0], whole[1])  # examples differ


@pytest.mark.parametrize("attack", [PGD(restarts=2), MultiTarget(steps=5)])
def test_per_example_results_do_not_depend_on_the_batching(model, digits_split, attack):
    x, y = digits_split[2][:120], digits_split[3][:120]
    whole = attack(model, x, y, 0.1, draws(120))
    pieces = [
        attack(model, x[a:b], y[a:b], 0.1, noise_for(0, "test", a, b))
        for a, b in ((0, 7), (7, 50), (50, 120))
    ]
    assert torch.equal(torch.cat([p.broken for p in pieces]), whole.broken)


def test_build_attack_fills_paper_defaults():
    assert attack_spec(build_attack({"type": "pgd"})) == {
        "type": "pgd",
        "norm": "linf",
        "steps": 10,
        "step_size": 0.2,
        "restarts": 1,
    }
    assert attack_spec(build_attack({"type": "multitarget"})) == {
        "type": "multitarget",
        "norm": "linf",
        "steps": 20,
        "step_size": 0.1,
        "restarts": 1,
    }
    assert attack_spec(build_attack({"type": "autoattack"}))["version"] == "standard"


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ({"steps": 10}, "needs a 'type'"),
        ({"type": "pgd7"}, "unknown attack 'pgd7'"),
        ({"type": "pgd", "stepz": 3}, "unknown key 'stepz'"),
        ({"type": "pgd", "steps": -1}, "steps must be an integer >= 0, got -1"),
        ({"type": "pgd", "steps": 2.5}, "steps must be an integer"),
        ({"type": "pgd", "restarts": 0}, "restarts must be an integer >= 1"),
        ({"type": "pgd", "norm": "l1"}, "norm must be one of 'linf', 'l2', got 'l1'"),
        ({"type": "multitarget", "step_size": -0.1}, "step_size must be a number >= 0"),
        ({"type": "autoattack", "version": "fast"}, "version must be one of"),
        ({"type": "square", "p_init": 0}, "p_init must be a number <= 1 and > 0"),
    ],
)
def test_build_attack_rejects_bad_specs_naming_them(spec, message):
    with pytest.raises(ValueError, match=message):
        build_attack(spec)


def test_official_autoattack_breaks_at_least_as_many_as_pgd(model, digits_split):
    # A radius where APGD breaks nearly everything keeps AutoAttack's later, query-hungry
    # stages (Square: 5,000 queries) on few points, so the test stays fast.
    x, y, eps = digits_split[2][:40], digits_split[3][:40], 0.2
    result = AutoAttack(block_size=16)(model, x, y, eps, draws(40))
    assert isinstance(result, AttackResult)
    assert distances(x, result.x_adv, "linf").max() <= eps + 1e-6
    assert result.x_adv.min() >= 0 and result.x_adv.max() <= 1
    with torch.no_grad():
        assert torch.equal(model(result.x_adv).argmax(1) != y, result.broken)
    assert result.broken.sum() >= pgd(model, x, y, eps).broken.sum()
    assert AutoAttack().library()["name"] == "pyautoattack"


def test_autoattack_blocks_fix_each_points_result(model, digits_split):
    """Results depend on the block a point falls in, not on the call's other points."""
    x, y, eps = digits_split[2][:32], digits_split[3][:32], 0.1
    attack = AutoAttack(block_size=16, n_iter=5, n_queries=50)
    whole = attack(model, x, y, eps, draws(32))
    second = attack(model, x[16:], y[16:], eps, noise_for(0, "test", 16, 32))
    assert torch.equal(whole.broken[16:], second.broken)
    assert torch.equal(whole.x_adv[16:], second.x_adv)


def test_square_breaks_points_without_gradients(digits_split):
    """A model whose input gradient is zero everywhere stops PGD, not Square."""

    class Rounded(nn.Module):
        def __init__(self, inner):
            super().__init__()
            self.inner = inner

        def forward(self, x):
            return self.inner(torch.round(x * 8) / 8)

    net = Rounded(train_mlp(digits_split[0], digits_split[1], dropout=0.0, epochs=12))
    x, y = digits_split[2][:100], digits_split[3][:100]
    square = Square(n_queries=300)(net, x, y, 0.2, draws(100))
    assert square.broken.float().mean() > pgd(net, x, y, 0.2).broken.float().mean() + 0.2
    assert distances(x, square.x_adv, "linf").max() <= 0.2 + 1e-6
