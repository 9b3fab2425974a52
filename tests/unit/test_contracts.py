"""Contracts every registry entry keeps: each attack, training method, architecture and
dataset source is checked here by its registry name, so a new entry is tested as soon as
it is registered, without editing this file.

- attacks (:data:`lolip.attacks.ATTACKS`): inputs in the eps-ball and [0, 1], ``broken``
  exactly where the returned input is misclassified, the caller's mode, parameters and
  ``requires_grad`` untouched, the same result for the same draws, the config round trip;
- methods (:data:`lolip.methods.LOSSES`): a finite, non-negative per-example loss, a
  non-negative combination of its terms, whose sum sends finite gradients to every
  weight; the mode restored; terms of the documented names at eps 0 (an adversarial CE is
  the CE, a KL or a linearity gap is 0) and a loss no random start can change there;
  searched points in the ball; the config round trip;
- architectures (:data:`lolip.archs.ARCHS`): the documented keyword call, (batch, classes)
  logits at the default input size in both modes, float32 weights;
- sources (:data:`lolip.datasets.SOURCES`): the documented module attributes and their
  call shapes, an ``Options`` dataclass of the common base, ``ENV_VAR`` where it downloads.
"""

from __future__ import annotations

import dataclasses
import importlib
import inspect

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from lolip.archs import ARCHS, build_arch
from lolip.attacks import ATTACKS, AttackResult, attack_class, attack_spec, build_attack
from lolip.datasets import SOURCES, options_class
from lolip.datasets.entry import SourceOptions
from lolip.methods import LOSSES, build_method, describe
from lolip.noise import noise_for

pytestmark = pytest.mark.usefixtures("one_thread")

SHAPE = (1, 8, 8)  # Square's l2 search needs images of at least 5x5
CLASSES = 10
N = 12
EPS = {"linf": 0.1, "l2": 0.5}


def tiny_model(dropout: float) -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(
        nn.Flatten(),
        nn.Linear(64, 32),
        nn.ReLU(),
        nn.Dropout(dropout),
        nn.Linear(32, CLASSES),
    )


def tiny_batch(model: nn.Module) -> tuple[torch.Tensor, torch.Tensor]:
    """Inputs in [0, 1] labelled by the model itself: every point clean-correct, each a
    small margin away from a mistake, so an attack has something to break."""
    x = torch.rand((N, *SHAPE), generator=torch.Generator().manual_seed(1))
    was = model.training
    with torch.no_grad():
        y = model.eval()(x).argmax(1)
    model.train(was)
    return x, y


def snapshot(model: nn.Module) -> dict[str, tuple[torch.Tensor, bool]]:
    return {k: (p.detach().clone(), p.requires_grad) for k, p in model.named_parameters()}


def assert_untouched(model: nn.Module, before: dict[str, tuple[torch.Tensor, bool]]) -> None:
    for k, p in model.named_parameters():
        value, requires_grad = before[k]
        assert torch.equal(p.detach(), value), f"parameter {k} changed"
        assert p.requires_grad == requires_grad, f"requires_grad of {k} changed"


def distance(x: torch.Tensor, x_adv: torch.Tensor, norm: str) -> torch.Tensor:
    diff = (x_adv - x).flatten(1)
    return diff.abs().amax(1) if norm == "linf" else diff.norm(dim=1)


# Attacks ------------------------------------------------------------------------------


def attack_variants(name: str) -> list:
    """The registry's attack with its defaults, and at each other norm it supports."""
    attack = build_attack({"type": name})
    fields = {f.name for f in dataclasses.fields(attack)}
    norms = ["linf", "l2"] if "norm" in fields else [getattr(attack, "norm", "linf")]
    small = {k: v for k, v in {"n_iter": 5, "n_queries": 50}.items() if k in fields}
    return [dataclasses.replace(attack, **({"norm": n} if "norm" in fields else {}), **small)
            for n in norms]  # fmt: skip


@pytest.fixture(scope="module")
def attack_model() -> nn.Module:
    return tiny_model(dropout=0.25)


@pytest.mark.parametrize("name", sorted(ATTACKS))
def test_every_attack_stays_in_the_ball_and_breaks_exactly_its_misclassified_returns(
    name, attack_model
):
    x, y = tiny_batch(attack_model)
    attack_model.train()
    any_broken = False
    for attack in attack_variants(name):
        norm = getattr(attack, "norm", "linf")
        eps = EPS[norm]
        before = snapshot(attack_model)
        result = attack(attack_model, x, y, eps, noise_for(0, "test", 0, N))

        assert isinstance(result, AttackResult)
        assert result.x_adv.shape == x.shape and result.x_adv.dtype == x.dtype
        assert result.broken.shape == (N,) and result.broken.dtype == torch.bool
        assert distance(x, result.x_adv, norm).max() <= eps * (1 + 1e-5) + 1e-6
        assert result.x_adv.min() >= 0 and result.x_adv.max() <= 1
        assert attack_model.training, f"{name} left the model in eval mode"
        assert all(p.grad is None for p in attack_model.parameters())
        assert_untouched(attack_model, before)
        with torch.no_grad():
            wrong = attack_model.eval()(result.x_adv).argmax(1) != y
        attack_model.train()
        assert torch.equal(result.broken, wrong), f"{name} ({norm}): broken is not the mistakes"
        any_broken |= bool(result.broken.any())
    assert any_broken, f"{name} broke no point of a model with small margins"


