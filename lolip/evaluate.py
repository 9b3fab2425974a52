"""Evaluation of a trained model: the paper's table columns, per-example results, checks.

:func:`evaluate` runs, on every split (``train``, ``test``), clean accuracy, every configured
attack (``pgd`` gives the paper's adversarial columns; any other entry its own column) and
the local Lipschitz estimate (:mod:`lolip.lipschitz`), all with the model in eval mode
(and channels-last, :mod:`lolip.layout`; the values do not depend on the layout).

Adversarial accuracy counts a point as correct if it is classified correctly *and* no
iterate of the attack was misclassified (the clean point lies in its own eps-ball).

Metrics (accuracies in percent, ``{split}`` each evaluated split):

- ``{split}_acc``, ``adv_{split}_acc`` (attack ``pgd``), ``adv_{split}_acc_{name}`` (every
  other attack), ``{split}_lipschitz`` (mean estimate), ``n_{split}`` (points evaluated);
- ``gap = train_acc - test_acc`` and ``adv_gap = adv_train_acc - adv_test_acc``;
- ``{name}_target_success`` for multi-targeted attacks: per split, ``success[t]`` the number
  of points broken by the run towards class ``t`` and ``attempted[t]`` the number of points
  whose label is not ``t``;
- ``eps``, ``settings`` (the merged settings), ``checks`` (soundness checks, below) and
  ``seconds`` (wall-clock timings).

Per-example table (one row per evaluated point, saved as CSV):

=====================  ======  ========================================================
column                 type    meaning
=====================  ======  ========================================================
split                  str     split name
index                  int     position of the point in the split as given
label                  int     true label y
clean_pred             int     argmax f(x)
clean_correct          bool    clean_pred == label
broken_{name}          bool    some iterate of attack ``name`` was misclassified
{name}_target_{t}      bool    multi-targeted attacks: the run towards class t broke it
lipschitz              float   max ||f(x) - f(x')||_1 / ||x - x'||_inf found
=====================  ======  ========================================================

Soundness checks run on every evaluation and raise :class:`EvaluationError` when violated;
the cheap ones run first, on the first ``check_size`` points of each split:

- ``batch_size_invariance``: logits with two batch sizes agree (catches dropout or batch
  statistics active at evaluation);
- ``input_gradient_nonzero``: most points have a non-zero input gradient of CE (catches
  detached or piecewise-constant models on which gradient attacks do nothing);
- ``eps_zero``: attack ``pgd`` at eps = 0 breaks exactly the misclassified points;
- ``more_steps``: ``pgd`` with twice the steps is not weaker beyond two standard errors;

and after the full run, on every point:

- ``in_ball``: every attack's inputs lie in the eps-ball (its norm) and in [0, 1];
- ``adv_not_above_clean``: the fraction of points an attack did not break is at most
  the clean accuracy.
"""

from __future__ import annotations

import copy
import logging
import math
import re
import time
import zlib
from typing import Any

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from torch import nn

from lolip.attacks import Attack, build_attack, check_count, check_nonnegative, eval_frozen
from lolip.layout import channels_last
from lolip.lipschitz import check_settings as check_lipschitz_settings
from lolip.lipschitz import local_lipschitz
from lolip.progress import progress

log = logging.getLogger("lolip")

DEFAULT_SETTINGS: dict[str, Any] = {
    "batch_size": 500,
    "subsets": {"train": None, "test": None},
    "attacks": {
        "pgd": {"type": "pgd", "norm": "linf", "steps": 10, "step_size": 0.2, "restarts": 1},
    },
    "lipschitz": {"steps": 10, "step_size": 0.003, "restarts": 1, "init_std": 0.001},
    "check_size": 200,
    "seed": 0,
}

# Slack for float32 rounding in x + delta and in the recomputed distance.
BALL_TOLERANCE = 1e-5
# Minimum fraction of sample points with a non-zero input gradient.
MIN_NONZERO_GRADIENT = 0.5
# Batch size of the second pass in the batch-size check: small and odd, unlike real batches.
SMALL_BATCH = 7

