"""Restricted ImageNet source on a generated ILSVRC2012 tree of JPEGs with real wnids.

The tree (:func:`lolip.datasets.fixtures.write_resimagenet`) holds every one of the 203
synsets in ``train/`` and ``val/`` (images of many sizes, aspect ratios and colour modes);
this module adds a second image to some synsets, synsets just outside the super-class ranges
that must be ignored, a non-image file and, in a copy, a truncated and a garbage ``.JPEG``
that must stop preparation.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import h5py
import numpy as np
import pytest
from PIL import Image

from lolip.datasets import check as check_dataset
from lolip.datasets import fixtures, jpeg_chunks, prepare, read_prepared, resimagenet
from lolip.datasets.prepared import DatasetError
from tests.helpers.workflow import ROOT

CHUNK = 16
# Real wnids with their super-class, checked independently of the ranges' arithmetic:
# the first and last synset of each range.
ANCHORS = {
    "n01641577": "frog",  # 30 bullfrog
    "n01644900": "frog",  # 32 tailed frog
    "n01664065": "turtle",  # 33 loggerhead
    "n01669191": "turtle",  # 37 box turtle
    "n01795545": "bird",  # 80 black grouse
    "n01860187": "bird",  # 100 black swan
    "n01978287": "crab",  # 118 Dungeness crab
    "n01981276": "crab",  # 121 king crab
    "n02085620": "dog",  # 151 Chihuahua
    "n02113978": "dog",  # 268 Mexican hairless
    "n02123045": "cat",  # 281 tabby
    "n02124075": "cat",  # 285 Egyptian cat
    "n02165105": "insect",  # 300 tiger beetle
    "n02268443": "insect",  # 319 dragonfly
    "n02480495": "primate",  # 365 orangutan
    "n02494079": "primate",  # 382 squirrel monkey
    "n02514041": "fish",  # 389 barracouta
    "n02655020": "fish",  # 397 puffer
}
# Real ILSVRC2012 synsets next to the ranges, not part of Restricted ImageNet.
OUTSIDE = ["n01440764", "n01632777", "n02114367", "n02125311"]  # tench, axolotl, wolf, cougar
# A truncated JPEG in train/ and a garbage one in val/: both splits are decoded before failing.
BAD = ["train/n02085620/n02085620_truncated.JPEG", "val/n02268443/n02268443_garbage.JPEG"]


def make_tree(root: Path, seed: int = 0) -> Path:
    """The library's fixture tree (one image per synset and split) with a second train image
    in every fifth synset, the ``OUTSIDE`` synsets, a non-image file, an image with an exact
    72-pixel short side and one smaller than 72 (upscaled)."""
    fixtures.write_resimagenet(root, per_synset_train=1, per_synset_val=1, seed=seed)
    rng = np.random.default_rng(seed + 1)
    for s in resimagenet.synsets()[::5]:
        fixtures.write_jpeg(root / f"train/{s.wnid}/{s.wnid}_1.JPEG", fixtures.random_image(rng))
    for folder in ("train", "val"):
        for wnid in OUTSIDE:
            fixtures.write_jpeg(root / folder / wnid / f"{wnid}_0.JPEG", fixtures.random_image(rng))
    (root / "train" / "n02085620" / "notes.txt").write_text("not an image")
    fixtures.write_jpeg(
        root / "val/n02123045/exact.JPEG", Image.new("RGB", (72, 100), (10, 200, 30))
    )
    fixtures.write_jpeg(
        root / "val/n02123045/small.JPEG", Image.new("RGB", (50, 30), (200, 10, 30))
    )
    return root


def add_bad_images(root: Path) -> None:
    """``BAD``: the first third of a good JPEG, and 500 random bytes."""
    good = sorted((root / "train" / "n02085620").glob("*.JPEG"))[0].read_bytes()
    (root / BAD[0]).write_bytes(good[: len(good) // 3])
    (root / BAD[1]).write_bytes(np.random.default_rng(0).bytes(500))


def spec_for(root: Path, **options) -> dict:
    return {
        "source": "resimagenet",
        "eps": 0.1,
        "dir": str(root),
        "chunk": CHUNK,
        "workers": 1,
        **options,
    }


def h5_content(path: Path) -> tuple[dict, dict]:
    with h5py.File(path, "r") as f:
        return {k: f[k][()] for k in f}, dict(f.attrs)


def assert_same_file(a: Path, b: Path, ignore_attrs: tuple[str, ...] = ()) -> None:
    arrays_a, attrs_a = h5_content(a)
    arrays_b, attrs_b = h5_content(b)
    assert arrays_a.keys() == arrays_b.keys()
    for key in arrays_a:
        np.testing.assert_array_equal(arrays_a[key], arrays_b[key], err_msg=key)
    for key in attrs_a.keys() - set(ignore_attrs):
        assert attrs_a[key] == attrs_b[key], key


def strings(values: np.ndarray) -> list[str]:
    return [v.decode() if isinstance(v, bytes) else v for v in values]


def image_files(root: Path, folder: str) -> set[str]:
    """The synsets' ``.JPEG`` files in ``root/folder``, relative to ``root``."""
    return {
        f"{folder}/{s.wnid}/{p.name}"
        for s in resimagenet.synsets()
        for p in (root / folder / s.wnid).glob("*.JPEG")
    }