@pytest.mark.parametrize("name", sorted(ATTACKS))
def test_every_attack_keeps_eval_mode_and_repeats_with_the_same_draws(name, attack_model):
    x, y = tiny_batch(attack_model)
    attack = attack_variants(name)[0]
    eps = EPS[getattr(attack, "norm", "linf")]
    attack_model.eval()
    first = attack(attack_model, x, y, eps, noise_for(3, "test", 0, N))
    second = attack(attack_model, x, y, eps, noise_for(3, "test", 0, N))
    assert not attack_model.training
    assert torch.equal(first.x_adv, second.x_adv)
    assert torch.equal(first.broken, second.broken)


@pytest.mark.parametrize("name", sorted(ATTACKS))
def test_every_attack_is_its_registered_class_and_survives_the_config_round_trip(name):
    attack = build_attack({"type": name})
    assert isinstance(attack, attack_class(name))
    assert attack.name == name
    spec = attack_spec(attack)
    assert spec["type"] == name
    assert build_attack(spec) == attack
    with pytest.raises(ValueError, match="no_such_setting"):
        build_attack({"type": name, "no_such_setting": 1})


# Training methods ----------------------------------------------------------------------

# What a term of a documented name is at eps 0 (the searched point is x itself).
CLEAN_CE_TERMS = ("ce", "adv_ce")
ZERO_AT_EPS0 = ("kl", "gamma", "tangent")


@pytest.fixture(scope="module")
def method_model() -> nn.Module:
    return tiny_model(dropout=0.0)


@pytest.mark.parametrize("mode", ["train", "eval"])
@pytest.mark.parametrize("name", sorted(LOSSES))
def test_every_method_gives_a_finite_per_example_loss_with_gradients(name, mode, method_model):
    method = build_method({"loss": name})
    x, y = tiny_batch(method_model)
    method_model.train(mode == "train")
    method_model.zero_grad(set_to_none=True)
    loss = method(method_model, x, y, EPS["linf"])

    assert loss.shape == (N,) and loss.dtype == torch.float32
    assert torch.isfinite(loss).all() and (loss >= 0).all()
    assert method_model.training == (mode == "train"), f"{name} did not restore the mode"
    terms = {k: t.detach() for k, t in method.terms(method_model, x, y, EPS["linf"]).items()}
    for key, term in terms.items():
        assert term.shape == (N,), key
        assert torch.isfinite(term).all() and (term >= 0).all(), key
    # a non-negative combination of its terms: zero terms give zero, a larger term never less
    assert torch.equal(method.combine({k: torch.zeros_like(t) for k, t in terms.items()}),
                       torch.zeros(N))  # fmt: skip
    for key in terms:
        raised = method.combine({**terms, key: terms[key] + 1})
        assert (raised >= method.combine(terms)).all(), f"{name}: raising {key} lowers the loss"
    loss.sum().backward()
    for key, p in method_model.named_parameters():
        assert p.grad is not None and torch.isfinite(p.grad).all(), f"{name}: no gradient of {key}"
        assert p.grad.abs().sum() > 0, f"{name}: zero gradient of {key}"


@pytest.mark.parametrize("name", sorted(LOSSES))
def test_every_methods_terms_at_eps_zero_are_their_clean_values(name, method_model):
    method = build_method({"loss": name})
    x, y = tiny_batch(method_model)
    method_model.train()
    with torch.no_grad():
        natural = F.cross_entropy(method_model(x), y, reduction="none")
    losses = []
    for seed in (0, 1):
        torch.manual_seed(seed)
        terms = method.terms(method_model, x, y, 0.0)
        for key in CLEAN_CE_TERMS:
            if key in terms:
                torch.testing.assert_close(terms[key].detach(), natural, msg=f"{name}: {key}")
        for key in ZERO_AT_EPS0:
            if key in terms:
                assert terms[key].detach().abs().max() <= 1e-6, f"{name}: {key} at eps 0"
        losses.append(method.combine(terms).detach())
        assert (losses[-1] >= natural - 1e-6).all(), f"{name}: below the natural loss"
    torch.testing.assert_close(losses[0], losses[1], msg=f"{name}: eps 0 depends on the seed")


