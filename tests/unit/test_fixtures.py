"""Original-format fixtures (:mod:`lolip.datasets.fixtures`): deterministic bytes, honest
MD5s, and content that the real sources read back exactly."""

from __future__ import annotations

import pickle
import tarfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from lolip.datasets import cifar10, fixtures, jpeg_chunks, resimagenet, svhn
from lolip.datasets import load as load_dataset
from tests.helpers.sources import md5_of

WRITERS: dict[str, tuple[Callable[..., dict[str, str]], tuple[int, int]]] = {
    "cifar10": (fixtures.write_cifar10, (23, 11)),
    "svhn": (fixtures.write_svhn, (23, 11)),
    "resimagenet": (fixtures.write_resimagenet, (1, 1)),
}


def files_of(directory: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(directory)): p.read_bytes() for p in directory.rglob("*") if p.is_file()
    }


@pytest.mark.parametrize("source", WRITERS)
def test_writing_twice_gives_the_same_bytes_whatever_the_clock(
    source: str, tmp_path: Path, monkeypatch
) -> None:
    write, sizes = WRITERS[source]
    first = write(tmp_path / "a", *sizes, seed=5)
    # gzip and savemat would stamp the current time into the files.
    monkeypatch.setattr(time, "time", lambda: 2e9)
    monkeypatch.setattr(time, "asctime", lambda *args: "Wed May 18 03:33:20 2033")
    second = write(tmp_path / "b", *sizes, seed=5)
    assert first == second
    assert files_of(tmp_path / "a") == files_of(tmp_path / "b")
    assert write(tmp_path / "c", *sizes, seed=6) != first  # the seed matters


@pytest.mark.parametrize("source", WRITERS)
def test_returned_md5s_are_those_of_every_file_written(source: str, tmp_path: Path) -> None:
    write, sizes = WRITERS[source]
    md5s = write(tmp_path, *sizes, seed=0)
    assert md5s == {name: md5_of(tmp_path / name) for name in files_of(tmp_path)}


def test_expected_md5s_are_what_the_sources_demand(tmp_path: Path) -> None:
    written = fixtures.write_svhn(tmp_path, 12, 10, seed=0)
    assert fixtures.expected_md5s({"source": "svhn", "eps": 0.1, "md5": written}) == written
    assert (
        fixtures.expected_md5s({"source": "svhn", "eps": 0.1}) == svhn.MD5
    )  # nothing stated: published
    partial = {
        "source": "svhn",
        "eps": 0.1,
        "md5": {svhn.FILES["test"]: written[svhn.FILES["test"]]},
    }
    assert fixtures.expected_md5s(partial) != written
    assert fixtures.expected_md5s({"source": "cifar10", "eps": 0.1}) == {
        cifar10.ARCHIVE: cifar10.MD5
    }
    with pytest.raises(ValueError, match="resimagenet"):
        fixtures.expected_md5s({"source": "resimagenet", "eps": 0.1})


def test_cycled_labels_hold_every_class_in_a_random_order() -> None:
    labels = fixtures.cycled_labels(np.random.default_rng(0), 23)
    assert np.bincount(labels).tolist() == [3, 3, 3] + [2] * 7
    assert not np.array_equal(labels, np.arange(23) % 10)


def test_py2_pickles_load_as_python2_pickles_do() -> None:
    # As for the real files: latin1 gives str keys; the default (ASCII) decoding fails on
    # the raw image bytes, which is why the originals need encoding="latin1".
    blob = fixtures.py2_pickle({"data": np.array([[0, 200]], dtype=np.uint8), "labels": [3]})
    assert blob.startswith(b"\x80\x02") and blob.endswith(b".")
    entry = pickle.loads(blob, encoding="latin1")
    assert set(entry) == {"data", "labels"}
    np.testing.assert_array_equal(entry["data"], [[0, 200]])
    assert entry["data"].dtype == np.uint8
    with pytest.raises(UnicodeDecodeError):
        pickle.loads(blob)


@pytest.mark.parametrize(
    "obj",
    [
        None,
        True,
        False,
        [0, 255, 256, 65535, 65536, -1, -(2**31)],
        "x" * 300,
        (),
        (1,),
        (1, 2, 3),
        (1, 2, 3, 4),
        list(range(2500)),
        {f"k{i}": i for i in range(1500)},
    ],
    ids=repr,
)
def test_py2_pickle_round_trips_each_kind(obj: object) -> None:
    assert pickle.loads(fixtures.py2_pickle(obj), encoding="latin1") == obj


def test_py2_pickle_refuses_what_python2_batches_never_held() -> None:
    with pytest.raises(TypeError, match="float"):
        fixtures.py2_pickle(1.5)
    with pytest.raises(TypeError, match="ndarray"):
        fixtures.py2_pickle(np.zeros(3, dtype=np.float32))


def test_cifar10_archive_is_laid_out_as_the_original(tmp_path: Path) -> None:
    fixtures.write_cifar10(tmp_path, 23, 11, seed=0)
    path = tmp_path / cifar10.ARCHIVE
    header = path.read_bytes()[:10]  # gzip: magic, method, flags, mtime, ...
    assert header[:4] == b"\x1f\x8b\x08\x00" and header[4:8] == bytes(4)  # no name, mtime 0
    with tarfile.open(path) as tar:
        members = tar.getmembers()
    names = [m.name for m in members]
    assert names[0] == cifar10.FOLDER and members[0].isdir()
    expected = {*cifar10.BATCHES["train"], *cifar10.BATCHES["test"], cifar10.META, "readme.html"}
    assert set(names[1:]) == {f"{cifar10.FOLDER}/{n}" for n in expected}
    assert all((m.mtime, m.uid, m.gid, m.uname, m.gname) == (0, 0, 0, "", "") for m in members)
    batches = fixtures.cifar10_batches(23, 11, seed=0)
    assert [len(batches[n]["labels"]) for n in cifar10.BATCHES["train"]] == [5, 5, 5, 4, 4]
    assert batches["data_batch_2"]["batch_label"] == "training batch 2 of 5"
    assert batches["test_batch"]["batch_label"] == "testing batch 1 of 1"


