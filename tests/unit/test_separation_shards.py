"""Sharded separation: query blocks, their per-point rows, and the gather (library and
workflow jobs) give the unsharded result bit for bit."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from lolip.datasets.prepared import Dataset, center_crop, read_prepared, write_prepared
from lolip.io import read_json
from lolip.separation import (
    compute_separation,
    gather_points,
    jobs,
    query_block,
    read_points,
    separation_points,
    summarize,
    write_points,
)

TIMINGS = ("seconds", "shard_seconds")


def without_timings(summary: dict) -> str:
    """The summary as the JSON bytes it is written as, timing fields left out."""
    return json.dumps({k: v for k, v in summary.items() if k not in TIMINGS}, sort_keys=True)


# --------------------------------------------------------------------------- query blocks


@pytest.mark.parametrize("n", [0, 1, 7, 1797])
@pytest.mark.parametrize("shards", [1, 2, 3, 5, 9])
def test_query_blocks_cover_every_query_once_in_order(n, shards):
    blocks = [query_block(n, i, shards) for i in range(1, shards + 1)]
    covered = np.concatenate([np.arange(n)[b] for b in blocks])
    np.testing.assert_array_equal(covered, np.arange(n))
    sizes = [b.stop - b.start for b in blocks]
    assert max(sizes) - min(sizes) <= 1


@pytest.mark.parametrize("shard", [0, 4])
def test_shard_outside_the_shards_is_rejected(shard):
    with pytest.raises(ValueError, match=rf"shard must lie in \[1, 3\], got {shard}"):
        query_block(10, shard, 3)


# --------------------------------------------------------------------------- library


@pytest.fixture(scope="module")
def split(digits_data):
    x, y = digits_data
    return x[:1300], y[:1300], x[1300:], y[1300:]


@pytest.mark.parametrize("backend", ["numba", "torch"])
@pytest.mark.parametrize("shards", [2, 3, 7])
def test_blocks_of_any_split_concatenate_to_the_whole_table(split, shards, backend):
    # 1300 training + 497 test queries: with 3 shards the third block straddles the
    # two splits; with 7 the last ones hold test queries only.
    kwargs = {"pixel_max": 16, "label_seed": 3, "backend": backend}
    whole = separation_points(*split, **kwargs)
    n = len(whole)
    blocks = [
        separation_points(*split, queries=query_block(n, i, shards), **kwargs)
        for i in range(1, shards + 1)
    ]
    assert [len(b) for b in blocks] == [
        query_block(n, i, shards).stop - query_block(n, i, shards).start
        for i in range(1, shards + 1)
    ]
    pd.testing.assert_frame_equal(gather_points(blocks), whole, check_exact=True)


def test_an_empty_block_has_no_rows_and_gathers_to_nothing_extra(split):
    whole = separation_points(*split, pixel_max=16)
    empty = separation_points(*split, pixel_max=16, queries=slice(5, 5))
    assert len(empty) == 0 and list(empty.columns) == list(whole.columns)
    head = separation_points(*split, pixel_max=16, queries=slice(0, 5))
    rest = separation_points(*split, pixel_max=16, queries=slice(5, None))
    pd.testing.assert_frame_equal(gather_points([head, empty, rest]), whole, check_exact=True)


def test_three_shards_through_csv_give_the_unsharded_summary_and_points(split, tmp_path):
    settings = {"pixel_max": 16, "label_seed": 0}
    sep = compute_separation(*split, eps=0.1, drop_smallest=3, **settings)
    n = len(sep.points)
    for i in (1, 2, 3):
        block = separation_points(*split, queries=query_block(n, i, 3), **settings)
        write_points(block, tmp_path / f"{i}.csv")
    points = gather_points([read_points(tmp_path / f"{i}.csv") for i in (1, 2, 3)])
    pd.testing.assert_frame_equal(points, sep.points, check_exact=True)
    summary = summarize(points, eps=0.1, drop_smallest=3, backend="numba", device="cpu", **settings)
    assert without_timings(summary) == without_timings(sep.summary)
    assert summary == {k: v for k, v in sep.summary.items() if k != "seconds"}


def test_gather_rejects_blocks_missing_repeated_or_out_of_order(split):
    n = len(split[1]) + len(split[3])
    blocks = [
        separation_points(*split, pixel_max=16, queries=query_block(n, i, 3)) for i in (1, 2, 3)
    ]
    for bad in ([blocks[0], blocks[2]], [blocks[1], blocks[0], blocks[2]], [*blocks, blocks[2]]):
        with pytest.raises(ValueError, match="do not cover the queries once, in order"):
            gather_points(bad)
    with pytest.raises(ValueError, match="no blocks of points"):
        gather_points([])


def test_non_contiguous_queries_are_rejected(split):
    with pytest.raises(ValueError, match="contiguous slice, got step 2"):
        separation_points(*split, pixel_max=16, queries=slice(0, 10, 2))


# --------------------------------------------------------------------------- workflow jobs


@pytest.fixture(scope="module")
def prepared(tmp_path_factory, digits_data):
    """Digits stored at 8x8 with input_size 6: the jobs must search the cropped pixels."""
    x, y = digits_data
    path = tmp_path_factory.mktemp("prepared") / "digits.h5"
    ds = Dataset(
        name="digits",
        x_train=x[:1300],
        y_train=y[:1300],
        x_test=x[1300:],
        y_test=y[1300:],
        pixel_max=16,
        classes=[str(c) for c in range(10)],
        source="digits",
        input_size=6,
    )
    write_prepared(path, ds)
    return path


def run_jobs(prepared, out, shards, label_seed, eps=0.1, drop_smallest=2):
    """The workflow's shard jobs and gather, in order; (summary, points) paths."""
    out.mkdir()
    points, infos = [], []
    for i in range(1, shards + 1):
        points.append(str(out / f"{i}-of-{shards}.csv"))
        infos.append(str(out / f"{i}-of-{shards}.json"))
        jobs.compute_separation_shard(
            str(prepared),
            points[-1],
            infos[-1],
            shard=i,
            shards=shards,
            label_seed=label_seed,
            threads=2,
        )
    summary, table = out / "summary.json", out / "points.csv"
    jobs.gather_separation(
        points, infos, str(summary), str(table), eps=eps, drop_smallest=drop_smallest
    )
    return summary, table


