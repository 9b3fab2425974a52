"""Restricted ImageNet: 9 super-classes of ILSVRC2012, extracted once into HDF5.

Input: an ILSVRC2012 tree as torchvision's ``ImageNet`` lays it out, ``train/<wnid>/*.JPEG``
and ``val/<wnid>/*.JPEG``, in the config's ``dir`` or ``$LOLIP_IMAGENET_DIR``. There is no
download: ImageNet's licence requires fetching it by hand.

Classes: a super-class is a range of ILSVRC2012 class indices, the index of a wnid in the
sorted list of the 1,000 wnids (``RANGES``). The ranges include both ends, as in the
original code (``ds.classes[151:269]`` for dogs) and the ``robustness`` library: that gives
the paper's 203 synsets (``lolip/data/resimagenet_wnids.txt``). Labels number the
super-classes in alphabetical order (bird=0 .. turtle=8), as the original's ImageFolder of
super-class folders did. ILSVRC2012 ``train`` is the training split, ``val`` the test split.

Images, as the original's ``Resize(72)`` then crops: each is decoded with PIL, converted to
RGB, resized (bilinear, antialiased) so its short side is 72 and, as stored here, centre-
cropped to 72x72 (uint8). ``input_size`` is 64: evaluation centre-crops the stored 72x72 to
64x64, which equals the original's ``Resize(72), CenterCrop(64)`` pixel for pixel.

Training crops (applied by the training loop, not stored): per image and per epoch, pad
the stored 72x72 image with 8 zero pixels on each side (88x88), draw ``top`` and ``left``
uniformly from 0..24 and take the 64x64 window there: torchvision's
``RandomCrop(64, padding=8)`` on the stored image; no flip. One deviation from the
original: it cropped the whole resized image (72 x L, L >= 72 the long side), so its
training windows could reach further along the long side than the central 72x72 kept here.

Images are stored in a fixed random order (seed ``ORDER_SEED``), so that any prefix of a
split mixes the classes. Preparation decodes in parallel worker processes, writes finished
chunks of images as ``<out>.partial/<split>-<chunk>.npz`` (each atomically) and so resumes
after an interruption where it stopped. An image that cannot be decoded is bad data, never
dropped: its chunk is not written, the other chunks are still decoded, and preparation then
fails with a :class:`DatasetError` naming every unreadable file, writing nothing at ``out``.
Once the files are fixed (same names), a rerun decodes only the chunks that were not written.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import h5py
import numpy as np
import PIL

from lolip.bounds import setting
from lolip.datasets.entry import SourceOptions, directory, parse_entry
from lolip.datasets.jpeg_chunks import SIZE, chunk_file, decode_split
from lolip.datasets.prepared import Dataset, DatasetError, read_prepared, write_attrs
from lolip.datasets.raw import source_dir
from lolip.io import atomic_path, read_json, write_json
from lolip.progress import log, progress

ENV_VAR = "LOLIP_IMAGENET_DIR"
# ILSVRC2012 class indices (sorted-wnid order) of each super-class, both ends included.
RANGES = {
    "bird": (80, 100),
    "cat": (281, 285),
    "crab": (118, 121),
    "dog": (151, 268),
    "fish": (389, 397),
    "frog": (30, 32),
    "insect": (300, 319),
    "primate": (365, 382),
    "turtle": (33, 37),
}
CLASSES = sorted(RANGES)
SPLITS = {"train": "train", "test": "val"}  # prepared split -> ILSVRC2012 folder
WNID_FILE = Path(__file__).resolve().parent.parent / "data" / "resimagenet_wnids.txt"
N_ILSVRC_CLASSES = 1000
VAL_PER_SYNSET = 50
INPUT_SIZE, CHUNK = 64, 256
ORDER_SEED = 0
# The file types torchvision's ImageFolder (the original's reader) accepts.
EXTENSIONS = (".jpg", ".jpeg", ".png", ".ppm", ".bmp", ".pgm", ".tif", ".tiff", ".webp")


@dataclass(frozen=True)
class Synset:
    index: int  # ILSVRC2012 class index
    wnid: str
    name: str
    label: int  # super-class label


@functools.cache
def synsets() -> tuple[Synset, ...]:
    """The 203 synsets of ``WNID_FILE`` with their super-class labels."""
    label_of = {
        i: label for label, c in enumerate(CLASSES) for i in range(RANGES[c][0], RANGES[c][1] + 1)
    }
    rows = [
        line.rstrip("\n").split("\t")
        for line in WNID_FILE.read_text().splitlines()
        if line and not line.startswith("#")
    ]
    found = {int(index): (wnid, name) for index, wnid, name in rows}
    if sorted(found) != sorted(label_of):
        raise DatasetError(f"{str(WNID_FILE)!r} does not list exactly the indices of {RANGES}")
    return tuple(Synset(i, *found[i], label_of[i]) for i in sorted(found))


@dataclass(frozen=True, kw_only=True)
class Options(SourceOptions):
    dir: str | None = directory(f"an ILSVRC2012 tree (train/, val/); else ${ENV_VAR}")
    size: int = setting(SIZE, type="integer", minimum=1, description="stored image size")
    input_size: int = setting(
        INPUT_SIZE, type="integer", minimum=1, description="crop the models see"
    )
    chunk: int = setting(CHUNK, type="integer", minimum=1, description="images per saved chunk")
    workers: int | None = setting(
        None,
        type="integer",
        minimum=1,
        nullable=True,
        description="decoding processes (null: all CPUs)",
    )


def options(name: str, spec: dict[str, Any]) -> dict[str, int]:
    """Preparation options with their defaults, checked."""
    parsed = parse_entry(name, spec, Options)
    opts = {
        "size": parsed.size,
        "input_size": parsed.input_size,
        "chunk": parsed.chunk,
        "workers": parsed.workers or _available_cpus(),
    }
    if opts["input_size"] > opts["size"]:
        raise DatasetError(
            f"dataset {name!r}: input_size {opts['input_size']} exceeds the stored size "
            f"{opts['size']}"
        )
    return opts


def _available_cpus() -> int:
    if hasattr(os, "sched_getaffinity"):  # the CPUs this process may use (Linux)
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def _root(name: str, spec: dict[str, Any]) -> Path:
    root = source_dir(spec, ENV_VAR)
    if root is None:
        raise DatasetError(
            f"dataset {name!r}: Restricted ImageNet needs an ILSVRC2012 tree: set 'dir' or "
            f"${ENV_VAR} (ImageNet cannot be downloaded automatically)"
        )
    return root


def raw_files(name: str, spec: dict[str, Any]) -> list[Path]:
    """The tree's split folders (their listing's fingerprint tells changes of content)."""
    root = _root(name, spec)
    return [root / folder for folder in SPLITS.values()]


def _synset_files(root: Path) -> dict[str, list[os.DirEntry]]:
    """Per split, the image files in the synsets' folders (any order)."""
    return {
        split: [
            entry
            for synset in synsets()
            if (root / folder / synset.wnid).is_dir()
            for entry in os.scandir(root / folder / synset.wnid)
            if entry.is_file() and entry.name.lower().endswith(EXTENSIONS)
        ]
        for split, folder in SPLITS.items()
    }


