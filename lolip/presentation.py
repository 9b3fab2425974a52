"""The presentation rules' jobs: the paper's tables and the figures from saved results.

Each reads metrics, separation summaries or sweep curves, never a model or a dataset, and
writes every output atomically (through :mod:`lolip.tables` and :mod:`lolip.figures`);
captions and titles come from :mod:`lolip.captions`.
"""

from __future__ import annotations

from typing import Any

from lolip import captions, tables
from lolip.figures import DPI
from lolip.io import read_json


def _reference_summaries(paths: list[str]) -> dict[str, dict[str, Any]]:
    """Separation summaries by dataset (each carries its ``dataset`` name)."""
    return {s["dataset"]: s for s in map(read_json, paths)}


def make_model_table(
    metrics_paths: list[str],
    separation_paths: list[str],
    outputs: list[str],
    *,
    spec: dict[str, Any],
    reported: str | None,
) -> None:
    """One model table of the paper's layout (``spec``: :meth:`lolip.tables.TableSpec.to_dict`)."""
    layout, metrics = _table_models(spec, metrics_paths)
    df = tables.model_table(
        layout,
        metrics,
        tables.load_reported(reported),
        _reference_summaries(separation_paths),
    )
    tables.write_model_table(df, layout, outputs, caption=captions.model_table(layout))


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
    tables.write_separation_table(df, outputs, caption=captions.SEPARATION_TABLE)


def _table_models(
    spec: dict[str, Any], metrics_paths: list[str]
) -> tuple[tables.TableSpec, list[dict[str, Any]]]:
    """A table's layout and the metrics of its models."""
    return tables.TableSpec.from_dict(spec), [read_json(p) for p in metrics_paths]


def _titles(layout: tables.TableSpec) -> dict[str, str]:
    """Each block's panel title, by block name."""
    return {b.name: b.title for b in layout.blocks}


def make_lipschitz_figure(
    metrics_paths: list[str], out: str | list[str], *, spec: dict[str, Any], dpi: int = DPI
) -> None:
    """Test Lipschitz against adversarial test accuracy of every model of one table."""
    from lolip import figures

    layout, metrics = _table_models(spec, metrics_paths)
    models = tables.model_rows(layout, metrics, ["test_lipschitz", "adv_test_acc"])
    adv_label = f"{tables.column_label('adv_test_acc', layout.attack)} (%)"
    title = captions.lipschitz_figure(layout)
    figures.lipschitz_vs_accuracy(
        models, out, blocks=_titles(layout), title=title, adv_label=adv_label, dpi=dpi
    )


def make_gap_figure(
    metrics_paths: list[str], out: str | list[str], *, spec: dict[str, Any], dpi: int = DPI
) -> None:
    """Train - test gaps (clean and adversarial) per method of one table."""
    from lolip import figures

    layout, metrics = _table_models(spec, metrics_paths)
    df = tables.model_table(layout, metrics, columns=["gap", "adv_gap"])
    title = captions.gap_figure(layout)
    figures.gap_by_method(df, out, blocks=_titles(layout), title=title, dpi=dpi)


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

    layout, metrics = _table_models(spec, metrics_paths)
    history = training_history(layout, metrics)
    title = captions.training_figure(layout)
    figures.training_curves(history, out, blocks=_titles(layout), title=title, dpi=dpi)


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
        blocks=_titles(layout),
        eps=eps,
        title=captions.sweep_figure(layout),
        dpi=dpi,
    )


def make_checks_table(
    metrics_paths: list[str], outputs: list[str], *, spec: dict[str, Any]
) -> None:
    """The soundness checks' verdicts of every model of one table."""
    layout, metrics = _table_models(spec, metrics_paths)
    df = tables.checks_table(layout, metrics)
    tables.write_checks_table(df, layout, outputs, caption=captions.checks_table(layout))


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
    findings.write_findings_table(df, outputs, caption=captions.FINDINGS_TABLE)


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
        title=captions.separation_figure(s["dataset"]),
        random_points=separation.read_points(random_points) if random_points else None,
        dpi=dpi,
    )
