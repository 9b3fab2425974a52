"""The fitted functions as a file, from the fit to the figure (lolip.staircase.fits)."""

from __future__ import annotations

import numpy as np
import pytest

from lolip import staircase as st
from tests.helpers import staircase_case as case


@pytest.fixture(scope="module")
def fits() -> st.StaircaseFits:
    names = ["natural", "gr", "llr", "rst0.5", "trades6"]
    methods = {name: case.CONFIG_METHODS[name] for name in names}
    return st.run_staircase(40, 100, seed=1, methods=methods).fits


def test_the_fits_file_round_trips_exactly(fits, tmp_path):
    st.save_fits(fits, tmp_path / "fits.npz")
    back = st.load_fits(tmp_path / "fits.npz")
    assert back.methods == fits.methods
    assert [m.label for m in back.methods] == [
        "Natural",
        "GR(1)",
        "LLR(4,3)",
        "RST(0.5)",
        "TRADES(6)",
    ]
    for name in fits.thetas:
        np.testing.assert_array_equal(back.thetas[name], fits.thetas[name])
    np.testing.assert_array_equal(back.train.x, fits.train.x)
    np.testing.assert_array_equal(back.train.y, fits.train.y)
    np.testing.assert_array_equal(back.basis.knots, fits.basis.knots)
    assert (back.basis.degree, back.eps, back.penalty) == (
        fits.basis.degree,
        fits.eps,
        fits.penalty,
    )
    grid = np.linspace(0, 9, 50)
    np.testing.assert_array_equal(back.predict("llr", grid), fits.predict("llr", grid))


def test_the_fits_file_is_plain_arrays(fits, tmp_path):
    """Readable by numpy alone, without pickles (np.load refuses object arrays by default)."""
    st.save_fits(fits, tmp_path / "fits.npz")
    with np.load(tmp_path / "fits.npz", allow_pickle=False) as npz:
        assert npz["theta"].shape == (len(fits.methods), fits.basis.n_coef)
        assert list(npz["method"]) == [m.name for m in fits.methods]
        assert all(npz[key].dtype != object for key in npz.files)


def test_the_fits_file_is_written_under_its_own_name(fits, tmp_path):
    """np.savez appends .npz to a name without it; the atomic write goes through a file object."""
    st.save_fits(fits, tmp_path / "fits")
    assert [p.name for p in tmp_path.iterdir()] == ["fits"]
    assert st.load_fits(tmp_path / "fits").methods == fits.methods
