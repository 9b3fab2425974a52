"""GPU check: training and evaluation throughput, GPU memory, CPU-CUDA agreement.

What one training step and one evaluation batch cost, and how far CUDA's logits are from
the CPU's, for each paper architecture at its paper batch and input size.

One table, one row per (arch, method, precision) and one ``eval`` row per arch:

- training rows: one step of natural, AT, TRADES(6) and LLR training (the method objects
  of the workflow, their loss summed, SGD), timed after one warm-up step, in ``fp32`` and
  in ``bf16`` (bf16 autocast for the outer loss only, through ``outer_autocast``, as the
  training loop applies ``precision: bf16``; inner searches and LLR's regulariser stay in
  fp32). ``img/s`` is the batch size over the step's wall time; ``peak MiB`` the largest
  GPU memory the row allocated (``torch.cuda.max_memory_allocated``, reset per row: the
  weights, the optimiser state and the step's activations);
- ``eval`` rows: PGD-10 and the local Lipschitz estimate (10 steps) on one evaluation
  batch, fp32, channels-last, as the evaluation runs them. PGD attacks the model's own
  predictions at eps 0, so no point leaves the batch early: its cost when no attack
  succeeds (a robust model's), not a random network's (which every start breaks).

Below the table, one ``logits`` line per arch: the same weights (eval mode) on the CPU and
on the GPU, the largest absolute difference of the logits of one batch and that over the
largest absolute logit, with TF32 off (the protocol: float rounding, expected ~1e-6) and
on (PyTorch's cuDNN default on recent GPUs: expected 1e-4 to 1e-3, a noise floor under the
Lipschitz estimate's 0.003 steps; hence ``lolip.precision`` turns it off).

Numerics: TF32 off everywhere (``--tf32`` times the training rows with it on); the header
prints the device, torch, CUDA and cuDNN versions and the numerics state in force. Without
the flag every number is fp32 as the paper's. The drop-out variants (``_drop20``,
``_drop50``) cost what their base architecture does and are not listed.

    python benchmarks/gpu_check.py            # on a CUDA machine; a few minutes
    python benchmarks/gpu_check.py --tiny     # the same code on the CPU, in seconds
"""

from __future__ import annotations

import argparse
import gc
import time
from collections.abc import Callable
from dataclasses import dataclass, replace

import torch

from lolip.archs import build_arch
from lolip.attacks.pgd import PGD
from lolip.channels_last import channels_last
from lolip.evaluation.settings import EvaluationSettings
from lolip.lipschitz import local_lipschitz
from lolip.methods import build_method
from lolip.perturbation import eval_frozen
from lolip.precision import PRECISIONS, outer_autocast, set_tf32, state


@dataclass(frozen=True)
class Case:
    """One paper architecture at its dataset's input size, eps and training batch."""

    arch: str
    shape: tuple[int, int, int]
    classes: int
    eps: float
    batch: int
    eval_batch: int = EvaluationSettings().batch_size


# As config/paper.yaml (tests/integration/test_gpu_check.py keeps the two equal).
PAPER = (
    Case("CNN001", (1, 28, 28), 10, eps=0.1, batch=64),
    Case("CNN002", (1, 28, 28), 10, eps=0.1, batch=64),
    Case("WRN_40_10", (3, 32, 32), 10, eps=0.031, batch=64),
    Case("ResNet50", (3, 64, 64), 9, eps=0.005, batch=128),
)
# --tiny: two architectures, small batches, ResNet50 at its smallest input.
TINY = (
    replace(PAPER[0], batch=4, eval_batch=4),
    replace(PAPER[3], shape=(3, 32, 32), batch=2, eval_batch=2),
)
METHODS = {
    "natural": {"loss": "natural"},
    "at": {"loss": "at"},
    "trades6": {"loss": "trades", "beta": 6.0},
    "llr": {"loss": "llr"},
}
ROW = "{:10} {:8} {:9} {:>5} {:>8} {:>9} {:>9}"
COLUMNS = ("arch", "method", "precision", "batch", "input", "img/s", "peak MiB")


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def timed(fn: Callable[[], object], device: torch.device) -> float:
    """Seconds ``fn`` takes, after one warm-up call (allocations, kernel selection)."""
    fn()
    sync(device)
    tic = time.perf_counter()
    fn()
    sync(device)
    return time.perf_counter() - tic


def fresh_row(device: torch.device) -> None:
    """Free what the last row left and restart the peak-memory count."""
    gc.collect()
    if device.type == "cuda":
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats(device)


def peak_mib(device: torch.device) -> str:
    if device.type != "cuda":
        return "n/a"
    return f"{torch.cuda.max_memory_allocated(device) / 2**20:.0f}"


