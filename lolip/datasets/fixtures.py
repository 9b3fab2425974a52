"""Small fixtures in the exact on-disk formats of the original CIFAR-10, SVHN and ImageNet.

The real sources read them unchanged (``dir`` pointing at the fixture, ``md5`` set to the
fixture's checksums), so the whole workflow can run on a machine without the data sets.
Pixels are uniform random bytes. CIFAR-10 and SVHN labels cycle through the 10 classes in a
random order (every class present once a split has 10 images); an ImageNet image's label is
its synset's super-class.

Every writer is deterministic: the same sizes and seed give the same bytes (fixed tar member
metadata, gzip header time 0, a fixed MAT-file header text, a fixed JPEG quality), and it
returns the MD5 of each file it wrote, ``{file name: hex}``, in the form of the sources'
``md5`` option. :func:`expected_md5s` gives the MD5s a config entry makes a source demand, to
compare with. The bytes also depend on the zlib, scipy and Pillow (libjpeg) in use.

Writers: :func:`write_cifar10`, :func:`write_svhn` and :func:`write_resimagenet`; the
functions they are built of are public for tests that need other content or damaged files.
"""

from __future__ import annotations

import gzip
import io
import struct
import tarfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from lolip.bounds import check_fields, setting
from lolip.datasets import cifar10, resimagenet, svhn
from lolip.datasets.raw import file_md5
from lolip.io import atomic_path

CIFAR10_CLASSES = [
    "airplane",
    "automobile",
    "bird",
    "cat",
    "deer",
    "dog",
    "frog",
    "horse",
    "ship",
    "truck",
]
MAT_DESCRIPTION = b"MATLAB 5.0 MAT-file, written by lolip.datasets.fixtures"
JPEG_QUALITY = 90
# Colour modes of the ImageNet JPEGs, drawn uniformly: ILSVRC2012 holds a few grayscale
# and CMYK JPEGs among the RGB ones.
JPEG_MODES = ["RGB"] * 8 + ["L", "CMYK"]


def cycled_labels(rng: np.random.Generator, n: int) -> np.ndarray:
    """``n`` labels ``i % 10`` (i = 0..n-1) in a random order."""
    return rng.permutation(np.arange(n) % 10)


def expected_md5s(spec: dict[str, Any]) -> dict[str, str]:
    """The MD5 per raw file that a ``cifar10`` or ``svhn`` config entry ``spec`` makes its
    source demand (the ``md5`` option, else the published MD5). A fixture matches the entry
    when its writer returns exactly this dict."""
    if spec["source"] == "cifar10":
        return {cifar10.ARCHIVE: cifar10.expected_md5(spec)}
    if spec["source"] == "svhn":
        return {f: svhn.expected_md5(spec, f) for f in svhn.FILES.values()}
    raise ValueError(f"source {spec['source']!r} checks no MD5s")


# CIFAR-10 ------------------------------------------------------------------------------


def _py2(obj: object) -> bytes:
    """Pickle protocol-2 opcodes for ``obj`` as Python 2's cPickle writes them (no memo).

    ``str`` is written as a Python 2 ``str`` (bytes, ``U``/``T``); lists and dicts are
    filled by ``APPENDS``/``SETITEMS`` in batches of 1,000, as cPickle does; a uint8 numpy
    array is written as numpy 1.x on Python 2 reduces it: ``_reconstruct(ndarray, (0,),
    'b')`` then ``BUILD`` with ``(1, shape, dtype('u1'), False, raw bytes)``.
    """
    if obj is None:
        return b"N"
    if isinstance(obj, bool):
        return b"\x88" if obj else b"\x89"
    if isinstance(obj, int):
        if 0 <= obj < 256:
            return b"K" + bytes([obj])
        if 0 <= obj < 65536:
            return b"M" + struct.pack("<H", obj)
        return b"J" + struct.pack("<i", obj)
    if isinstance(obj, str):
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
    if isinstance(obj, list):
        out = b"]"
        for start in range(0, len(obj), 1000):
            out += b"(" + b"".join(_py2(v) for v in obj[start : start + 1000]) + b"e"
        return out
    if isinstance(obj, dict):
        out, items = b"}", list(obj.items())
        for start in range(0, len(items), 1000):
            pairs = items[start : start + 1000]
            out += b"(" + b"".join(_py2(k) + _py2(v) for k, v in pairs) + b"u"
        return out
    if isinstance(obj, np.ndarray) and obj.dtype == np.uint8:
        dtype_state = _py2((3, "|", None, None, None, -1, -1, 0))
        dtype = b"cnumpy\ndtype\n" + _py2(("u1", 0, 1)) + b"R" + dtype_state + b"b"
        state = b"(" + _py2(1) + _py2(obj.shape) + dtype + _py2(False) + _py2(obj.tobytes()) + b"t"
        return (
            b"cnumpy.core.multiarray\n_reconstruct\ncnumpy\nndarray\n"
            + _py2((0,))
            + _py2("b")
            + b"\x87R"  # TUPLE3 of the three arguments, then REDUCE
            + state
            + b"b"  # BUILD
        )
    raise TypeError(f"cannot pickle {type(obj).__name__} as Python 2 did")


