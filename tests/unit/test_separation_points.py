"""The per-point table (lolip.separation.points): its CSV, and the figure drawn from it."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from lolip.figures import separation_histogram
from lolip.separation import POINT_COLUMNS, compute_separation, read_points, write_points

# --------------------------------------------------------------------------- files


def test_points_csv_round_trips_including_missing_neighbours(tmp_path):
    points = pd.DataFrame(
        {
            "split": ["train", "train", "test"],
            "index": [0, 1, 0],
            "label": [0, 1, 1],
            "d_other": [0.1 + 1e-12, math.inf, 1 / 3],
            "idx_other": [1, -1, 0],
            "d_same": [math.inf, 0.0, 2 / 7],
            "idx_same": [-1, 1, 1],
        }
    )
    write_points(points, tmp_path / "points.csv")
    pd.testing.assert_frame_equal(read_points(tmp_path / "points.csv"), points)


def test_histogram_is_written_as_a_png(tmp_path, digits_data):
    x, y = digits_data
    sep = compute_separation(x[:300], y[:300], x[300:400], y[300:400], pixel_max=16, eps=0.1)
    rnd = compute_separation(
        x[:300], y[:300], x[300:400], y[300:400], pixel_max=16, eps=0.1, label_seed=0
    )
    path = tmp_path / "fig" / "separation.png"
    separation_histogram(sep.points, 0.1, path, title="digits", random_points=rnd.points)
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert [p.name for p in path.parent.iterdir()] == ["separation.png"]


def test_points_csv_gives_back_every_float_bit_for_bit(tmp_path):
    rng = np.random.default_rng(0)
    d = np.concatenate([rng.random(5000), rng.random(1000) * 1e-7, np.arange(256) / 255])
    rng.shuffle(d)
    n = len(d)
    points = pd.DataFrame(
        {
            "split": ["train"] * n,
            "index": np.arange(n),
            "label": rng.integers(0, 10, n),
            "d_other": d,
            "idx_other": rng.integers(0, n, n),
            "d_same": d[::-1].copy(),
            "idx_same": rng.integers(0, n, n),
        }
    )
    write_points(points, tmp_path / "points.csv")
    back = read_points(tmp_path / "points.csv")
    assert back["d_other"].to_numpy().tobytes() == d.tobytes()
    assert back["d_same"].to_numpy().tobytes() == d[::-1].tobytes()
    pd.testing.assert_frame_equal(back, points, check_exact=True)


def test_points_without_a_column_are_not_written(tmp_path):
    with pytest.raises(ValueError, match=r"points lack columns \['idx_same'\]"):
        write_points(pd.DataFrame({c: [0] for c in POINT_COLUMNS[:-1]}), tmp_path / "p.csv")
    assert not list(tmp_path.iterdir())
