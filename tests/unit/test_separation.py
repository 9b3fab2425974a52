"""The exact l_inf nearest-neighbour engine (lolip.separation.search, .kernel), checked
against brute force, on adversarial cases and on bad input."""

from __future__ import annotations

import math

import numpy as np
import pytest

from lolip.separation import compute_separation, nearest_neighbours
from tests.helpers.brute_force import assert_matches_brute_force

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
