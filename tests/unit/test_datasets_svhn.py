"""SVHN source on tiny ``.mat`` files written in the originals' layout (MATLAB v5, by
:mod:`lolip.datasets.fixtures`)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from lolip.datasets import check as check_dataset
from lolip.datasets import fixtures, prepare, read_prepared, svhn
from lolip.datasets import load as load_dataset
from lolip.datasets.prepared import DatasetError
from tests.helpers.sources import md5_of, patch_download

SIZES = {"n_train": 9, "n_test": 6, "seed": 0}


@pytest.fixture()
def svhn_dir(tmp_path: Path) -> tuple[Path, dict[str, dict]]:
    """The fixture's directory and, per split, its variables ``X`` and ``y``."""
    directory = tmp_path / "svhn"
    fixtures.write_svhn(directory, **SIZES)
    arrays = fixtures.svhn_arrays(**SIZES)
    return directory, {split: arrays[f] for split, f in svhn.FILES.items()}


def spec_for(directory: Path) -> dict:
    md5 = {f: md5_of(directory / f) for f in svhn.FILES.values()}
    return {"source": "svhn", "eps": 0.1, "dir": str(directory), "md5": md5}


def test_pixels_round_trip_exactly_in_nchw(svhn_dir, tmp_path: Path) -> None:
    directory, written = svhn_dir
    ds = load_dataset("svhn", spec_for(directory), tmp_path)
    for split in svhn.FILES:
        x, _ = ds.arrays(split)
        raw = written[split]["X"]
        assert x.dtype == np.uint8 and x.shape == (raw.shape[3], 3, 32, 32)
        # Pixel (row r, column c, channel k) of image i is X[r, c, k, i].
        np.testing.assert_array_equal(x[1, 2, 5, 7], raw[5, 7, 2, 1])
        np.testing.assert_array_equal(x, raw.transpose(3, 2, 0, 1))


@pytest.mark.parametrize("label_dtype", [np.uint8, np.float64])
def test_label_ten_is_digit_zero(tmp_path: Path, label_dtype: type) -> None:
    directory = tmp_path / "svhn"
    arrays = fixtures.svhn_arrays(n_train=12, n_test=6, seed=0)
    for name, variables in arrays.items():
        fixtures.write_mat(directory / name, {**variables, "y": variables["y"].astype(label_dtype)})
    ds = load_dataset("svhn", spec_for(directory), tmp_path)
    y = arrays[svhn.FILES["train"]]["y"][:, 0]
    assert (y == 10).sum() == 2 and not (y == 0).any()
    np.testing.assert_array_equal(ds.y_train, np.where(y == 10, 0, y))
    assert ds.classes == [str(d) for d in range(10)]


def test_matches_torchvision_svhn_reader(svhn_dir, tmp_path: Path, monkeypatch) -> None:
    import torchvision.datasets.svhn as tv_svhn

    directory, _ = svhn_dir
    # torchvision checks the real files' MD5s; the fixture's bytes differ by design.
    monkeypatch.setattr(tv_svhn, "check_integrity", lambda *args, **kwargs: True)
    ds = load_dataset("svhn", spec_for(directory), tmp_path)
    for split in svhn.FILES:
        reference = tv_svhn.SVHN(str(directory), split=split, download=False)
        x, y = ds.arrays(split)
        np.testing.assert_array_equal(x, reference.data)
        np.testing.assert_array_equal(y, reference.labels)


def test_published_md5s_are_torchvisions() -> None:
    from torchvision.datasets import SVHN

    for split, filename in svhn.FILES.items():
        assert SVHN.split_list[split][1] == filename
        assert svhn.MD5[filename] == SVHN.split_list[split][2]


def test_file_not_matching_published_md5_fails_naming_it(svhn_dir, tmp_path: Path) -> None:
    directory, _ = svhn_dir
    with pytest.raises(DatasetError, match=str(directory / "train_32x32.mat")):
        load_dataset("svhn", {"source": "svhn", "eps": 0.1, "dir": str(directory)}, tmp_path)


def test_truncated_file_fails_naming_it(svhn_dir, tmp_path: Path) -> None:
    directory, _ = svhn_dir
    spec = spec_for(directory)
    path = directory / "test_32x32.mat"
    path.write_bytes(path.read_bytes()[:1000])
    with pytest.raises(DatasetError, match="MD5") as err:
        load_dataset("svhn", spec, tmp_path)
    assert str(path) in str(err.value)
    # Even with a checksum that matches the damaged bytes, reading it fails cleanly.
    with pytest.raises(DatasetError, match="corrupt") as err:
        load_dataset("svhn", spec_for(directory), tmp_path)
    assert str(path) in str(err.value)


def test_labels_outside_one_to_ten_are_rejected(svhn_dir, tmp_path: Path) -> None:
    directory, written = svhn_dir
    y = written["test"]["y"].copy()
    y[0, 0] = 0
    fixtures.write_mat(directory / "test_32x32.mat", {"X": written["test"]["X"], "y": y})
    with pytest.raises(DatasetError, match="labels 1..10"):
        load_dataset("svhn", spec_for(directory), tmp_path)


def test_check_catches_missing_file_and_bad_md5_option(svhn_dir, monkeypatch) -> None:
    directory, _ = svhn_dir
    (directory / "test_32x32.mat").unlink()
    with pytest.raises(DatasetError, match="test_32x32.mat"):
        check_dataset("svhn", {"source": "svhn", "eps": 0.1, "dir": str(directory)})
    monkeypatch.setenv(svhn.ENV_VAR, str(directory))
    with pytest.raises(DatasetError, match="test_32x32.mat"):
        check_dataset("svhn", {"source": "svhn", "eps": 0.1})
    with pytest.raises(DatasetError, match="md5"):
        check_dataset("svhn", {"source": "svhn", "eps": 0.1, "md5": {"extra_32x32.mat": "0" * 32}})


def test_without_directory_torchvision_downloads_into_resources(
    svhn_dir, tmp_path: Path, monkeypatch
) -> None:
    from torchvision.datasets import SVHN

    directory, written = svhn_dir
    spec = spec_for(directory)
    del spec["dir"]
    monkeypatch.delenv(svhn.ENV_VAR, raising=False)
    calls = patch_download(monkeypatch, {f: directory / f for f in svhn.FILES.values()})
    ds = load_dataset("svhn", spec, tmp_path / "resources")
    root = tmp_path / "resources" / "svhn"
    assert calls == [
        (SVHN.split_list[s][0], root, f, spec["md5"][f]) for s, f in svhn.FILES.items()
    ]
    np.testing.assert_array_equal(ds.y_test, written["test"]["y"][:, 0] % 10)


def test_prepared_file_round_trips(svhn_dir, tmp_path: Path) -> None:
    directory, written = svhn_dir
    out = tmp_path / "prepared" / "svhn.h5"
    prepare("svhn", spec_for(directory), out, tmp_path / "resources")
    ds = read_prepared(out)
    assert ds.source == "svhn"
    np.testing.assert_array_equal(ds.x_train, written["train"]["X"].transpose(3, 2, 0, 1))
    x = ds.split("train").images(slice(None))
    assert x.shape == (SIZES["n_train"], 3, 32, 32)
