"""CIFAR-10 source on a tiny archive written in the original's exact on-disk format.

The original batches are Python 2 cPickle files (protocol 2): dicts with ``str`` (byte
string) keys and a numpy array pickled by Python 2's numpy, whose raw bytes are a byte
string too. Python 3's pickle cannot write that, so :func:`py2_pickle` emits the opcodes.
"""

from __future__ import annotations

import io
import pickle
import struct
import tarfile
from pathlib import Path

import numpy as np
import pytest

from lolip.datasets import check as check_dataset
from lolip.datasets import cifar10, prepare, read_prepared
from lolip.datasets import load as load_dataset
from lolip.datasets.prepared import DatasetError
from tests.sources import md5_of, patch_download

CLASSES = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]
PER_BATCH = 7  # images per fixture batch (10,000 in the original)


def _py2(obj: object) -> bytes:
    """Protocol-2 opcodes for ``obj`` as Python 2's cPickle writes them (without memo)."""
    if obj is None:
        return b"N"
    if obj is False:
        return b"\x89"
    if isinstance(obj, int):
        if 0 <= obj < 256:
            return b"K" + bytes([obj])
        if 0 <= obj < 65536:
            return b"M" + struct.pack("<H", obj)
        return b"J" + struct.pack("<i", obj)
    if isinstance(obj, str):  # a Python 2 str: bytes, not unicode
        obj = obj.encode("latin1")
    if isinstance(obj, bytes):
        if len(obj) < 256:
            return b"U" + bytes([len(obj)]) + obj
        return b"T" + struct.pack("<i", len(obj)) + obj
    if isinstance(obj, tuple):
        items = b"".join(_py2(v) for v in obj)
        if 1 <= len(obj) <= 3:  # TUPLE1, TUPLE2, TUPLE3
            return items + bytes([0x84 + len(obj)])
        return b"(" + items + b"t"
    if isinstance(obj, list):  # cPickle batches APPENDS by 1000
        out = b"]"
        for start in range(0, len(obj), 1000):
            out += b"(" + b"".join(_py2(v) for v in obj[start : start + 1000]) + b"e"
        return out
    if isinstance(obj, dict):
        out = b"}"
        items = list(obj.items())
        for start in range(0, len(items), 1000):
            pairs = items[start : start + 1000]
            out += b"(" + b"".join(_py2(k) + _py2(v) for k, v in pairs) + b"u"
        return out
    if isinstance(obj, np.ndarray):  # numpy 1.x on Python 2: ndarray.__reduce__
        assert obj.dtype == np.uint8
        dtype_state = _py2((3, "|", None, None, None, -1, -1, 0))
        dtype = b"cnumpy\ndtype\n" + _py2(("u1", 0, 1)) + b"R" + dtype_state + b"b"
        state = b"(" + _py2(1) + _py2(obj.shape) + dtype + b"\x89" + _py2(obj.tobytes()) + b"t"
        return (
            b"cnumpy.core.multiarray\n_reconstruct\n"
            + b"cnumpy\nndarray\n"
            + _py2((0,))
            + _py2("b")
            + b"\x87R"  # TUPLE3 of the three arguments above, then REDUCE
            + state
            + b"b"
        )
    raise TypeError(type(obj))


def py2_pickle(obj: object) -> bytes:
    return b"\x80\x02" + _py2(obj) + b"."


def make_batches(seed: int = 0) -> dict[str, dict]:
    rng = np.random.default_rng(seed)
    batches = {}
    names = [*cifar10.BATCHES["train"], *cifar10.BATCHES["test"]]
    for i, name in enumerate(names):
        data = rng.integers(0, 256, size=(PER_BATCH, 3072), dtype=np.uint8)
        label = f"training batch {i + 1} of 5" if name != "test_batch" else "testing batch 1 of 1"
        batches[name] = {
            "data": data,
            "labels": rng.integers(0, 10, size=PER_BATCH).tolist(),
            "batch_label": label,
            "filenames": [f"img_{i}_{j:06d}.png" for j in range(PER_BATCH)],
        }
    return batches


def write_archive(path: Path, batches: dict[str, dict]) -> Path:
    """A ``cifar-10-python.tar.gz`` laid out as the original."""
    meta = {"num_cases_per_batch": PER_BATCH, "label_names": CLASSES, "num_vis": 3072}
    members = {cifar10.META: py2_pickle(meta), "readme.html": b"<html></html>"}
    members |= {name: py2_pickle(batch) for name, batch in batches.items()}
    with tarfile.open(path, "w:gz") as tar:
        folder = tarfile.TarInfo(cifar10.FOLDER)
        folder.type = tarfile.DIRTYPE
        tar.addfile(folder)
        for name, blob in members.items():
            info = tarfile.TarInfo(f"{cifar10.FOLDER}/{name}")
            info.size = len(blob)
            tar.addfile(info, io.BytesIO(blob))
    return path