def fingerprint(name: str, spec: dict[str, Any]) -> str:
    """SHA-256 of the tree's images: each path with its size and modification time."""
    digest = hashlib.sha256()
    for split, entries in _synset_files(_root(name, spec)).items():
        for entry in sorted(entries, key=lambda e: e.path):
            st = entry.stat()
            digest.update(f"{split}\0{entry.path}\0{st.st_size}\0{st.st_mtime_ns}\n".encode())
    return digest.hexdigest()


def check(name: str, spec: dict[str, Any], cache: Path | None = None) -> dict[str, int]:
    """Options valid; the tree holds every synset's folder in ``train/`` and ``val/``;
    returns the number of images per split.

    If ``train/`` holds 1,000 folders (a full ILSVRC2012 tree), the wnid of each class
    index in ``WNID_FILE`` must be the one at that index in their sorted order.
    """
    options(name, spec)
    root = _root(name, spec)
    for folder in SPLITS.values():
        if not (root / folder).is_dir():
            raise DatasetError(f"dataset {name!r}: {str(root / folder)!r} is not a directory")
        missing = [s.wnid for s in synsets() if not (root / folder / s.wnid).is_dir()]
        if missing:
            raise DatasetError(
                f"dataset {name!r}: {len(missing)} of the {len(synsets())} synset folders "
                f"missing in {str(root / folder)!r}: {', '.join(missing[:10])}"
            )
    wnids = sorted(e.name for e in os.scandir(root / "train") if e.is_dir())
    if len(wnids) == N_ILSVRC_CLASSES:
        wrong = [s for s in synsets() if wnids[s.index] != s.wnid]
        if wrong:
            s = wrong[0]
            raise DatasetError(
                f"dataset {name!r}: {str(root / 'train')!r} is not ILSVRC2012's class list: "
                f"class index {s.index} is {wnids[s.index]}, expected {s.wnid} ({s.name})"
            )
    return {split: len(entries) for split, entries in _synset_files(root).items()}


def list_images(root: Path) -> dict[str, tuple[list[str], np.ndarray]]:
    """Per split: image paths relative to ``root`` and their labels, in the stored order."""
    out = {}
    for split, folder in SPLITS.items():
        paths, labels, empty, odd = [], [], [], []
        for synset in synsets():
            names = sorted(
                e.name
                for e in os.scandir(root / folder / synset.wnid)
                if e.is_file() and e.name.lower().endswith(EXTENSIONS)
            )
            if not names:
                empty.append(synset.wnid)
            paths += [f"{folder}/{synset.wnid}/{n}" for n in names]
            labels += [synset.label] * len(names)
            if folder == "val" and len(names) != VAL_PER_SYNSET:
                odd.append(f"{synset.wnid} ({len(names)})")
        if empty:
            raise DatasetError(
                f"{len(empty)} synset folder(s) in {str(root / folder)!r} hold no image: "
                f"{', '.join(empty[:10])}"
            )
        if odd:
            log.warning(
                "%d synset folder(s) in %s do not hold ILSVRC2012's %d images: %s",
                len(odd),
                root / folder,
                VAL_PER_SYNSET,
                ", ".join(odd[:10]),
            )
        order = np.random.default_rng(ORDER_SEED).permutation(len(paths))
        out[split] = ([paths[i] for i in order], np.asarray(labels, dtype=np.int64)[order])
    return out