_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")


class EvaluationError(RuntimeError):
    """A soundness check failed; ``checks`` holds every check's record so far."""

    def __init__(self, message: str, checks: dict[str, Any]) -> None:
        super().__init__(message)
        self.checks = checks


def check_settings(settings: dict[str, Any] | None) -> dict[str, Any]:
    """Merge ``settings`` over :data:`DEFAULT_SETTINGS`, check them, fill attack defaults.

    Raises ValueError naming the bad key and value.
    """
    settings = {} if settings is None else settings
    if not isinstance(settings, dict):
        raise ValueError(f"evaluation settings must be a mapping, got {settings!r}")
    unknown = sorted(set(settings) - set(DEFAULT_SETTINGS))
    if unknown:
        raise ValueError(
            f"unknown evaluation setting {', '.join(map(repr, unknown))} "
            f"(known: {', '.join(DEFAULT_SETTINGS)})"
        )
    merged = copy.deepcopy(DEFAULT_SETTINGS)
    for key in ("batch_size", "check_size", "seed"):
        if key in settings:
            merged[key] = settings[key]
    _wrap("batch_size", check_count, "batch_size", merged["batch_size"], 1)
    _wrap("check_size", check_count, "check_size", merged["check_size"], 1)
    _wrap("seed", check_count, "seed", merged["seed"], 0)

    merged["subsets"].update(_mapping("subsets", settings.get("subsets", {})))
    for split, n in merged["subsets"].items():
        if n is not None:
            _wrap(f"subsets.{split}", check_count, f"subsets.{split}", n, 1)

    for name, spec in _mapping("attacks", settings.get("attacks", {})).items():
        if not isinstance(name, str) or not _NAME.match(name):
            raise ValueError(
                f"evaluation setting attacks: bad attack name {name!r} (expected a letter, "
                "then letters, digits or underscores)"
            )
        spec = {**merged["attacks"].get(name, {}), **_mapping(f"attacks.{name}", spec)}
        merged["attacks"][name] = _wrap(f"attacks.{name}", build_attack, spec).spec()
    if merged["attacks"]["pgd"]["type"] != "pgd":
        raise ValueError(
            f"evaluation setting attacks.pgd must have type 'pgd' (it fills the paper's "
            f"adversarial columns), got {merged['attacks']['pgd']['type']!r}"
        )

    lipschitz = _mapping("lipschitz", settings.get("lipschitz", {}))
    unknown = sorted(set(lipschitz) - set(merged["lipschitz"]))
    if unknown:
        raise ValueError(
            f"unknown evaluation setting lipschitz.{unknown[0]} "
            f"(known: {', '.join(merged['lipschitz'])})"
        )
    merged["lipschitz"].update(lipschitz)
    _wrap("lipschitz", check_lipschitz_settings, **merged["lipschitz"])
    return merged


def _mapping(key: str, value: Any) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise ValueError(f"evaluation setting {key} must be a mapping, got {value!r}")
    return value


def _wrap(key: str, fn: Any, *args: Any, **kwargs: Any) -> Any:
    """Call a checker, prefixing its error with the setting's path."""
    try:
        return fn(*args, **kwargs)
    except ValueError as err:
        raise ValueError(f"evaluation setting {key}: {err}") from err


