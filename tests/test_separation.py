"""Exact l_inf separation and the 1-NN classifier, checked against brute force."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import load_digits

from lolip.datasets.mnist import read_idx
from lolip.figures import separation_histogram
from lolip.separation import (
    POINT_COLUMNS,
    certified,
    compute_separation,
    nearest_neighbours,
    permuted_labels,
    read_points,
    write_points,
)

# --------------------------------------------------------------------------- references


def brute_distances(queries: np.ndarray, train: np.ndarray) -> np.ndarray:
    """All l_inf distances (M, N) in the inputs' dtype arithmetic, as float64."""
    q = queries.reshape(len(queries), -1)
    t = train.reshape(len(train), -1)
    if q.dtype == np.uint8:
        q, t = q.astype(np.int16), t.astype(np.int16)
    out = np.empty((len(q), len(t)))
    for m0 in range(0, len(q), 32):
        out[m0 : m0 + 32] = np.abs(q[m0 : m0 + 32, None, :] - t[None]).max(2)
    return out


def brute_nn(queries, query_labels, train, train_labels, *, exclude_self):
    """(d_other, idx_other, d_same, idx_same) by brute force; ties to the first point
    in (label, index) order, the documented rule."""
    dist = brute_distances(queries, train)
    same = query_labels[:, None] == train_labels[None, :]
    own = np.zeros_like(same)
    if exclude_self:
        np.fill_diagonal(own, True)
    rank = np.lexsort((np.arange(len(train)), train_labels))  # (label, index) order
    result = []
    for mask in (~same, same & ~own):
        masked = np.where(mask, dist, np.inf)
        d = masked.min(1)
        first = masked[:, rank].argmin(1)  # argmin returns the first minimum
        idx = np.where(np.isfinite(d), rank[first], -1)
        result += [d, idx]
    return result


def assert_matches_brute_force(nn, queries, query_labels, train, train_labels, exclude_self):
    d_other, idx_other, d_same, idx_same = brute_nn(
        queries, query_labels, train, train_labels, exclude_self=exclude_self
    )
    np.testing.assert_array_equal(nn.d_other, d_other)
    np.testing.assert_array_equal(nn.d_same, d_same)
    np.testing.assert_array_equal(nn.idx_other, idx_other)
    np.testing.assert_array_equal(nn.idx_same, idx_same)


@pytest.fixture(scope="module")
def digits_data():
    bunch = load_digits()
    return bunch.images.astype(np.uint8)[:, None], bunch.target.astype(np.int64)


@pytest.fixture(scope="module")
def mnist_subset(mnist_raw_dir):
    rng = np.random.default_rng(0)
    x_train = read_idx(mnist_raw_dir / "train-images-idx3-ubyte.gz")
    y_train = read_idx(mnist_raw_dir / "train-labels-idx1-ubyte.gz").astype(np.int64)
    x_test = read_idx(mnist_raw_dir / "t10k-images-idx3-ubyte.gz")
    y_test = read_idx(mnist_raw_dir / "t10k-labels-idx1-ubyte.gz").astype(np.int64)
    tr = np.sort(rng.choice(len(x_train), 1500, replace=False))
    te = np.sort(rng.choice(len(x_test), 200, replace=False))
    return x_train[tr][:, None], y_train[tr], x_test[te][:, None], y_test[te]


# --------------------------------------------------------------------------- brute force


def test_nn_matches_brute_force_on_digits_train_train_and_test_train(digits_data):
    x, y = digits_data
    rng = np.random.default_rng(1)
    idx = rng.permutation(len(x))
    tr, te = idx[:1000], idx[1000:1300]
    nn = nearest_neighbours(x[tr], y[tr], x[tr], y[tr], exclude_self=True)
    assert_matches_brute_force(nn, x[tr], y[tr], x[tr], y[tr], exclude_self=True)
    nn = nearest_neighbours(x[te], y[te], x[tr], y[tr], exclude_self=False)
    assert_matches_brute_force(nn, x[te], y[te], x[tr], y[tr], exclude_self=False)


