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
import math
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

if TYPE_CHECKING:
    import torch
    from torch import nn

    from lolip.datasets.prepared import Split
    from lolip.evaluation.settings import EvaluationSettings

USAGE_ERROR = 2
EVALUATION_FAILED = 1
MODEL_FILE_SUFFIX = ".safetensors"


class UsageError(Exception):
    """Bad input on the command line: one line, exit status 2."""


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``lolip ARGV``; return the exit status."""
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        return args.run(args)
    except UsageError as err:
        print(f"lolip {args.command}: error: {_one_line(err)}", file=sys.stderr)
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


def _one_line(err: BaseException) -> str:
    return " ".join(str(err).split())


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
    out = _out_dir(args.out)
    model = load_model_arg(args.model, device)
    data = load_data_arg(args.data, device)
    check_fit(model, data, settings, args.model)

    setup_logging()
    try:
        metrics, examples = evaluate_splits(model, data, eps, settings)
    except EvaluationError as err:
        print(f"lolip evaluate: {_one_line(err)}; nothing written", file=sys.stderr)
        return EVALUATION_FAILED
    run = provenance(device)
    record = {
        "evaluation": run,
        "lipschitz": [run],
        "attacks": {name: [run] for name in settings.attacks},
        "inputs": {
            "model": args.model,
            "model_sha256": file_sha256(_model_path(args.model)),
            "data": args.data,
            "data_sha256": file_sha256(args.data),
        },
    }
    if _is_model_file(args.model):
        add_model_metadata(metrics, read_metadata(args.model), record)
    else:
        metrics["provenance"] = record
    write_evaluation(metrics, examples, out / "metrics.json", out / "examples.csv")
    print(_report(metrics, out))
    return 0


def parse_eps(text: str) -> float:
    try:
        eps = float(text)
    except ValueError:
        eps = math.nan
    if not 0 < eps <= 1:
        raise UsageError(f"--eps must be a number in (0, 1] (inputs are in [0, 1]), got {text!r}")
    return eps


def parse_threads(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise UsageError(f"--threads must be an integer >= 1, got {text!r}")
    return int(text)


def parse_device(name: str | None) -> torch.device:
    import torch

    from lolip.devices import default_device

    if name is None:
        return default_device()
    try:
        device = torch.device(name)
        torch.empty(0, device=device)
    except (RuntimeError, AssertionError) as err:
        raise UsageError(f"--device {name!r} is not usable here ({_one_line(err)})") from None
    return device


def read_settings(path: str | None) -> EvaluationSettings:
    """The settings of ``--config``: its ``evaluation:`` section, else the whole file."""
    import yaml

    from lolip.attacks import build_attack
    from lolip.evaluation.settings import EvaluationSettings, attack_settings

    if path is None:
        return EvaluationSettings()
    where = f"config file {path!r}"
    if not Path(path).is_file():
        raise UsageError(f"{where} does not exist")
    try:
        content = yaml.safe_load(Path(path).read_text())
    except (yaml.YAMLError, UnicodeDecodeError) as err:
        raise UsageError(f"{where} is not valid YAML ({_one_line(err)})") from None
    if content is not None and not isinstance(content, dict):
        raise UsageError(f"{where} must hold a mapping, got {type(content).__name__}")
    section = (content or {}).get("evaluation", content)
    if section is not None and not isinstance(section, dict):
        raise UsageError(f"{where}: evaluation must be a mapping, got {section!r}")
    try:
        settings = EvaluationSettings.from_dict(section)
        for name, spec in settings.attacks.items():
            build_attack(attack_settings(spec), f"evaluation.attacks.{name}")
    except (ValueError, TypeError) as err:
        raise UsageError(f"{where}: {_one_line(err)}") from None
    return settings


def _out_dir(path: str) -> Path:
    out = Path(path)
    if out.exists() and not out.is_dir():
        raise UsageError(f"--out {path!r} exists and is not a folder")
    return out


def _is_model_file(spec: str) -> bool:
    return Path(spec).suffix == MODEL_FILE_SUFFIX


def _split_function(spec: str) -> tuple[str, str] | None:
    """``(file, function)`` of ``file.py:function``, else None."""
    file, sep, function = spec.rpartition(":")
    return (file, function) if sep and file.endswith(".py") else None


def _model_path(spec: str) -> str:
    parts = _split_function(spec)
    return parts[0] if parts else spec


def load_model_arg(spec: str, device: torch.device) -> nn.Module:
    """The model of ``MODEL``, in eval mode on ``device``."""
    from torch import nn

    from lolip.model_file import ModelFileError, load_model

    if _is_model_file(spec):
        try:
            return load_model(spec, device)
        except ModelFileError as err:
            raise UsageError(str(err)) from None
    parts = _split_function(spec)
    if parts is None:
        hint = " (a file.py needs its function: file.py:FUNCTION)" if spec.endswith(".py") else ""
        raise UsageError(
            f"unknown model {spec!r}: expected a lolip model file ({MODEL_FILE_SUFFIX}) or "
            f"path/to/file.py:function{hint}"
        )
    file, function = parts
    if not function.isidentifier():
        raise UsageError(f"model {spec!r}: {function!r} is not a function name")
    module = _import_file(file)
    build = getattr(module, function, None)
    if not callable(build):
        defined = sorted(
            n
            for n, v in vars(module).items()
            if callable(v) and getattr(v, "__module__", None) == module.__name__
        )
        raise UsageError(
            f"{file!r} has no function {function!r} (it defines: {', '.join(defined) or 'none'})"
        )
    try:
        model = build()
    except Exception as err:
        raise UsageError(f"{spec}() raised {type(err).__name__}: {err}") from None
    if not isinstance(model, nn.Module):
        raise UsageError(f"{spec}() returned {type(model).__name__}, not a torch.nn.Module")
    return model.to(device).eval()


def _import_file(file: str) -> Any:
    import hashlib
    import importlib.util

    path = Path(file).resolve()
    if not path.is_file():
        raise UsageError(f"model file {file!r} does not exist")
    name = f"lolip_user_model_{hashlib.sha256(str(path).encode()).hexdigest()[:12]}"
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    # As `python file.py` would: its folder on the path (for its own imports), and the
    # module registered (dataclasses and pickling look it up).
    sys.path.insert(0, str(path.parent))
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except Exception as err:
        del sys.modules[name]
        raise UsageError(f"cannot import {file!r}: {type(err).__name__}: {err}") from None
    finally:
        sys.path.remove(str(path.parent))
    return module


def load_data_arg(path: str, device: torch.device) -> dict[str, Split]:
    """The splits of ``DATA`` on ``device``, as stored (uint8 or float32, NCHW)."""
    import numpy as np
    import torch

    from lolip.datasets import npz, read_prepared
    from lolip.datasets.prepared import DatasetError, Split

    suffix = Path(path).suffix
    if suffix not in (".h5", ".npz"):
        raise UsageError(
            f"unknown data file {path!r}: expected a prepared dataset (.h5) or an .npz"
        )
    if not Path(path).is_file():
        raise UsageError(f"data file {path!r} does not exist")
    try:
        if suffix == ".h5":
            ds = read_prepared(path)
            return {s: ds.split(s, device) for s in ("train", "test")}
        arrays, classes = npz.read_splits(Path(path).stem, path, train_optional=True)
    except DatasetError as err:
        raise UsageError(str(err)) from None
    # read_splits maps labels to 0..K-1 in sorted order; a model's labels are its logits'
    # indices, so the original values are put back.
    values = np.asarray([int(c) for c in classes], dtype=np.int64)
    if values.min() < 0:
        raise UsageError(f"data file {path!r}: labels must be class indices >= 0, got {values}")
    return {
        s: Split(
            torch.from_numpy(x).to(device),
            torch.from_numpy(values[y]).to(device),
            255.0 if x.dtype == np.uint8 else 1.0,
        )
        for s, (x, y) in arrays.items()
    }


def check_fit(
    model: nn.Module, data: dict[str, Split], settings: EvaluationSettings, spec: str
) -> None:
    """The subsets fit the splits, and the model maps an input to one logit per label."""
    import torch

    from lolip.evaluation.robustness import select

    try:
        select(data, settings.subsets)
    except ValueError as err:
        raise UsageError(str(err)) from None
    test = data["test"]
    x = test.images(slice(0, 1))
    try:
        with torch.no_grad():
            logits = model(x)
    except Exception as err:
        raise UsageError(
            f"model {spec!r} fails on an input of shape {tuple(x.shape)}: "
            f"{type(err).__name__}: {err}"
        ) from None
    labels = max(int(split.y.max()) + 1 for split in data.values())
    shape = tuple(logits.shape) if isinstance(logits, torch.Tensor) else type(logits).__name__
    if not isinstance(logits, torch.Tensor) or logits.ndim != 2 or logits.shape[1] < labels:
        raise UsageError(
            f"model {spec!r} maps an input of shape {tuple(x.shape)} to {shape}; expected "
            f"logits of shape (1, K) with K >= {labels} (the largest label + 1)"
        )


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