def evaluate(
    model: nn.Module,
    splits: dict[str, tuple[torch.Tensor, torch.Tensor]],
    eps: float,
    settings: dict[str, Any] | None = None,
) -> tuple[dict[str, Any], pd.DataFrame]:
    """Evaluate ``model`` on every split; return the metrics and the per-example table.

    ``splits`` maps split names to ``(x, y)``: float inputs in [0, 1] and long labels, on
    the device to use. ``settings`` is the workflow config's ``evaluation:`` section
    (see :data:`DEFAULT_SETTINGS`). Raises :class:`EvaluationError` if a check fails.
    """
    settings = check_settings(settings)
    check_nonnegative("eps", eps)
    data = _select(splits, settings["subsets"])
    attacks = {name: build_attack(spec) for name, spec in settings["attacks"].items()}
    started = time.perf_counter()
    checks: dict[str, Any] = {}
    seconds: dict[str, Any] = {}
    frames, metrics = [], {"eps": eps}
    with eval_frozen(model), channels_last(model):
        for split, (x, y) in data.items():
            m = min(settings["check_size"], len(y))
            _sample_checks(model, split, x[:m], y[:m], eps, attacks["pgd"], settings, checks)
        seconds["checks"] = time.perf_counter() - started
        _raise_failures(checks)

        for split, (x, y) in data.items():
            frame, extra, seconds[split] = _evaluate_split(
                model, split, x, y, eps, attacks, settings, checks
            )
            frames.append(frame)
            metrics.update(_split_metrics(split, frame, attacks))
            for name, counts in extra.items():
                metrics.setdefault(f"{name}_target_success", {})[split] = counts
            log.info(
                "%s: acc %.2f%%, adv acc %.2f%%, lipschitz %.4g (n=%d)",
                split,
                metrics[f"{split}_acc"],
                metrics[f"adv_{split}_acc"],
                metrics[f"{split}_lipschitz"],
                len(frame),
            )
    if "train" in data and "test" in data:
        metrics["gap"] = metrics["train_acc"] - metrics["test_acc"]
        metrics["adv_gap"] = metrics["adv_train_acc"] - metrics["adv_test_acc"]
    _raise_failures(checks)
    checks["all_passed"] = True
    seconds["total"] = time.perf_counter() - started
    metrics.update(settings=settings, checks=checks, seconds=seconds)
    return metrics, pd.concat(frames, ignore_index=True)


def _select(
    splits: dict[str, tuple[torch.Tensor, torch.Tensor]], subsets: dict[str, int | None]
) -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
    """The first ``subsets[split]`` points of each split (all if null)."""
    if not splits:
        raise ValueError("evaluate needs at least one split, got none")
    for split, n in subsets.items():
        if n is not None and split not in splits:
            raise ValueError(
                f"evaluation setting subsets.{split} = {n}, but there is no split {split!r} "
                f"(splits: {', '.join(splits)})"
            )
    data = {}
    for split, (x, y) in splits.items():
        if not _NAME.match(split):
            raise ValueError(f"bad split name {split!r} (expected letters, digits, underscores)")
        if len(x) != len(y) or len(y) == 0:
            raise ValueError(f"split {split!r}: {len(x)} inputs and {len(y)} labels")
        n = subsets.get(split)
        if n is not None and n > len(y):
            raise ValueError(
                f"evaluation setting subsets.{split} = {n}, but split {split!r} has only "
                f"{len(y)} points"
            )
        data[split] = (x[:n], y[:n]) if n is not None else (x, y)
    return data


def _generator(device: torch.device, seed: int, *path: str) -> torch.Generator:
    """A generator for one (split, purpose), so adding an attack changes no other column."""
    offset = zlib.crc32("/".join(path).encode())
    return torch.Generator(device=device).manual_seed((seed * 1_000_003 + offset) % 2**63)


