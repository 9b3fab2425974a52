"""What each workflow rule does, as functions the thin ``workflow_scripts/`` call.

Each job reads its inputs, calls the library and writes every output atomically, so an
interrupted job leaves nothing under ``results/`` that looks complete.
"""

from __future__ import annotations

import logging
import os
import platform
import subprocess
import time
from pathlib import Path
from typing import Any

import torch

import lolip
from lolip import datasets, tables
from lolip.archs import build_arch
from lolip.datasets.prepared import center_crop
from lolip.io import atomic_path, read_json, write_json
from lolip.methods import build_method, describe
from lolip.models import load_model, save_model
from lolip.train import TrainSettings, train

log = logging.getLogger("lolip")


def default_device() -> torch.device:
    """``$LOLIP_DEVICE`` if set, else CUDA when available, else the CPU."""
    name = os.environ.get("LOLIP_DEVICE") or ("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


def git_commit() -> str | None:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            cwd=Path(__file__).parent,
            capture_output=True,
            text=True,
            check=True,
        )
    except (OSError, subprocess.CalledProcessError):
        return None
    return out.stdout.strip()


def provenance(device: torch.device) -> dict[str, Any]:
    """Versions and machine facts recorded in every model and metrics file."""
    return {
        "lolip_version": lolip.__version__,
        "git_commit": git_commit(),
        "torch_version": torch.__version__,
        "python_version": platform.python_version(),
        "device": str(device),
        "device_name": torch.cuda.get_device_name(device) if device.type == "cuda" else None,
        "threads": torch.get_num_threads(),
    }


def prepare_dataset(name: str, spec: dict[str, Any], out: str, resources: str) -> None:
    tic = time.perf_counter()
    datasets.prepare(name, spec, out, resources)
    log.info("prepared %s in %.1fs -> %s", name, time.perf_counter() - tic, out)


def train_model(
    data: str,
    out: str,
    *,
    arch: str,
    method: str,
    seed: int,
    experiment: dict[str, Any],
    checkpoint: str | None,
) -> None:
    """Train one model of the grid and save it with its run's metadata."""
    device = default_device()
    ds = datasets.read_prepared(data)
    x, y = ds.tensors("train", device, crop=False)
    settings = TrainSettings.from_dict(experiment["training"])
    method_fn = build_method(experiment["method_spec"])
    arch_kwargs = {
        "in_channels": ds.image_shape[0],
        "n_classes": ds.n_classes,
        "image_size": ds.input_size or ds.image_shape[-1],
    }
    torch.manual_seed(seed)
    model = build_arch(arch, **arch_kwargs)
    log.info("training %s/%s/%s seed %d on %s: %s", ds.name, arch, method, seed, device, settings)
    tic = time.perf_counter()
    history = train(
        model, method_fn, x, y, experiment["eps"], settings, seed=seed, checkpoint=checkpoint
    )
    metadata = {
        "dataset": ds.name,
        "arch": arch,
        "method": method,
        "seed": seed,
        "eps": experiment["eps"],
        "method_resolved": describe(method_fn),
        "experiment": experiment,
        "history": history,
        "provenance": provenance(device),
        "timings": {"train_seconds": time.perf_counter() - tic},
    }
    save_model(out, model, arch=arch, arch_kwargs=arch_kwargs, metadata=metadata)


def evaluate_model(
    model_path: str, data: str, metrics_out: str, examples_out: str, experiment: dict[str, Any]
) -> None:
    """Clean, adversarial and Lipschitz evaluation of one model; metrics JSON + per-example CSV."""
    from lolip.evaluate import evaluate

    device = default_device()
    ds = datasets.read_prepared(data)
    model = load_model(model_path, device)
    splits = {split: ds.tensors(split, device) for split in ("train", "test")}
    tic = time.perf_counter()
    metrics, examples = evaluate(model, splits, experiment["eps"], experiment["evaluation"])
    meta = model.lolip_metadata
    metrics.update(
        dataset=meta["dataset"],
        arch=meta["arch"],
        method=meta["method"],
        seed=meta["seed"],
        eps=experiment["eps"],
        method_resolved=meta["method_resolved"],
        experiment=experiment,
        provenance=provenance(device),
    )
    metrics.setdefault("seconds", {})
    metrics["seconds"] = {
        **metrics["seconds"],
        "evaluate": time.perf_counter() - tic,
        "train": meta["timings"]["train_seconds"],
    }
    with atomic_path(examples_out) as tmp:
        examples.to_csv(tmp, index=False)
    write_json(metrics_out, metrics)


def compute_separation(
    data: str,
    summary_out: str,
    points_out: str,
    *,
    eps: float,
    drop_smallest: int,
    label_seed: int | None,
    threads: int,
) -> None:
    """Separation of one dataset on the pixels the models see (centre-cropped if stored larger)."""
    import numba

    from lolip import separation

    numba.set_num_threads(min(threads, numba.config.NUMBA_NUM_THREADS))
    ds = datasets.read_prepared(data)
    result = separation.compute_separation(
        center_crop(ds.x_train, ds.input_size),
        ds.y_train,
        center_crop(ds.x_test, ds.input_size),
        ds.y_test,
        pixel_max=ds.pixel_max,
        eps=eps,
        drop_smallest=drop_smallest,
        label_seed=label_seed,
        device=default_device(),
    )
    separation.write_points(result.points, points_out)
    write_json(summary_out, {**result.summary, "dataset": ds.name})


def make_model_table(
    metrics_paths: list[str], outputs: list[str], *, dataset: str, arch: str, reported: str | None
) -> None:
    paper = tables.load_reported(reported)
    df = tables.model_table(
        [read_json(p) for p in metrics_paths], tables.reported_model_rows(paper, dataset, arch)
    )
    csv, md, tex = outputs
    caption = f"{dataset}, {arch}: accuracies in %, test Lipschitz, gaps (train - test)."
    tables.write_table(
        df, csv, md, tex, columns=tables.MODEL_COLUMNS, key="method", caption=caption
    )


def make_separation_table(
    summaries: list[str], outputs: list[str], *, reported: str | None
) -> None:
    df = tables.separation_table([read_json(p) for p in summaries], tables.load_reported(reported))
    csv, md, tex = outputs
    caption = "Table 1: l_inf separation (inputs in [0, 1]); 1-NN rule clean / certified acc (%)."
    columns = ["eps", "train_train", "test_train", "nn_clean_acc", "nn_certified_acc"]
    tables.write_table(df, csv, md, tex, columns=columns, key="dataset", caption=caption, digits=3)
