"""Training throughput on CNN001 / MNIST: lolip's loop against a plain reference loop.

The reference is what a straightforward PyTorch script does: a ``DataLoader`` over a
``TensorDataset`` (float32, shuffled, batch 64, no tuning) and ``loss.backward()`` for the
weights. For AT and RST its PGD takes the input gradient from ``backward()`` too; for
TRADES its KL search is written as in the TRADES authors' code. GR and LLR have no
reference: a plain version would compute exactly what ours does. Both sides run
in this process on the same data, model initialisation and settings, alternating over
``--rounds`` rounds so a change of machine load hits both alike; each side's best round
counts. The ratio is ours over the reference's images per second.

The ``kernels`` row bounds what any loop built on PyTorch's CPU kernels can reach for
natural training: the forward and backward passes alone, in the fastest layout
(channels-last, pooling gradients kept channels-last), repeated on one fixed batch, with
no data handling and no optimiser step. Its ratio is the largest speed-up over the
reference that a natural-training loop could show on this machine.

    python benchmarks/train_throughput.py [--n 2048] [--n-robust 384] [--rounds 3]
"""

from __future__ import annotations

import argparse
import time

import torch
import torch.nn.functional as F
from common import fresh_cnn001, mnist
from torch.utils.data import DataLoader, TensorDataset

from lolip.channels_last import channels_last
from lolip.datasets.prepared import Split
from lolip.methods import build_method
from lolip.training.loop import train
from lolip.training.settings import TrainSettings

EPS, BATCH, LR = 0.1, 64, 1e-4
METHODS = {
    "natural": {"loss": "natural"},
    "gr": {"loss": "gr"},
    "llr": {"loss": "llr"},
    "at": {"loss": "at"},
    "rst1": {"loss": "rst", "lam": 1.0},
    "trades6": {"loss": "trades", "beta": 6.0},
}


def reference_pgd(model, x, y, eps=EPS, steps=10, alpha=EPS / 5):
    """PGD as commonly written: ``backward()`` on the input, model left in train mode."""
    x_adv = (x + torch.empty_like(x).uniform_(-eps, eps)).clamp(0, 1)
    for _ in range(steps):
        x_adv = x_adv.detach().requires_grad_(True)
        F.cross_entropy(model(x_adv), y).backward()
        x_adv = x_adv + alpha * x_adv.grad.sign()
        x_adv = torch.min(torch.max(x_adv, x - eps), x + eps).clamp(0, 1)
    return x_adv.detach()


def reference_trades_search(model, x, eps=EPS, steps=10, alpha=EPS / 5):
    """The KL search as the TRADES authors' code writes it: eval mode, the clean
    prediction recomputed at every step, ``autograd.grad`` on the input."""
    model.eval()
    x_adv = x + 0.001 * torch.randn_like(x)
    for _ in range(steps):
        x_adv = x_adv.detach().requires_grad_(True)
        kl = F.kl_div(F.log_softmax(model(x_adv), 1), F.softmax(model(x), 1), reduction="sum")
        (grad,) = torch.autograd.grad(kl, [x_adv])
        x_adv = x_adv.detach() + alpha * grad.sign()
        x_adv = torch.min(torch.max(x_adv, x - eps), x + eps).clamp(0, 1)
    model.train()
    return x_adv.detach()


def _ce(model, x, y):
    return F.cross_entropy(model(x), y, reduction="sum")


def _trades(model, x, y, beta):
    x_adv = reference_trades_search(model, x)
    logits = model(x)
    kl = F.kl_div(F.log_softmax(model(x_adv), 1), F.softmax(logits, 1), reduction="sum")
    return F.cross_entropy(logits, y, reduction="sum") + beta * kl


REFERENCE_LOSSES = {
    "natural": _ce,
    "at": lambda model, x, y: _ce(model, reference_pgd(model, x, y), y),
    "rst1": lambda model, x, y: _ce(model, x, y) + _ce(model, reference_pgd(model, x, y), y),
    "trades6": lambda model, x, y: _trades(model, x, y, beta=6.0),
}


def reference_epoch(split: Split, loss) -> float:
    """One epoch of the plain loop: DataLoader batches, ``loss(model, x, y).backward()``, on
    the split converted to float32 beforehand (outside the timing), as such a script does."""
    x, y = split.images(slice(None)), split.y
    model = fresh_cnn001()
    opt = torch.optim.SGD(model.parameters(), lr=LR, momentum=0.9)
    loader = DataLoader(TensorDataset(x, y), batch_size=BATCH, shuffle=True)
    model.train()
    tic = time.perf_counter()
    for xb, yb in loader:
        opt.zero_grad()
        loss(model, xb, yb).backward()
        opt.step()
    return len(x) / (time.perf_counter() - tic)


def kernels_epoch(split: Split) -> float:
    """Forward and backward of CNN001 alone, on one fixed batch, as often as an epoch has
    batches: the part of a natural-training epoch no loop can avoid."""
    model = fresh_cnn001().train()
    xb, yb = split.images(slice(0, BATCH)), split.y[:BATCH]
    tic = time.perf_counter()
    with channels_last(model):
        for _ in range(0, len(split), BATCH):
            model.zero_grad(set_to_none=True)
            F.cross_entropy(model(xb), yb, reduction="sum").backward()
    return len(split) / (time.perf_counter() - tic)


def ours_epoch(split: Split, spec) -> float:
    """One epoch of lolip's loop on the split as stored (uint8), converted batch by batch."""
    model = fresh_cnn001()
    settings = TrainSettings(epochs=1, batch_size=BATCH, lr=LR)
    tic = time.perf_counter()
    train(model, build_method(spec), split, EPS, settings, seed=0)
    return len(split) / (time.perf_counter() - tic)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=2048, help="images for natural training")
    parser.add_argument("--n-robust", type=int, default=384, help="images for robust methods")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    natural = mnist().split("train").head(args.n)
    robust = natural.head(args.n_robust)
    print(f"CNN001 on MNIST, batch {BATCH}, {args.threads} threads, torch {torch.__version__}")
    print(f"{'method':8s} {'ours img/s':>11s} {'reference img/s':>16s} {'ratio':>6s}")
    for name, spec in METHODS.items():
        split = natural if name == "natural" else robust
        runs = {"ours": lambda split, spec=spec: ours_epoch(split, spec)}
        if name in REFERENCE_LOSSES:
            runs["reference"] = lambda split, loss=REFERENCE_LOSSES[name]: reference_epoch(
                split, loss
            )
        if name == "natural":
            runs["kernels"] = kernels_epoch
        best = dict.fromkeys(runs, 0.0)
        for run in runs.values():
            run(split.head(2 * BATCH))  # warm-up
        for _ in range(args.rounds if len(runs) > 1 else 1):
            for key, run in runs.items():
                best[key] = max(best[key], run(split))
        _report(name, best)


def _report(name: str, best: dict[str, float]) -> None:
    line = f"{name:8s} {best['ours']:11.0f}"
    if "reference" in best:
        line += f" {best['reference']:16.0f} {best['ours'] / best['reference']:5.2f}x"
    print(line, flush=True)
    if "kernels" in best:
        ratio = best["kernels"] / best["reference"]
        print(f"{'kernels':8s} {best['kernels']:11.0f} {best['reference']:16.0f} {ratio:5.2f}x")


if __name__ == "__main__":
    main()
