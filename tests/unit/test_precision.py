"""The floating-point protocol (lolip.precision): which forward passes run in bf16 under
``precision: bf16`` and which stay in fp32, TF32 on and off, and what runs record of it.

Forward hooks on every layer of a small CNN record the dtype of each activation, labelled
by phase: ``search`` while a method's inner maximisation (its ``perturb``) runs, ``loss``
otherwise. CPU autocast has bf16, so all of this runs without a GPU.
"""

from __future__ import annotations

import contextlib
import logging
from collections import defaultdict
from collections.abc import Callable, Iterator

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from lolip import pipeline, precision
from lolip.archs import build_arch
from lolip.attacks.multitarget import MultiTarget
from lolip.attacks.pgd import PGD
from lolip.datasets.prepared import write_prepared
from lolip.evaluation.settings import LipschitzSettings
from lolip.lipschitz import local_lipschitz
from lolip.methods import build_method
from lolip.methods.at import AT
from lolip.methods.trades import TRADES, kl
from lolip.model_file import read_metadata
from lolip.precision import outer_autocast
from lolip.training.loop import train
from lolip.training.settings import TrainSettings

CPU = torch.device("cpu")
BF16, FP32 = torch.bfloat16, torch.float32
EPS = 0.1
METHODS = {
    "natural": {"loss": "natural"},
    "gr": {"loss": "gr"},
    "llr": {"loss": "llr"},
    "at": {"loss": "at", "steps": 2},
    "rst": {"loss": "rst", "steps": 2},
    "trades": {"loss": "trades", "steps": 2},
}
# The dtype each phase's activations must have under precision bf16 (None: no such phase).
# GR's penalty and LLR's gap (and the CE terms they share a forward pass with) are fp32.
EXPECTED = {
    "natural": {"search": None, "loss": BF16},
    "gr": {"search": None, "loss": FP32},
    "llr": {"search": FP32, "loss": FP32},
    "at": {"search": FP32, "loss": BF16},
    "rst": {"search": FP32, "loss": BF16},
    "trades": {"search": FP32, "loss": BF16},
}
# A short run: two batches.
SHORT = {"epochs": 1, "batch_size": 32, "lr": 1e-3, "train_subset": 64}


def small_cnn() -> nn.Module:
    torch.manual_seed(0)
    return build_arch("DigitsCNN", in_channels=1, n_classes=10, image_size=8)


class Recorder:
    """Per phase, the dtypes of every layer's output seen by forward hooks."""

    def __init__(self, model: nn.Module) -> None:
        self.phase = "loss"
        self.dtypes: dict[str, set[torch.dtype]] = defaultdict(set)
        self.calls: dict[str, int] = defaultdict(int)
        self.handles = [
            m.register_forward_hook(self._hook) for m in model.modules() if not list(m.children())
        ]

    def _hook(self, module: nn.Module, inputs: tuple, output: torch.Tensor) -> None:
        self.dtypes[self.phase].add(output.dtype)
        self.calls[self.phase] += 1

    @contextlib.contextmanager
    def during(self, phase: str) -> Iterator[None]:
        before, self.phase = self.phase, phase
        try:
            yield
        finally:
            self.phase = before

    def label_search(self, method: object) -> None:
        """Label as ``search`` every forward pass inside ``method.perturb`` (if it has one)."""
        perturb = getattr(method, "perturb", None)
        if perturb is None:
            return

        def labelled(*args, **kwargs):
            with self.during("search"):
                return perturb(*args, **kwargs)

        method.perturb = labelled  # an instance attribute shadows the class's method

    def seen(self) -> dict[str, set[torch.dtype]]:
        return {phase: set(d) for phase, d in self.dtypes.items()}

    def remove(self) -> None:
        for handle in self.handles:
            handle.remove()


def check_phases(seen: dict[str, set[torch.dtype]], expected: dict[str, torch.dtype | None]):
    """Every activation of each phase has the expected dtype; a phase runs iff expected."""
    for phase, dtype in expected.items():
        if dtype is None:
            assert phase not in seen, f"unexpected {phase} forward passes: {seen}"
        else:
            assert seen.get(phase) == {dtype}, f"{phase}: expected only {dtype}, saw {seen}"


def observe(
    name: str,
    digits,
    outer: Callable[[], contextlib.AbstractContextManager],
    around: Callable[[], contextlib.AbstractContextManager] = contextlib.nullcontext,
    method=None,
) -> dict[str, set[torch.dtype]]:
    """The dtypes seen per phase in one call of method ``name`` and its backward pass."""
    model = small_cnn().train()
    method = method or build_method(METHODS[name])
    recorder = Recorder(model)
    recorder.label_search(method)
    split = digits.split("train")
    x, y = split.images(slice(0, 32)), split.y[:32]
    with around():
        loss = method(model, x, y, EPS, outer=outer)
    loss.sum().backward()
    recorder.remove()
    return recorder.seen()


