"""lolip.figures (the table figures) and the figure jobs of lolip.presentation."""

from __future__ import annotations

import base64
import re
from pathlib import Path
from xml.etree import ElementTree

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from lolip import figures, presentation, tables
from lolip.io import write_json
from lolip.separation import compute_separation, write_points
from lolip.tables import Block, TableSpec
from tests.helpers.workflow import PRESENTATION

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
# The figures of the default grid (one table, one dataset).
FIGURES = [
    f"digits_DigitsCNN_{kind}" for kind in ("lipschitz_vs_adv", "gap", "training", "eps_sweep")
] + ["separation_digits"]
SPEC = TableSpec(
    "t",
    (Block("a", "mnist", "CNN001"), Block("b", "svhn", "WRN_40_10", "WRN_40_10_drop50")),
)


def assert_png(path: Path) -> None:
    assert path.read_bytes()[:8] == PNG_MAGIC
    with Image.open(path) as image:
        image.verify()
    with Image.open(path) as image:
        assert image.size[0] > 200 and image.size[1] > 200


def assert_svg(path: Path) -> None:
    """A well-formed SVG document with drawing in it, and no date (reproducible bytes)."""
    root = ElementTree.parse(path).getroot()
    assert root.tag == "{http://www.w3.org/2000/svg}svg"
    assert len(list(root.iter("{http://www.w3.org/2000/svg}path"))) > 10
    assert b"<dc:date>" not in path.read_bytes()


def write_metrics(tmp_path: Path) -> tuple[list[str], list[dict]]:
    rng = np.random.default_rng(0)
    models = [("mnist", "CNN001", m, s) for m in ("natural", "at", "trades6") for s in (0, 1)]
    models += [("svhn", a, m, 0) for a in ("WRN_40_10", "WRN_40_10_drop50") for m in ("at", "rst2")]
    paths, metrics = [], []
    for dataset, arch, method, seed in models:
        m = {"dataset": dataset, "arch": arch, "method": method, "seed": seed}
        m |= {k: float(rng.uniform(50, 100)) for k in ("train_acc", "test_acc", "adv_train_acc")}
        m["adv_test_acc"] = float(rng.uniform(0, 50))
        m["test_lipschitz"] = float(rng.uniform(1, 500))
        m["gap"] = m["train_acc"] - m["test_acc"]
        m["adv_gap"] = m["adv_train_acc"] - m["adv_test_acc"]
        path = tmp_path / f"{dataset}_{arch}_{method}_{seed}.json"
        write_json(path, m)
        paths.append(str(path))
        metrics.append(m)
    return paths, metrics


def test_lipschitz_scatter_plots_every_models_metrics(tmp_path):
    paths, metrics = write_metrics(tmp_path)
    models = tables.model_rows(SPEC, metrics, ["test_lipschitz", "adv_test_acc"])
    out = tmp_path / "scatter.png"
    drawn = figures.lipschitz_vs_accuracy(
        models, out, blocks={"a": "A", "b": "B"}, title="correlation"
    )
    assert_png(out)
    assert len(drawn) == len(metrics)
    expected = pd.DataFrame(
        {
            "block": ["a" if m["dataset"] == "mnist" else "b" for m in metrics],
            "row": [m["method"] + ("+drop" if "drop" in m["arch"] else "") for m in metrics],
            "test_lipschitz": [m["test_lipschitz"] for m in metrics],
            "adv_test_acc": [m["adv_test_acc"] for m in metrics],
        }
    )
    key = ["block", "row", "test_lipschitz"]
    pd.testing.assert_frame_equal(
        drawn.sort_values(key).reset_index(drop=True),
        expected.sort_values(key).reset_index(drop=True),
    )


def test_lipschitz_figure_job_uses_the_tables_attack(tmp_path):
    paths, metrics = write_metrics(tmp_path)
    spec = TableSpec("t", SPEC.blocks, attack="multitarget")
    for p, m in zip(paths, metrics, strict=True):
        write_json(p, m | {"adv_test_acc_multitarget": m["adv_test_acc"] / 2})
    out = tmp_path / "mt.png"
    presentation.make_lipschitz_figure(paths, str(out), spec=spec.to_dict())
    assert_png(out)
    models = tables.model_rows(spec, [m | {"adv_test_acc_multitarget": 1.0} for m in metrics])
    assert (models["adv_test_acc"] == 1.0).all()