@pytest.fixture(scope="module")
def tree(tmp_path_factory) -> Path:
    return make_tree(tmp_path_factory.mktemp("imagenet"))


@pytest.fixture(scope="module")
def reference(tree: Path, tmp_path_factory) -> Path:
    """The file of one uninterrupted run."""
    out = tmp_path_factory.mktemp("prepared") / "resimagenet.h5"
    prepare("resimagenet", spec_for(tree), out, out.parent)
    return out


def test_wnid_list_has_the_203_synsets_in_sorted_order() -> None:
    rows = resimagenet.synsets()
    assert len(rows) == 203
    wnids = [s.wnid for s in rows]
    assert wnids == sorted(wnids) and len(set(wnids)) == 203
    counts = {c: sum(resimagenet.CLASSES[s.label] == c for s in rows) for c in resimagenet.CLASSES}
    expected = {"bird": 21, "cat": 5, "crab": 4, "dog": 118, "fish": 9, "frog": 3}
    assert counts == {**expected, "insect": 20, "primate": 18, "turtle": 5}
    by_wnid = {s.wnid: resimagenet.CLASSES[s.label] for s in rows}
    assert {w: by_wnid[w] for w in ANCHORS} == ANCHORS
    assert not set(OUTSIDE) & set(wnids)


def test_wnid_indices_agree_with_torchvision_class_names() -> None:
    # torchvision's ImageNet weights list the 1,000 class names by index: an independent
    # source for the index -> synset alignment of the committed list.
    from torchvision.models._meta import _IMAGENET_CATEGORIES

    for s in resimagenet.synsets():
        lemmas = [lemma.strip().lower() for lemma in s.name.split(",")]
        assert _IMAGENET_CATEGORIES[s.index].lower() in lemmas, (s.index, s.wnid, s.name)


def test_labels_map_wnids_to_their_super_class(reference: Path) -> None:
    ds = read_prepared(reference)
    assert ds.classes == sorted(set(ANCHORS.values())) and ds.classes[0] == "bird"
    for split in ("train", "test"):
        _, y = ds.arrays(split)
        paths = strings(ds.extras[f"path_{split}"])
        folder = "train" if split == "train" else "val"
        assert all(p.split("/")[0] == folder for p in paths)
        wnids = [p.split("/")[1] for p in paths]
        assert not set(OUTSIDE) & set(wnids)
        assert set(wnids) == {s.wnid for s in resimagenet.synsets()}
        for wnid, label in zip(wnids, y, strict=True):
            if wnid in ANCHORS:
                assert ds.classes[label] == ANCHORS[wnid]
    assert set(ds.y_train.tolist()) == set(range(9))
    assert np.any(np.diff(ds.y_test) < 0)  # stored shuffled, not class by class