def model_and_batch(case: Case, batch: int, device: torch.device, seed: int = 0):
    """The architecture with seeded weights, a batch of uniform images and random labels."""
    torch.manual_seed(seed)
    model = build_arch(
        case.arch, in_channels=case.shape[0], n_classes=case.classes, image_size=case.shape[1]
    ).to(device)
    x = torch.rand(batch, *case.shape, device=device)
    y = torch.randint(case.classes, (batch,), device=device)
    return model, x, y


def train_rate(case: Case, method: str, precision: str, device: torch.device) -> float:
    """Images per second of one training step (the loop's: summed loss, SGD, channels-last)."""
    model, x, y = model_and_batch(case, case.batch, device)
    loss_of = build_method(METHODS[method])
    autocast = outer_autocast(precision, device)
    optimizer = torch.optim.SGD(model.parameters(), lr=1e-4, momentum=0.9)

    def step() -> None:
        loss = loss_of(model, x, y, case.eps, outer=autocast).sum()
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()

    model.train()
    with channels_last(model):
        return case.batch / timed(step, device)


def eval_rate(case: Case, device: torch.device) -> float:
    """Images per second of PGD-10 and the Lipschitz estimate on one evaluation batch."""
    model, x, _ = model_and_batch(case, case.eval_batch, device)
    with eval_frozen(model), channels_last(model):
        with torch.no_grad():
            predicted = model(x).argmax(1)

        def evaluate() -> None:
            PGD()(model, x, predicted, 0.0)
            local_lipschitz(model, x, case.eps)

        return case.eval_batch / timed(evaluate, device)


def logits_agreement(case: Case, device: torch.device, batch: int = 32) -> str:
    """Largest |CPU - device| logit difference (and relative to the largest |logit|), with
    TF32 off and on, for the same weights in eval mode."""
    model, x, _ = model_and_batch(case, min(batch, case.eval_batch), torch.device("cpu"))
    model.eval()
    with torch.no_grad():
        cpu = model(x)
        model.to(device)
        parts = []
        for tf32 in (False, True):
            set_tf32(tf32)
            diff = (model(x.to(device)).cpu() - cpu).abs().max().item()
            parts.append(
                f"TF32 {'on' if tf32 else 'off'}: max|diff| {diff:.2e} "
                f"(relative {diff / cpu.abs().max().item():.2e})"
            )
        set_tf32(False)
    return f"logits {case.arch:10} CPU vs {device.type}: " + "; ".join(parts)


def header(device: torch.device) -> str:
    if device.type == "cuda":
        name = torch.cuda.get_device_name(device)
        versions = f"CUDA {torch.version.cuda}, cuDNN {torch.backends.cudnn.version()}"
    else:
        name, versions = f"CPU, {torch.get_num_threads()} thread(s)", "no CUDA"
    numerics = state()
    flags = ", ".join(f"{k}={v}" for k, v in numerics["fp32_precision"].items())
    return (
        f"device: {name}; torch {torch.__version__}, {versions}\n"
        f"numerics of the training rows: TF32 {'on' if numerics['tf32'] else 'off'} ({flags}); "
        "eval rows: TF32 off"
    )


def row(case: Case, method: str, precision: str, batch: int, rate: float, device) -> str:
    shape = "x".join(map(str, case.shape))
    return ROW.format(case.arch, method, precision, batch, shape, f"{rate:.1f}", peak_mib(device))


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0],
        epilog=(
            "--tiny changes the scale, not the code: it runs on the CPU even where CUDA is "
            "present, in one thread, on CNN001 (batches of 4) and ResNet50 (batches of 2, "
            "32x32 inputs) only; the logits lines then compare the CPU with itself."
        ),
    )
    parser.add_argument("--tiny", action="store_true", help="the same code on the CPU, in seconds")
    parser.add_argument("--tf32", action="store_true", help="time the training rows with TF32 on")
    args = parser.parse_args()
    if not args.tiny and not torch.cuda.is_available():
        parser.error("no CUDA device (torch.cuda.is_available() is false); --tiny runs on the CPU")
    device = torch.device("cpu" if args.tiny else "cuda")
    cases = TINY if args.tiny else PAPER
    if args.tiny:
        torch.set_num_threads(1)  # tiny tensors gain nothing from threads, busy CPUs lose
    started = time.perf_counter()
    set_tf32(args.tf32)
    print(header(device), flush=True)
    print(ROW.format(*COLUMNS), flush=True)
    agreement = []
    for case in cases:
        set_tf32(args.tf32)
        for method in METHODS:
            for precision in PRECISIONS:
                fresh_row(device)
                rate = train_rate(case, method, precision, device)
                print(row(case, method, precision, case.batch, rate, device), flush=True)
        set_tf32(False)  # evaluation is fp32 without TF32, whatever --tf32 says
        fresh_row(device)
        rate = eval_rate(case, device)
        print(row(case, "eval", "fp32", case.eval_batch, rate, device), flush=True)
        agreement.append(logits_agreement(case, device))
    print("\n".join(agreement))
    print(f"total: {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
