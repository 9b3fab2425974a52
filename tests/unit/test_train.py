"""The training loop: determinism, resumption (epoch ends, interrupts, SIGKILL), checkpoints
that know their run, bad states, augmentation, the data path."""

from __future__ import annotations

import logging
import os
import pickle
import signal
import subprocess
import sys
import time
from dataclasses import dataclass

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from lolip.archs import build_arch
from lolip.interrupts import Interrupted
from lolip.methods import build_method
from lolip.training.augment import augment
from lolip.training.checkpoint import load_checkpoint, save_checkpoint
from lolip.training.loop import TrainingError, train
from lolip.training.settings import Augment, TrainSettings
from tests.helpers.grid import checkpoint_epoch

SETTINGS = TrainSettings.from_dict(
    {"epochs": 3, "batch_size": 64, "lr": 0.002, "milestones": [2], "reduction": "sum"}
)


def _train(digits, settings=SETTINGS, seed=0, checkpoint=None, method=None, fingerprint="a"):
    torch.manual_seed(seed)  # the initial weights belong to the seeded run
    model = build_arch("DigitsCNN", in_channels=1, n_classes=10, image_size=8)
    method = method or build_method({"loss": "natural"})
    history = train(
        model,
        method,
        digits.split("train", crop=False),
        0.1,
        settings,
        seed=seed,
        checkpoint=checkpoint,
        fingerprint=fingerprint,
    )
    return model, history


def _same_weights(a, b):
    return all(
        torch.equal(p, q)
        for p, q in zip(a.state_dict().values(), b.state_dict().values(), strict=True)
    )


def _with(settings, **changes):
    return TrainSettings.from_dict({**_dict(settings), **changes})


def _dict(s):
    keys = ("epochs", "batch_size", "lr", "milestones", "reduction", "momentum")
    return {k: getattr(s, k) for k in keys}


def test_same_seed_gives_bitwise_identical_weights(digits):
    a, _ = _train(digits, seed=3)
    b, _ = _train(digits, seed=3)
    c, _ = _train(digits, seed=4)
    assert _same_weights(a, b)
    assert not _same_weights(a, c)


def test_training_learns_digits(digits):
    model, history = _train(digits, _with(SETTINGS, epochs=8))
    test = digits.split("test")
    acc = (model(test.images(slice(None))).argmax(1) == test.y).float().mean().item()
    assert history[-1]["loss"] < history[0]["loss"]
    assert acc > 0.9


def test_batches_are_the_float_images_of_the_stored_pixels(digits):
    """One batch converted on the fly equals the same rows of the whole split in float."""
    split = digits.split("train", crop=False)
    assert split.x.dtype == torch.uint8
    rows = torch.tensor([5, 0, 17, 3])
    whole = torch.from_numpy(digits.x_train).float().div_(digits.pixel_max)
    assert torch.equal(split.images(rows), whole[rows])
    assert torch.equal(split.images(slice(2, 9)), whole[2:9])


def test_summed_loss_equals_mean_loss_at_batch_times_lr(digits):
    # Only for full batches: 1344 = 21 * 64 of digits' 1347 training points.
    plain = {
        **_dict(SETTINGS),
        "momentum": 0.0,
        "epochs": 1,
        "milestones": [],
        "train_subset": 1344,
    }
    summed, _ = _train(digits, TrainSettings.from_dict({**plain, "reduction": "sum"}))
    mean = TrainSettings.from_dict({**plain, "reduction": "mean", "lr": SETTINGS.lr * 64})
    averaged, _ = _train(digits, mean)
    for p, q in zip(summed.parameters(), averaged.parameters(), strict=True):
        torch.testing.assert_close(p, q, rtol=1e-4, atol=1e-5)


@dataclass
class NaNAtThirdBatch:
    calls: int = 0

    def __call__(self, model, x, y, eps, outer):
        self.calls += 1
        loss = F.cross_entropy(model(x), y, reduction="none")
        return loss * float("nan") if self.calls == 3 else loss


def test_non_finite_loss_names_epoch_and_batch(digits):
    with pytest.raises(TrainingError, match="epoch 1, batch 3"):
        _train(digits, method=NaNAtThirdBatch())


