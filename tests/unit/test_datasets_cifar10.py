"""CIFAR-10 source on a tiny archive written in the original's exact on-disk format
(Python 2 pickles in a ``.tar.gz``, by :mod:`lolip.datasets.fixtures`)."""

from __future__ import annotations

import pickle
import tarfile
from pathlib import Path

import numpy as np
import pytest

from lolip.datasets import check as check_dataset
from lolip.datasets import cifar10, fixtures, prepare, read_prepared
from lolip.datasets import load as load_dataset
from lolip.datasets.prepared import DatasetError
from tests.helpers.sources import md5_of, patch_download

CLASSES = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]
PER_BATCH = 7  # images per fixture batch (10,000 in the original)
SIZES = {"n_train": 5 * PER_BATCH, "n_test": PER_BATCH, "seed": 0}


@pytest.fixture()
def archive(tmp_path: Path) -> tuple[Path, dict[str, dict]]:
    directory = tmp_path / "cifar"
    fixtures.write_cifar10(directory, **SIZES)
    return directory / cifar10.ARCHIVE, fixtures.cifar10_batches(**SIZES)


def spec_for(path: Path) -> dict:
    return {
        "source": "cifar10",
        "eps": 0.1,
        "dir": str(path.parent),
        "md5": {cifar10.ARCHIVE: md5_of(path)},
    }


def test_pixels_labels_and_classes_round_trip_exactly(archive, tmp_path: Path) -> None:
    path, batches = archive
    ds = load_dataset("cifar10", spec_for(path), tmp_path / "resources")
    train = [batches[n] for n in cifar10.BATCHES["train"]]
    expected_x = np.concatenate([b["data"] for b in train]).reshape(-1, 3, 32, 32)
    np.testing.assert_array_equal(ds.x_train, expected_x)
    np.testing.assert_array_equal(ds.y_train, np.concatenate([b["labels"] for b in train]))
    np.testing.assert_array_equal(ds.y_test, batches["test_batch"]["labels"])
    assert ds.x_train.dtype == np.uint8 and ds.x_test.shape == (PER_BATCH, 3, 32, 32)
    assert ds.classes == CLASSES and ds.pixel_max == 255.0
    # Channel order: row k of the test batch is red plane, green plane, blue plane.
    row = batches["test_batch"]["data"][2]
    for channel in range(3):
        np.testing.assert_array_equal(
            ds.x_test[2, channel], row[1024 * channel : 1024 * (channel + 1)].reshape(32, 32)
        )


def test_matches_torchvision_cifar10_reader(archive, tmp_path: Path, monkeypatch) -> None:
    import torchvision.datasets.cifar as tv_cifar

    path, _ = archive
    with tarfile.open(path) as tar:
        tar.extractall(tmp_path / "tv", filter="data")
    # torchvision checks the real files' MD5s; the fixture's bytes differ by design.
    monkeypatch.setattr(tv_cifar, "check_integrity", lambda *args, **kwargs: True)
    ds = load_dataset("cifar10", spec_for(path), tmp_path / "resources")
    for split, train in (("train", True), ("test", False)):
        reference = tv_cifar.CIFAR10(str(tmp_path / "tv"), train=train, download=False)
        x, y = ds.arrays(split)
        np.testing.assert_array_equal(x, reference.data.transpose(0, 3, 1, 2))
        np.testing.assert_array_equal(y, reference.targets)
        assert reference.classes == ds.classes


def test_published_md5_is_torchvisions() -> None:
    from torchvision.datasets import CIFAR10

    assert cifar10.MD5 == CIFAR10.tgz_md5 == "c58f30108f718f92721af3b95e74349a"


def test_archive_not_matching_published_md5_fails_naming_it(archive, tmp_path: Path) -> None:
    path, _ = archive
    with pytest.raises(DatasetError, match=str(path)):
        load_dataset(
            "cifar10", {"source": "cifar10", "eps": 0.1, "dir": str(path.parent)}, tmp_path
        )


def test_truncated_archive_fails_naming_it(archive, tmp_path: Path) -> None:
    path, _ = archive
    spec = spec_for(path)
    path.write_bytes(path.read_bytes()[:-200])
    with pytest.raises(DatasetError, match="MD5") as err:
        load_dataset("cifar10", spec, tmp_path)
    assert str(path) in str(err.value)
    # Even with a checksum that matches the damaged bytes, reading it fails cleanly.
    with pytest.raises(DatasetError, match="corrupt") as err:
        load_dataset("cifar10", spec_for(path), tmp_path)
    assert str(path) in str(err.value)