def test_nn_matches_brute_force_on_real_mnist_subset(mnist_subset):
    x_train, y_train, x_test, y_test = mnist_subset
    nn = nearest_neighbours(x_train, y_train, x_train, y_train, exclude_self=True)
    assert_matches_brute_force(nn, x_train, y_train, x_train, y_train, exclude_self=True)
    nn = nearest_neighbours(x_test, y_test, x_train, y_train, exclude_self=False)
    assert_matches_brute_force(nn, x_test, y_test, x_train, y_train, exclude_self=False)


def test_nn_matches_brute_force_on_float_inputs(digits_data):
    x, y = digits_data
    xf = (x[:700] / np.float32(16)).astype(np.float32)
    xf = xf + np.random.default_rng(2).uniform(0, 1e-3, xf.shape).astype(np.float32)
    nn = nearest_neighbours(xf, y[:700], xf, y[:700], exclude_self=True)
    assert_matches_brute_force(nn, xf, y[:700], xf, y[:700], exclude_self=True)


@pytest.mark.parametrize("dtype", ["uint8", "float32"])
def test_torch_backend_equals_numba_backend(digits_data, dtype):
    x, y = digits_data
    x = x[:500] if dtype == "uint8" else (x[:500] / np.float32(16)).astype(np.float32)
    a = nearest_neighbours(x, y[:500], x, y[:500], exclude_self=True, backend="numba")
    b = nearest_neighbours(x, y[:500], x, y[:500], exclude_self=True, backend="torch")
    for field in ("d_other", "idx_other", "d_same", "idx_same"):
        np.testing.assert_array_equal(getattr(a, field), getattr(b, field))


def test_separation_only_search_gives_the_same_d_other(mnist_subset):
    x_train, y_train, _, _ = mnist_subset
    full = nearest_neighbours(x_train, y_train, x_train, y_train, exclude_self=True)
    only = nearest_neighbours(
        x_train, y_train, x_train, y_train, exclude_self=True, want_same=False
    )
    np.testing.assert_array_equal(full.d_other, only.d_other)
    np.testing.assert_array_equal(full.idx_other, only.idx_other)
    assert np.isnan(only.d_same).all() and (only.idx_same == -1).all()


# --------------------------------------------------------------------------- adversarial cases


def test_exact_duplicate_counts_at_distance_zero_but_own_copy_does_not(digits_data):
    x, y = digits_data
    x, y = np.concatenate([x[:300], x[5:6]]), np.concatenate([y[:300], y[5:6]])
    nn = nearest_neighbours(x, y, x, y, exclude_self=True)
    # Points 5 and 300 are the same image with the same label: each is the other's
    # nearest same-label neighbour at distance 0; no other point has a zero.
    assert (nn.d_same[5], nn.idx_same[5]) == (0, 300)
    assert (nn.d_same[300], nn.idx_same[300]) == (0, 5)
    assert (nn.d_same[:300][np.arange(300) != 5] > 0).all()
    assert_matches_brute_force(nn, x, y, x, y, exclude_self=True)


def test_same_image_with_two_labels_has_separation_zero(digits_data):
    x, y = digits_data
    other = (y[7] + 1) % 10
    x_train = np.concatenate([x[:300], x[7:8]])
    y_train = np.concatenate([y[:300], [other]])
    sep = compute_separation(x_train, y_train, x[300:400], y[300:400], pixel_max=16, eps=0.1)
    train = sep.points[sep.points["split"] == "train"]
    assert train.loc[7, "d_other"] == 0 and train.loc[7, "idx_other"] == 300
    assert train.loc[300, "d_other"] == 0 and train.loc[300, "idx_other"] == 7
    assert sep.summary["train_train_min"] == 0 and sep.summary["r"] == 0
    assert sep.summary["nn_lipschitz"] is None  # 1/r is infinite


def test_ties_resolve_to_the_first_point_in_label_then_index_order():
    # Query at the origin; every training point is at distance exactly 2.
    train = np.zeros((9, 1, 1, 3), np.uint8)
    train[:, 0, 0, 0] = 2
    labels = np.array([2, 1, 0, 1, 2, 0, 1, 2, 0])
    query = np.zeros((1, 1, 1, 3), np.uint8)
    nn = nearest_neighbours(query, np.array([1]), train, labels, exclude_self=False)
    assert nn.d_other[0] == 2 and nn.idx_other[0] == 2  # label 0 first, lowest index
    assert nn.d_same[0] == 2 and nn.idx_same[0] == 1


