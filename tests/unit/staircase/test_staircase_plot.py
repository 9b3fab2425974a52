"""The figure, drawn from the fits file in the configured look (lolip.staircase.plot, .style)."""

from __future__ import annotations

import struct

import pytest

from lolip import staircase as st
from tests.helpers import staircase_case as case


@pytest.fixture(scope="module")
def fits() -> st.StaircaseFits:
    names = ["natural", "gr", "llr", "at", "rst2", "trades6"]
    methods = {name: case.CONFIG_METHODS[name] for name in names}
    return st.run_staircase(40, 100, seed=1, methods=methods).fits


def _png_size(path) -> tuple[int, int]:
    return struct.unpack(">II", path.read_bytes()[16:24])


def test_the_figure_is_written_as_png_and_svg(fits, tmp_path):
    paths = [tmp_path / "fig.png", tmp_path / "fig.svg"]
    st.plot_staircase(fits, paths, title="test")
    assert paths[0].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    svg = paths[1].read_text()
    assert svg.startswith("<?xml") and "<svg" in svg
    assert sorted(p.name for p in tmp_path.iterdir()) == ["fig.png", "fig.svg"]


def test_a_redraw_writes_the_same_bytes(fits, tmp_path):
    """No date, fixed ids: redrawing an unchanged figure changes no file."""
    for run in ("a", "b"):
        st.plot_staircase(fits, [tmp_path / f"{run}.png", tmp_path / f"{run}.svg"], title="t")
    for ext in ("png", "svg"):
        assert (tmp_path / f"a.{ext}").read_bytes() == (tmp_path / f"b.{ext}").read_bytes(), ext


def test_the_rule_step_draws_the_fits_file(fits, tmp_path):
    """make_staircase_figure (the plot rule's step) on the saved fits draws what the fits in
    memory draw, titled with the set's size and its settings."""
    st.save_fits(fits, tmp_path / "fits.npz")
    st.make_staircase_figure(tmp_path / "fits.npz", [tmp_path / "file.png"], "small", {})
    title = st.figure_title("small", fits)
    assert title == "Staircase, small: n_train = 40, eps = 0.3333, lambda = 0.01"
    st.plot_staircase(fits, [tmp_path / "memory.png"], title=title)
    assert (tmp_path / "file.png").read_bytes() == (tmp_path / "memory.png").read_bytes()


def test_panels_group_methods_by_loss_with_natural_in_each(fits):
    fig = st.draw_staircase(fits)
    legends = [[t.get_text() for t in ax.get_legend().get_texts()][1:] for ax in fig.axes]
    assert legends == [
        ["Natural", "GR(1)", "LLR(4,3)"],
        ["Natural", "AT", "RST(2)"],
        ["Natural", "TRADES(6)"],
    ]


@pytest.mark.parametrize(
    "style",
    [{"reference_color": "red"}, {"colormap": "Dark2"}, {"point_color": "#ff00ff"}],
)
def test_the_style_changes_the_look(fits, tmp_path, style):
    st.plot_staircase(fits, [tmp_path / "default.png"])
    st.plot_staircase(fits, [tmp_path / "styled.png"], style=st.PlotStyle.from_dict(style))
    assert (tmp_path / "default.png").read_bytes() != (tmp_path / "styled.png").read_bytes()


def test_dpi_and_size_set_the_png_pixels(fits, tmp_path):
    st.plot_staircase(fits, [tmp_path / "a.png"], style=st.PlotStyle(dpi=50, width=8.0))
    assert _png_size(tmp_path / "a.png") == (400, round(50 * (3 * 3.4 + 0.6)))  # 3 panels


def test_natural_keeps_its_reference_colour(fits):
    fig = st.draw_staircase(fits, style=st.PlotStyle(reference_color="red"))
    for ax in fig.axes:
        (natural,) = [line for line in ax.get_lines() if line.get_label() == "Natural"]
        assert natural.get_color() == "red"


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"dpi": 0}, "staircase.plot: dpi must be an integer >= 10, got 0"),
        ({"colour": "red"}, "staircase.plot: unknown key 'colour' (known: colormap,"),
        ({"width": -1.0}, "staircase.plot: width must be a number > 0, got -1.0"),
    ],
)
def test_bad_style_values_are_errors_naming_them(values, message):
    with pytest.raises(ValueError) as err:
        st.PlotStyle.from_dict(values)
    assert message in str(err.value)


@pytest.mark.parametrize(
    ("style", "message"),
    [
        (
            {"reference_color": "blak"},
            "staircase.plot.reference_color: 'blak' is not a matplotlib colour",
        ),
        ({"colormap": "tab11"}, "staircase.plot.colormap: unknown colormap 'tab11'"),
    ],
)
def test_colours_matplotlib_does_not_know_are_errors_naming_them(fits, style, message):
    with pytest.raises(ValueError) as err:
        st.draw_staircase(fits, style=st.PlotStyle.from_dict(style))
    assert message in str(err.value)


def test_an_unknown_figure_format_is_an_error(fits, tmp_path):
    with pytest.raises(ValueError, match=r"fig.jpg: unknown figure format 'jpg' \(known: png"):
        st.plot_staircase(fits, [tmp_path / "fig.jpg"])