@pytest.mark.parametrize("name", sorted(LOSSES))
def test_every_methods_clean_ce_term_is_the_natural_loss_at_any_eps(name, method_model):
    method = build_method({"loss": name})
    x, y = tiny_batch(method_model)
    method_model.train()
    terms = method.terms(method_model, x, y, EPS["linf"])
    if "ce" not in terms:
        pytest.skip(f"{name} has no clean CE term")
    with torch.no_grad():
        natural = F.cross_entropy(method_model(x), y, reduction="none")
    torch.testing.assert_close(terms["ce"].detach(), natural)


@pytest.mark.parametrize("name", sorted(LOSSES))
def test_every_searching_method_searches_the_ball_and_unit_box(name, method_model):
    method = build_method({"loss": name})
    if not hasattr(method, "perturb"):
        pytest.skip(f"{name} has no inner search")
    assert method.attack_mode in ("train", "eval")
    x, y = tiny_batch(method_model)
    method_model.train()
    before = snapshot(method_model)
    x_adv = method.perturb(method_model, x, y, EPS["linf"])
    assert x_adv.shape == x.shape and not x_adv.requires_grad
    assert distance(x, x_adv, "linf").max() <= EPS["linf"] * (1 + 1e-5)
    assert x_adv.min() >= 0 and x_adv.max() <= 1
    assert method_model.training
    assert_untouched(method_model, before)


@pytest.mark.parametrize("name", sorted(LOSSES))
def test_every_method_survives_the_config_round_trip(name):
    method = build_method({"loss": name})
    settings = dataclasses.asdict(method)
    assert describe(method) == {"class": type(method).__name__, **settings}
    assert build_method({"loss": name, **settings}) == method
    with pytest.raises(ValueError, match="no_such_setting"):
        build_method({"loss": name, "no_such_setting": 1})


# Architectures -------------------------------------------------------------------------


def builder_defaults(name: str) -> dict[str, int]:
    module, attr = ARCHS[name].split(":")
    params = inspect.signature(getattr(importlib.import_module(module), attr)).parameters
    keys = ("in_channels", "n_classes", "image_size")
    assert all(k in params and params[k].default is not inspect.Parameter.empty for k in keys)
    return {k: params[k].default for k in keys}


@pytest.mark.parametrize("classes", [None, 7])
@pytest.mark.parametrize("name", sorted(ARCHS))
def test_every_architecture_gives_batch_by_classes_logits_at_its_input_size(name, classes):
    """Built on the meta device: shapes without allocating the large nets' weights."""
    size = builder_defaults(name)
    if classes is not None:
        size["n_classes"] = classes
    with torch.device("meta"):
        model = build_arch(name, **size)
        x = torch.empty(3, size["in_channels"], size["image_size"], size["image_size"])
        for training in (True, False):
            assert model.train(training)(x).shape == (3, size["n_classes"])
    params = list(model.parameters())
    assert params and all(p.dtype == torch.float32 for p in params)


# Dataset sources -----------------------------------------------------------------------

# name -> the parameters the package docstring documents, in order.
SOURCE_FUNCTIONS = {
    "raw_files": ("name", "spec"),
    "check": ("name", "spec", "cache"),
    "load": ("name", "spec", "resources"),
}


@pytest.mark.parametrize("name", sorted(SOURCES))
def test_every_source_module_has_the_documented_functions_and_options(name):
    module = importlib.import_module(SOURCES[name])
    assert module.__doc__, f"{SOURCES[name]} has no docstring"
    for function, parameters in SOURCE_FUNCTIONS.items():
        assert callable(getattr(module, function, None)), f"{name} has no {function}()"
        found = tuple(inspect.signature(getattr(module, function)).parameters)
        assert found[: len(parameters)] == parameters, f"{name}.{function}{found}"
    options = options_class(name)
    assert options is module.Options
    assert dataclasses.is_dataclass(options) and issubclass(options, SourceOptions)
    assert options.__dataclass_params__.frozen
    assert "source" in {f.name for f in dataclasses.fields(options)}


@pytest.mark.parametrize("name", sorted(SOURCES))
def test_every_downloading_source_names_its_variable_and_takes_a_directory(name):
    module = importlib.import_module(SOURCES[name])
    if not hasattr(module, "download"):
        pytest.skip(f"{name} does not download")
    assert isinstance(module.ENV_VAR, str) and module.ENV_VAR.startswith("LOLIP_")
    assert "dir" in {f.name for f in dataclasses.fields(module.Options)}
    found = tuple(inspect.signature(module.download).parameters)
    assert found[:3] == ("name", "spec", "resources"), found
