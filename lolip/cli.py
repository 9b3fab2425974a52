"""The command line ``lolip``: the paper's evaluation for any model, and a run's tables.

``lolip evaluate MODEL --data DATA --eps EPS --out DIR [--config FILE] [--device DEV]
[--threads N]`` evaluates a model under the paper's protocol (:mod:`lolip.evaluation`:
clean and PGD accuracy, the configured attacks, the local Lipschitz estimate, every
soundness check and gradient-masking alarm) and writes ``DIR/metrics.json`` and
``DIR/examples.csv`` as the workflow's evaluation does, each atomically.

- ``MODEL``: a lolip model file (``.safetensors``, :func:`lolip.load_model`; it cannot run
  code), whose metadata (dataset, arch, method, seed, training, history) the metrics then
  carry as the workflow's do; or ``path/to/file.py:function``: the file is imported (it
  runs: use only code you trust), with its folder on ``sys.path``, and ``function()`` is
  called without arguments. It must return a ``torch.nn.Module`` that maps float NCHW
  inputs in [0, 1] to logits, logit ``k`` for label ``k``; it is evaluated in eval mode.
- ``DATA``: a prepared dataset (``.h5``, e.g. the workflow's ``results/datasets/*.h5``) or
  an ``.npz`` read by the npz source's code (:func:`lolip.datasets.npz.read_splits`, the
  same checks): ``x_test`` and ``y_test``, and optionally ``x_train`` and ``y_train`` (both
  or neither; without them there are no train columns and no gaps). An ``.npz``'s labels
  are the model's class indices, used as they are.
- ``FILE``: YAML; its ``evaluation:`` section gives the evaluation settings or, when it has
  no such key, the whole file does (:class:`~lolip.evaluation.settings.EvaluationSettings`;
  without ``--config`` the paper's protocol). Of a workflow config only the top-level
  ``evaluation:`` section counts, not an experiment group's own.
- ``--device``: default ``$LOLIP_DEVICE``, else CUDA when available, else the CPU;
  ``--threads``: torch's CPU threads (default: torch's choice).

With the workflow's settings, device and thread count (a metrics file's
``provenance.evaluation.threads``) it gives the workflow's numbers exactly. Bad input stops
it before any work with a one-line error naming it and exit status 2; a failed soundness
check (or, with ``checks.strict``, an alarm) stops it with status 1 and writes nothing.

``lolip summary RESULTS_DIR`` prints a run's tables (:mod:`lolip.summary`).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NoReturn

from lolip.cli_inputs import (
    UsageError,
    check_fit,
    is_model_file,
    load_data_arg,
    load_model_arg,
    model_path,
    one_line,
    out_dir,
    parse_device,
    parse_eps,
    parse_threads,
    read_settings,
)

USAGE_ERROR = 2
EVALUATION_FAILED = 1


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``lolip ARGV``; return the exit status."""
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        return args.run(args)
    except UsageError as err:
        print(f"lolip {args.command}: error: {one_line(err)}", file=sys.stderr)
        return USAGE_ERROR