def test_images_equal_torchvision_resize_then_center_crop(tree: Path, reference: Path) -> None:
    from torchvision import transforms

    stored = transforms.Compose([transforms.Resize(72), transforms.CenterCrop(72)])
    evaluated = transforms.Compose([transforms.Resize(72), transforms.CenterCrop(64)])
    ds = read_prepared(reference)
    assert ds.x_test.shape[1:] == (3, 72, 72) and ds.x_test.dtype == np.uint8
    x64 = ds.split("test").images(slice(None))
    assert ds.input_size == 64 and x64.shape == (len(ds.x_test), 3, 64, 64)
    for i, path in enumerate(strings(ds.extras["path_test"])):
        with Image.open(tree / path) as img:
            rgb = img.convert("RGB")
        np.testing.assert_array_equal(ds.x_test[i], np.asarray(stored(rgb)).transpose(2, 0, 1))
        expected = np.asarray(evaluated(rgb)).transpose(2, 0, 1) / 255
        np.testing.assert_allclose(x64[i].numpy(), expected, atol=1e-6)


def test_every_image_file_is_stored(tree: Path, reference: Path) -> None:
    ds = read_prepared(reference)
    assert set(ds.extras) == {"path_train", "path_test"}
    for split, folder in (("train", "train"), ("test", "val")):
        stored = strings(ds.extras[f"path_{split}"])
        assert len(stored) == len(set(stored)) == len(ds.arrays(split)[1])
        assert set(stored) == image_files(tree, folder)


