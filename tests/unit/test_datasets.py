"""Dataset sources (digits, MNIST, npz) and the prepared HDF5 format."""

from __future__ import annotations

import gzip
import shutil

import h5py
import numpy as np
import pytest

from lolip import datasets
from lolip.datasets import npz
from lolip.datasets.prepared import Dataset, DatasetError, Split, read_prepared, write_prepared


def _floats(split: Split):
    """The whole split as float images in [0, 1] and its labels."""
    return split.images(slice(None)), split.y


def test_digits_split_is_stratified_disjoint_and_recorded(digits):
    train_idx, test_idx = digits.extras["index_train"], digits.extras["index_test"]
    assert len(set(train_idx) & set(test_idx)) == 0
    assert len(train_idx) + len(test_idx) == 1797
    train_counts = np.bincount(digits.y_train, minlength=10) / len(digits.y_train)
    test_counts = np.bincount(digits.y_test, minlength=10) / len(digits.y_test)
    assert np.abs(train_counts - test_counts).max() < 0.01
    assert digits.x_train.dtype == np.uint8 and digits.x_train.max() == 16
    assert digits.pixel_max == 16


def test_prepared_file_round_trips_exactly(tmp_path, digits):
    path = tmp_path / "digits.h5"
    write_prepared(path, digits)
    back = read_prepared(path)
    for key in ("x_train", "y_train", "x_test", "y_test"):
        np.testing.assert_array_equal(getattr(back, key), getattr(digits, key))
    np.testing.assert_array_equal(back.extras["index_test"], digits.extras["index_test"])
    assert back.classes == digits.classes and back.provenance == digits.provenance
    x, y = _floats(back.split("test"))
    assert x.dtype.is_floating_point and float(x.max()) == 1.0 and float(x.min()) == 0.0
    assert x.shape == (len(digits.y_test), 1, 8, 8)


def test_prepared_file_not_lolip_is_named(tmp_path):
    bad = tmp_path / "bad.h5"
    bad.write_bytes(b"not hdf5")
    with pytest.raises(DatasetError, match="bad.h5"):
        read_prepared(bad)


def _zero_bytes_in_the_pixels(path, n=4096):
    """Zero ``n`` bytes in the middle of the stored training images (inside a chunk)."""
    with h5py.File(path, "r") as f:
        offset = f["x_train"].id.get_chunk_info(0).byte_offset
    data = bytearray(path.read_bytes())
    data[offset + 16 : offset + 16 + n] = bytes(n)
    path.write_bytes(bytes(data))


@pytest.mark.parametrize("damage", ["zeroed", "truncated"])
def test_a_damaged_prepared_file_is_named_not_read_as_pixels(tmp_path, digits, damage):
    path = tmp_path / "digits.h5"
    write_prepared(path, digits)
    if damage == "zeroed":
        _zero_bytes_in_the_pixels(path)
    else:
        path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    with pytest.raises(DatasetError, match=r"digits.h5' is damaged or truncated .* delete it"):
        read_prepared(path)


def test_centre_crop_for_larger_stored_images():
    x = np.arange(2 * 3 * 6 * 6, dtype=np.uint8).reshape(2, 3, 6, 6)
    ds = Dataset(
        "d", x, np.zeros(2, np.int64), x, np.zeros(2, np.int64), 255.0, ["a"], "npz", input_size=4
    )
    xt, _ = _floats(ds.split("train"))
    np.testing.assert_array_equal((xt * 255).round().byte().numpy(), x[:, :, 1:5, 1:5])


def test_mnist_from_directory_matches_known_counts(mnist_raw_dir):
    ds = datasets.load("mnist", {"source": "mnist", "eps": 0.1, "dir": str(mnist_raw_dir)})
    assert ds.x_train.shape == (60000, 1, 28, 28) and ds.x_test.shape == (10000, 1, 28, 28)
    counts = [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
    assert np.bincount(ds.y_train).tolist() == counts


def _copy_mnist(src, dst):
    dst.mkdir()
    for f in src.glob("*.gz"):
        shutil.copy(f, dst / f.name)
    return dst


def test_mnist_truncated_file_is_named(tmp_path, mnist_raw_dir):
    d = _copy_mnist(mnist_raw_dir, tmp_path / "m")
    raw = gzip.decompress((d / "t10k-labels-idx1-ubyte.gz").read_bytes())
    (d / "t10k-labels-idx1-ubyte.gz").write_bytes(gzip.compress(raw[:-10]))
    with pytest.raises(DatasetError, match="t10k-labels-idx1-ubyte.gz.*truncated"):
        datasets.load("mnist", {"source": "mnist", "eps": 0.1, "dir": str(d)})


def test_mnist_corrupt_gzip_is_named(tmp_path, mnist_raw_dir):
    d = _copy_mnist(mnist_raw_dir, tmp_path / "m")
    (d / "train-labels-idx1-ubyte.gz").write_bytes(b"\x1f\x8b garbage")
    with pytest.raises(DatasetError, match="train-labels-idx1-ubyte.gz"):
        datasets.load("mnist", {"source": "mnist", "eps": 0.1, "dir": str(d)})


def test_mnist_missing_file_caught_by_check(tmp_path, mnist_raw_dir):
    d = _copy_mnist(mnist_raw_dir, tmp_path / "m")
    (d / "t10k-images-idx3-ubyte.gz").unlink()
    with pytest.raises(DatasetError, match="t10k-images-idx3-ubyte"):
        datasets.check("mnist", {"source": "mnist", "eps": 0.1, "dir": str(d)})


def test_mnist_directory_from_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("LOLIP_MNIST_DIR", str(tmp_path / "nowhere"))
    with pytest.raises(DatasetError, match="nowhere"):
        datasets.check("mnist", {"source": "mnist", "eps": 0.1})


@pytest.mark.parametrize("layout", ["nhwc", "nchw", "nhw"])
def test_npz_layouts_give_the_same_nchw_images(tmp_path, layout):
    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, (20, 3 if layout != "nhw" else 1, 5, 7), dtype=np.uint8)
    stored = {"nhwc": x.transpose(0, 2, 3, 1), "nchw": x, "nhw": x[:, 0]}[layout]
    y = rng.choice([3, 7, 11], 20)
    path = tmp_path / "d.npz"
    np.savez(path, x_train=stored, y_train=y, x_test=stored[:5], y_test=y[:5])
    ds = datasets.load("mine", {"source": "npz", "path": str(path), "eps": 0.1})
    np.testing.assert_array_equal(ds.x_train, x)
    assert ds.classes == ["3", "7", "11"]
    np.testing.assert_array_equal(ds.y_train, np.searchsorted([3, 7, 11], y))