def write_and_load(tmp_path: Path, source: str):
    """The MD5s of the fixture of ``source`` (23 training, 11 test images, seed 1) written
    into ``tmp_path/raw``, and the dataset loaded from it."""
    md5s = fixtures.WRITERS[source](tmp_path / "raw", 23, 11, seed=1)
    spec = {"source": source, "eps": 0.1, "dir": str(tmp_path / "raw"), "md5": md5s}
    return md5s, load_dataset(source, spec, tmp_path / "resources")


def test_cifar10_fixture_loads_pixel_for_pixel(tmp_path: Path) -> None:
    md5s, ds = write_and_load(tmp_path, "cifar10")
    batches = fixtures.cifar10_batches(23, 11, seed=1)
    for split, names in cifar10.BATCHES.items():
        x, y = ds.arrays(split)
        data = np.concatenate([batches[n]["data"] for n in names])
        np.testing.assert_array_equal(x, data.reshape(-1, 3, 32, 32))
        np.testing.assert_array_equal(y, sum((batches[n]["labels"] for n in names), []))
    assert len(ds.y_train) == 23 and len(ds.y_test) == 11
    assert set(ds.y_train.tolist()) == set(range(10)) and set(ds.y_test.tolist()) == set(range(10))
    assert ds.classes == fixtures.CIFAR10_CLASSES and ds.provenance["md5"] == md5s[cifar10.ARCHIVE]


def test_svhn_files_are_matlab_v5_with_a_fixed_header(tmp_path: Path) -> None:
    fixtures.write_svhn(tmp_path, 23, 11, seed=0)
    for name in svhn.FILES.values():
        header = (tmp_path / name).read_bytes()[:128]
        assert header[:116] == fixtures.MAT_DESCRIPTION.ljust(116)
        assert header[124:128] == b"\x00\x01IM"  # version 0x0100, endian mark, little-endian
    from scipy.io import whosmat

    assert sorted(whosmat(tmp_path / svhn.FILES["train"])) == [
        ("X", (32, 32, 3, 23), "uint8"),
        ("y", (23, 1), "uint8"),
    ]


def test_svhn_fixture_loads_pixel_for_pixel(tmp_path: Path) -> None:
    md5s, ds = write_and_load(tmp_path, "svhn")
    arrays = fixtures.svhn_arrays(23, 11, seed=1)
    for split, name in svhn.FILES.items():
        x, y = ds.arrays(split)
        np.testing.assert_array_equal(x, arrays[name]["X"].transpose(3, 2, 0, 1))
        raw = arrays[name]["y"][:, 0]
        assert set(raw.tolist()) == set(range(1, 11))  # every digit, 0 written as 10
        np.testing.assert_array_equal(y, np.where(raw == 10, 0, raw))
    assert ds.provenance["md5"] == md5s


def test_imagenet_tree_holds_varied_real_jpegs_of_every_synset(tmp_path: Path) -> None:
    md5s = fixtures.write_resimagenet(tmp_path, 2, 1, seed=0)
    paths = [p for p, _ in fixtures.imagenet_paths(2, 1)]
    assert sorted(md5s) == sorted(paths) and len(paths) == 3 * 203
    for s in resimagenet.synsets():
        assert sorted(p.name for p in (tmp_path / "train" / s.wnid).iterdir()) == [
            f"{s.wnid}_0.JPEG",
            f"{s.wnid}_1.JPEG",
        ]
        assert len(list((tmp_path / "val" / s.wnid).iterdir())) == 1
    assert "val/n01641577/ILSVRC2012_val_00000001.JPEG" in md5s
    sizes, modes = [], set()
    for path in paths:
        with Image.open(tmp_path / path) as img:
            assert img.format == "JPEG"
            sizes.append(img.size)
            modes.add(img.mode)
    w, h = np.array(sizes).T
    assert (w != h).all() and (w > h).any() and (w < h).any()
    short = np.minimum(w, h)
    assert (short < jpeg_chunks.SIZE).any() and (short > jpeg_chunks.SIZE).any()
    assert modes == {"RGB", "L", "CMYK"}


def test_imagenet_fixture_prepares_with_the_right_labels_and_counts(tmp_path: Path) -> None:
    fixtures.write_resimagenet(tmp_path / "raw", 2, 1, seed=0)
    spec = {"source": "resimagenet", "eps": 0.1, "dir": str(tmp_path / "raw"), "workers": 1}
    ds = load_dataset("resimagenet", spec, tmp_path / "resources")
    label_of = dict(fixtures.imagenet_paths(2, 1))
    per_class = np.bincount([s.label for s in resimagenet.synsets()], minlength=9)
    for split, per_synset in (("train", 2), ("test", 1)):
        x, y = ds.arrays(split)
        paths = [p.decode() if isinstance(p, bytes) else p for p in ds.extras[f"path_{split}"]]
        assert len(paths) == len(y) == len(x) == per_synset * 203
        assert [label_of[p] for p in paths] == y.tolist()
        assert np.bincount(y, minlength=9).tolist() == (per_synset * per_class).tolist()
        assert x.shape[1:] == (3, jpeg_chunks.SIZE, jpeg_chunks.SIZE)
        np.testing.assert_array_equal(x[0], jpeg_chunks.decode(tmp_path / "raw" / paths[0]))
