"""What each workflow rule does, as functions the thin ``workflow_scripts/`` call.

Each job reads its inputs, calls the library and writes every output atomically, so an
interrupted job leaves nothing under ``results/`` that looks complete.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any

import torch

from lolip import datasets, tables
from lolip.archs import build_arch
from lolip.bounds import to_mapping
from lolip.devices import default_device
from lolip.figures import DPI
from lolip.io import WORKFLOW_CACHE, file_sha256, read_json, write_json
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


def _reference_summaries(paths: list[str]) -> dict[str, dict[str, Any]]:
    """Separation summaries by dataset (each carries its ``dataset`` name)."""
    return {s["dataset"]: s for s in map(read_json, paths)}


def _model_caption(spec: tables.TableSpec) -> str:
    attack = "PGD" if spec.attack == tables.DEFAULT_ATTACK else spec.attack
    text = spec.caption or f"{spec.name}: accuracies in %, test Lipschitz, gaps (train - test)."
    return (
        f"{text} Adversarial columns without a named attack: {attack}. Row "
        f"'{tables.NN_ROW}': the nearest-neighbour classifier of the existence theorem; "
        "its adversarial test accuracy is certified at radius eps (a lower bound against any "
        "attack) and its Lipschitz constant is the exact 1/r (r = half the train-train "
        "separation)."
    )


def make_model_table(
    metrics_paths: list[str],
    separation_paths: list[str],
    outputs: list[str],
    *,
    spec: dict[str, Any],
    reported: str | None,
) -> None:
    """One model table of the paper's layout (``spec``: :meth:`lolip.tables.TableSpec.to_dict`)."""
    layout = tables.TableSpec.from_dict(spec)
    df = tables.model_table(
        layout,
        [read_json(p) for p in metrics_paths],
        tables.load_reported(reported),
        _reference_summaries(separation_paths),
    )
    tables.write_model_table(df, layout, outputs, caption=_model_caption(layout))


def make_separation_table(
    summaries: list[str],
    random_summaries: list[str] | None,
    outputs: list[str],
    *,
    reported: str | None,
) -> None:
    """Table 1; with ``random_summaries`` the random-label control's columns beside it."""
    df = tables.separation_table(
        [read_json(p) for p in summaries],
        tables.load_reported(reported),
        [read_json(p) for p in random_summaries] if random_summaries else None,
    )
    caption = (
        "Table 1: l_inf separation (inputs in [0, 1]): the minimum over training (train-train) "
        "and test (test-train) points of the distance to the nearest training point of "
        "another class; 'none dropped' before dropping near-duplicates (paper: SVHN 4, "
        "Restricted ImageNet 6). 1-NN: the theorem's nearest-neighbour classifier, clean and "
        "certified-at-eps test accuracy (%). Random labels: the same minima with the training "
        "labels permuted."
    )
    tables.write_separation_table(df, outputs, caption=caption)


def make_lipschitz_figure(
    metrics_paths: list[str], out: str | list[str], *, spec: dict[str, Any], dpi: int = DPI
) -> None:
    """Test Lipschitz against adversarial test accuracy of every model of one table."""
    from lolip import figures

    layout = tables.TableSpec.from_dict(spec)
    models = tables.model_rows(
        layout, [read_json(p) for p in metrics_paths], ["test_lipschitz", "adv_test_acc"]
    )
    figures.lipschitz_vs_accuracy(
        models,
        out,
        blocks={b.name: b.title for b in layout.blocks},
        title=f"{layout.name}: test Lipschitz vs adversarial test accuracy",
        adv_label=f"{tables.column_label('adv_test_acc', layout.attack)} (%)",
        dpi=dpi,
    )


def make_gap_figure(
    metrics_paths: list[str], out: str | list[str], *, spec: dict[str, Any], dpi: int = DPI
) -> None:
    """Train - test gaps (clean and adversarial) per method of one table."""
    from lolip import figures

    layout = tables.TableSpec.from_dict(spec)
    df = tables.model_table(
        layout, [read_json(p) for p in metrics_paths], columns=["gap", "adv_gap"]
    )
    figures.gap_by_method(
        df,
        out,
        blocks={b.name: b.title for b in layout.blocks},
        title=f"{layout.name}: generalisation gaps per method (adversarial: {layout.attack})",
        dpi=dpi,
    )