def test_models_missing_a_value_are_left_out_of_the_scatter(tmp_path):
    models = pd.DataFrame(
        {
            "block": ["a", "a", "a"],
            "row": ["x", "y", "z"],
            "test_lipschitz": [1.0, np.nan, 3.0],
            "adv_test_acc": [10.0, 20.0, np.nan],
        }
    )
    drawn = figures.lipschitz_vs_accuracy(
        models, tmp_path / "s.png", blocks={"a": "A", "empty": "E"}, title="t"
    )
    assert drawn["row"].tolist() == ["x"]
    assert_png(tmp_path / "s.png")


def test_gap_bars_are_the_tables_means_over_seeds(tmp_path):
    paths, metrics = write_metrics(tmp_path)
    out = tmp_path / "gap.png"
    table = tables.model_table(SPEC, metrics, columns=["gap", "adv_gap"])
    drawn = figures.gap_by_method(table, out, blocks={"a": "A", "b": "B"}, title="gaps")
    assert_png(out)
    ours = pd.DataFrame(metrics).assign(
        block=lambda d: np.where(d["dataset"] == "mnist", "a", "b"),
        row=lambda d: d["method"] + np.where(d["arch"].str.contains("drop"), "+drop", ""),
    )
    means = ours.groupby(["block", "row"])[["gap", "adv_gap"]].mean()
    assert sorted(zip(drawn["block"], drawn["row"], strict=True)) == sorted(means.index)
    for _, r in drawn.iterrows():
        assert r["gap"] == pytest.approx(means.loc[(r["block"], r["row"]), "gap"])
        assert r["adv_gap"] == pytest.approx(means.loc[(r["block"], r["row"]), "adv_gap"])
    presentation.make_gap_figure(paths, str(tmp_path / "job.png"), spec=SPEC.to_dict())
    assert_png(tmp_path / "job.png")


def test_spearman_matches_the_no_ties_formula():
    rng = np.random.default_rng(1)
    x, y = rng.permutation(12).astype(float), rng.permutation(12).astype(float)
    n = len(x)
    d = x - y  # permutations of 0..n-1 are their own ranks minus one
    assert figures.spearman(x, y) == pytest.approx(1 - 6 * np.sum(d**2) / (n * (n**2 - 1)))
    assert figures.spearman(x, -x) == pytest.approx(-1.0)
    assert np.isnan(figures.spearman(x[:2], y[:2]))


def test_separation_figure_job_overlays_random_labels(tmp_path):
    rng = np.random.default_rng(0)
    x_train = rng.integers(0, 256, size=(60, 1, 4, 4), dtype=np.uint8)
    y_train = rng.integers(0, 3, size=60)
    x_test = rng.integers(0, 256, size=(20, 1, 4, 4), dtype=np.uint8)
    y_test = rng.integers(0, 3, size=20)
    files = {}
    for kind, seed in (("real", None), ("random", 0)):
        result = compute_separation(
            x_train, y_train, x_test, y_test, pixel_max=255, eps=0.1, label_seed=seed
        )
        write_points(result.points, tmp_path / f"{kind}.csv")
        write_json(tmp_path / f"{kind}.json", {**result.summary, "dataset": "toy"})
        files[kind] = str(tmp_path / f"{kind}.csv")
    out = tmp_path / "separation_toy.png"
    presentation.make_separation_figure(
        str(tmp_path / "real.json"), files["real"], str(out), random_points=files["random"]
    )
    assert_png(out)
    alone = tmp_path / "alone.png"
    presentation.make_separation_figure(str(tmp_path / "real.json"), files["real"], str(alone))
    assert_png(alone)
    assert out.read_bytes() != alone.read_bytes()


def fake_history(metrics: list[dict], epochs: int = 4, accuracy: bool = False) -> None:
    """A training history in each metrics record: a falling loss per epoch."""
    for i, m in enumerate(metrics):
        m["history"] = [
            {"epoch": e, "loss": (i + 1) / e, "seconds": 1.0, "images_per_second": 100.0}
            | ({"train_acc": 50.0 + 10 * e + i} if accuracy else {})
            for e in range(1, epochs + 1)
        ]


