"""Throughput of our PGD against torchattacks' PGD, same model, data, settings and batches.

Both attack CNN001 on real MNIST test images at the paper's settings (l_inf, eps 0.1,
10 steps of 0.02, uniform random start) and both produce the robust-accuracy verdict per
image: ours returns it, torchattacks' output is classified with one more forward pass (the
same work our last iterate's forward does). Rounds alternate between the two so load
changes on a shared machine hit both; the best round of each is compared. The forward
passes per image (each but the last also a backward pass) are printed as well: the work
done, which machine load does not blur. Ours runs as evaluation runs it
(:func:`lolip.evaluation.parts.attack_part`): the model channels-last (:mod:`lolip.channels_last`),
random starts drawn per example (:mod:`lolip.noise`); torchattacks gets the model as
PyTorch builds it.

The model is CNN001 trained naturally for a short while by lolip's training loop (a random
network would be broken by its random start alone). Two regimes are timed:

- ``eps 0.1``: the paper's setting; our PGD stops attacking a point once an iterate is
  misclassified, so it gains the more the weaker the model is;
- ``no point breaks``: eps 0 and labels = the model's own predictions, so every point runs
  every step: the per-step cost alone.

Run: ``python benchmarks/attack_throughput.py [--images 1000] [--batch-size 500]``.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

import torch
import torchattacks
from common import mnist, trained_cnn001
from torch import nn

from lolip.attacks.pgd import PGD
from lolip.channels_last import channels_last
from lolip.noise import noise_for


def ours(
    model: nn.Module, x: torch.Tensor, y: torch.Tensor, eps: float, alpha: float, steps: int
) -> torch.Tensor:
    """Robust (not broken) flags from our PGD, run channels-last as evaluation runs it.

    Every batch draws the starts of examples 0.. of the split: per-example draws cost the
    same whichever examples they are for."""
    attack = PGD(steps=steps, step_size=alpha / eps if eps else 0.0)
    with channels_last(model):
        result = attack(model, x, y, eps, noise_for(0, "test/pgd", 0, len(y)))
    return ~result.broken


def theirs(
    model: nn.Module, x: torch.Tensor, y: torch.Tensor, eps: float, alpha: float, steps: int
) -> torch.Tensor:
    """Robust flags from torchattacks' PGD: its output, classified."""
    attack = torchattacks.PGD(model, eps=eps, alpha=alpha, steps=steps, random_start=True)
    x_adv = attack(x, y)
    with torch.no_grad():
        return model(x_adv).argmax(1) == y


def images_per_second(
    fn: Callable[..., torch.Tensor], model, x, y, batch_size: int, **settings
) -> tuple[float, float]:
    """(images/s, robust accuracy in %) of ``fn`` over all batches."""
    robust = 0
    start = time.perf_counter()
    for i in range(0, len(y), batch_size):
        robust += int(fn(model, x[i : i + batch_size], y[i : i + batch_size], **settings).sum())
    return len(y) / (time.perf_counter() - start), 100 * robust / len(y)


class RowCounter(nn.Module):
    """Counts the input rows a model sees: attack work independent of machine load."""

    def __init__(self, inner: nn.Module) -> None:
        super().__init__()
        self.inner, self.rows = inner, 0

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.rows += len(x)
        return self.inner(x)


def compare(name: str, model, x, y, batch_size: int, rounds: int, **settings) -> None:
    rates: dict[str, list[float]] = {"ours": [], "torchattacks": []}
    accuracy = {}
    for _ in range(rounds):
        for label, fn in (("ours", ours), ("torchattacks", theirs)):
            rate, accuracy[label] = images_per_second(fn, model, x, y, batch_size, **settings)
            rates[label].append(rate)
    best = {label: max(values) for label, values in rates.items()}
    for label, values in rates.items():
        print(
            f"{name:>16} | {label:>12}: best {best[label]:8.1f} images/s, median "
            f"{statistics.median(values):8.1f}, robust acc {accuracy[label]:5.1f}%"
        )
    median = {label: statistics.median(values) for label, values in rates.items()}
    print(
        f"{name:>16} | ratio ours / torchattacks: best rounds "
        f"{best['ours'] / best['torchattacks']:.2f}x, medians "
        f"{median['ours'] / median['torchattacks']:.2f}x"
    )
    passes = {}
    for label, fn in (("ours", ours), ("torchattacks", theirs)):
        # eval(): torchattacks restores the mode it found, recursively, on the inner model too.
        counter = RowCounter(model).eval()
        images_per_second(fn, counter, x, y, batch_size, **settings)
        passes[label] = counter.rows / len(y)
    print(
        f"{name:>16} | forward passes per image: ours {passes['ours']:.2f}, "
        f"torchattacks {passes['torchattacks']:.2f}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=1000, help="MNIST test images attacked")
    parser.add_argument("--batch-size", type=int, default=500)
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds per method")
    parser.add_argument("--train-images", type=int, default=10000, help="0: untrained model")
    args = parser.parse_args()

    data = mnist()
    tic = time.perf_counter()
    model = trained_cnn001(data.split("train"), args.train_images)
    print(f"trained CNN001 on {args.train_images} images in {time.perf_counter() - tic:.0f} s")
    test = data.split("test").head(args.images)
    x, y = test.images(slice(None)), test.y
    with torch.no_grad():
        predictions = torch.cat([model(b) for b in x.split(args.batch_size)]).argmax(1)
    print(
        f"{len(y)} MNIST test images, batch size {args.batch_size}, {torch.get_num_threads()} "
        f"threads, clean accuracy {100 * float((predictions == y).float().mean()):.1f}%"
    )
    settings = {"steps": 10, "batch_size": args.batch_size, "rounds": args.rounds}
    # Warm-up: first calls allocate and pick convolution algorithms.
    compare("warm-up", model, x[:100], y[:100], **{**settings, "rounds": 1}, eps=0.1, alpha=0.02)
    compare("eps 0.1", model, x, y, **settings, eps=0.1, alpha=0.02)
    compare("no point breaks", model, x, predictions, **settings, eps=0.0, alpha=0.0)


if __name__ == "__main__":
    main()