def training_history(spec: tables.TableSpec, metrics: list[dict[str, Any]]) -> Any:
    """One row per (model, epoch) of the table: block, row, seed and the history's keys."""
    import pandas as pd

    rows = tables.model_rows(spec, metrics, [])
    parts = [
        pd.DataFrame(m.get("history", [])).assign(block=r["block"], row=r["row"], seed=r["seed"])
        for m, (_, r) in zip(metrics, rows.iterrows(), strict=True)
    ]
    columns = ["block", "row", "seed", "epoch", "loss"]
    parts = [p for p in parts if len(p)]
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=columns)


def make_training_figure(
    metrics_paths: list[str], out: str | list[str], *, spec: dict[str, Any], dpi: int = DPI
) -> None:
    """Training loss per epoch of every model of one table (the metrics' ``history``)."""
    from lolip import figures

    layout = tables.TableSpec.from_dict(spec)
    history = training_history(layout, [read_json(p) for p in metrics_paths])
    figures.training_curves(
        history,
        out,
        blocks={b.name: b.title for b in layout.blocks},
        title=f"{layout.name}: training loss per epoch",
        dpi=dpi,
    )


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


def make_sweep_figure(
    sweep_csv: str, out: str | list[str], *, spec: dict[str, Any], dpi: int = DPI
) -> None:
    """Robust accuracy against the radius of every model of one table (rule sweep_eps)."""
    import pandas as pd

    from lolip import figures

    layout = tables.TableSpec.from_dict(spec)
    curves = pd.read_csv(sweep_csv, dtype={"method": str, "dataset": str, "arch": str})
    blocks = [layout.block_of(d, a) for d, a in zip(curves["dataset"], curves["arch"], strict=True)]
    curves["block"] = [b.name if b else None for b in blocks]
    curves["row"] = [
        b.row_of(a, m) if b else None
        for b, a, m in zip(blocks, curves["arch"], curves["method"], strict=True)
    ]
    curves = curves.dropna(subset=["block", "row"])
    eps = dict(zip(curves["block"], curves["dataset_eps"], strict=True))
    figures.eps_sweep(
        curves,
        out,
        blocks={b.name: b.title for b in layout.blocks},
        eps=eps,
        title=f"{layout.name}: robust accuracy against the radius",
        dpi=dpi,
    )


def make_checks_table(
    metrics_paths: list[str], outputs: list[str], *, spec: dict[str, Any]
) -> None:
    """The soundness checks' verdicts of every model of one table."""
    layout = tables.TableSpec.from_dict(spec)
    df = tables.checks_table(layout, [read_json(p) for p in metrics_paths])
    caption = f"{layout.name}: soundness checks and gradient-masking alarms of each model."
    tables.write_checks_table(df, layout, outputs, caption=caption)


def make_findings_table(
    metrics_paths: list[str],
    outputs: list[str],
    *,
    specs: dict[str, dict[str, Any]],
    reported: str | None,
    losses: dict[str, str],
) -> None:
    """The paper's findings on every model table of the run (:mod:`lolip.findings`)."""
    from lolip import findings

    df = findings.findings_table(
        [tables.TableSpec.from_dict(s) for s in specs.values()],
        [read_json(p) for p in metrics_paths],
        tables.load_reported(reported),
        losses=losses,
    )
    caption = "The paper's findings, tested on this run's model tables and on the paper's values."
    findings.write_findings_table(df, outputs, caption=caption)


def make_separation_figure(
    summary: str,
    points: str,
    out: str | list[str],
    *,
    random_points: str | None = None,
    dpi: int = DPI,
) -> None:
    """Histograms of one dataset's per-point separation, random-label control overlaid."""
    from lolip import figures, separation

    s = read_json(summary)
    figures.separation_histogram(
        separation.read_points(points),
        s["eps"],
        out,
        title=f"{s['dataset']}: l∞ distance to the nearest training point of another class",
        random_points=separation.read_points(random_points) if random_points else None,
        dpi=dpi,
    )