def test_each_figure_is_written_as_png_and_svg_in_one_call(tmp_path):
    paths, metrics = write_metrics(tmp_path)
    out = [tmp_path / "both.png", tmp_path / "both.svg"]
    presentation.make_lipschitz_figure(paths, [str(p) for p in out], spec=SPEC.to_dict())
    assert_png(out[0])
    assert_svg(out[1])
    again = [tmp_path / "again.png", tmp_path / "again.svg"]
    presentation.make_lipschitz_figure(paths, [str(p) for p in again], spec=SPEC.to_dict())
    assert again[1].read_bytes() == out[1].read_bytes()  # no date, fixed ids: same bytes
    alone = tmp_path / "alone.svg"
    presentation.make_lipschitz_figure(paths, str(alone), spec=SPEC.to_dict())
    assert alone.read_bytes() == out[1].read_bytes()  # whatever the PNG beside it


def test_a_figure_path_of_another_format_is_refused(tmp_path):
    with pytest.raises(ValueError, match=r"'.*x.jpg' must end in one of \('png', 'svg'\)"):
        figures.output_paths([tmp_path / "x.png", tmp_path / "x.jpg"])


def test_the_dpi_setting_sets_the_png_size_only(tmp_path):
    paths, _ = write_metrics(tmp_path)
    for dpi in (60, 120):
        out = [str(tmp_path / f"{dpi}.png"), str(tmp_path / f"{dpi}.svg")]
        presentation.make_gap_figure(paths, out, spec=SPEC.to_dict(), dpi=dpi)
    with Image.open(tmp_path / "60.png") as small, Image.open(tmp_path / "120.png") as large:
        assert large.size[0] == pytest.approx(2 * small.size[0], abs=2)
    assert (tmp_path / "60.svg").read_bytes() == (tmp_path / "120.svg").read_bytes()
    with pytest.raises(ValueError, match="dpi must be an integer >= 30"):
        figures.FigureSettings(dpi=10)


def test_training_curves_draw_each_models_history(tmp_path):
    paths, metrics = write_metrics(tmp_path)
    fake_history(metrics)
    for path, m in zip(paths, metrics, strict=True):
        write_json(path, m)
    history = presentation.training_history(SPEC, metrics)
    out = tmp_path / "training.png"
    drawn = figures.training_curves(history, out, blocks={"a": "A", "b": "B"}, title="t")
    assert_png(out)
    assert set(drawn["quantity"]) == {"loss"}
    assert len(drawn.groupby(["block", "row", "seed"])) == len(metrics)
    for i, m in enumerate(metrics):
        row = m["method"] + ("+drop" if "drop" in m["arch"] else "")
        line = drawn[(drawn["row"] == row) & (drawn["seed"] == m["seed"])]
        line = line[line["block"] == ("a" if m["dataset"] == "mnist" else "b")]
        assert line["epoch"].tolist() == [1, 2, 3, 4]
        assert line["value"].tolist() == pytest.approx([(i + 1) / e for e in (1, 2, 3, 4)])
    presentation.make_training_figure(
        paths, [str(out), str(out.with_suffix(".svg"))], spec=SPEC.to_dict()
    )
    assert_svg(out.with_suffix(".svg"))


def test_recorded_accuracies_get_a_row_of_their_own(tmp_path):
    _, metrics = write_metrics(tmp_path)
    fake_history(metrics, accuracy=True)
    history = presentation.training_history(SPEC, metrics)
    assert figures.accuracy_columns(history) == ["train_acc"]
    blocks = {"a": "A", "b": "B"}
    drawn = figures.training_curves(history, tmp_path / "acc.png", blocks=blocks, title="t")
    assert set(drawn["quantity"]) == {"loss", "train_acc"}
    acc = drawn[drawn["quantity"] == "train_acc"]
    assert acc["value"].max() == pytest.approx(50 + 40 + len(metrics) - 1)
    loss_only = history.drop(columns="train_acc")
    figures.training_curves(loss_only, tmp_path / "loss.png", blocks=blocks, title="t")
    with Image.open(tmp_path / "acc.png") as both, Image.open(tmp_path / "loss.png") as alone:
        assert both.size[1] > alone.size[1]  # the accuracy row below the loss's


def sweep_curves(metrics: list[dict]) -> pd.DataFrame:
    """A sweep CSV's rows for the models of ``metrics``: accuracy falling with the radius."""
    rows = []
    for i, m in enumerate(metrics):
        eps = 0.1 if m["dataset"] == "mnist" else 0.031
        for factor in (0, 1, 2):
            rows.append(
                {
                    "model": f"{m['dataset']}/{m['arch']}/{m['method']}/seed{m['seed']}",
                    **{k: m[k] for k in ("dataset", "arch", "method", "seed")},
                    "factor": factor,
                    "eps": factor * eps,
                    "dataset_eps": eps,
                    "n": 50,
                    "robust_acc": 90.0 - 30 * factor - i,
                }
            )
    return pd.DataFrame(rows)