def _evaluate_split(
    model: nn.Module,
    split: str,
    x: torch.Tensor,
    y: torch.Tensor,
    eps: float,
    attacks: dict[str, Attack],
    settings: dict[str, Any],
    checks: dict[str, Any],
) -> tuple[pd.DataFrame, dict[str, Any], dict[str, Any]]:
    """Clean predictions, every attack and the Lipschitz estimate on one split, in batches."""
    seed, batch_size = settings["seed"], settings["batch_size"]
    generators = {name: _generator(x.device, seed, split, name) for name in attacks}
    lip_generator = _generator(x.device, seed, split, "lipschitz")
    seconds: dict[str, Any] = {
        "clean": 0.0,
        "lipschitz": 0.0,
        "attacks": dict.fromkeys(attacks, 0.0),
    }
    preds, lips = [], []
    broken: dict[str, list[torch.Tensor]] = {name: [] for name in attacks}
    success: dict[str, list[torch.Tensor]] = {}
    ball = {name: _BallStats() for name in attacks}

    starts = range(0, len(y), batch_size)
    for start in progress(starts, desc=f"evaluate {split}", total=len(starts), unit="batch"):
        xb, yb = x[start : start + batch_size], y[start : start + batch_size]
        tic = time.perf_counter()
        with torch.no_grad():
            logits = model(xb)
        preds.append(logits.argmax(1))
        seconds["clean"] += time.perf_counter() - tic
        for name, attack in attacks.items():
            tic = time.perf_counter()
            result = attack(model, xb, yb, eps, generators[name])
            seconds["attacks"][name] += time.perf_counter() - tic
            broken[name].append(result.broken)
            ball[name].update(xb, result.x_adv, attack.settings.get("norm", "linf"))
            if result.target_success is not None:
                success.setdefault(name, []).append(result.target_success)
        tic = time.perf_counter()
        lips.append(
            local_lipschitz(
                model,
                xb,
                eps,
                generator=lip_generator,
                clean_logits=logits,
                **settings["lipschitz"],
            )
        )
        seconds["lipschitz"] += time.perf_counter() - tic

    labels = y.cpu().numpy()
    clean_pred = torch.cat(preds).cpu().numpy()
    columns: dict[str, Any] = {
        "split": split,
        "index": np.arange(len(labels)),
        "label": labels,
        "clean_pred": clean_pred,
        "clean_correct": clean_pred == labels,
    }
    for name in attacks:
        columns[f"broken_{name}"] = torch.cat(broken[name]).cpu().numpy()
    target_counts = {}
    for name, parts in success.items():
        table = torch.cat(parts).cpu().numpy()
        for t in range(table.shape[1]):
            columns[f"{name}_target_{t}"] = table[:, t]
        attempted = [int((labels != t).sum()) for t in range(table.shape[1])]
        target_counts[name] = {"success": table.sum(0).tolist(), "attempted": attempted}
    columns["lipschitz"] = torch.cat(lips).double().cpu().numpy()
    frame = pd.DataFrame(columns)

    clean_acc = 100 * float(frame["clean_correct"].mean())
    for name, attack in attacks.items():
        checks.setdefault("in_ball", {}).setdefault(split, {})[name] = ball[name].record(
            eps, attack.settings.get("norm", "linf")
        )
        attack_acc = 100 * float((~frame[f"broken_{name}"]).mean())
        checks.setdefault("adv_not_above_clean", {}).setdefault(split, {})[name] = {
            "passed": attack_acc <= clean_acc,
            "clean_acc": clean_acc,
            "attack_acc": attack_acc,
        }
    return frame, target_counts, seconds


class _BallStats:
    """Running maximum distance to x and value range of an attack's inputs."""

    def __init__(self) -> None:
        self.max_distance, self.min_value, self.max_value = 0.0, math.inf, -math.inf

    def update(self, x: torch.Tensor, x_adv: torch.Tensor, norm: str) -> None:
        diff = (x_adv - x).flatten(1)
        distance = diff.abs().amax(1) if norm == "linf" else diff.norm(dim=1)
        self.max_distance = max(self.max_distance, float(distance.max()))
        self.min_value = min(self.min_value, float(x_adv.min()))
        self.max_value = max(self.max_value, float(x_adv.max()))

    def record(self, eps: float, norm: str) -> dict[str, Any]:
        tolerance = BALL_TOLERANCE * (1 + eps)
        passed = (
            self.max_distance <= eps + tolerance and self.min_value >= 0 and self.max_value <= 1
        )
        return {
            "passed": passed,
            "norm": norm,
            "eps": eps,
            "max_distance": self.max_distance,
            "min_value": self.min_value,
            "max_value": self.max_value,
        }


def _split_metrics(split: str, frame: pd.DataFrame, attacks: dict[str, Attack]) -> dict:
    correct = frame["clean_correct"].to_numpy()
    metrics = {
        f"n_{split}": len(frame),
        f"{split}_acc": 100 * float(correct.mean()),
        f"{split}_lipschitz": float(frame["lipschitz"].mean()),
    }
    for name in attacks:
        robust = correct & ~frame[f"broken_{name}"].to_numpy()
        key = f"adv_{split}_acc" if name == "pgd" else f"adv_{split}_acc_{name}"
        metrics[key] = 100 * float(robust.mean())
    return metrics