def bf16_autocast():
    return torch.autocast("cpu", dtype=torch.bfloat16)


@pytest.fixture(autouse=True)
def restore_fp32_precision():
    """set_tf32 changes process-wide flags: put every one back."""
    top = torch.backends.fp32_precision
    flags = precision.state()["fp32_precision"]
    yield
    torch.backends.fp32_precision = top
    for name, value in flags.items():
        family, op = name.split(".")
        getattr(getattr(torch.backends, family), op).fp32_precision = value


@pytest.mark.parametrize("name", METHODS)
def test_bf16_autocasts_the_outer_loss_only(name, digits, one_thread):
    seen = observe(name, digits, outer=outer_autocast("bf16", CPU))
    check_phases(seen, EXPECTED[name])


@pytest.mark.parametrize("name", METHODS)
def test_searches_and_regularisers_stay_fp32_inside_a_callers_autocast(name, digits, one_thread):
    """full_precision guards the inner searches and regularisers whatever the caller wraps
    the method in; the outer loss then runs in bf16 as well."""
    seen = observe(name, digits, outer=contextlib.nullcontext, around=bf16_autocast)
    check_phases(seen, EXPECTED[name])


@pytest.mark.parametrize("name", METHODS)
def test_fp32_default_runs_no_bf16_anywhere(name, digits, one_thread):
    seen = observe(name, digits, outer=outer_autocast("fp32", CPU))
    assert set().union(*seen.values()) == {FP32}


class LeakyAT(AT):
    """A wrong AT: its search runs inside the outer autocast, as if ``outer`` wrapped it."""

    def terms(self, model, x, y, eps, outer=contextlib.nullcontext):
        with outer():
            x_adv = self.perturb(model, x, y, eps)
            return {"adv_ce": F.cross_entropy(model(x_adv), y, reduction="none")}


class LeakyTRADES(TRADES):
    """A wrong TRADES: the forward pass of its KL term skips ``outer``."""

    def terms(self, model, x, y, eps, outer=contextlib.nullcontext):
        x_adv = self.perturb(model, x, y, eps)
        with outer():
            logits = model(x)
        return {"ce": F.cross_entropy(logits, y, reduction="none"), "kl": kl(logits, model(x_adv))}


def _unguarded(monkeypatch) -> None:
    """Remove the fp32 guard of the shared inner search (AT's ascent)."""
    monkeypatch.setattr(
        "lolip.methods.inner.full_precision", lambda device: contextlib.nullcontext()
    )


def test_check_catches_a_search_under_the_outer_autocast(digits, one_thread, monkeypatch):
    """These tests fail on a wrong implementation: an unguarded search inside ``outer``, or
    inside a caller's autocast, runs in bf16 and the check names the search phase."""
    _unguarded(monkeypatch)
    for seen in (
        observe("at", digits, outer_autocast("bf16", CPU), method=LeakyAT(steps=2)),
        observe("at", digits, contextlib.nullcontext, around=bf16_autocast),
    ):
        assert seen["search"] == {BF16}
        with pytest.raises(AssertionError, match="search"):
            check_phases(seen, EXPECTED["at"])


def test_check_catches_an_outer_loss_that_skips_the_autocast(digits, one_thread):
    seen = observe("trades", digits, outer_autocast("bf16", CPU), method=LeakyTRADES(steps=2))
    assert seen["loss"] == {BF16, FP32}
    with pytest.raises(AssertionError, match="loss"):
        check_phases(seen, EXPECTED["trades"])


def _train_observed(name: str, digits, settings: dict) -> dict[str, set[torch.dtype]]:
    model = small_cnn()
    method = build_method(METHODS[name])
    recorder = Recorder(model)
    recorder.label_search(method)
    train(model, method, digits.split("train"), EPS, TrainSettings(**settings), seed=0)
    recorder.remove()
    return recorder.seen()


@pytest.mark.parametrize("name", ["natural", "at", "trades", "llr", "gr"])
def test_training_loop_applies_bf16_to_the_outer_loss_only(name, digits, one_thread):
    seen = _train_observed(name, digits, {**SHORT, "precision": "bf16"})
    check_phases(seen, EXPECTED[name])


@pytest.mark.parametrize("name", METHODS)
def test_training_loop_default_is_fp32_throughout(name, digits, one_thread):
    assert TrainSettings(**SHORT).precision == "fp32"
    seen = _train_observed(name, digits, SHORT)
    assert set().union(*seen.values()) == {FP32}