def test_the_sweep_figure_draws_every_models_curve_with_its_radii(tmp_path):
    _, metrics = write_metrics(tmp_path)
    curves = sweep_curves(metrics)
    curves.to_csv(tmp_path / "sweep.csv", index=False)
    out = [str(tmp_path / "sweep.png"), str(tmp_path / "sweep.svg")]
    presentation.make_sweep_figure(str(tmp_path / "sweep.csv"), out, spec=SPEC.to_dict())
    assert_png(Path(out[0]))
    assert_svg(Path(out[1]))
    blocked = curves.assign(
        block=np.where(curves["dataset"] == "mnist", "a", "b"),
        row=curves["method"] + np.where(curves["arch"].str.contains("drop"), "+drop", ""),
    )
    drawn = figures.eps_sweep(
        blocked, tmp_path / "s.png", blocks={"a": "A", "b": "B"}, eps={"a": 0.1}, title="t"
    )
    key = ["block", "row", "seed", "eps"]
    expected = blocked[[*key, "robust_acc"]].sort_values(key).reset_index(drop=True)
    pd.testing.assert_frame_equal(
        drawn.sort_values(key).reset_index(drop=True), expected, check_dtype=False
    )


# --------------------------------------------------------------------------- workflow


# finished_run: tests/conftest.py (shared with tests/integration/test_report.py)


def embedded_files(report: str) -> list[bytes]:
    """Every result file a self-contained Snakemake report carries (base64 data URIs)."""
    found = re.findall(r'"data_uri": "data:[^",]*;base64,([A-Za-z0-9+/=]+)"', report)
    return [base64.b64decode(data) for data in found]


@pytest.mark.slow
def test_report_holds_tables_figures_and_captions(finished_run, finished_report):
    report = finished_report.read_text()
    files = embedded_files(report)
    pngs = [f for f in files if f.startswith(PNG_MAGIC)]
    figures_made = sorted((finished_run / "results/figures").glob("*.png"))
    assert [p.stem for p in figures_made] == sorted(FIGURES)
    assert sorted(pngs) == sorted(p.read_bytes() for p in figures_made)
    # The SVGs lie beside the PNGs, for papers; the report shows the PNGs only.
    for png in figures_made:
        assert_svg(png.with_suffix(".svg"))
    assert not any(f.lstrip().startswith(b"<?xml") for f in files)
    html_tables = [f.decode() for f in files if b"<table" in f]
    for stem in ("table1_separation", "digits_DigitsCNN", "digits_DigitsCNN_checks", "findings"):
        written = (finished_run / f"results/tables/{stem}.html").read_text()
        assert written in html_tables
    model_table = (finished_run / "results/tables/digits_DigitsCNN.html").read_text()
    for row in ("natural", "trades1", tables.NN_ROW):
        assert f"<td>{row}</td>" in model_table
    for caption in (
        "Test Lipschitz vs adversarial test accuracy, every model of digits_DigitsCNN",
        "Generalisation gaps per training method",
        "Per-point separation of digits (\\u03b5 = 0.1)",  # the report's JSON escapes ε
        "Training curves, every model of digits_DigitsCNN",
        "Robust test accuracy against the radius, every model of digits_DigitsCNN",
        "for c in 0, 0.5, 1, 2, 4",
        "Soundness checks and gradient-masking alarms, every model of digits_DigitsCNN",
        "The paper's findings, tested on this run and on the paper's own numbers",
        "Table 1: l",
        "is the nearest-neighbour classifier the",
    ):
        assert caption in report, caption


@pytest.mark.slow
def test_a_layout_change_reruns_only_presentation_rules(finished_run):
    from tests.helpers.workflow import config_edits, job_counts, snakemake

    assert job_counts(snakemake(finished_run, "-n", "tables", "figures").stdout) == {}

    def regroup(config):
        config["tables"] = {
            "digits_DigitsCNN": {
                "caption": "A new caption.",
                "columns": ["test_acc", "adv_test_acc", "test_lipschitz"],
                "blocks": {"digits": {"dataset": "digits", "arch": "DigitsCNN"}},
            }
        }

    with config_edits(finished_run, "tables", "figures") as run:  # the run is shared
        counts = run(regroup)
    assert counts.pop("make_model_table") == 1
    # The sweep's params are its models' attack settings, not the layout: it stays.
    assert set(counts) <= PRESENTATION | {"tables", "figures", "total"}