def test_unreadable_images_stop_preparation_and_a_fixed_tree_resumes(
    tree: Path, tmp_path: Path, monkeypatch, caplog
) -> None:
    root = tmp_path / "tree"
    shutil.copytree(tree, root)
    add_bad_images(root)
    out = tmp_path / "prepared" / "r.h5"
    with caplog.at_level(logging.ERROR, logger="lolip"), pytest.raises(DatasetError) as err:
        prepare("resimagenet", spec_for(root), out, tmp_path)
    for bad in BAD:  # named in the error, and logged when found
        assert str(root / bad) in str(err.value), bad
        assert any(str(root / bad) in r.getMessage() for r in caplog.records), bad
    assert "2 image(s)" in str(err.value)
    assert not out.exists() and not list(out.parent.glob(".tmp-*"))

    # Every chunk but the two holding a bad image (one per split) was written.
    n_chunks = sum(-(-len(p) // CHUNK) for p, _ in resimagenet.list_images(root).values())
    assert len(list((tmp_path / "prepared" / "r.h5.partial").glob("*.npz"))) == n_chunks - 2

    # With the bad files replaced by good ones, a rerun decodes only those two chunks.
    rng = np.random.default_rng(1)
    for bad in BAD:
        fixtures.write_jpeg(root / bad, fixtures.random_image(rng))
    decoded = []
    real_decode = jpeg_chunks.decode_chunk
    monkeypatch.setattr(
        jpeg_chunks, "decode_chunk", lambda task: decoded.append(task) or real_decode(task)
    )
    prepare("resimagenet", spec_for(root), out, tmp_path)
    assert len(decoded) == 2
    assert sorted(path for _, paths, _ in decoded for path in paths if path in BAD) == sorted(BAD)
    ds = read_prepared(out)
    for split, folder in (("train", "train"), ("test", "val")):
        stored = strings(ds.extras[f"path_{split}"])
        assert set(stored) == image_files(root, folder)
        for bad in set(BAD) & set(stored):
            x, _ = ds.arrays(split)
            np.testing.assert_array_equal(x[stored.index(bad)], jpeg_chunks.decode(root / bad))
    assert not (tmp_path / "prepared" / "r.h5.partial").exists()


def test_interrupted_run_resumes_to_the_same_file(
    tree: Path, reference: Path, tmp_path: Path, monkeypatch
) -> None:
    out = tmp_path / "resimagenet.h5"
    written = []
    real_write = jpeg_chunks.write_chunk

    def failing_write(*args) -> None:
        if len(written) == 5:
            raise RuntimeError("injected fault")
        real_write(*args)
        written.append(args[0])

    monkeypatch.setattr(jpeg_chunks, "write_chunk", failing_write)
    with pytest.raises(RuntimeError, match="injected fault"):
        prepare("resimagenet", spec_for(tree), out, tmp_path)
    assert not out.exists()
    assert len(list((tmp_path / "resimagenet.h5.partial").glob("*.npz"))) == 5

    decoded = []
    real_decode = jpeg_chunks.decode_chunk
    monkeypatch.setattr(jpeg_chunks, "write_chunk", real_write)
    monkeypatch.setattr(
        jpeg_chunks, "decode_chunk", lambda task: decoded.append(task) or real_decode(task)
    )
    prepare("resimagenet", spec_for(tree), out, tmp_path)
    n_chunks = sum(-(-len(p) // CHUNK) for p, _ in resimagenet.list_images(tree).values())
    assert len(decoded) == n_chunks - 5  # the finished chunks were not decoded again
    assert_same_file(out, reference)
    assert not (tmp_path / "resimagenet.h5.partial").exists()


def test_killed_run_resumes_to_the_same_file(tree: Path, reference: Path, tmp_path: Path) -> None:
    out = tmp_path / "resimagenet.h5"
    script = (
        "import json, sys, time\n"
        "from pathlib import Path\n"
        "from lolip.datasets import jpeg_chunks, resimagenet\n"
        "decode = jpeg_chunks.decode_chunk\n"
        "jpeg_chunks.decode_chunk = lambda task: time.sleep(0.3) or decode(task)\n"
        "resimagenet.prepare('resimagenet', json.loads(sys.argv[1]), Path(sys.argv[2]),"
        " Path(sys.argv[2]).parent)\n"
    )
    pythonpath = os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])
    env = {**os.environ, "PYTHONPATH": pythonpath}
    proc = subprocess.Popen(
        [sys.executable, "-c", script, json.dumps(spec_for(tree)), str(out)],
        env=env,
        stderr=subprocess.DEVNULL,
    )
    partial = tmp_path / "resimagenet.h5.partial"
    deadline = time.monotonic() + 50
    while len(list(partial.glob("train-*.npz"))) < 3 and proc.poll() is None:
        assert time.monotonic() < deadline, "the run wrote no chunk in time"
        time.sleep(0.05)
    proc.kill()
    assert proc.wait() != 0, "the run finished before it was killed"
    assert not out.exists()
    prepare("resimagenet", spec_for(tree), out, tmp_path)
    assert_same_file(out, reference)


def test_changed_options_restart_afresh(
    tree: Path, reference: Path, tmp_path: Path, monkeypatch, caplog
) -> None:
    out = tmp_path / "resimagenet.h5"
    real_write = jpeg_chunks.write_chunk
    calls = []

    def failing_write(*args) -> None:
        calls.append(1)
        if len(calls) > 3:
            raise RuntimeError("injected fault")
        real_write(*args)

    monkeypatch.setattr(jpeg_chunks, "write_chunk", failing_write)
    with pytest.raises(RuntimeError):
        prepare("resimagenet", spec_for(tree), out, tmp_path)
    monkeypatch.setattr(jpeg_chunks, "write_chunk", real_write)
    with caplog.at_level(logging.WARNING, logger="lolip"):
        prepare("resimagenet", spec_for(tree, chunk=CHUNK * 3), out, tmp_path)
    assert any("starting afresh" in r.getMessage() for r in caplog.records)
    assert_same_file(out, reference, ignore_attrs=("provenance",))


def test_parallel_workers_give_the_same_file(tree: Path, reference: Path, tmp_path: Path) -> None:
    out = tmp_path / "resimagenet.h5"
    prepare("resimagenet", spec_for(tree, workers=2), out, tmp_path)
    assert_same_file(out, reference)


def test_check_catches_missing_tree_folders_and_bad_options(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.delenv(resimagenet.ENV_VAR, raising=False)
    with pytest.raises(DatasetError, match=resimagenet.ENV_VAR):
        check_dataset("rin", {"source": "resimagenet", "eps": 0.1})
    root = tmp_path / "tree"
    for folder in ("train", "val"):
        for s in resimagenet.synsets():
            (root / folder / s.wnid).mkdir(parents=True)
    check_dataset("rin", spec_for(root))
    (root / "val" / "n02124075").rmdir()
    with pytest.raises(DatasetError, match="n02124075"):
        check_dataset("rin", spec_for(root))
    monkeypatch.setenv(resimagenet.ENV_VAR, str(root))
    with pytest.raises(DatasetError, match="n02124075"):
        check_dataset("rin", {"source": "resimagenet", "eps": 0.1})
    (root / "val" / "n02124075").mkdir()
    for bad in ({"workers": 0}, {"input_size": 80}, {"size": "72"}, {"chunk": 1.5}):
        with pytest.raises(DatasetError, match=next(iter(bad))):
            check_dataset("rin", spec_for(root, **bad))


def test_empty_synset_folder_is_an_error(tmp_path: Path) -> None:
    root = tmp_path / "tree"
    for folder in ("train", "val"):
        for s in resimagenet.synsets():
            fixtures.write_jpeg(root / folder / s.wnid / "a.JPEG", Image.new("RGB", (80, 80)))
    (root / "val" / "n01981276" / "a.JPEG").unlink()
    with pytest.raises(DatasetError, match="n01981276"):
        prepare("rin", spec_for(root), tmp_path / "out.h5", tmp_path)


def _full_tree(root: Path, shift: int = 0) -> None:
    """1,000 class folders in which the 203 real wnids sit at their ILSVRC2012 index
    (``shift`` 0) or ``shift`` places later; the others' names are made up to sort between."""
    known = {s.index + shift: s.wnid for s in resimagenet.synsets()}
    previous = "a"
    for index in range(resimagenet.N_ILSVRC_CLASSES):
        wnid = known.get(index, f"{previous}_{index:04d}")
        if index in known:
            previous = wnid
        (root / "train" / wnid).mkdir(parents=True)
        if index in known:
            (root / "val" / wnid).mkdir(parents=True)


def test_full_tree_must_put_each_wnid_at_its_class_index(tmp_path: Path) -> None:
    _full_tree(tmp_path / "ok")
    check_dataset("rin", spec_for(tmp_path / "ok"))
    _full_tree(tmp_path / "shifted", shift=1)
    with pytest.raises(DatasetError, match="class index 30 is"):
        check_dataset("rin", spec_for(tmp_path / "shifted"))


def test_load_prepares_into_resources_once(
    tree: Path, reference: Path, tmp_path: Path, monkeypatch
) -> None:
    from lolip.datasets import load as load_dataset

    prepared = []
    real_prepare = resimagenet.prepare
    monkeypatch.setattr(
        resimagenet, "prepare", lambda *args: prepared.append(args) or real_prepare(*args)
    )
    ds = load_dataset("rin", spec_for(tree), tmp_path)
    assert (tmp_path / "resimagenet" / "rin.h5").exists() and len(prepared) == 1
    np.testing.assert_array_equal(ds.x_train, read_prepared(reference).x_train)
    load_dataset("rin", spec_for(tree), tmp_path)
    assert len(prepared) == 1  # up to date: read, not prepared again
    ds = load_dataset("rin", spec_for(tree, size=80, input_size=72), tmp_path)
    assert len(prepared) == 2 and ds.x_test.shape[1:] == (3, 80, 80) and ds.input_size == 72
