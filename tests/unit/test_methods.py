"""Training methods: each loss against its definition, on tiny models and 8x8 inputs."""

from __future__ import annotations

import dataclasses

import pytest
import torch
import torch.nn.functional as F
import torchattacks
from torch import nn

from lolip.methods import build_method, describe
from lolip.methods.at import AT
from lolip.methods.gr import GR
from lolip.methods.llr import LLR, local_linearity
from lolip.methods.natural import Natural
from lolip.methods.rst import RST
from lolip.methods.trades import TRADES, kl
from lolip.perturbation import model_mode

EPS = 0.1
N = 24


pytestmark = pytest.mark.usefixtures("one_thread")


def data(seed: int = 0, dtype: torch.dtype = torch.float32) -> tuple[torch.Tensor, torch.Tensor]:
    """8x8 images in [0, 1] with many pixels exactly at 0 and 1, where clipping binds."""
    g = torch.Generator().manual_seed(seed)
    x = torch.rand(N, 1, 8, 8, generator=g, dtype=dtype)
    x[x < 0.2] = 0
    x[x > 0.8] = 1
    return x, torch.randint(0, 10, (N,), generator=g)


def relu_net(seed: int = 0, batchnorm: bool = False, dropout: float = 0.0) -> nn.Module:
    torch.manual_seed(seed)
    return nn.Sequential(
        nn.Conv2d(1, 6, 3, padding=1),
        nn.BatchNorm2d(6) if batchnorm else nn.Identity(),
        nn.ReLU(),
        nn.Flatten(),
        nn.Dropout(dropout),
        nn.Linear(6 * 64, 32),
        nn.ReLU(),
        nn.Linear(32, 10),
    )


def smooth_net(seed: int = 0, dropout: float = 0.0) -> nn.Module:
    """Twice differentiable, in float64: finite differences can be pushed to small h."""
    torch.manual_seed(seed)
    return nn.Sequential(
        nn.Flatten(), nn.Linear(64, 32), nn.Tanh(), nn.Dropout(dropout), nn.Linear(32, 10)
    ).double()


class TwoClassLoss(nn.Module):
    """Logits ``(log(e^t - 1), 0)``: with label 1, ``CE = softplus(log(e^t - 1)) = t(x)``.

    A nonlinear network whose loss is exactly the chosen function ``t`` of the input
    (``t > 0``): linear (``t = w.x + b``) or quadratic (``t = ||x||^2 / 2 + 1``).
    """

    def __init__(self, quadratic: bool) -> None:
        super().__init__()
        self.quadratic = quadratic
        self.w = nn.Parameter(torch.randn(64, dtype=torch.float64) * 0.1)
        self.b = nn.Parameter(torch.tensor(1.0, dtype=torch.float64) + self.w.abs().sum())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        flat = x.flatten(1)
        t = 0.5 * flat.pow(2).sum(1) + 1 if self.quadratic else flat @ self.w + self.b
        return torch.stack([torch.log(torch.expm1(t)), torch.zeros_like(t)], dim=1)


class ModeRecorder(nn.Module):
    """Records the model's mode at every forward pass."""

    def __init__(self) -> None:
        super().__init__()
        self.net = relu_net(dropout=0.5)
        self.modes: list[bool] = []

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.modes.append(self.training)
        return self.net(x)


def weight_grads(model: nn.Module, loss: torch.Tensor) -> list[torch.Tensor]:
    return list(torch.autograd.grad(loss.sum(), list(model.parameters())))


