"""The command line's inputs: ``lolip evaluate``'s MODEL, DATA, settings, eps and device,
each read and checked before any work; bad input raises :class:`UsageError`, one line."""

from __future__ import annotations

import importlib.util
import math
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import torch
    from torch import nn

    from lolip.datasets.prepared import Split
    from lolip.evaluation.settings import EvaluationSettings

MODEL_FILE_SUFFIX = ".safetensors"


class UsageError(Exception):
    """Bad input on the command line: one line, exit status 2."""


def one_line(err: BaseException) -> str:
    return " ".join(str(err).split())


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
        raise UsageError(f"--device {name!r} is not usable here ({one_line(err)})") from None
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
        raise UsageError(f"{where} is not valid YAML ({one_line(err)})") from None
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
        raise UsageError(f"{where}: {one_line(err)}") from None
    return settings


def out_dir(path: str) -> Path:
    out = Path(path)
    if out.exists() and not out.is_dir():
        raise UsageError(f"--out {path!r} exists and is not a folder")
    return out


def is_model_file(spec: str) -> bool:
    return Path(spec).suffix == MODEL_FILE_SUFFIX


def _split_function(spec: str) -> tuple[str, str] | None:
    """``(file, function)`` of ``file.py:function``, else None."""
    file, sep, function = spec.rpartition(":")
    return (file, function) if sep and file.endswith(".py") else None


def model_path(spec: str) -> str:
    parts = _split_function(spec)
    return parts[0] if parts else spec


def load_model_arg(spec: str, device: torch.device) -> nn.Module:
    """The model of ``MODEL``, in eval mode on ``device``."""
    from torch import nn

    from lolip.model_file import ModelFileError, load_model

    if is_model_file(spec):
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