def test_npz_float_images_kept_in_unit_range(tmp_path):
    x = np.random.default_rng(0).random((10, 1, 4, 4))
    path = tmp_path / "f.npz"
    np.savez(path, x_train=x, y_train=np.arange(10) % 2, x_test=x, y_test=np.arange(10) % 2)
    ds = datasets.load("f", {"source": "npz", "eps": 0.1, "path": str(path)})
    assert ds.pixel_max == 1.0 and ds.x_train.dtype == np.float32
    np.testing.assert_allclose(_floats(ds.split("train"))[0].numpy(), x, rtol=1e-6)


@pytest.mark.parametrize(
    "arrays, message",
    [
        ({"x_train": np.zeros((4, 1, 2, 2)), "y_train": np.zeros(4)}, "lacks key"),
        (
            {
                "x_train": np.full((4, 1, 2, 2), 2.0),
                "y_train": np.zeros(4, int),
                "x_test": np.zeros((2, 1, 2, 2)),
                "y_test": np.zeros(2, int),
            },
            r"must lie in \[0, 1\]",
        ),
        (
            {
                "x_train": np.zeros((4, 1, 2, 2)),
                "y_train": np.zeros(3, int),
                "x_test": np.zeros((2, 1, 2, 2)),
                "y_test": np.zeros(2, int),
            },
            "vector of 4 labels",
        ),
    ],
)
def test_malformed_npz_is_rejected_naming_the_problem(tmp_path, arrays, message):
    path = tmp_path / "bad.npz"
    np.savez(path, **arrays)
    with pytest.raises(DatasetError, match=message):
        datasets.load("bad", {"source": "npz", "eps": 0.1, "path": str(path)})


def test_npz_without_training_split_gives_the_test_split_when_optional(tmp_path):
    x = np.random.default_rng(0).integers(0, 256, (6, 4, 4), dtype=np.uint8)
    path = tmp_path / "t.npz"
    np.savez(path, x_test=x, y_test=np.array([2, 0, 2, 5, 0, 5]))
    arrays, classes = npz.read_splits("t", path, train_optional=True)
    assert list(arrays) == ["test"] and classes == ["0", "2", "5"]
    np.testing.assert_array_equal(arrays["test"][0], x[:, None])
    np.testing.assert_array_equal(arrays["test"][1], [1, 0, 1, 2, 0, 2])
    with pytest.raises(DatasetError, match="lacks key.*x_train, y_train"):
        npz.read_splits("t", path)


def test_npz_with_half_a_training_split_is_rejected(tmp_path):
    path = tmp_path / "h.npz"
    np.savez(path, x_train=np.zeros((2, 4, 4)), x_test=np.zeros((2, 4, 4)), y_test=np.zeros(2, int))
    with pytest.raises(DatasetError, match="lacks key.*y_train"):
        npz.read_splits("h", path, train_optional=True)


def test_npz_read_splits_is_what_the_source_loads(tmp_path):
    rng = np.random.default_rng(1)
    path = tmp_path / "d.npz"
    x = rng.integers(0, 256, (8, 3, 4, 4), dtype=np.uint8)
    np.savez(path, x_train=x, y_train=rng.choice([1, 4], 8), x_test=x[:3], y_test=[4, 1, 4])
    arrays, classes = npz.read_splits("d", path, train_optional=True)
    ds = datasets.load("d", {"source": "npz", "path": str(path)})
    assert classes == ds.classes
    for split, (xs, ys) in arrays.items():
        np.testing.assert_array_equal(xs, ds.arrays(split)[0])
        np.testing.assert_array_equal(ys, ds.arrays(split)[1])


def test_npz_not_a_zip_is_rejected(tmp_path):
    path = tmp_path / "broken.npz"
    path.write_bytes(b"PK\x03\x04 truncated")
    with pytest.raises(DatasetError, match="broken.npz"):
        datasets.check("broken", {"source": "npz", "eps": 0.1, "path": str(path)})


def test_unknown_source_lists_known_ones():
    with pytest.raises(ValueError, match="unknown dataset source 'imagenet21k'.*mnist"):
        datasets.check("x", {"source": "imagenet21k", "eps": 0.1})