def test_class_with_a_single_point_has_no_same_label_neighbour(digits_data):
    x, y = digits_data
    keep = np.flatnonzero(y[:400] != 3)
    x_train = np.concatenate([x[keep], x[np.flatnonzero(y == 3)[:1]]])
    y_train = np.concatenate([y[keep], [3]])
    nn = nearest_neighbours(x_train, y_train, x_train, y_train, exclude_self=True)
    assert nn.d_same[-1] == math.inf and nn.idx_same[-1] == -1
    assert np.isfinite(nn.d_same[:-1]).all()
    assert_matches_brute_force(nn, x_train, y_train, x_train, y_train, exclude_self=True)


def test_one_training_point_only_gives_no_neighbours():
    x = np.full((1, 1, 2, 2), 9, np.uint8)
    nn = nearest_neighbours(x, np.array([0]), x, np.array([0]), exclude_self=True)
    assert (nn.d_other[0], nn.idx_other[0], nn.d_same[0], nn.idx_same[0]) == (
        math.inf,
        -1,
        math.inf,
        -1,
    )


def test_float_and_uint8_inputs_give_the_same_unit_distances(digits_data):
    x, y = digits_data
    xf = (x / np.float32(16)).astype(np.float32)
    a = compute_separation(x[:900], y[:900], x[900:1100], y[900:1100], pixel_max=16, eps=0.1)
    b = compute_separation(xf[:900], y[:900], xf[900:1100], y[900:1100], pixel_max=1, eps=0.1)
    for column in ("d_other", "d_same"):
        np.testing.assert_allclose(a.points[column], b.points[column], rtol=0, atol=1e-6)
    # k/16 is exact in float32, so here even the indices agree.
    np.testing.assert_array_equal(a.points["idx_other"], b.points["idx_other"])
    assert a.summary["train_train_min"] == pytest.approx(b.summary["train_train_min"])


# --------------------------------------------------------------------------- Table 1 summary


def test_drop_smallest_drops_the_smallest_points_and_reports_the_raw_minimum(digits_data):
    x, y = digits_data
    # Two near-duplicate pairs with conflicting labels: the four smallest values.
    x_train = np.concatenate([x[:500], x[[10]], x[[20]]])
    assert x_train[501, 0, 0, 0] == 0  # digits' corner pixel is always blank
    x_train[501, 0, 0, 0] = 1  # now at distance 1/16 from x[20]
    y_train = np.concatenate([y[:500], (y[[10, 20]] + 1) % 10])
    sep = compute_separation(
        x_train, y_train, x[500:600], y[500:600], pixel_max=16, eps=0.1, drop_smallest=4
    )
    d = brute_nn(x_train, y_train, x_train, y_train, exclude_self=True)[0] / 16
    assert [p["index"] for p in sep.summary["dropped"]] == [10, 500, 20, 501]
    assert [p["d_other"] for p in sep.summary["dropped"]] == [0, 0, 1 / 16, 1 / 16]
    assert [p["label"] for p in sep.summary["dropped"]] == [
        y[10],
        (y[10] + 1) % 10,
        y[20],
        (y[20] + 1) % 10,
    ]
    assert sep.summary["train_train_min_raw"] == 0
    assert sep.summary["train_train_min"] == np.sort(d)[4]
    assert sep.summary["r"] == np.sort(d)[4] / 2
    assert sep.summary["drop_smallest"] == 4


