"""What each computing rule does (data, training, the eps sweep), as functions the thin
``workflow_scripts/`` call; the tables and figures are :mod:`lolip.presentation`'s.

Each job reads its inputs, calls the library and writes every output atomically, so an
interrupted job leaves nothing under ``results/`` that looks complete.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any

import torch

from lolip import datasets
from lolip.archs import build_arch
from lolip.bounds import to_mapping
from lolip.devices import default_device
from lolip.io import WORKFLOW_CACHE, file_sha256, write_json
from lolip.methods import build_method, describe
from lolip.model_file import save_model
from lolip.precision import set_tf32
from lolip.provenance import provenance

log = logging.getLogger("lolip")


def download_dataset(name: str, spec: dict[str, Any], out: str, resources: str) -> None:
    directory = datasets.download(name, spec, resources)
    files = sorted(p.name for p in Path(directory).iterdir() if p.is_file())
    write_json(out, {"dataset": name, "directory": str(directory), "files": files})


def make_fixture(name: str, spec: dict[str, Any], fixture: dict[str, Any], out: str) -> None:
    """Write dataset ``name``'s fixture into ``out``; its MD5s must be the entry's ``md5``."""
    from lolip.bounds import from_mapping
    from lolip.datasets import fixtures
    from lolip.io import atomic_dir

    made = from_mapping(fixtures.Fixture, fixture, f"fixtures.{name}")
    with atomic_dir(out) as tmp:
        written = fixtures.write_fixture(spec["source"], tmp, made)
        if spec["source"] in ("cifar10", "svhn") and written != fixtures.expected_md5s(spec):
            raise datasets.DatasetError(
                f"dataset {name!r}: its fixture's MD5s {written} are not the entry's md5 "
                f"{spec.get('md5')}: set md5 to these (they depend on the zlib, scipy and "
                "Pillow in use)"
            )
    log.info("fixture of %s written to %s: %s", name, out, written if len(written) < 5 else "...")


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
    training: dict[str, Any],
    checkpoint: str | None,
) -> None:
    """Train one model of the grid and save it with its run's metadata.

    ``training`` holds what the weights depend on and nothing else: ``eps``,
    ``method_spec`` and the training settings (``settings``). With ``checkpoint`` the run
    resumes from it when its fingerprint (:mod:`lolip.training.fingerprint`) matches.
    """
    from lolip.training.fingerprint import run_fingerprint
    from lolip.training.loop import train
    from lolip.training.settings import TrainSettings

    settings = TrainSettings.from_dict(training["settings"])
    set_tf32(settings.tf32)
    device = default_device()
    # Only the training points it uses (and one test point: the file's metadata suffice).
    ds = datasets.read_prepared(data, head={"train": settings.train_subset, "test": 1})
    method_fn = build_method(training["method_spec"])
    arch_kwargs = {
        "in_channels": ds.image_shape[0],
        "n_classes": ds.n_classes,
        "image_size": ds.input_size or ds.image_shape[-1],
    }
    run = {
        "arch": arch,
        "arch_kwargs": arch_kwargs,
        "method": describe(method_fn),
        "settings": to_mapping(settings),
        "eps": training["eps"],
        "seed": seed,
        "data_sha256": file_sha256(data, WORKFLOW_CACHE),
    }
    torch.manual_seed(seed)
    model = build_arch(arch, **arch_kwargs)
    log.info("training %s/%s/%s seed %d on %s: %s", ds.name, arch, method, seed, device, settings)
    tic = time.perf_counter()
    history = train(
        model,
        method_fn,
        ds.split("train", device, crop=False),
        training["eps"],
        settings,
        seed=seed,
        checkpoint=checkpoint,
        fingerprint=run_fingerprint(run),
    )
    metadata = {
        "dataset": ds.name,
        "arch": arch,
        "method": method,
        "seed": seed,
        "eps": training["eps"],
        "method_resolved": run["method"],
        "training": run["settings"],
        "data_sha256": run["data_sha256"],
        "history": history,
        "provenance": provenance(device),
        "timings": {"train_seconds": time.perf_counter() - tic},
    }
    save_model(out, model, arch=arch, arch_kwargs=arch_kwargs, metadata=metadata)


def sweep_eps(
    model_paths: list[str],
    data_paths: list[str],
    out: str,
    *,
    models: list[dict[str, Any]],
    dataset_names: list[str],
    sweep: dict[str, Any],
) -> None:
    """Robust accuracy at each radius of ``sweep`` of every model of one table.

    ``models`` (aligned with ``model_paths``): per model ``model`` (its key), ``dataset``,
    ``arch``, ``method``, ``seed``, ``eps`` and its evaluation's ``pgd`` entry, ``seed_eval``,
    ``batch_size`` and ``tf32``; ``dataset_names`` names the files of ``data_paths``.
    """
    import pandas as pd

    from lolip.bounds import from_mapping
    from lolip.io import atomic_path
    from lolip.model_file import load_model
    from lolip.sweep import COLUMNS, SweepSettings, sweep_model

    settings = from_mapping(SweepSettings, sweep, "sweep")
    device = default_device()
    data = dict(zip(dataset_names, data_paths, strict=True))
    splits: dict[str, Any] = {}
    rows = []
    for path, m in zip(model_paths, models, strict=True):
        if m["dataset"] not in splits:
            head = {"train": 1, "test": settings.subset}
            ds = datasets.read_prepared(data[m["dataset"]], head=head)
            splits[m["dataset"]] = ds.split("test", device)
        split = splits[m["dataset"]]
        set_tf32(m["tf32"])
        tic = time.perf_counter()
        curve = sweep_model(
            load_model(path, device),
            split,
            m["eps"],
            settings.factors,
            m["pgd"],
            seed=m["seed_eval"],
            batch_size=m["batch_size"],
        )
        log.info(
            "%s: robust accuracy %s at eps %s (%d points, %.1fs)",
            m["model"],
            [round(c["robust_acc"], 2) for c in curve],
            [round(c["eps"], 6) for c in curve],
            len(split),
            time.perf_counter() - tic,
        )
        keys = {k: m[k] for k in ("model", "dataset", "arch", "method", "seed")}
        rows += [{**keys, **c, "dataset_eps": m["eps"]} for c in curve]
    with atomic_path(out) as tmp:
        pd.DataFrame(rows, columns=list(COLUMNS)).to_csv(tmp, index=False, float_format="%.6g")
