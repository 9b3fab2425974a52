"""The training loop: determinism, resumption after SIGKILL, bad states, augmentation."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from dataclasses import dataclass

import pytest
import torch
import torch.nn.functional as F

from lolip.archs import build_arch
from lolip.checkpoint import load_checkpoint, save_checkpoint
from lolip.methods import build_method
from lolip.settings import Augment, TrainSettings
from lolip.train import TrainingError, augment, train
from tests.grid import checkpoint_epoch

SETTINGS = TrainSettings.from_dict(
    {"epochs": 3, "batch_size": 64, "lr": 0.002, "milestones": [2], "reduction": "sum"}
)


def _train(digits, settings=SETTINGS, seed=0, checkpoint=None, method=None):
    x, y = digits.tensors("train")
    torch.manual_seed(seed)  # the initial weights belong to the seeded run
    model = build_arch("DigitsCNN", in_channels=1, n_classes=10, image_size=8)
    method = method or build_method({"loss": "natural"})
    history = train(model, method, x, y, 0.1, settings, seed=seed, checkpoint=checkpoint)
    return model, history


def _same_weights(a, b):
    return all(
        torch.equal(p, q)
        for p, q in zip(a.state_dict().values(), b.state_dict().values(), strict=True)
    )


def test_same_seed_gives_bitwise_identical_weights(digits):
    a, _ = _train(digits, seed=3)
    b, _ = _train(digits, seed=3)
    c, _ = _train(digits, seed=4)
    assert _same_weights(a, b)
    assert not _same_weights(a, c)


def test_training_learns_digits(digits):
    model, history = _train(digits, TrainSettings.from_dict({**_dict(SETTINGS), "epochs": 8}))
    x, y = digits.tensors("test")
    acc = (model(x).argmax(1) == y).float().mean().item()
    assert history[-1]["loss"] < history[0]["loss"]
    assert acc > 0.9


def _dict(s):
    keys = ("epochs", "batch_size", "lr", "milestones", "reduction")
    return {k: getattr(s, k) for k in keys}


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

    def __call__(self, model, x, y, eps):
        self.calls += 1
        loss = F.cross_entropy(model(x), y, reduction="none")
        return loss * float("nan") if self.calls == 3 else loss


def test_non_finite_loss_names_epoch_and_batch(digits):
    with pytest.raises(TrainingError, match="epoch 1, batch 3"):
        _train(digits, method=NaNAtThirdBatch())


def test_resume_from_checkpoint_gives_identical_weights(digits, tmp_path):
    ckpt = tmp_path / "ckpt.pt"
    full, _ = _train(digits)
    two = TrainSettings.from_dict({**_dict(SETTINGS), "epochs": 2})
    _train(digits, two, checkpoint=ckpt)  # finishes and removes its checkpoint ...
    assert not ckpt.exists()
    # ... so stop after epoch 2 by hand: keep the checkpoint of a 3-epoch run at epoch 2.
    state = _partial_checkpoint(digits, ckpt, epochs_done=2)
    assert state["epoch"] == 2
    resumed, history = _train(digits, checkpoint=ckpt)
    assert [h["epoch"] for h in history] == [1, 2, 3]
    assert _same_weights(full, resumed)


def _partial_checkpoint(digits, ckpt, epochs_done):
    class Stop(Exception):
        pass

    original = save_checkpoint

    def stop_after(path, state):
        original(path, state)
        if state["epoch"] == epochs_done:
            raise Stop

    import lolip.train as train_module

    train_module.save_checkpoint = stop_after
    try:
        with pytest.raises(Stop):
            _train(digits, checkpoint=ckpt)
    finally:
        train_module.save_checkpoint = original
    return load_checkpoint(ckpt)


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


KILL_SCRIPT = """
import sys, torch
from lolip import datasets
from lolip.archs import build_arch
from lolip.methods import build_method
from lolip.settings import TrainSettings
from lolip.train import train
torch.set_num_threads(1)
ds = datasets.load("digits", {"source": "digits"}, "unused")
x, y = ds.tensors("train")
torch.manual_seed(1)
model = build_arch("DigitsCNN", in_channels=1, n_classes=10, image_size=8)
s = TrainSettings.from_dict({"epochs": 8, "batch_size": 32, "lr": 0.0005, "milestones": [6]})
train(model, build_method({"loss": "natural"}), x, y, 0.1, s, seed=1, checkpoint=sys.argv[1])
torch.save(model.state_dict(), sys.argv[2])
"""


def _run(args):
    return subprocess.Popen([sys.executable, "-c", KILL_SCRIPT, *map(str, args)])


def test_sigkill_mid_training_then_rerun_is_bitwise_identical(tmp_path):
    reference = tmp_path / "ref.pt"
    assert _run([tmp_path / "ref_ckpt.pt", reference]).wait() == 0
    ckpt, out = tmp_path / "ckpt.pt", tmp_path / "out.pt"
    proc = _run([ckpt, out])
    deadline = time.time() + 120
    while not checkpoint_epoch(ckpt) >= 2 and time.time() < deadline:
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert not out.exists(), "the run finished before it could be killed"
    assert _run([ckpt, out]).wait() == 0
    a, b = torch.load(reference), torch.load(out)
    assert all(torch.equal(a[k], b[k]) for k in a)


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


def test_unknown_training_setting_is_named():
    with pytest.raises(ValueError, match="unknown training setting.*learning_rate"):
        TrainSettings.from_dict({"epochs": 1, "batch_size": 2, "lr": 0.1, "learning_rate": 1})
    with pytest.raises(ValueError, match="unknown optimizer 'rmsprop'"):
        TrainSettings.from_dict({"epochs": 1, "batch_size": 2, "lr": 0.1, "optimizer": "rmsprop"})
