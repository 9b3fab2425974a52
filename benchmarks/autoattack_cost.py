"""The cost of AutoAttack against PGD-10, per 1,000 MNIST test images, for CNN001 on this CPU.

AutoAttack is the standard version at the official counts (APGD-CE and APGD-T with 100
iterations and 9 target classes, FAB-T with 100 iterations and 9 targets, Square with 5,000
queries) through :class:`lolip.attacks.autoattack.AutoAttack`; PGD-10 is the paper's
evaluation attack (10 steps of eps/5 from a uniform random start). Both run as the
workflow runs them, through :func:`lolip.evaluation.parts.attack_part` (channels-last,
per-example or per-block random draws, AutoAttack in blocks of 500), on the same first
``--images`` MNIST test images at eps 0.1.

AutoAttack's cost depends on the model: APGD-CE runs on every point classified correctly,
and each later stage only on the points still unbroken, so the more robust the model, the
more points reach the costly targeted stages and Square. Two models are measured:

- ``natural``: CNN001 trained naturally for one epoch on 10,000 training images;
- ``at``: CNN001 adversarially trained (AT, 10 steps of eps/5) for one epoch on the same
  10,000 images,

both by lolip's training loop with Adam (lr 1e-3, batch 128, mean loss): a quick recipe, not
the paper's 160 epochs. AutoAttack's own log gives the robust accuracy and the cumulative
time after each stage. PGD runs ``--rounds`` times and its best round counts; AutoAttack runs
once (minutes per model). Wall and CPU time (all threads of this process) are both
printed: other jobs may share the CPU, and CPU time is the steadier figure there.

    python benchmarks/autoattack_cost.py [--images 500] [--rounds 3] [--models DIR]
"""

from __future__ import annotations

import argparse
import logging
import re
import time
from pathlib import Path

import torch
from common import MNIST_EPS, fresh_cnn001, mnist, trained_cnn001

from lolip.datasets.prepared import Split
from lolip.evaluation.parts import attack_part
from lolip.evaluation.settings import EvaluationSettings

MODELS = {"natural": {"loss": "natural"}, "at": {"loss": "at"}}
SETTINGS = EvaluationSettings.from_dict({"attacks": {"autoattack": {"type": "autoattack"}}})


class StageLog(logging.Handler):
    """Collects AutoAttack's per-stage lines (robust accuracy, cumulative time)."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        message = record.getMessage()
        if re.match(r"(initial accuracy|robust accuracy after)", message):
            self.lines.append(message)


def model_for(name: str, train: Split, images: int, directory: Path | None) -> torch.nn.Module:
    """Model ``name`` trained on ``images``, from ``directory`` if it holds it (else trained
    and kept there)."""
    path = directory / f"cnn001-{name}-{images}.pt" if directory else None
    if path is not None and path.exists():
        model = fresh_cnn001()
        model.load_state_dict(torch.load(path, weights_only=True))
        return model.eval()
    tic = time.perf_counter()
    model = trained_cnn001(train, images, MODELS[name])
    print(f"trained CNN001 ({name}) on {images:,} images in {time.perf_counter() - tic:.0f} s")
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        torch.save(model.state_dict(), path)
    return model


def run(model: torch.nn.Module, test: Split, attack: str) -> tuple[float, float, float]:
    """(wall seconds, CPU seconds, robust accuracy in %) of ``attack`` on the test images."""
    tic, cpu = time.perf_counter(), time.process_time()
    frame, _ = attack_part(model, {"test": test}, MNIST_EPS, SETTINGS, name=attack)
    wall, cpu = time.perf_counter() - tic, time.process_time() - cpu
    return wall, cpu, 100 * (1 - frame["broken"].mean())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=500, help="MNIST test images attacked")
    parser.add_argument("--rounds", type=int, default=3, help="PGD rounds (best counts)")
    parser.add_argument("--train-images", type=int, default=10_000, help="0: untrained models")
    parser.add_argument("--models", type=Path, default=None, help="keep trained weights here")
    parser.add_argument("--only", choices=list(MODELS), nargs="+", default=list(MODELS))
    args = parser.parse_args()

    data = mnist()
    train, test = data.split("train"), data.split("test").head(args.images)
    stages = StageLog()
    logger = logging.getLogger("auto-attack")
    logger.setLevel(logging.DEBUG)
    logger.addHandler(stages)
    print(
        f"{args.images} MNIST test images, eps {MNIST_EPS}, {torch.get_num_threads()} threads, "
        f"torch {torch.__version__}"
    )
    rows = []
    for name in args.only:
        model = model_for(name, train, args.train_images, args.models)
        with torch.no_grad():
            clean = 100 * float(
                (model(test.images(slice(None))).argmax(1) == test.y).float().mean()
            )
        run(model, test.head(50), "pgd")  # warm-up
        pgd = [run(model, test, "pgd") for _ in range(args.rounds)]
        stages.lines.clear()
        aa_wall, aa_cpu, aa_robust = run(model, test, "autoattack")
        pgd.append(run(model, test, "pgd"))  # one round after, in case the load changed
        pgd_wall, pgd_cpu = min(r[0] for r in pgd), min(r[1] for r in pgd)
        scale = 1000 / args.images
        rows.append(
            (name, clean, pgd[0][2], pgd_wall * scale, pgd_cpu * scale, aa_robust)
            + (aa_wall * scale, aa_cpu * scale)
        )
        print(f"\n{name}: AutoAttack's stages (robust accuracy, cumulative time per block):")
        for line in stages.lines:
            print(f"  {line}")
        print(
            f"{name}: PGD-10 rounds {', '.join(f'{w:.1f} ({c:.1f})' for w, c, _ in pgd)} s; "
            f"AutoAttack {aa_wall:.0f} s ({aa_cpu:.0f} s); wall (CPU)",
            flush=True,
        )
    print(
        f"\n{'model':<8} {'clean':>6} {'PGD-10':>7} {'AA':>6}   {'PGD-10 s/1000':>17} "
        f"{'AA s/1000':>15} {'AA / PGD-10':>15}"
    )
    print(f"{'':<8} {'':>6} {'robust':>7} {'robust':>6}   {'wall (CPU)':>17} {'wall (CPU)':>15}")
    for name, clean, pgd_robust, pgd_wall, pgd_cpu, aa_robust, aa_wall, aa_cpu in rows:
        print(
            f"{name:<8} {clean:>5.1f}% {pgd_robust:>6.1f}% {aa_robust:>5.1f}%   "
            f"{pgd_wall:>8.1f} ({pgd_cpu:>6.1f}) {aa_wall:>6.0f} ({aa_cpu:>6.0f}) "
            f"{aa_wall / pgd_wall:>6.0f}x ({aa_cpu / pgd_cpu:>4.0f}x)"
        )
    print(
        f"(s/1000: seconds per 1,000 test images, measured on {args.images}; PGD-10: its "
        "best round; CPU: all threads of this process)"
    )


if __name__ == "__main__":
    main()