@dataclass
class SignalAtBatch:
    """Natural training that sends ``signum`` to this process during batch ``at``."""

    at: int
    signum: int = signal.SIGTERM
    calls: int = 0

    def __call__(self, model, x, y, eps, outer):
        self.calls += 1
        if self.calls == self.at:
            os.kill(os.getpid(), self.signum)
        return F.cross_entropy(model(x), y, reduction="none")


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_interrupt_mid_epoch_saves_and_the_rerun_is_bitwise_identical(digits, tmp_path, signum):
    full, full_history = _train(digits)
    ckpt = tmp_path / "ckpt.pt"
    batches = -(-len(digits.y_train) // SETTINGS.batch_size)  # 22 per epoch
    with pytest.raises(Interrupted) as stopped:
        _train(digits, checkpoint=ckpt, method=SignalAtBatch(batches + 5, signum))
    assert stopped.value.exit_code == 128 + signum
    state = load_checkpoint(ckpt, "a")
    assert (state["epoch"], state["batch"]) == (1, 5)
    resumed, history = _train(digits, checkpoint=ckpt)
    assert _same_weights(full, resumed)
    assert [h["loss"] for h in history] == pytest.approx([h["loss"] for h in full_history])


def test_resume_from_an_epoch_checkpoint_gives_identical_weights(digits, tmp_path):
    ckpt = tmp_path / "ckpt.pt"
    full, _ = _train(digits)
    _train(digits, _with(SETTINGS, epochs=2), checkpoint=ckpt, fingerprint="3-epoch run")
    state = load_checkpoint(ckpt, "3-epoch run")
    assert (state["epoch"], state["batch"]) == (2, 0)
    resumed, history = _train(digits, checkpoint=ckpt, fingerprint="3-epoch run")
    assert [h["epoch"] for h in history] == [1, 2, 3]
    assert _same_weights(full, resumed)


def test_a_finished_run_keeps_its_checkpoint_and_rebuilds_from_it(digits, tmp_path):
    ckpt = tmp_path / "ckpt.pt"
    first, _ = _train(digits, checkpoint=ckpt)
    assert load_checkpoint(ckpt, "a")["epoch"] == SETTINGS.epochs
    again, history = _train(digits, checkpoint=ckpt)
    assert _same_weights(first, again) and len(history) == SETTINGS.epochs


def test_a_checkpoint_of_other_settings_is_discarded_saying_so(digits, tmp_path, caplog):
    ckpt = tmp_path / "ckpt.pt"
    _train(digits, _with(SETTINGS, epochs=2), checkpoint=ckpt, fingerprint="old")
    new = _with(SETTINGS, epochs=4, lr=0.001)
    fresh, _ = _train(digits, new, fingerprint="new")
    with caplog.at_level(logging.WARNING, logger="lolip"):
        resumed, history = _train(digits, new, checkpoint=ckpt, fingerprint="new")
    assert "written under other settings" in caplog.text and "from scratch" in caplog.text
    assert [h["epoch"] for h in history] == [1, 2, 3, 4]
    assert _same_weights(fresh, resumed)


def test_corrupt_checkpoint_falls_back_to_previous(tmp_path):
    ckpt = tmp_path / "ckpt.pt"
    save_checkpoint(ckpt, {"epoch": 1, "payload": torch.arange(3)})
    save_checkpoint(ckpt, {"epoch": 2, "payload": torch.arange(4)})
    data = bytearray(ckpt.read_bytes())
    data[-20] ^= 0xFF
    ckpt.write_bytes(bytes(data))
    assert load_checkpoint(ckpt)["epoch"] == 1
    (tmp_path / "ckpt.prev.pt").write_bytes(b"garbage")
    assert load_checkpoint(ckpt) is None


class _RunsCode:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (open, (str(self.marker), "w"))


def test_a_checkpoint_that_would_run_code_is_refused(tmp_path, caplog):
    ckpt, marker = tmp_path / "ckpt.pt", tmp_path / "code-ran"
    save_checkpoint(ckpt, {"epoch": 1, "evil": _RunsCode(marker)})
    assert not marker.exists()  # pickling does not run it; unpickling would
    with caplog.at_level(logging.WARNING, logger="lolip"):
        assert load_checkpoint(ckpt) is None
    assert not marker.exists()
    assert "refused" in caplog.text
    with pytest.raises(pickle.UnpicklingError):
        torch.load(ckpt, weights_only=True)


KILL_SCRIPT = """
import sys, torch
from lolip import datasets
from lolip.archs import build_arch
from lolip.methods import build_method
from lolip.training.loop import train
from lolip.training.settings import TrainSettings
from lolip.interrupts import Interrupted
torch.set_num_threads(1)
ds = datasets.load("digits", {"source": "digits", "eps": 0.1}, "unused")
torch.manual_seed(1)
model = build_arch("DigitsCNN", in_channels=1, n_classes=10, image_size=8)
s = TrainSettings.from_dict({"epochs": 8, "batch_size": 32, "lr": 0.0005, "milestones": [6]})
try:
    train(model, build_method({"loss": "trades", "beta": 1.0, "steps": 3}),
          ds.split("train", crop=False), 0.1, s, seed=1, checkpoint=sys.argv[1], fingerprint="f")
except Interrupted as err:
    sys.exit(err.exit_code)
torch.save(model.state_dict(), sys.argv[2])
"""


def _run(args):
    return subprocess.Popen([sys.executable, "-c", KILL_SCRIPT, *map(str, args)])


@pytest.fixture(scope="module")
def reference_weights(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("reference")
    assert _run([tmp / "ckpt.pt", tmp / "ref.pt"]).wait() == 0
    return torch.load(tmp / "ref.pt")


@pytest.mark.parametrize("signum", [signal.SIGKILL, signal.SIGTERM, signal.SIGINT])
def test_signal_mid_training_then_rerun_is_bitwise_identical(tmp_path, reference_weights, signum):
    ckpt, out = tmp_path / "ckpt.pt", tmp_path / "out.pt"
    proc = _run([ckpt, out])
    deadline = time.time() + 120
    while not checkpoint_epoch(ckpt) >= 2 and time.time() < deadline:
        time.sleep(0.05)
    proc.send_signal(signum)
    sent = time.monotonic()
    code = proc.wait()
    assert time.monotonic() - sent < 10, "the job took more than seconds to stop"
    assert code == (-signum if signum == signal.SIGKILL else 128 + signum)
    assert not out.exists(), "the run finished before it could be stopped"
    if signum != signal.SIGKILL:
        assert load_checkpoint(ckpt)["batch"] > 0, "no mid-epoch checkpoint"
    assert _run([ckpt, out]).wait() == 0
    b = torch.load(out)
    assert all(torch.equal(reference_weights[k], b[k]) for k in reference_weights)


def test_augment_crops_windows_of_the_padded_image_and_flips():
    torch.manual_seed(0)
    x = torch.arange(4 * 1 * 6 * 6, dtype=torch.float32).reshape(4, 1, 6, 6)
    out = augment(x, Augment(crop=6, padding=2, flip=False))
    padded = F.pad(x, (2, 2, 2, 2))
    for i in range(4):
        windows = padded[i, 0].unfold(0, 6, 1).unfold(1, 6, 1).reshape(-1, 6, 6)
        assert any(torch.equal(out[i, 0], w) for w in windows)
    flipped = augment(x, Augment(flip=True))
    for i in range(4):
        assert torch.equal(flipped[i], x[i]) or torch.equal(flipped[i], x[i].flip(-1))


def test_bad_training_settings_are_named():
    with pytest.raises(ValueError, match="unknown key 'learning_rate'"):
        TrainSettings.from_dict({"epochs": 1, "batch_size": 2, "lr": 0.1, "learning_rate": 1})
    with pytest.raises(ValueError, match="optimizer must be one of 'sgd', 'adam', got 'rmsprop'"):
        TrainSettings.from_dict({"epochs": 1, "batch_size": 2, "lr": 0.1, "optimizer": "rmsprop"})
    with pytest.raises(ValueError, match=r"lr must be a number > 0, got '1e-3' \(a string: YAML"):
        TrainSettings.from_dict({"epochs": 1, "batch_size": 2, "lr": "1e-3"})
    with pytest.raises(ValueError, match="training.augment: unknown key 'flop'"):
        TrainSettings.from_dict({"epochs": 1, "batch_size": 2, "lr": 0.1, "augment": {"flop": 1}})
    with pytest.raises(ValueError, match="missing key batch_size"):
        TrainSettings.from_dict({"epochs": 1, "lr": 0.1})
    assert np.isclose(TrainSettings.from_dict({"epochs": 1, "batch_size": 2, "lr": 1}).lr, 1)