def py2_pickle(obj: object) -> bytes:
    """``obj`` pickled as Python 2's ``cPickle.dump(obj, f, 2)`` wrote CIFAR-10's batches."""
    return b"\x80\x02" + _py2(obj) + b"."


def cifar10_batches(n_train: int, n_test: int, seed: int) -> dict[str, dict[str, Any]]:
    """The batch dicts by member name: ``n_train`` images spread over ``data_batch_1..5``
    as ``np.array_split`` does, ``n_test`` in ``test_batch``.

    Each dict holds ``data`` (uint8 (n, 3072): red, green, blue 32x32 planes, row-major),
    ``labels`` (list of int), ``batch_label`` and ``filenames``, as the original's.
    """
    rng = np.random.default_rng(seed)
    labels = {"train": cycled_labels(rng, n_train), "test": cycled_labels(rng, n_test)}
    batches, offset = {}, 0
    for split, names in cifar10.BATCHES.items():
        kind = "training" if split == "train" else "testing"
        parts = np.array_split(labels[split], len(names))
        for i, (name, y) in enumerate(zip(names, parts, strict=True)):
            batches[name] = {
                "data": rng.integers(0, 256, size=(len(y), 3072), dtype=np.uint8),
                "labels": y.tolist(),
                "batch_label": f"{kind} batch {i + 1} of {len(names)}",
                "filenames": [
                    f"{CIFAR10_CLASSES[c]}_s_{offset + j:06d}.png" for j, c in enumerate(y)
                ],
            }
            offset += len(y)
    return batches


def cifar10_members(batches: dict[str, dict[str, Any]]) -> dict[str, bytes]:
    """The archive's files inside ``cifar-10-batches-py/``: ``batches.meta``, a
    ``readme.html`` and ``batches`` (member name -> dict), all pickled as Python 2 did."""
    first = next(iter(batches.values()))
    meta = {
        "num_cases_per_batch": len(first["labels"]),
        "label_names": CIFAR10_CLASSES,
        "num_vis": 3072,
    }
    members = {cifar10.META: py2_pickle(meta), "readme.html": b"<html></html>\n"}
    return members | {name: py2_pickle(batch) for name, batch in batches.items()}


def write_tar_gz(path: Path, folder: str, members: dict[str, bytes]) -> None:
    """A gzipped ustar archive of the directory ``folder`` holding ``members`` (name ->
    bytes), deterministic: mode 0755/0644, owner 0:0 without names, mtime 0, gzip level 9
    with header time 0 and no file name."""

    def info(name: str, kind: bytes, mode: int, size: int = 0) -> tarfile.TarInfo:
        entry = tarfile.TarInfo(name)
        entry.type, entry.mode, entry.size, entry.mtime = kind, mode, size, 0
        return entry

    with atomic_path(path) as tmp, open(tmp, "wb") as raw:
        with (
            gzip.GzipFile(filename="", mode="wb", fileobj=raw, compresslevel=9, mtime=0) as gz,
            tarfile.open(fileobj=gz, mode="w", format=tarfile.USTAR_FORMAT) as tar,
        ):
            tar.addfile(info(folder, tarfile.DIRTYPE, 0o755))
            for name, blob in members.items():
                tar.addfile(
                    info(f"{folder}/{name}", tarfile.REGTYPE, 0o644, len(blob)), io.BytesIO(blob)
                )


def write_cifar10(directory: Path, n_train: int, n_test: int, seed: int) -> dict[str, str]:
    """``directory/cifar-10-python.tar.gz`` of :func:`cifar10_batches`; its MD5."""
    path = Path(directory) / cifar10.ARCHIVE
    write_tar_gz(path, cifar10.FOLDER, cifar10_members(cifar10_batches(n_train, n_test, seed)))
    return {cifar10.ARCHIVE: file_md5(path)}


# SVHN ----------------------------------------------------------------------------------


def svhn_arrays(n_train: int, n_test: int, seed: int) -> dict[str, dict[str, np.ndarray]]:
    """Per file name, the original's variables: ``X`` uint8 (32, 32, 3, N) (row, column,
    channel, image) and ``y`` uint8 (N, 1) with labels 1..10, 10 being the digit 0."""
    rng = np.random.default_rng(seed)
    out = {}
    for split, n in (("train", n_train), ("test", n_test)):
        digits = cycled_labels(rng, n)
        x = rng.integers(0, 256, size=(32, 32, 3, n), dtype=np.uint8)
        y = np.where(digits == 0, 10, digits).astype(np.uint8).reshape(n, 1)
        out[svhn.FILES[split]] = {"X": x, "y": y}
    return out