def input_grad_sq_norm(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """``||grad_x CE(f(x_i), y_i)||_2^2`` per example, differentiable in the weights."""
    x = x.clone().requires_grad_(True)
    ce = F.cross_entropy(model(x), y, reduction="none")
    (grad,) = torch.autograd.grad(ce.sum(), x, create_graph=True)
    return grad.flatten(1).pow(2).sum(1)


ROBUST = [AT(), RST(lam=1.0), TRADES(beta=6.0), LLR()]


def inner_objective(method, model: nn.Module, x, y, x_adv) -> torch.Tensor:
    """What ``method`` maximises over x', per example, in its attack mode."""
    with model_mode(model, method.attack_mode):
        if isinstance(method, LLR):
            return local_linearity(model, x, y, x_adv - x)["gap"].detach()
        with torch.no_grad():
            if isinstance(method, TRADES):
                return kl(model(x), model(x_adv))
            return F.cross_entropy(model(x_adv), y, reduction="none")


@pytest.mark.parametrize(
    ("method", "zeroed"), [(TRADES(beta=0.0), "kl"), (RST(lam=0.0), "adv_ce")], ids=str
)
def test_zero_weight_equals_natural_loss_and_gradients(method, zeroed: str) -> None:
    model = relu_net(batchnorm=True).train()
    x, y = data()
    natural = Natural()(model, x, y, EPS)
    loss = method(model, x, y, EPS)
    torch.testing.assert_close(loss, natural, rtol=0, atol=0)
    for ours, ref in zip(weight_grads(model, loss), weight_grads(model, natural), strict=True):
        torch.testing.assert_close(ours, ref, rtol=1e-6, atol=1e-7)
    # The zeroed term is not trivially zero: the equality is the weight's doing.
    assert method.terms(model, x, y, EPS)[zeroed].abs().sum() > 0


@pytest.mark.parametrize("method", ROBUST, ids=lambda m: type(m).__name__)
def test_adversarial_inputs_stay_in_ball_and_unit_box(method) -> None:
    model = relu_net()
    x, y = data()
    x_adv = method.perturb(model, x, y, EPS)
    assert (x_adv - x).abs().max() <= EPS + 1e-6
    assert x_adv.min() >= 0 and x_adv.max() <= 1
    # Clipping binds: pixels at 0 or 1 move only inwards, and most pixels move.
    assert (x_adv[x == 0] >= 0).all() and (x_adv[x == 1] <= 1).all()
    assert (x_adv != x).float().mean() > 0.5


@pytest.mark.parametrize("method", ROBUST, ids=lambda m: type(m).__name__)
def test_adversarial_inputs_raise_inner_objective(method) -> None:
    model = relu_net()
    x, y = data()
    torch.manual_seed(0)
    x_adv = method.perturb(model, x, y, EPS)
    torch.manual_seed(0)
    x_start = dataclasses.replace(method, steps=0).perturb(model, x, y, EPS)
    at_adv = inner_objective(method, model, x, y, x_adv)
    at_clean = inner_objective(method, model, x, y, x)
    at_start = inner_objective(method, model, x, y, x_start)
    assert (at_adv > at_clean).float().mean() >= 0.9
    assert at_adv.mean() > at_start.mean()


def test_kl_is_kl_of_first_from_second() -> None:
    p, q = torch.randn(5, 10, dtype=torch.float64), torch.randn(5, 10, dtype=torch.float64)
    reference = F.kl_div(F.log_softmax(q, 1), F.softmax(p, 1), reduction="none").sum(1)
    torch.testing.assert_close(kl(p, q), reference)
    assert not torch.allclose(kl(p, q), kl(q, p))


@pytest.mark.parametrize("method", ROBUST, ids=lambda m: type(m).__name__)
def test_loss_is_the_formula_at_the_searched_point(method) -> None:
    model = relu_net().train()
    x, y = data()
    torch.manual_seed(2)
    x_adv = method.perturb(model, x, y, EPS)
    with torch.no_grad():
        ce = F.cross_entropy(model(x), y, reduction="none")
        adv_ce = F.cross_entropy(model(x_adv), y, reduction="none")
        if isinstance(method, RST):  # an AT with the clean loss added: test it first
            expected = ce + method.lam * adv_ce
        elif isinstance(method, AT):
            expected = adv_ce
        elif isinstance(method, TRADES):
            expected = ce + method.beta * kl(model(x), model(x_adv))
        else:
            parts = {k: v.detach() for k, v in local_linearity(model, x, y, x_adv - x).items()}
            expected = ce + method.lam * parts["gap"] + method.mu * parts["tangent"]
    torch.manual_seed(2)
    torch.testing.assert_close(method(model, x, y, EPS).detach(), expected)


@pytest.mark.parametrize(
    ("method", "spread"),
    [(AT(), EPS / 3**0.5), (RST(), EPS / 3**0.5), (TRADES(), 0.001), (LLR(), 0.001)],
    ids=lambda v: type(v).__name__,
)
def test_search_starts_from_the_methods_random_point(method, spread: float) -> None:
    """AT and RST start uniformly in the ball (std eps / sqrt(3)); TRADES and LLR at
    x + 0.001 N(0, 1). Checked on pixels far enough from 0 and 1 not to be clipped."""
    model = relu_net()
    x = 0.2 + 0.6 * torch.rand(64, 1, 8, 8)
    y = torch.randint(0, 10, (64,))
    start = dataclasses.replace(method, steps=0).perturb(model, x, y, EPS)
    delta = start - x
    assert delta.std().item() == pytest.approx(spread, rel=0.05)
    assert delta.mean().abs().item() < spread / 10


def test_at_search_matches_torchattacks_pgd() -> None:
    model = smooth_net().eval()
    x, y = data(dtype=torch.float64)
    torch.manual_seed(3)
    reference = torchattacks.PGD(model, eps=EPS, alpha=EPS / 5, steps=10, random_start=True)(x, y)
    torch.manual_seed(3)
    ours = AT(attack_mode="eval").perturb(model, x, y, EPS)
    torch.testing.assert_close(ours, reference, rtol=0, atol=1e-12)


def test_gr_penalty_approaches_squared_gradient_norm_as_h_shrinks() -> None:
    model = smooth_net()
    x, y = data(dtype=torch.float64)
    exact = input_grad_sq_norm(model, x, y).detach()
    errors = []
    for h in (1e-1, 1e-2, 1e-3):
        penalty = GR(h=h).terms(model, x, y, EPS)["penalty"].detach()
        errors.append(((penalty - exact).abs() / exact).max().item())
    assert errors[0] > errors[1] > errors[2]
    assert errors[2] < 1e-2


@pytest.mark.parametrize("detach_direction", [True, False])
def test_gr_penalty_weight_gradient_approaches_double_backprop(detach_direction: bool) -> None:
    model = smooth_net()
    x, y = data(dtype=torch.float64)
    exact = weight_grads(model, input_grad_sq_norm(model, x, y))
    errors = []
    for h in (1e-2, 1e-4):
        method = GR(h=h, detach_direction=detach_direction)
        ours = weight_grads(model, method.terms(model, x, y, EPS)["penalty"])
        errors.append(
            max(((o - e).norm() / e.norm()).item() for o, e in zip(ours, exact, strict=True))
        )
    assert errors[1] < errors[0] and errors[1] < 1e-3


def test_gr_differences_one_dropout_mask() -> None:
    model = smooth_net(dropout=0.5).train()
    x, y = data(dtype=torch.float64)
    torch.manual_seed(5)
    exact = input_grad_sq_norm(model, x, y).detach()  # the mask drawn after seed 5
    torch.manual_seed(5)
    penalty = GR(h=1e-5).terms(model, x, y, EPS)["penalty"].detach()
    torch.testing.assert_close(penalty, exact, rtol=1e-3, atol=0)


def test_llr_gap_is_zero_when_the_loss_is_linear_in_the_input() -> None:
    torch.manual_seed(0)
    model = TwoClassLoss(quadratic=False)
    x, _ = data(dtype=torch.float64)
    y = torch.ones(N, dtype=torch.long)
    delta = (torch.rand_like(x) * 2 - 1) * EPS
    parts = local_linearity(model, x, y, delta)
    torch.testing.assert_close(parts["ce"], (x.flatten(1) @ model.w + model.b).detach())
    assert parts["gap"].abs().max() < 1e-12
    # The maximised gap of the full method is zero too, while its tangent term is not.
    terms = LLR().terms(model, x, y, EPS)
    assert terms["gamma"].abs().max() < 1e-12 and terms["tangent"].min() > 0


def test_llr_gap_equals_curvature_term_of_a_quadratic_loss() -> None:
    model = TwoClassLoss(quadratic=True)
    x, _ = data(dtype=torch.float64)
    y = torch.ones(N, dtype=torch.long)
    delta = (torch.rand_like(x) * 2 - 1) * EPS
    gap = local_linearity(model, x, y, delta)["gap"]
    torch.testing.assert_close(gap, 0.5 * delta.flatten(1).pow(2).sum(1), rtol=1e-9, atol=0)


def test_llr_gap_is_positive_for_a_relu_network() -> None:
    model = relu_net()
    x, y = data()
    delta = (torch.rand_like(x) * 2 - 1) * EPS
    assert (local_linearity(model, x, y, delta)["gap"] > 0).all()


@pytest.mark.parametrize(
    ("method", "term"),
    [
        (GR(), "penalty"),
        (LLR(), "gamma"),
        (LLR(), "tangent"),
        (AT(), "adv_ce"),
        (RST(), "adv_ce"),
        (TRADES(), "kl"),
    ],
    ids=lambda v: v if isinstance(v, str) else type(v).__name__,
)
def test_every_regulariser_term_sends_gradient_to_every_weight(method, term: str) -> None:
    model = relu_net().train()
    x, y = data()
    for name, grad in zip(
        [n for n, _ in model.named_parameters()],
        weight_grads(model, method.terms(model, x, y, EPS)[term]),
        strict=True,
    ):
        assert grad.abs().sum() > 0, name
        assert torch.isfinite(grad).all(), name


@pytest.mark.parametrize("attack_mode", ["train", "eval"])
@pytest.mark.parametrize("cls", [AT, RST, TRADES, LLR], ids=lambda c: c.__name__)
def test_attack_mode_is_honoured_and_restored(cls, attack_mode: str) -> None:
    model = ModeRecorder().train()
    model.net[0].eval()  # a submodule in its own mode must get it back
    method = cls(attack_mode=attack_mode)
    x, y = data()
    method.perturb(model, x, y, EPS)
    inner = len(model.modes)
    assert set(model.modes) == {attack_mode == "train"}
    assert model.training and not model.net[0].training and model.net[1].training
    model.modes.clear()
    method(model, x, y, EPS)
    # The search, then the loss's own forward passes in the caller's (train) mode.
    assert model.modes[:inner] == [attack_mode == "train"] * inner
    assert len(model.modes) > inner and all(model.modes[inner:])


@pytest.mark.parametrize("method", ROBUST, ids=lambda m: type(m).__name__)
def test_inner_maximisation_leaves_weight_gradients_untouched(method) -> None:
    model = relu_net()
    x, y = data()
    method.perturb(model, x, y, EPS)
    assert all(p.grad is None for p in model.parameters())


@pytest.mark.parametrize("method", ROBUST + [GR()], ids=lambda m: type(m).__name__)
def test_same_global_seed_gives_the_same_loss(method) -> None:
    model = relu_net(dropout=0.3).train()
    x, y = data()
    losses = []
    for seed in (7, 7, 8):
        torch.manual_seed(seed)
        losses.append(method(model, x, y, EPS).detach())
    assert torch.equal(losses[0], losses[1])
    assert not torch.equal(losses[0], losses[2])


def test_methods_return_one_loss_per_example() -> None:
    model = relu_net()
    x, y = data()
    for method in [Natural(), GR(), *ROBUST]:
        assert method(model, x, y, EPS).shape == (N,)


def test_config_only_variant_builds_with_its_hyperparameters() -> None:
    trades9 = build_method({"loss": "trades", "beta": 9})
    assert describe(trades9) == {
        "class": "TRADES",
        "beta": 9,
        "steps": 10,
        "step_size": 0.2,
        "attack_mode": "eval",
    }
    assert describe(build_method({"loss": "rst", "lam": 0.5}))["lam"] == 0.5
    assert describe(build_method({"loss": "llr"})) == {
        "class": "LLR",
        "lam": 4.0,
        "mu": 3.0,
        "steps": 2,
        "step_size": 0.5,
        "attack_mode": "eval",
    }
    assert describe(build_method({"loss": "at"}))["attack_mode"] == "train"
    assert describe(build_method({"loss": "gr"})) == {
        "class": "GR",
        "beta": 1.0,
        "h": 1.0,
        "detach_direction": True,
    }


def test_unknown_hyperparameter_is_rejected() -> None:
    with pytest.raises(ValueError, match=r"method \(TRADES\): unknown key .lam."):
        build_method({"loss": "trades", "lam": 2})


@pytest.mark.parametrize(
    ("spec", "fragment"),
    [
        ({"loss": "at", "attack_mode": "test"}, "attack_mode must be one of"),
        ({"loss": "trades", "steps": -1}, "steps must be an integer"),
        ({"loss": "rst", "lam": -1}, "lam must be a number >= 0"),
        ({"loss": "gr", "h": 0}, "h must be a number > 0"),
        ({"loss": "llr", "step_size": "big"}, "step_size must be a number"),
    ],
)
def test_bad_hyperparameter_values_are_rejected(spec: dict, fragment: str) -> None:
    with pytest.raises(ValueError, match=fragment):
        build_method(spec)