def _manifest(root: Path, images: dict[str, tuple[list[str], np.ndarray]], opts: dict) -> dict:
    """What the chunks' content depends on; a partial run resumes only if it matches."""
    listing = {s: hashlib.sha256("\n".join(p).encode()).hexdigest() for s, (p, _) in images.items()}
    return {
        "root": str(root.resolve()),
        "size": opts["size"],
        "chunk": opts["chunk"],
        "order_seed": ORDER_SEED,
        "files_sha256": listing,
        "wnid_file_sha256": hashlib.sha256(WNID_FILE.read_bytes()).hexdigest(),
    }


def _open_partial(partial: Path, manifest: dict) -> None:
    stamp = partial / "manifest.json"
    if partial.exists() and not (stamp.exists() and read_json(stamp) == manifest):
        log.warning("%s was made from other files or options: starting afresh", partial)
        shutil.rmtree(partial)
    if not partial.exists():
        partial.mkdir(parents=True)
        write_json(stamp, manifest)


def _assemble(
    out: Path, name: str, partial: Path, images: dict, opts: dict, provenance: dict
) -> None:
    """Write the prepared HDF5 file from the finished chunks (see ``prepared.py``)."""
    chunk, size = opts["chunk"], opts["size"]
    with atomic_path(out) as tmp, h5py.File(tmp, "w") as f:
        for split, (paths, labels) in images.items():
            x = f.create_dataset(
                f"x_{split}",
                shape=(len(paths), 3, size, size),
                dtype=np.uint8,
                chunks=(min(len(paths), 64), 3, size, size),
                compression="gzip",
                fletcher32=True,
            )
            for k in progress(range(-(-len(paths) // chunk)), desc=f"write {split}", unit="chunk"):
                x[k * chunk : (k + 1) * chunk] = np.load(chunk_file(partial, split, k))["images"]
            f.create_dataset(f"y_{split}", data=labels, fletcher32=True)
            f.create_dataset(f"path_{split}", data=paths, dtype=h5py.string_dtype())
        write_attrs(
            f,
            name=name,
            source="resimagenet",
            pixel_max=255.0,
            classes=CLASSES,
            provenance=provenance,
            input_size=opts["input_size"],
        )


def prepare(name: str, spec: dict[str, Any], out: Path, resources: Path) -> None:
    """Write the prepared HDF5 file of Restricted ImageNet to ``out`` (resumable)."""
    check(name, spec)
    opts, root = options(name, spec), _root(name, spec)
    images = list_images(root)
    manifest = _manifest(root, images, opts)
    partial = out.with_name(out.name + ".partial")
    _open_partial(partial, manifest)
    unreadable = [
        error
        for split, (paths, _) in images.items()
        for error in decode_split(
            root,
            partial,
            split,
            paths,
            size=opts["size"],
            chunk=opts["chunk"],
            workers=opts["workers"],
        )
    ]
    if unreadable:
        raise DatasetError(
            f"dataset {name!r}: {len(unreadable)} image(s) in {str(root)!r} cannot be decoded; "
            "replace them by readable ones and rerun, which reuses the chunks decoded in "
            f"{str(partial)!r} (another list of files starts afresh):\n" + "\n".join(unreadable)
        )
    provenance = {
        **manifest,
        "origin": "ILSVRC2012 train/ and val/ trees",
        "classes": {c: list(RANGES[c]) for c in CLASSES},
        "ranges": "ILSVRC2012 class indices in sorted-wnid order, both ends included",
        "resize": f"short side {opts['size']} (bilinear), centre crop {opts['size']}",
        "input_size": opts["input_size"],
        "pillow_version": PIL.__version__,
    }
    _assemble(out, name, partial, images, opts, provenance)
    shutil.rmtree(partial)


def load(name: str, spec: dict[str, Any], resources: Path) -> Dataset:
    """The prepared dataset, preparing it into ``resources/resimagenet/`` if needed."""
    out = resources / "resimagenet" / f"{name}.h5"
    if not _up_to_date(out, name, spec):
        prepare(name, spec, out, resources)
    return read_prepared(out)


def _up_to_date(out: Path, name: str, spec: dict[str, Any]) -> bool:
    """Whether ``out`` was prepared from the current tree with the current options."""
    if not out.exists():
        return False
    opts, root = options(name, spec), _root(name, spec)
    current = _manifest(root, list_images(root), opts)
    with h5py.File(out, "r") as f:
        provenance = json.loads(f.attrs.get("provenance", "{}"))
        input_size = f.attrs.get("input_size")
    same = all(provenance.get(k) == v for k, v in current.items())
    return same and input_size == opts["input_size"]
