"""Table 1 and the theorem's 1-NN classifier (lolip.separation.table1): the summary's
definitions, the random-label control, and the certificate against attacks."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from lolip.separation import (
    POINT_COLUMNS,
    certified,
    compute_separation,
    nearest_neighbours,
    permuted_labels,
)
from tests.helpers.brute_force import brute_distances, brute_nn

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
