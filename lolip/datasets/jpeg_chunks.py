"""Image files decoded in parallel into resumable chunks of uint8 arrays.

Each image is decoded with PIL, converted to RGB, resized (bilinear, antialiased) so its
short side is ``size`` and centre-cropped to ``size`` x ``size``: torchvision's
``Resize(size)`` then ``CenterCrop(size)``. The images of a split are decoded ``chunk`` at
a time in worker processes, and each finished chunk is written atomically as
``<partial>/<split>-<k>.npz``; a run that stopped resumes with the chunks not yet written.
A chunk with an image that cannot be decoded is not written; its errors name the files.
"""

from __future__ import annotations

import multiprocessing
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from contextlib import contextmanager
from pathlib import Path

import numpy as np
from PIL import Image

from lolip.io import atomic_path
from lolip.progress import log, progress

SIZE = 72
# What PIL raises for a file it cannot decode.
DECODE_ERRORS = (OSError, ValueError, SyntaxError, Image.DecompressionBombError)


def resize_short_side(img: Image.Image, size: int) -> Image.Image:
    """torchvision's ``Resize(size)`` on a PIL image: short side ``size``, bilinear."""
    w, h = img.size
    new_w, new_h = (size, int(size * h / w)) if w <= h else (int(size * w / h), size)
    return img.resize((new_w, new_h), Image.Resampling.BILINEAR)


def center_crop_square(img: Image.Image, size: int) -> Image.Image:
    """torchvision's ``CenterCrop(size)`` on an image at least ``size`` on both sides."""
    w, h = img.size
    top, left = int(round((h - size) / 2.0)), int(round((w - size) / 2.0))
    return img.crop((left, top, left + size, top + size))


def decode(path: Path, size: int = SIZE) -> np.ndarray:
    """The stored form of one image file: uint8 (3, size, size)."""
    with Image.open(path) as img:
        rgb = img.convert("RGB")
    square = center_crop_square(resize_short_side(rgb, size), size)
    return np.asarray(square, dtype=np.uint8).transpose(2, 0, 1)


def decode_chunk(task: tuple[str, list[str], int]) -> tuple[np.ndarray | None, list[str]]:
    """Decode the images ``paths`` under ``root``: their stack, uint8 (n, 3, size, size),
    and ``[]``; or, if some cannot be decoded, ``None`` and ``"<file>: <error>"`` for each."""
    root, paths, size = task
    images, errors = [], []
    for path in paths:
        try:
            images.append(decode(Path(root) / path, size))
        except DECODE_ERRORS as err:
            errors.append(f"{Path(root) / path}: {type(err).__name__}: {err}")
    return (None, errors) if errors else (np.stack(images), [])


@contextmanager
def _ordered_map(workers: int) -> Iterator[Callable[[Callable, Iterable], Iterator]]:
    """A ``map`` over ``workers`` processes, in order, with few tasks in flight.

    Spawned (not forked) workers are safe whatever threads or CUDA state the parent has.
    On an error the pending tasks are cancelled rather than run to the end.
    """
    if workers <= 1:
        yield map
        return
    pool = ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"))

    def imap(fn: Callable, tasks: Iterable) -> Iterator:
        tasks, pending = iter(tasks), deque[Future]()
        for task in tasks:
            pending.append(pool.submit(fn, task))
            if len(pending) >= 2 * workers:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()

    try:
        yield imap
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def chunk_file(partial: Path, split: str, k: int) -> Path:
    return partial / f"{split}-{k:06d}.npz"


def write_chunk(path: Path, images: np.ndarray) -> None:
    with atomic_path(path) as tmp, open(tmp, "wb") as f:
        np.savez(f, images=images)


def decode_split(
    root: Path, partial: Path, split: str, paths: list[str], *, size: int, chunk: int, workers: int
) -> list[str]:
    """Decode the chunks of ``split`` not yet in ``partial``, writing each one that decodes
    in full; return ``"<file>: <error>"`` for each image that cannot be decoded."""
    starts = list(range(0, len(paths), chunk))
    todo = [s for s in starts if not chunk_file(partial, split, s // chunk).exists()]
    if len(todo) < len(starts):
        done = len(starts) - len(todo)
        log.info("%s: resuming, %d of %d chunks already done", split, done, len(starts))

    unreadable = []

    def run() -> Iterator[None]:
        tasks = ((str(root), paths[s : s + chunk], size) for s in todo)
        with _ordered_map(workers) as imap:
            for start, (images, errors) in zip(todo, imap(decode_chunk, tasks), strict=True):
                for error in errors:
                    log.error("unreadable image %s", error)
                unreadable.extend(errors)
                if images is not None:
                    write_chunk(chunk_file(partial, split, start // chunk), images)
                yield from range(len(paths[start : start + chunk]))  # one step per image

    total = sum(len(paths[s : s + chunk]) for s in todo)
    for _ in progress(run(), desc=f"decode {split}", total=total, unit="img"):
        pass
    return unreadable