def test_summary_equals_brute_force_definitions(digits_data):
    x, y = digits_data
    eps = 0.1
    sep = compute_separation(x[:1000], y[:1000], x[1000:], y[1000:], pixel_max=16, eps=eps)
    train_other = brute_nn(x[:1000], y[:1000], x[:1000], y[:1000], exclude_self=True)[0] / 16
    d_other, _, d_same, _ = brute_nn(x[1000:], y[1000:], x[:1000], y[:1000], exclude_self=False)
    d_other, d_same = d_other / 16, d_same / 16
    s = sep.summary
    r = train_other.min() / 2
    assert s["train_train_min"] == train_other.min()
    assert s["test_train_min"] == d_other.min()
    assert s["nn_clean_acc"] == pytest.approx(100 * np.mean(d_same < d_other))
    assert s["nn_tie_rate"] == pytest.approx(100 * np.mean(d_same == d_other))
    assert s["nn_certified_acc"] == pytest.approx(
        100 * np.mean((d_same < d_other) & (d_other - d_same > 2 * eps))
    )
    assert s["nn_certified_acc_at_r"] == pytest.approx(
        100 * np.mean((d_same < d_other) & (d_other - d_same > 2 * r))
    )
    assert s["nn_lipschitz"] == pytest.approx(1 / r)
    assert (s["n_train"], s["n_test"], s["eps"], s["pixel_max"]) == (1000, 797, eps, 16)
    assert s["label_seed"] is None and s["seconds"] >= 0
    assert list(sep.points.columns) == list(POINT_COLUMNS)


# --------------------------------------------------------------------------- random labels


def test_random_labels_equal_brute_force_on_permuted_labels(digits_data):
    x, y = digits_data
    x_train, y_train, x_test, y_test = x[:800], y[:800], x[800:1000], y[800:1000]
    sep = compute_separation(x_train, y_train, x_test, y_test, pixel_max=16, eps=0.1, label_seed=3)
    assert sep.summary["label_seed"] == 3
    # The recorded seed reproduces the permutation with the documented recipe.
    y_perm = y_train[np.random.default_rng(3).permutation(len(y_train))]
    np.testing.assert_array_equal(permuted_labels(y_train, 3), y_perm)
    np.testing.assert_array_equal(np.bincount(y_perm), np.bincount(y_train))
    assert (y_perm != y_train).mean() > 0.5
    train = sep.points[sep.points["split"] == "train"]
    test = sep.points[sep.points["split"] == "test"]
    np.testing.assert_array_equal(train["label"], y_perm)
    for part, (q, ql, own) in ((train, (x_train, y_perm, True)), (test, (x_test, y_test, False))):
        d_other, idx_other, d_same, idx_same = brute_nn(q, ql, x_train, y_perm, exclude_self=own)
        np.testing.assert_array_equal(part["d_other"], d_other / 16)
        np.testing.assert_array_equal(part["idx_other"], idx_other)
        np.testing.assert_array_equal(part["d_same"], d_same / 16)
        np.testing.assert_array_equal(part["idx_same"], idx_same)
    again = compute_separation(
        x_train, y_train, x_test, y_test, pixel_max=16, eps=0.1, label_seed=3
    )
    pd.testing.assert_frame_equal(again.points, sep.points)
    other_seed = compute_separation(
        x_train, y_train, x_test, y_test, pixel_max=16, eps=0.1, label_seed=4
    )
    assert not other_seed.points["label"].equals(sep.points["label"])


# --------------------------------------------------------------------------- 1-NN robustness


def nn_correct(points: np.ndarray, labels: np.ndarray, train, train_labels) -> np.ndarray:
    nn = nearest_neighbours(points, labels, train, train_labels, exclude_self=False)
    return nn.d_same < nn.d_other