@pytest.fixture()
def archive(tmp_path: Path) -> tuple[Path, dict[str, dict]]:
    batches = make_batches()
    directory = tmp_path / "cifar"
    directory.mkdir()
    return write_archive(directory / cifar10.ARCHIVE, batches), batches


def spec_for(path: Path) -> dict:
    return {"source": "cifar10", "dir": str(path.parent), "md5": {cifar10.ARCHIVE: md5_of(path)}}


def test_fixture_pickles_load_as_python2_pickles_do() -> None:
    # As for the real files: latin1 gives str keys; the default (ASCII) decoding fails on
    # the raw image bytes, which is why the originals need encoding="latin1".
    blob = py2_pickle({"data": np.array([[0, 200]], dtype=np.uint8), "labels": [3]})
    entry = pickle.loads(blob, encoding="latin1")
    assert set(entry) == {"data", "labels"}
    np.testing.assert_array_equal(entry["data"], [[0, 200]])
    with pytest.raises(UnicodeDecodeError):
        pickle.loads(blob)


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
        load_dataset("cifar10", {"source": "cifar10", "dir": str(path.parent)}, tmp_path)


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
    batches = make_batches()
    del batches["data_batch_3"]
    path = write_archive(tmp_path / cifar10.ARCHIVE, batches)
    with pytest.raises(DatasetError, match="data_batch_3"):
        load_dataset("cifar10", spec_for(path), tmp_path)


def test_pickle_with_foreign_globals_is_refused(tmp_path: Path) -> None:
    batches = make_batches()
    batches["test_batch"]["labels"] = Path("x")  # pickles as a pathlib global
    path = tmp_path / cifar10.ARCHIVE
    blob = pickle.dumps(batches["test_batch"], protocol=2)
    members = {name: py2_pickle(b) for name, b in batches.items() if name != "test_batch"}
    members |= {"test_batch": blob, cifar10.META: py2_pickle({"label_names": CLASSES})}
    with tarfile.open(path, "w:gz") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(f"{cifar10.FOLDER}/{name}")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    with pytest.raises(DatasetError, match="unexpected global"):
        load_dataset("cifar10", spec_for(path), tmp_path)


def test_check_catches_missing_archive_and_bad_md5_option(tmp_path: Path, monkeypatch) -> None:
    with pytest.raises(DatasetError, match=str(tmp_path / cifar10.ARCHIVE)):
        check_dataset("cifar10", {"source": "cifar10", "dir": str(tmp_path)})
    monkeypatch.setenv(cifar10.ENV_VAR, str(tmp_path / "elsewhere"))
    with pytest.raises(DatasetError, match="elsewhere"):
        check_dataset("cifar10", {"source": "cifar10"})
    with pytest.raises(DatasetError, match="md5"):
        check_dataset("cifar10", {"source": "cifar10", "md5": {"data_batch_1": "0" * 32}})
    monkeypatch.delenv(cifar10.ENV_VAR)
    check_dataset("cifar10", {"source": "cifar10"})  # no directory: downloads at prepare time


def test_environment_variable_names_the_directory(archive, tmp_path: Path, monkeypatch) -> None:
    path, batches = archive
    monkeypatch.setenv(cifar10.ENV_VAR, str(path.parent))
    spec = {"source": "cifar10", "md5": {cifar10.ARCHIVE: md5_of(path)}}
    ds = load_dataset("cifar10", spec, tmp_path)
    np.testing.assert_array_equal(ds.x_test.reshape(PER_BATCH, -1), batches["test_batch"]["data"])


def test_without_directory_torchvision_downloads_into_resources(
    archive, tmp_path: Path, monkeypatch
) -> None:
    from torchvision.datasets import CIFAR10

    path, batches = archive
    monkeypatch.delenv(cifar10.ENV_VAR, raising=False)
    calls = patch_download(monkeypatch, {cifar10.ARCHIVE: path})
    spec = {"source": "cifar10", "md5": {cifar10.ARCHIVE: md5_of(path)}}
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
    x, y = ds.tensors("test")
    assert x.shape == (PER_BATCH, 3, 32, 32) and float(x.max()) <= 1.0
