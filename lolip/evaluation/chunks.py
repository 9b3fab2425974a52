"""Evaluation work in chunks that survive a kill, and its split into shards.

The examples of an evaluation (the first ``subsets[split]`` points of each split) are cut
into chunks of ``chunk_size`` examples, aligned at multiples of it within each split, in
split order (:func:`plan`). A job's shard is a contiguous run of chunks
(:func:`shard_chunks`). Each finished chunk's result is written atomically to the job's
scratch directory with the fingerprint of the work (model, data, settings, code), so a job
killed at any moment, even by SIGKILL, redoes at most the chunk it was in; a chunk file of
other work is ignored and overwritten. Since chunks are aligned and every random draw is
per example, results are the same for every sharding, and bitwise the same as an
uninterrupted run.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lolip.io import read_json, write_json
from lolip.progress import progress

log = logging.getLogger("lolip")


@dataclass(frozen=True)
class Chunk:
    """Examples ``start..stop-1`` of ``split``."""

    split: str
    start: int
    stop: int

    @property
    def file_name(self) -> str:
        return f"{self.split}-{self.start:09d}-{self.stop:09d}.json"


def plan(sizes: dict[str, int], chunk_size: int) -> list[Chunk]:
    """Every chunk of the splits of ``sizes`` (split -> examples), in order."""
    return [
        Chunk(split, start, min(start + chunk_size, n))
        for split, n in sizes.items()
        for start in range(0, n, chunk_size)
    ]


def shard_chunks(chunks: list[Chunk], shard: int, shards: int) -> list[Chunk]:
    """Shard ``shard`` (0-based) of ``shards``: chunks ``[shard * C // shards, ...)``."""
    if not 0 <= shard < shards:
        raise ValueError(f"shard must lie in 0..{shards - 1}, got {shard}")
    n = len(chunks)
    return chunks[shard * n // shards : (shard + 1) * n // shards]


def run_chunks(
    chunks: list[Chunk],
    compute: Callable[[Chunk], dict[str, Any]],
    *,
    scratch: str | Path | None,
    fingerprint: str,
    desc: str = "chunks",
) -> list[dict[str, Any]]:
    """``compute(chunk)`` for every chunk, reusing the results a killed run left in ``scratch``."""
    results, reused = [], 0
    for chunk in progress(chunks, desc=desc, total=len(chunks), unit="chunk"):
        path = Path(scratch) / chunk.file_name if scratch is not None else None
        if path is not None and path.exists():
            saved = read_json(path)
            if saved.get("fingerprint") == fingerprint:
                results.append(saved["result"])
                reused += 1
                continue
        result = compute(chunk)
        if path is not None:
            write_json(path, {"fingerprint": fingerprint, "result": result})
        results.append(result)
    if reused:
        log.info("resumed: %d of %d chunks were done already", reused, len(chunks))
    return results