def write_mat(path: Path, variables: dict[str, np.ndarray]) -> None:
    """A MATLAB v5 file of ``variables`` (``scipy.io.savemat``, uncompressed) whose 116-byte
    header text is ``MAT_DESCRIPTION`` padded with spaces instead of savemat's creation time."""
    from scipy.io import savemat

    buffer = io.BytesIO()
    savemat(buffer, variables, format="5")
    blob = buffer.getvalue()
    with atomic_path(path) as tmp:
        tmp.write_bytes(MAT_DESCRIPTION.ljust(116) + blob[116:])


def write_svhn(directory: Path, n_train: int, n_test: int, seed: int) -> dict[str, str]:
    """``train_32x32.mat`` and ``test_32x32.mat`` of :func:`svhn_arrays`; their MD5s."""
    md5s = {}
    for name, variables in svhn_arrays(n_train, n_test, seed).items():
        write_mat(Path(directory) / name, variables)
        md5s[name] = file_md5(Path(directory) / name)
    return md5s


# Restricted ImageNet --------------------------------------------------------------------


def random_image(rng: np.random.Generator) -> Image.Image:
    """Random pixels of a random non-square size and a mode drawn from ``JPEG_MODES``: short
    side 48..127 (below and above the stored 72), long side 1 to 2x longer, portrait or
    landscape."""
    short = int(rng.integers(48, 128))
    long = short + int(rng.integers(1, short + 1))
    h, w = (long, short) if rng.random() < 0.5 else (short, long)
    mode = JPEG_MODES[int(rng.integers(len(JPEG_MODES)))]
    return Image.fromarray(rng.integers(0, 256, size=(h, w, 3), dtype=np.uint8)).convert(mode)


def write_jpeg(path: Path, image: Image.Image) -> None:
    """``image`` as a baseline JPEG of quality ``JPEG_QUALITY``, without metadata."""
    with atomic_path(path) as tmp:
        image.save(tmp, "JPEG", quality=JPEG_QUALITY)


def imagenet_paths(per_synset_train: int, per_synset_val: int) -> list[tuple[str, int]]:
    """The tree's files relative to its root with their super-class labels, for every synset
    of ``resimagenet.synsets()``: ``train/<wnid>/<wnid>_<k>.JPEG`` and, numbered across
    synsets from 1, ``val/<wnid>/ILSVRC2012_val_<8 digits>.JPEG``."""
    paths, n_val = [], 0
    for s in resimagenet.synsets():
        paths += [(f"train/{s.wnid}/{s.wnid}_{k}.JPEG", s.label) for k in range(per_synset_train)]
        for _ in range(per_synset_val):
            n_val += 1
            paths.append((f"val/{s.wnid}/ILSVRC2012_val_{n_val:08d}.JPEG", s.label))
    return paths


def write_resimagenet(
    directory: Path, per_synset_train: int, per_synset_val: int, seed: int
) -> dict[str, str]:
    """An ILSVRC2012 tree of :func:`imagenet_paths`, each a JPEG of :func:`random_image`
    (drawn in path order); the MD5 of each file by its relative path."""
    rng, md5s = np.random.default_rng(seed), {}
    for path, _ in imagenet_paths(per_synset_train, per_synset_val):
        write_jpeg(Path(directory) / path, random_image(rng))
        md5s[path] = file_md5(Path(directory) / path)
    return md5s


# The workflow's fixtures ---------------------------------------------------------------


@dataclass(frozen=True)
class Fixture:
    """A config's ``fixtures.<dataset>`` entry: the sizes and seed of a generated fixture."""

    train: int = setting(
        type="integer", minimum=1, description="training images (Restricted ImageNet: per synset)"
    )
    test: int = setting(
        type="integer", minimum=1, description="test images (Restricted ImageNet: per synset)"
    )
    seed: int = setting(0, type="integer", minimum=0)

    def __post_init__(self) -> None:
        check_fields(self)


WRITERS = {"cifar10": write_cifar10, "svhn": write_svhn, "resimagenet": write_resimagenet}


def write_fixture(source: str, directory: Path, fixture: Fixture) -> dict[str, str]:
    """Write the fixture of a ``source`` dataset into ``directory``; the MD5 of each file."""
    if source not in WRITERS:
        raise ValueError(f"no fixture for source {source!r} (known: {', '.join(WRITERS)})")
    return WRITERS[source](Path(directory), fixture.train, fixture.test, fixture.seed)


def fixture_sizes(source: str, fixture: Fixture) -> dict[str, int]:
    """The split sizes the prepared fixture will have."""
    per = len(resimagenet.synsets()) if source == "resimagenet" else 1
    return {"train": fixture.train * per, "test": fixture.test * per}
