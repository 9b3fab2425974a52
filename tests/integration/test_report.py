"""The Snakemake report of a finished run, rendered in headless Chromium: its figures,
tables and captions are on screen, and the report tables' files say what they should.

Screenshots go to the test's temporary directory, and to ``$LOLIP_REPORT_SCREENSHOTS``
when set (to look at them).
"""

from __future__ import annotations

import base64
import os
import re
import shutil
from pathlib import Path

import pandas as pd
import pytest
from PIL import Image, ImageStat

from lolip import tables
from tests.helpers import report_browser
from tests.helpers.grid import METHODS

TABLE = "digits_DigitsCNN"
# Each figure subcategory of the report and the file it shows.
FIGURES = {
    "Lipschitz vs robustness": f"results/figures/{TABLE}_lipschitz_vs_adv.png",
    "Generalisation gaps": f"results/figures/{TABLE}_gap.png",
    "Training curves": f"results/figures/{TABLE}_training.png",
    "Robustness vs radius": f"results/figures/{TABLE}_eps_sweep.png",
    "Separation histograms": "results/figures/separation_digits.png",
}
CAPTIONS = {
    "Training curves": "Accuracy per epoch is not recorded",
    "Robustness vs radius": "for c in 0, 0.5, 1, 2, 4",
}


@pytest.fixture(scope="module")
def chromium() -> str:
    try:
        return report_browser.ensure_installed()
    except report_browser.BrowserUnavailable as err:
        pytest.skip(f"no headless Chromium: {err}")


def shown_images(page: str) -> list[bytes]:
    """The images the rendered page shows (``<img>`` elements with data URIs)."""
    found = re.findall(r'<img src="data:image/png;[^",]*base64,([A-Za-z0-9+/=]+)"', page)
    return [base64.b64decode(data) for data in found]


def keep(screenshot: Path) -> None:
    if folder := os.environ.get("LOLIP_REPORT_SCREENSHOTS"):
        Path(folder).mkdir(parents=True, exist_ok=True)
        shutil.copy(screenshot, Path(folder) / screenshot.name)


@pytest.mark.slow
def test_the_report_lists_its_sections_in_the_browser(
    finished_run, finished_report, chromium, tmp_path
):
    page = report_browser.with_view(
        finished_report, {"navbarMode": "menu"}, None, tmp_path / "menu.html"
    )
    menu = report_browser.navbar(report_browser.dom(chromium, page))
    sections = re.findall(r">([^<>]+)</span>", menu.split(">Results<", 1)[1])
    # Staircase: only where the run made it (this one asked for tables and figures).
    assert sections == ["Figures", "Findings", "Soundness checks", "Tables"]
    categories = report_browser.report_data(finished_report, "categories")
    assert categories["Figures"] == {name: [path] for name, path in FIGURES.items()}
    figures = report_browser.with_view(
        finished_report,
        {"navbarMode": "category", "category": "Figures"},
        None,
        tmp_path / "fig.html",
    )
    listed = report_browser.navbar(report_browser.dom(chromium, figures))
    for subcategory in FIGURES:
        assert f">{subcategory}<" in listed, subcategory


@pytest.mark.slow
@pytest.mark.parametrize("subcategory", list(FIGURES))
def test_each_figure_is_on_screen_with_its_caption(
    finished_run, finished_report, chromium, tmp_path, subcategory
):
    path = FIGURES[subcategory]
    view = {"navbarMode": "subcategory", "category": "Figures", "subcategory": subcategory}
    page = report_browser.with_view(finished_report, view, path, tmp_path / "figure.html")
    dom = report_browser.dom(chromium, page)
    assert shown_images(dom) == [(finished_run / path).read_bytes()]
    label = "digits" if "separation" in path else TABLE
    assert f">{label}<" in report_browser.navbar(dom)  # its row in the subcategory's list
    info = {**view, "navbarMode": "resultinfo", "resultPath": path}
    caption = report_browser.dom(
        chromium, report_browser.with_view(finished_report, info, path, tmp_path / "info.html")
    )
    assert "{{" not in caption and "snakemake.params" not in caption  # every field filled
    if subcategory in CAPTIONS:
        assert CAPTIONS[subcategory] in caption
    name = Path(path).stem
    shot = report_browser.screenshot(chromium, page, tmp_path / f"report_{name}.png")
    keep(shot)
    with Image.open(shot) as image:
        assert image.size == (1500, 1000)
        # Not blank: the figure and the menu give the screenshot contrast.
        assert max(ImageStat.Stat(image.convert("L")).stddev) > 20


@pytest.mark.slow
@pytest.mark.parametrize(
    ("category", "path", "expected"),
    [
        ("Findings", "results/tables/findings.html", "TRADES gives the smallest"),
        ("Soundness checks", f"results/tables/{TABLE}_checks.html", "Square vs PGD (alarm)"),
    ],
)
def test_the_report_tables_open_in_the_browser(
    finished_run, finished_report, chromium, tmp_path, category, path, expected
):
    view = {"navbarMode": "subcategory", "category": category, "subcategory": "Other"}
    page = report_browser.with_view(finished_report, view, path, tmp_path / "table.html")
    dom = report_browser.dom(chromium, page)
    assert '<iframe src="data:text/html' in dom
    written = (finished_run / path).read_text()
    assert expected in written
    shot = report_browser.screenshot(chromium, page, tmp_path / f"report_{Path(path).stem}.png")
    keep(shot)


@pytest.mark.slow
def test_the_checks_table_has_every_model_and_check(finished_run):
    checks = tables.read_table(finished_run / f"results/tables/{TABLE}_checks.csv")
    assert checks["row"].tolist() == list(METHODS)
    for check in tables.CHECKS:
        assert (checks[check] == "pass").all(), check  # the small grid rings no alarm
    assert not checks["masking_suspected"].any() and checks["all_passed"].all()


@pytest.mark.slow
def test_the_findings_of_a_small_run_say_what_cannot_be_computed(finished_run):
    found = pd.read_csv(finished_run / "results/tables/findings.csv", keep_default_na=False)
    by = found.set_index("finding")
    # Two methods (natural, TRADES): a rank and a gap difference, but no correlation.
    assert by.loc["trades_lipschitz", "holds"] in ("yes", "no")
    assert by.loc["robust_gap", "holds"] in ("yes", "no")
    assert by.loc["lipschitz_vs_adv", "holds"] == "n/a"
    assert "2 rows with both values (needs 3)" in by.loc["lipschitz_vs_adv", "note"]
    assert by.loc["dropout_gap", "note"] == "not computable: no block with a dropout variant"
    assert by.loc["rank_agreement", "note"].startswith("not computable")
    assert (found["holds_paper"] == "n/a").all()  # the default table has no paper values
