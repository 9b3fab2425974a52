"""The workflow's separation jobs: one shard of a dataset's queries, and the gather.

Shard ``i`` of ``K`` (rule ``compute_separation_shard``) computes the per-point table of
the ``i``-th contiguous block of the queries (training points, then test points) against
the whole training set, and records what it ran with in a small JSON file. The gather
(rule ``compute_separation``) checks that the shards fit together, joins their tables and
summarises them: the same summary and points as one job over every query, bit for bit
(timings apart). ``eps`` and ``drop_smallest`` only reach the gather.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from typing import Any

import numba

from lolip.io import read_json, write_json
from lolip.separation.points import gather_points, read_points, write_points
from lolip.separation.search import resolve_backend
from lolip.separation.table1 import log_summary, query_block, separation_points, summarize

log = logging.getLogger("lolip")

# Keys every shard of one dataset must agree on.
SHARED_KEYS = ("dataset", "pixel_max", "label_seed", "n_train", "n_test", "shards")


def compute_separation_shard(
    data: str,
    points_out: str,
    info_out: str,
    *,
    shard: int,
    shards: int,
    label_seed: int | None,
    threads: int,
) -> None:
    """Nearest neighbours of query block ``shard`` of ``shards`` (1-based) of a prepared
    dataset, on the pixels the models see (centre-cropped if stored larger)."""
    from lolip import datasets
    from lolip.datasets.prepared import center_crop
    from lolip.devices import default_device

    numba.set_num_threads(min(threads, numba.config.NUMBA_NUM_THREADS))
    ds = datasets.read_prepared(data)
    x_train = center_crop(ds.x_train, ds.input_size)
    x_test = center_crop(ds.x_test, ds.input_size)
    n_train, n_test = len(x_train), len(x_test)
    block = query_block(n_train + n_test, shard, shards)
    device = default_device()
    log.info(
        "separation of %s, shard %d of %d: queries [%d, %d) of %d",
        ds.name,
        shard,
        shards,
        block.start,
        block.stop,
        n_train + n_test,
    )
    started = time.perf_counter()
    points = separation_points(
        x_train,
        ds.y_train,
        x_test,
        ds.y_test,
        pixel_max=ds.pixel_max,
        queries=block,
        label_seed=label_seed,
        device=device,
    )
    seconds = round(time.perf_counter() - started, 3)
    write_points(points, points_out)
    info = {
        "dataset": ds.name,
        "pixel_max": ds.pixel_max,
        "label_seed": label_seed,
        "n_train": n_train,
        "n_test": n_test,
        "shard": shard,
        "shards": shards,
        "start": block.start,
        "stop": block.stop,
        "backend": resolve_backend("auto", device),
        "device": str(device),
        "seconds": seconds,
    }
    write_json(info_out, info)
    log.info("shard %d of %d: %d queries in %.1f s", shard, shards, len(points), seconds)


def gather_separation(
    points_paths: Sequence[str],
    info_paths: Sequence[str],
    summary_out: str,
    points_out: str,
    *,
    eps: float,
    drop_smallest: int,
) -> None:
    """Join the shards of one dataset (shard 1 first) into its summary JSON and points CSV.

    ``seconds`` is the shards' search time plus the gather's; ``shard_seconds`` lists
    each shard's. Where shards ran on different backends or devices (their answers are
    the same), the summary lists every one, comma-separated.
    """
    started = time.perf_counter()
    if len(points_paths) != len(info_paths):
        raise ValueError(
            f"{len(points_paths)} points files but {len(info_paths)} shard records; "
            "expected one of each per shard"
        )
    infos = [read_json(p) for p in info_paths]
    check_shards(infos)
    blocks = []
    for info, path in zip(infos, points_paths, strict=True):
        block = read_points(path)
        if len(block) != info["stop"] - info["start"]:
            raise ValueError(
                f"{path} has {len(block)} rows; expected {info['stop'] - info['start']}, "
                f"queries [{info['start']}, {info['stop']}) of shard {info['shard']}"
            )
        blocks.append(block)
    points = gather_points(blocks)
    first = infos[0]
    summary = summarize(
        points,
        eps=eps,
        pixel_max=first["pixel_max"],
        drop_smallest=drop_smallest,
        label_seed=first["label_seed"],
        backend=_joined(infos, "backend"),
        device=_joined(infos, "device"),
    )
    shard_seconds = [info["seconds"] for info in infos]
    summary["seconds"] = round(sum(shard_seconds) + time.perf_counter() - started, 3)
    summary["shard_seconds"] = shard_seconds
    log_summary(summary)
    write_points(points, points_out)
    write_json(summary_out, {**summary, "dataset": first["dataset"]})


def check_shards(infos: Sequence[dict[str, Any]]) -> None:
    """The shard records are shards 1..K of one dataset and run, covering every query once."""
    if not infos:
        raise ValueError("no shards; expected at least one")
    first = infos[0]
    for position, info in enumerate(infos, start=1):
        for key in SHARED_KEYS:
            if info[key] != first[key]:
                raise ValueError(
                    f"shard record {position} has {key} {info[key]!r} but shard record 1 "
                    f"{first[key]!r}; expected the shards of one run"
                )
        if info["shard"] != position or info["shards"] != len(infos):
            raise ValueError(
                f"shard record {position} of {len(infos)} is shard {info['shard']} of "
                f"{info['shards']}; expected shard {position} of {len(infos)}"
            )
        expected = query_block(first["n_train"] + first["n_test"], position, len(infos))
        if (info["start"], info["stop"]) != (expected.start, expected.stop):
            raise ValueError(
                f"shard {position} of {len(infos)} covers queries [{info['start']}, "
                f"{info['stop']}); expected [{expected.start}, {expected.stop})"
            )


def _joined(infos: Sequence[dict[str, Any]], key: str) -> str:
    return ",".join(sorted({str(info[key]) for info in infos}))
