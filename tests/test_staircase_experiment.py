"""The experiment: data to fits and table (lolip.staircase.experiment)."""

from __future__ import annotations

import pandas as pd
import pytest

from lolip import staircase as st
from tests import staircase_case as case


def test_run_staircase_tabulates_every_method_reproducibly(tmp_path):
    methods = {
        name: case.CONFIG_METHODS[name] for name in ["natural", "at", "trades3", "gr", "llr"]
    }
    first = st.run_staircase(40, 500, seed=1, methods=methods)
    second = st.run_staircase(40, 500, seed=1, methods=methods)
    assert list(first.table.columns) == st.TABLE_COLUMNS
    assert list(first.table["method"]) == list(methods)
    pd.testing.assert_frame_equal(first.table, second.table)
    row = first.table.set_index("method").loc["natural"]
    assert row["gap"] == pytest.approx(row["test_mse"] - row["train_mse"])
    out = tmp_path / "fig.png"
    st.plot_staircase(first, out, title="test")
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_run_staircase_rejects_a_bad_method_before_fitting(monkeypatch):
    def no_fit(*args, **kwargs):
        raise AssertionError("fitted before checking every method")

    monkeypatch.setattr(st.StaircaseMethod, "fit", no_fit)
    methods = {"natural": {"loss": "natural"}, "mart1": {"loss": "mart"}}
    with pytest.raises(ValueError, match="method 'mart1' has loss 'mart'"):
        st.run_staircase(40, 50, seed=0, methods=methods)