@pytest.mark.parametrize(
    "attack",
    [
        lambda model, x, y: PGD(steps=2)(model, x, y, EPS),
        lambda model, x, y: MultiTarget(steps=2)(model, x, y, EPS),
        lambda model, x, y: local_lipschitz(model, x, EPS, LipschitzSettings(steps=2)),
    ],
    ids=["pgd", "multitarget", "lipschitz"],
)
def test_evaluation_searches_stay_fp32_inside_a_callers_autocast(attack, digits, one_thread):
    model = small_cnn().eval()
    recorder = Recorder(model)
    split = digits.split("test")
    with bf16_autocast():
        attack(model, split.images(slice(0, 32)), split.y[:32])
    recorder.remove()
    assert recorder.seen() == {"loss": {FP32}}


def test_set_tf32_false_reports_every_backend_ieee():
    precision.set_tf32(False)
    state = precision.state()
    assert state["fp32_precision"] == dict.fromkeys(precision.BACKENDS, "ieee")
    assert state["tf32"] is False


@pytest.mark.parametrize("enabled", [False, True])
def test_set_tf32_overrides_a_backend_set_on_its_own(enabled):
    """Code that set one backend (as the legacy ``allow_tf32`` flags do) does not keep it."""
    for name in ("cuda.matmul", "cudnn.conv", "mkldnn.conv"):
        family, op = name.split(".")
        getattr(getattr(torch.backends, family), op).fp32_precision = "ieee" if enabled else "tf32"
    precision.set_tf32(enabled)
    expected = "tf32" if enabled else "ieee"
    assert precision.state()["fp32_precision"] == dict.fromkeys(precision.BACKENDS, expected)


def test_set_tf32_true_reports_tf32():
    precision.set_tf32(True)
    state = precision.state()
    assert state["fp32_precision"] == dict.fromkeys(precision.BACKENDS, "tf32")
    assert state["tf32"] is True
    precision.set_tf32(False)
    assert precision.state()["tf32"] is False


def test_outer_autocast_rejects_an_unknown_precision():
    with pytest.raises(ValueError, match="unknown precision 'fp16'.*fp32, bf16"):
        outer_autocast("fp16", CPU)


def _train_model(digits, tmp_path, settings: dict, checkpoint=None, name="model"):
    data = tmp_path / "digits.h5"
    if not data.exists():
        write_prepared(data, digits)
    out = tmp_path / f"{name}.safetensors"
    pipeline.train_model(
        str(data),
        str(out),
        arch="DigitsCNN",
        method="at",
        seed=0,
        training={"eps": EPS, "method_spec": METHODS["at"], "settings": settings},
        checkpoint=checkpoint,
    )
    return read_metadata(out)


@pytest.mark.parametrize("tf32", [False, True])
def test_model_metadata_records_precision_and_numerics(
    tf32, digits, tmp_path, monkeypatch, one_thread
):
    monkeypatch.setenv("LOLIP_DEVICE", "cpu")
    settings = {**SHORT, "precision": "bf16", "tf32": tf32}
    metadata = _train_model(digits, tmp_path, settings)
    assert metadata["training"]["precision"] == "bf16"
    assert metadata["training"]["tf32"] is tf32
    numerics = metadata["provenance"]["numerics"]
    assert numerics["tf32"] is tf32
    assert numerics["fp32_precision"] == dict.fromkeys(
        precision.BACKENDS, "tf32" if tf32 else "ieee"
    )


def test_a_checkpoint_of_another_precision_is_not_resumed(
    digits, tmp_path, monkeypatch, caplog, one_thread
):
    """The precision is part of the run's fingerprint: an fp32 run's checkpoint is discarded
    by a bf16 run of the same model, not continued in another precision."""
    monkeypatch.setenv("LOLIP_DEVICE", "cpu")
    checkpoint = str(tmp_path / "run.ckpt")
    _train_model(digits, tmp_path, SHORT, checkpoint=checkpoint, name="fp32")
    with caplog.at_level(logging.WARNING, logger="lolip"):
        _train_model(digits, tmp_path, SHORT, checkpoint=checkpoint, name="fp32_again")
    assert "written under other settings" not in caplog.text
    with caplog.at_level(logging.WARNING, logger="lolip"):
        metadata = _train_model(
            digits,
            tmp_path,
            {**SHORT, "precision": "bf16"},
            checkpoint=checkpoint,
            name="bf16",
        )
    assert "written under other settings" in caplog.text
    assert metadata["training"]["precision"] == "bf16"
