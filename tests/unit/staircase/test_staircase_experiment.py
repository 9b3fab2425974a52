"""The experiment: data to fits and table (lolip.staircase.experiment)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from lolip import staircase as st
from tests.helpers import staircase_case as case

METHODS = {name: case.CONFIG_METHODS[name] for name in ["natural", "at", "trades3", "gr", "llr"]}


def test_run_staircase_tabulates_every_method_reproducibly():
    """Every solver is deterministic: a rerun gives the same coefficients, bit for bit."""
    first = st.run_staircase(40, 500, seed=1, methods=METHODS)
    second = st.run_staircase(40, 500, seed=1, methods=METHODS)
    assert list(first.table.columns) == st.TABLE_COLUMNS
    assert list(first.table["method"]) == list(METHODS)
    assert [m.name for m in first.fits.methods] == list(METHODS)
    pd.testing.assert_frame_equal(first.table, second.table, check_exact=True)
    for name in METHODS:
        np.testing.assert_array_equal(first.fits.thetas[name], second.fits.thetas[name])
    row = first.table.set_index("method").loc["natural"]
    assert row["gap"] == pytest.approx(row["test_mse"] - row["train_mse"])


def test_write_results_writes_the_table_and_the_fits(tmp_path):
    result = st.run_staircase(30, 100, seed=2, methods=METHODS)
    st.write_results(result, tmp_path / "t.csv", tmp_path / "f.npz")
    table = pd.read_csv(tmp_path / "t.csv")
    assert list(table.columns) == st.TABLE_COLUMNS
    np.testing.assert_allclose(table["test_mse"], result.table["test_mse"], rtol=1e-5)
    fits = st.load_fits(tmp_path / "f.npz")
    assert [m.label for m in fits.methods] == list(table["label"])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["f.npz", "t.csv"]  # no temporaries


def test_run_staircase_rejects_a_bad_method_before_fitting(monkeypatch):
    def no_fit(*args, **kwargs):
        raise AssertionError("fitted before checking every method")

    monkeypatch.setattr(st.StaircaseMethod, "fit", no_fit)
    methods = {"natural": {"loss": "natural"}, "mart1": {"loss": "mart"}}
    with pytest.raises(ValueError, match="method 'mart1' has loss 'mart'"):
        st.run_staircase(40, 50, seed=0, methods=methods)