class _Parser(argparse.ArgumentParser):
    """argparse, but its errors on one line, as the commands' own."""

    def error(self, message: str) -> NoReturn:
        self.exit(USAGE_ERROR, f"{self.prog}: error: {message} (see '{self.prog} --help')\n")


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="lolip",
        description="Adversarial Robustness Through Local Lipschitzness (Yang et al., "
        "NeurIPS 2020), rebuilt: the paper's evaluation for any model, and a run's tables.",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    evaluate = commands.add_parser(
        "evaluate",
        help="evaluate a model under the paper's protocol",
        description="Evaluate MODEL on DATA at radius EPS under the paper's protocol "
        "(clean, PGD and the configured attacks, the local Lipschitz estimate, every "
        "soundness check) and write DIR/metrics.json and DIR/examples.csv as the workflow's "
        "evaluation does.",
        epilog="Exit status: 0 written; 1 a soundness check failed (nothing written); 2 bad "
        "input (stopped before any work, naming it).",
    )
    evaluate.add_argument(
        "model",
        metavar="MODEL",
        help="a lolip model file (.safetensors) or path/to/file.py:function",
    )
    evaluate.add_argument(
        "--data",
        required=True,
        metavar="DATA",
        help="a prepared dataset (.h5) or an .npz with x_test, y_test [, x_train, y_train]",
    )
    evaluate.add_argument(
        "--eps", required=True, metavar="EPS", help="l_inf radius in (0, 1] (inputs are in [0, 1])"
    )
    evaluate.add_argument(
        "--out", required=True, metavar="DIR", help="folder for metrics.json and examples.csv"
    )
    evaluate.add_argument(
        "--config",
        metavar="FILE",
        help="YAML with the evaluation settings: its evaluation: section, else the whole file "
        "(default: the paper's protocol)",
    )
    evaluate.add_argument(
        "--device", metavar="DEV", help="torch device (default: $LOLIP_DEVICE, else cuda if any)"
    )
    evaluate.add_argument(
        "--threads", metavar="N", help="torch CPU threads (for the workflow's numbers: its count)"
    )
    evaluate.set_defaults(run=_evaluate)
    summary = commands.add_parser(
        "summary",
        help="print the tables of a results folder",
        description="Print the tables of RESULTS_DIR: its tables/*.csv, or, without any, one "
        "table per (dataset, arch) from its eval/**/metrics.json.",
    )
    summary.add_argument("results", metavar="RESULTS_DIR", help="a run's results folder")
    summary.set_defaults(run=_summary)
    return parser


# --------------------------------------------------------------------------- evaluate


def _evaluate(args: argparse.Namespace) -> int:
    import torch

    from lolip.evaluation.jobs import add_model_metadata, write_evaluation
    from lolip.evaluation.robustness import evaluate_splits
    from lolip.evaluation.verdict import EvaluationError
    from lolip.io import file_sha256
    from lolip.model_file import read_metadata
    from lolip.progress import setup_logging
    from lolip.provenance import provenance

    eps = parse_eps(args.eps)
    if args.threads is not None:
        torch.set_num_threads(parse_threads(args.threads))
    device = parse_device(args.device)
    settings = read_settings(args.config)
    out = out_dir(args.out)
    model = load_model_arg(args.model, device)
    data = load_data_arg(args.data, device)
    check_fit(model, data, settings, args.model)

    setup_logging()
    try:
        metrics, examples = evaluate_splits(model, data, eps, settings)
    except EvaluationError as err:
        print(f"lolip evaluate: {one_line(err)}; nothing written", file=sys.stderr)
        return EVALUATION_FAILED
    run = provenance(device)
    record = {
        "evaluation": run,
        "lipschitz": [run],
        "attacks": {name: [run] for name in settings.attacks},
        "inputs": {
            "model": args.model,
            "model_sha256": file_sha256(model_path(args.model)),
            "data": args.data,
            "data_sha256": file_sha256(args.data),
        },
    }
    if is_model_file(args.model):
        add_model_metadata(metrics, read_metadata(args.model), record)
    else:
        metrics["provenance"] = record
    write_evaluation(metrics, examples, out / "metrics.json", out / "examples.csv")
    print(_report(metrics, out))
    return 0


def _report(metrics: dict[str, Any], out: Path) -> str:
    """What was written, each split's headline numbers, and the checks' verdict."""
    lines = [f"wrote {out / 'metrics.json'} and {out / 'examples.csv'}"]
    for split in ("train", "test"):
        if f"{split}_acc" not in metrics:
            continue
        attacks = [k for k in metrics if k.startswith(f"adv_{split}_acc")]
        adv = "  ".join(f"{k} {metrics[k]:.2f}" for k in attacks)
        lines.append(
            f"{split} ({metrics[f'n_{split}']} points): {split}_acc {metrics[f'{split}_acc']:.2f}"
            f"  {adv}  {split}_lipschitz {metrics[f'{split}_lipschitz']:.4g}"
        )
    checks = metrics["checks"]
    alarms = "; ".join(checks["alarms"]) or "none"
    lines.append(
        f"checks: {'all passed' if checks['all_passed'] else 'FAILED'}; "
        f"gradient-masking alarms: {alarms}"
    )
    return "\n".join(lines)


# --------------------------------------------------------------------------- summary


def _summary(args: argparse.Namespace) -> int:
    from lolip.summary import SummaryError, summary_text

    try:
        print(summary_text(args.results))
    except SummaryError as err:
        raise UsageError(str(err)) from None
    return 0