def _sample_checks(
    model: nn.Module,
    split: str,
    x: torch.Tensor,
    y: torch.Tensor,
    eps: float,
    pgd: Attack,
    settings: dict[str, Any],
    checks: dict[str, Any],
) -> None:
    """The cheap checks on a sample of one split; records land in ``checks``."""
    n, seed = len(y), settings["seed"]
    with torch.no_grad():
        logits = model(x)
        small = torch.cat([model(chunk) for chunk in x.split(SMALL_BATCH)])
    difference = float((logits - small).abs().max())
    tolerance = 1e-4 * (1 + float(logits.abs().max()))
    checks.setdefault("batch_size_invariance", {})[split] = {
        "passed": difference <= tolerance,
        "batch_sizes": [n, SMALL_BATCH],
        "max_abs_difference": difference,
        "tolerance": tolerance,
        "n": n,
    }

    x_grad = x.clone().requires_grad_(True)
    (grad,) = torch.autograd.grad(F.cross_entropy(model(x_grad), y, reduction="sum"), x_grad)
    nonzero = int((grad.flatten(1).abs().amax(1) > 0).sum()) / n
    checks.setdefault("input_gradient_nonzero", {})[split] = {
        "passed": nonzero >= MIN_NONZERO_GRADIENT,
        "fraction_nonzero": nonzero,
        "minimum_fraction": MIN_NONZERO_GRADIENT,
        "mean_abs_gradient": float(grad.abs().mean()),
        "n": n,
    }

    clean_wrong = logits.argmax(1) != y
    at_zero = pgd(model, x, y, 0.0, _generator(x.device, seed, split, "check_eps_zero"))
    checks.setdefault("eps_zero", {})[split] = {
        "passed": bool(torch.equal(at_zero.broken, clean_wrong)),
        "clean_acc": 100 * int((~clean_wrong).sum()) / n,
        "attack_acc": 100 * int((~at_zero.broken).sum()) / n,
        "mismatches": int((at_zero.broken != clean_wrong).sum()),
        "n": n,
    }

    steps = pgd.settings["steps"]
    longer = Attack("pgd", {**pgd.settings, "steps": 2 * steps})
    base = pgd(model, x, y, eps, _generator(x.device, seed, split, "check_steps"))
    more = longer(model, x, y, eps, _generator(x.device, seed, split, "check_more_steps"))
    acc, acc_more = (int((~r.broken).sum()) / n for r in (base, more))
    # Two standard errors of the base accuracy, and at least one point, of slack.
    slack = 2 * math.sqrt(acc * (1 - acc) / n) + 1 / n
    checks.setdefault("more_steps", {})[split] = {
        "passed": acc_more <= acc + slack,
        "steps": [steps, 2 * steps],
        "attack_acc": [100 * acc, 100 * acc_more],
        "tolerance": 100 * slack,
        "n": n,
    }


def _raise_failures(checks: dict[str, Any]) -> None:
    failures = [
        f"{name} on {where}: {_numbers(record)}"
        for name, per_split in checks.items()
        if isinstance(per_split, dict)
        for where, record in _records(per_split)
        if not record["passed"]
    ]
    if failures:
        checks["all_passed"] = False
        raise EvaluationError("soundness check failed: " + "; ".join(failures), checks)


def _records(per_split: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """Flatten ``{split: record}`` and ``{split: {attack: record}}`` to (where, record)."""
    flat = []
    for split, entry in per_split.items():
        if "passed" in entry:
            flat.append((split, entry))
        else:
            flat.extend((f"{split}/{attack}", record) for attack, record in entry.items())
    return flat


def _numbers(record: dict[str, Any]) -> str:
    return ", ".join(f"{key}={value}" for key, value in record.items() if key != "passed")