def test_certified_points_are_never_broken_by_attacks_on_the_nn_rule(digits_data):
    x, y = digits_data
    x = (x / np.float32(16)).astype(np.float32)
    x_train, y_train, x_test, y_test = x[:1200], y[:1200], x[1200:1500], y[1200:1500]
    eps = 0.1
    nn = nearest_neighbours(x_test, y_test, x_train, y_train, exclude_self=False)
    is_certified = certified(nn.d_same, nn.d_other, eps)
    uncertified_correct = (nn.d_same < nn.d_other) & ~is_certified
    assert is_certified.sum() >= 50 and uncertified_correct.sum() >= 20

    rng = np.random.default_rng(0)
    flat_train = x_train.reshape(len(x_train), -1)
    dist = brute_distances(x_test, x_train)
    attacks, owners = [], []
    for m, point in enumerate(x_test.reshape(len(x_test), -1)):
        noise = rng.uniform(-eps, eps, (16, point.size)).astype(np.float32)
        candidates = [point + noise, point + np.sign(noise) * np.float32(eps)]
        # Straight lines toward the 3 nearest other-class training points: the ball's
        # boundary on the line, and steps toward z's projection onto the ball.
        others = np.flatnonzero(y_train != y_test[m])
        for z in flat_train[others[np.argsort(dist[m, others])[:3]]]:
            line = point + (z - point) * min(1.0, eps / float(np.abs(z - point).max()))
            step = np.clip(z - point, -eps, eps)
            candidates.append(np.stack([line] + [point + s * step for s in (0.5, 0.9, 1)]))
        batch = np.clip(np.concatenate(candidates), 0, 1).astype(np.float32)
        assert np.abs(batch - point).max() <= eps + 1e-6
        attacks.append(batch)
        owners.append(np.full(len(batch), m))
    attacks, owners = np.concatenate(attacks), np.concatenate(owners)
    correct = nn_correct(attacks.reshape(-1, *x_test.shape[1:]), y_test[owners], x_train, y_train)
    broken = np.zeros(len(x_test), bool)
    np.logical_or.at(broken, owners, ~correct)
    assert not broken[is_certified].any()
    # The attack has teeth: it breaks correct points whose margin is at most 2 eps.
    assert broken[uncertified_correct].any()


def test_margin_just_below_two_eps_is_breakable_and_just_above_is_not():
    eps, tiny = 0.125, 2.0**-11  # dyadic: every value below is exact in float32
    train = np.zeros((2, 1, 1, 4), np.float32)
    train[1, 0, 0, 0] = 0.5  # class 1 at 0.5 along the first axis, class 0 at the origin
    train_labels = np.array([0, 1])
    for offset, breakable in ((+tiny, True), (-tiny, False)):
        x = np.zeros((1, 1, 1, 4), np.float32)
        x[0, 0, 0, 0] = 0.125 + offset  # d_same = 0.125 + offset, d_other = 0.375 - offset
        nn = nearest_neighbours(x, np.array([0]), train, train_labels, exclude_self=False)
        margin = nn.d_other[0] - nn.d_same[0]
        assert margin == 2 * eps - 2 * offset
        assert nn.d_same[0] < nn.d_other[0]  # clean point classified correctly
        assert certified(nn.d_same, nn.d_other, eps)[0] == (not breakable)
        # Move by eps straight toward the other class.
        x_adv = x.copy()
        x_adv[0, 0, 0, 0] += eps
        assert np.abs(x_adv - x).max() == eps
        assert nn_correct(x_adv, np.array([0]), train, train_labels)[0] == (not breakable)


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


# --------------------------------------------------------------------------- errors


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"pixel_max": 8}, r"values in \[0, 16\]; expected \[0, 8\]"),
        ({"drop_smallest": 100}, r"drop_smallest must lie in \[0, 100\), got 100"),
        ({"backend": "cuda"}, r"unknown backend 'cuda' \(known: auto, numba, torch\)"),
    ],
)
def test_invalid_arguments_are_named(digits_data, kwargs, message):
    x, y = digits_data
    args = {"pixel_max": 16, "eps": 0.1} | kwargs
    with pytest.raises(ValueError, match=message):
        compute_separation(x[:100], y[:100], x[100:120], y[100:120], **args)


def test_float64_and_mismatched_inputs_are_rejected(digits_data):
    x, y = digits_data
    with pytest.raises(ValueError, match="dtype float64; expected uint8 or float32"):
        nearest_neighbours(x[:5] / 16, y[:5], x[:5] / 16, y[:5], exclude_self=True)
    with pytest.raises(ValueError, match="float32 .* but pixel_max is 16"):
        compute_separation(
            x[:9].astype(np.float32) / 16,
            y[:9],
            x[9:12].astype(np.float32),
            y[9:12],
            pixel_max=16,
            eps=0.1,
        )
    with pytest.raises(ValueError, match="exclude_self needs the queries to be the training"):
        nearest_neighbours(x[:5], y[:5], x[:6], y[:6], exclude_self=True)