@pytest.mark.parametrize("label_seed", [None, 0])
def test_shard_jobs_gathered_equal_one_job_and_the_library(prepared, tmp_path, label_seed):
    one = run_jobs(prepared, tmp_path / "one", 1, label_seed)
    three = run_jobs(prepared, tmp_path / "three", 3, label_seed)
    assert one[1].read_bytes() == three[1].read_bytes()
    s1, s3 = read_json(one[0]), read_json(three[0])
    assert without_timings(s1) == without_timings(s3)
    assert len(s1["shard_seconds"]) == 1 and len(s3["shard_seconds"]) == 3
    assert s3["seconds"] >= sum(s3["shard_seconds"])

    # The library on the cropped pixels the models see, with the same settings.
    ds = read_prepared(prepared)
    sep = compute_separation(
        center_crop(ds.x_train, 6),
        ds.y_train,
        center_crop(ds.x_test, 6),
        ds.y_test,
        pixel_max=ds.pixel_max,
        eps=0.1,
        drop_smallest=2,
        label_seed=label_seed,
    )
    assert without_timings(s3) == without_timings({**sep.summary, "dataset": "digits"})
    pd.testing.assert_frame_equal(read_points(three[1]), sep.points, check_exact=True)
    # Cropping mattered: the stored 8x8 images give other distances.
    uncropped = compute_separation(
        ds.x_train, ds.y_train, ds.x_test, ds.y_test, pixel_max=16, eps=0.1, drop_smallest=2
    )
    assert not uncropped.points["d_other"].equals(sep.points["d_other"])


def test_shard_record_says_what_the_shard_ran_with(prepared, tmp_path):
    run_jobs(prepared, tmp_path / "run", 2, label_seed=5)
    info = read_json(tmp_path / "run/2-of-2.json")
    assert {k: info[k] for k in ("dataset", "label_seed", "n_train", "n_test", "shards")} == {
        "dataset": "digits",
        "label_seed": 5,
        "n_train": 1300,
        "n_test": 497,
        "shards": 2,
    }
    assert (info["shard"], info["start"], info["stop"]) == (2, 898, 1797)
    assert (info["backend"], info["device"]) == ("numba", "cpu")


def test_gather_rejects_shards_that_do_not_fit_together(prepared, tmp_path):
    run_jobs(prepared, tmp_path / "a", 2, label_seed=None)
    run_jobs(prepared, tmp_path / "b", 2, label_seed=1)
    run_jobs(prepared, tmp_path / "c", 3, label_seed=None)

    def gather(*shards):
        points = [str(tmp_path / f"{s}.csv") for s in shards]
        infos = [str(tmp_path / f"{s}.json") for s in shards]
        jobs.gather_separation(
            points,
            infos,
            str(tmp_path / "s.json"),
            str(tmp_path / "p.csv"),
            eps=0.1,
            drop_smallest=0,
        )

    with pytest.raises(ValueError, match="shard record 2 has label_seed 1 but shard record 1 None"):
        gather("a/1-of-2", "b/2-of-2")
    with pytest.raises(ValueError, match="shard record 1 of 2 is shard 2 of 2"):
        gather("a/2-of-2", "a/1-of-2")
    with pytest.raises(ValueError, match="shard record 2 has shards 3 but shard record 1 2"):
        gather("a/1-of-2", "c/1-of-3")
    with pytest.raises(ValueError, match="shard record 1 of 2 is shard 1 of 3"):
        gather("c/1-of-3", "c/2-of-3")  # shard 3 of 3 missing
    assert not (tmp_path / "s.json").exists() and not (tmp_path / "p.csv").exists()