def test_archive_without_a_batch_fails_naming_the_member(tmp_path: Path) -> None:
    batches = fixtures.cifar10_batches(**SIZES)
    del batches["data_batch_3"]
    path = tmp_path / cifar10.ARCHIVE
    fixtures.write_tar_gz(path, cifar10.FOLDER, fixtures.cifar10_members(batches))
    with pytest.raises(DatasetError, match="data_batch_3"):
        load_dataset("cifar10", spec_for(path), tmp_path)


def test_pickle_with_foreign_globals_is_refused(tmp_path: Path) -> None:
    batches = fixtures.cifar10_batches(**SIZES)
    foreign = {**batches.pop("test_batch"), "labels": Path("x")}  # pickles a pathlib global
    path = tmp_path / cifar10.ARCHIVE
    members = fixtures.cifar10_members(batches)
    members["test_batch"] = pickle.dumps(foreign, protocol=2)
    fixtures.write_tar_gz(path, cifar10.FOLDER, members)
    with pytest.raises(DatasetError, match="unexpected global"):
        load_dataset("cifar10", spec_for(path), tmp_path)


def test_check_catches_missing_archive_and_bad_md5_option(tmp_path: Path, monkeypatch) -> None:
    with pytest.raises(DatasetError, match=str(tmp_path / cifar10.ARCHIVE)):
        check_dataset("cifar10", {"source": "cifar10", "eps": 0.1, "dir": str(tmp_path)})
    monkeypatch.setenv(cifar10.ENV_VAR, str(tmp_path / "elsewhere"))
    with pytest.raises(DatasetError, match="elsewhere"):
        check_dataset("cifar10", {"source": "cifar10", "eps": 0.1})
    with pytest.raises(DatasetError, match="md5"):
        check_dataset(
            "cifar10", {"source": "cifar10", "eps": 0.1, "md5": {"data_batch_1": "0" * 32}}
        )
    monkeypatch.delenv(cifar10.ENV_VAR)
    check_dataset(
        "cifar10", {"source": "cifar10", "eps": 0.1}
    )  # no directory: downloads at prepare time


def test_environment_variable_names_the_directory(archive, tmp_path: Path, monkeypatch) -> None:
    path, batches = archive
    monkeypatch.setenv(cifar10.ENV_VAR, str(path.parent))
    spec = {"source": "cifar10", "eps": 0.1, "md5": {cifar10.ARCHIVE: md5_of(path)}}
    ds = load_dataset("cifar10", spec, tmp_path)
    np.testing.assert_array_equal(ds.x_test.reshape(PER_BATCH, -1), batches["test_batch"]["data"])


def test_without_directory_torchvision_downloads_into_resources(
    archive, tmp_path: Path, monkeypatch
) -> None:
    from torchvision.datasets import CIFAR10

    path, batches = archive
    monkeypatch.delenv(cifar10.ENV_VAR, raising=False)
    calls = patch_download(monkeypatch, {cifar10.ARCHIVE: path})
    spec = {"source": "cifar10", "eps": 0.1, "md5": {cifar10.ARCHIVE: md5_of(path)}}
    ds = load_dataset("cifar10", spec, tmp_path / "resources")
    root = tmp_path / "resources" / "cifar10"
    assert calls == [(CIFAR10.url, root, cifar10.ARCHIVE, md5_of(path))]
    np.testing.assert_array_equal(ds.y_test, batches["test_batch"]["labels"])


def test_prepared_file_round_trips(archive, tmp_path: Path) -> None:
    path, batches = archive
    out = tmp_path / "prepared" / "cifar10.h5"
    prepare("cifar10", spec_for(path), out, tmp_path / "resources")
    ds = read_prepared(out)
    assert ds.source == "cifar10" and ds.classes == CLASSES
    np.testing.assert_array_equal(ds.x_test.reshape(PER_BATCH, -1), batches["test_batch"]["data"])
    x = ds.split("test").images(slice(None))
    assert x.shape == (PER_BATCH, 3, 32, 32) and float(x.max()) <= 1.0
