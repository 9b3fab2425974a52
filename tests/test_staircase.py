"""The staircase illustration: objectives, solvers, metrics, the figure and the rule."""

from __future__ import annotations

import inspect
import textwrap
import zipfile

import cvxpy as cp
import numpy as np
import pandas as pd
import pytest
import yaml

from lolip import staircase as st
from lolip.methods import LOSSES, method_class
from tests.workflow import ROOT, copy_workflow, edit_config, snakemake

EPS = st.EPS
# The main grid's methods: the staircase's methods are its entries.
CONFIG_METHODS = yaml.safe_load((ROOT / "config/config.yaml").read_text())["methods"]


def _method(name: str) -> st.StaircaseMethod:
    """The config's method ``name`` as the staircase fits it."""
    return st.resolve_methods({name: CONFIG_METHODS[name]})[0]


@pytest.fixture(scope="module")
def basis() -> st.SplineBasis:
    return st.staircase_basis(EPS)


@pytest.fixture(scope="module")
def data() -> st.StaircaseData:
    """60 sampled points, four of them moved a second time (so inputs x +- 2 eps occur), plus
    one point on every stair: with no empty stair the solutions are well determined."""
    d = st.sample_staircase(60, np.random.default_rng(3), eps=EPS)
    x = d.x.copy()
    x[:4] += np.array([EPS, -EPS, EPS, -EPS])
    stairs = np.arange(10.0)
    y = stairs + 0.1 * np.random.default_rng(4).standard_normal(10)
    return st.StaircaseData(x=np.r_[x, stairs], y=np.r_[d.y, y])


@pytest.fixture(scope="module")
def pb(data: st.StaircaseData, basis: st.SplineBasis) -> st.Problem:
    return st.build_problem(data, basis, EPS, st.PENALTY)


@pytest.fixture(scope="module")
def natural(pb: st.Problem) -> np.ndarray:
    return st.solve_natural(pb)


def _loss(basis: st.SplineBasis, theta: np.ndarray, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    return (st.predict(basis, theta, x) - y) ** 2


def _curve(basis: st.SplineBasis, theta: np.ndarray) -> np.ndarray:
    return st.predict(basis, theta, np.linspace(-EPS, 9 + EPS, 400))


def _dloss_dx(basis, theta, x, y, h=1e-6):
    return (_loss(basis, theta, x + h, y) - _loss(basis, theta, x - h, y)) / (2 * h)


# ----------------------------------------------------------------------------- data and model


def test_sample_staircase_matches_stated_distribution():
    n = 200_000
    d = st.sample_staircase(n, np.random.default_rng(0), eps=EPS)
    stairs = np.round(d.x)
    freq = np.bincount(stairs.astype(int), minlength=10) / n
    weights = np.r_[[0.2] * 5, [0.01] * 5] / 1.05
    assert np.all(np.abs(freq - weights) < 4 * np.sqrt(weights / n))
    moves = d.x - stairs
    assert set(np.round(np.unique(moves), 12)) == {round(-EPS, 12), 0.0, round(EPS, 12)}
    assert abs(np.mean(moves != 0) - 0.005) < 4 * np.sqrt(0.005 / n)
    assert abs(np.std(d.y - stairs) - 0.1) < 0.002


def test_train_and_test_are_reproducible_and_independent():
    a_train, a_test = st.sample_train_test(50, 50, seed=7)
    b_train, b_test = st.sample_train_test(50, 50, seed=7)
    np.testing.assert_array_equal(a_train.y, b_train.y)
    np.testing.assert_array_equal(a_test.y, b_test.y)
    assert not np.allclose(a_train.y, a_test.y)


def test_basis_has_knots_at_stairs_and_eps_moves(basis):
    inner = np.concatenate([np.arange(10) + d for d in (-EPS, 0.0, EPS)])
    for knot in inner:
        assert np.min(np.abs(basis.knots - knot)) < 1e-12
    # The basis is a partition of unity wherever a doubly moved point can land.
    x = np.linspace(-2 * EPS, 9 + 2 * EPS, 501)
    np.testing.assert_allclose(basis.features(x).sum(axis=1), 1.0, atol=1e-12)


def test_slopes_are_derivatives_of_features(basis):
    x = np.linspace(-EPS, 9 + EPS, 97) + 1e-3  # off the knots, where B' is continuous anyway
    h = 1e-6
    numeric = (basis.features(x + h) - basis.features(x - h)).toarray() / (2 * h)
    np.testing.assert_allclose(basis.slopes(x).toarray(), numeric, atol=1e-6)


def test_penalty_is_sum_of_squared_second_differences():
    theta = np.random.default_rng(0).standard_normal(12)
    p = st.smoothness_penalty(12)
    expected = sum((theta[j] - 2 * theta[j + 1] + theta[j + 2]) ** 2 for j in range(10))
    assert theta @ p @ theta == pytest.approx(expected)
    assert np.ones(12) @ p @ np.ones(12) == pytest.approx(0.0)
    assert np.arange(12.0) @ p @ np.arange(12.0) == pytest.approx(0.0)


# ----------------------------------------------------------------------------- objectives


def test_objectives_match_their_definitions(pb, basis, data):
    """Each objective against a direct evaluation of its formula with predict() and the loss."""
    theta = np.random.default_rng(1).standard_normal(pb.n_coef) + np.linspace(-1, 10, pb.n_coef)
    x, y = data.x, data.y
    pen = st.PENALTY * float(np.sum(np.diff(theta, 2) ** 2))
    loss = {d: _loss(basis, theta, x + d, y) for d in (-EPS, 0.0, EPS)}
    worst = np.maximum.reduce(list(loss.values()))
    f = {d: st.predict(basis, theta, x + d) for d in (-EPS, 0.0, EPS)}
    change = np.maximum((f[-EPS] - f[0.0]) ** 2, (f[EPS] - f[0.0]) ** 2)
    grad_x = _dloss_dx(basis, theta, x, y)
    lin = [np.abs(loss[d] - loss[0.0] - d * grad_x) for d in (-EPS, EPS)]

    assert st.natural_objective(theta, pb) == pytest.approx(loss[0.0].sum() + pen)
    assert st.at_objective(theta, pb) == pytest.approx(worst.sum() + pen)
    assert st.rst_objective(theta, pb, lam=0.5) == pytest.approx(
        loss[0.0].sum() + 0.5 * worst.sum() + pen
    )
    assert st.trades_objective(theta, pb, beta=3.0) == pytest.approx(
        loss[0.0].sum() + 3.0 * change.sum() + pen
    )
    assert st.gr_objective(theta, pb, beta=2.0) == pytest.approx(
        loss[0.0].sum() + 2.0 * np.sum(grad_x**2) + pen, rel=1e-6
    )
    assert st.llr_objective(theta, pb, lam=4.0, mu=3.0) == pytest.approx(
        loss[0.0].sum() + 4.0 * np.maximum(*lin).sum() + 3.0 * EPS * np.abs(grad_x).sum() + pen,
        rel=1e-6,
    )


@pytest.mark.parametrize(
    "value_and_grad",
    [
        lambda th, pb: st.gr_value_and_grad(th, pb, beta=2.0),
        lambda th, pb: st.llr_value_and_grad(th, pb, lam=4.0, mu=3.0),
        lambda th, pb: st.llr_value_and_grad(th, pb, lam=4.0, mu=3.0, tau=1e-3),
    ],
    ids=["gr", "llr", "llr_smoothed"],
)
def test_analytic_gradient_matches_finite_differences(pb, value_and_grad):
    theta = np.random.default_rng(2).standard_normal(pb.n_coef) + np.linspace(-1, 10, pb.n_coef)
    _, grad = value_and_grad(theta, pb)
    h = 1e-6
    numeric = np.array(
        [
            (value_and_grad(theta + h * e, pb)[0] - value_and_grad(theta - h * e, pb)[0]) / (2 * h)
            for e in np.eye(pb.n_coef)
        ]
    )
    np.testing.assert_allclose(grad, numeric, rtol=1e-5, atol=1e-5 * np.abs(numeric).max())


# ----------------------------------------------------------------------------- solvers


def test_natural_equals_closed_form_penalised_least_squares(pb, basis, data, natural):
    a = basis.features(data.x).toarray()
    p = st.smoothness_penalty(pb.n_coef).toarray()
    closed = np.linalg.solve(a.T @ a + st.PENALTY * p, a.T @ pb.y)
    np.testing.assert_allclose(natural, closed, rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(st.natural_closed_form(pb), closed, rtol=1e-10, atol=1e-10)


CONVEX = ["natural", "at", "rst0.5", "rst2", "trades1", "trades6"]


def _nearby(theta: np.ndarray, seed: int = 0):
    """Moves of both signs along every coordinate at several scales, then random moves.

    Coordinate moves matter: at a point that is optimal for the wrong beta, random directions
    mostly cross the max terms' kinks and go uphill, while some coordinate moves go down.
    """
    for h in (1e-3, 1e-4, 1e-5, 1e-6):
        for step in np.concatenate([np.eye(len(theta)), -np.eye(len(theta))]) * h:
            yield theta + step
    rng = np.random.default_rng(seed)
    for scale in (1e-4, 1e-3, 1e-2):
        for _ in range(20):
            yield theta + scale * rng.standard_normal(len(theta))


@pytest.mark.parametrize("spec", CONVEX)
def test_convex_solution_is_not_beaten_by_nearby_points(pb, spec):
    """The cvxpy solution minimises the numpy objective: no small move lowers it."""
    method = _method(spec)
    theta = method.fit(pb)
    best = method.objective(theta, pb)
    lowest = min(method.objective(other, pb) for other in _nearby(theta))
    assert lowest >= best - 1e-8 * max(1.0, abs(best))


# The direct max-of-squares form is what the library avoids: Clarabel often ends it
# "optimal_inaccurate", which only makes the reference weaker, never the assertion wrong.
@pytest.mark.filterwarnings("ignore:Solution may be inaccurate")
@pytest.mark.parametrize("spec", CONVEX)
def test_convex_solution_matches_a_direct_formulation(pb, basis, data, spec):
    """Against cvxpy on the definition as written (one max of squares per point, no grouping
    by distinct x, no epigraph rewriting): our solution is at least as good."""
    method = _method(spec)
    feats = [basis.features(data.x + d) for d in (-EPS, 0.0, EPS)]
    theta = cp.Variable(basis.n_coef)
    y = data.y
    clean = cp.sum_squares(feats[1] @ theta - y)
    worst_loss = cp.sum(cp.maximum(*[cp.square(a @ theta - y) for a in feats]))
    worst_change = cp.sum(
        cp.maximum(*[cp.square((a - feats[1]) @ theta) for a in (feats[0], feats[2])])
    )
    penalty = st.PENALTY * cp.sum_squares(np.diff(np.eye(basis.n_coef), 2, axis=0) @ theta)
    term = {
        "natural": lambda: clean,
        "at": lambda: worst_loss,
        "rst": lambda: clean + method.params["lam"] * worst_loss,
        "trades": lambda: clean + method.params["beta"] * worst_change,
    }[method.loss]()
    cp.Problem(cp.Minimize(term + penalty)).solve(solver=cp.CLARABEL)
    reference = method.objective(np.asarray(theta.value), pb)
    ours = method.objective(method.fit(pb), pb)
    assert ours <= reference + 1e-7 * reference
    assert ours == pytest.approx(reference, rel=1e-5)


def test_gr_solution_is_a_local_minimum(pb):
    theta = st.solve_gr(pb, beta=1.0)
    best = st.gr_objective(theta, pb, beta=1.0)
    lowest = min(st.gr_objective(other, pb, beta=1.0) for other in _nearby(theta))
    assert lowest >= best - 1e-8 * max(1.0, best)


def test_gr_beta_zero_equals_natural(pb, basis, natural):
    theta = st.solve_gr(pb, beta=0.0, theta0=np.zeros(pb.n_coef))
    np.testing.assert_allclose(_curve(basis, theta), _curve(basis, natural), atol=1e-5)


def test_llr_smoothing_is_a_lower_bound_within_tau(pb):
    """Each |z| becomes sqrt(z^2 + tau^2) - tau, in [|z| - tau, |z|]; per point the LLR term
    then drops by at most lam * 1.5 tau (the max of two) + mu * eps * tau."""
    lam, mu, tau = 4.0, 3.0, 1e-3
    bound = len(pb.y) * (1.5 * lam + mu * EPS) * tau
    for seed in range(3):
        theta = np.random.default_rng(seed).standard_normal(pb.n_coef) + np.linspace(
            -1, 10, pb.n_coef
        )
        exact = st.llr_objective(theta, pb, lam, mu)
        smooth = st.llr_value_and_grad(theta, pb, lam, mu, tau)[0]
        assert 0 <= exact - smooth <= bound


def test_llr_solution_is_a_local_minimum(pb, natural):
    """A local solution of a non-smooth objective: no nearby point is lower by more than a
    relative 1e-6 (L-BFGS-B's last stage stops at a kink), and it beats its Natural start."""
    theta = st.solve_llr(pb, lam=4.0, mu=3.0)
    best = st.llr_objective(theta, pb)
    assert best < st.llr_objective(natural, pb)
    lowest = min(st.llr_objective(other, pb) for other in _nearby(theta))
    assert lowest >= best * (1 - 1e-6)


def test_llr_zero_weights_equal_natural(pb, basis, natural):
    theta = st.solve_llr(pb, lam=0.0, mu=0.0, theta0=np.zeros(pb.n_coef))
    np.testing.assert_allclose(_curve(basis, theta), _curve(basis, natural), atol=1e-5)


def test_at_adversarial_train_mse_no_higher_than_natural(pb, basis, data, natural):
    at = st.solve_at(pb)
    adv_at = st.staircase_metrics(basis, at, data, EPS)["adv_mse"]
    adv_nat = st.staircase_metrics(basis, natural, data, EPS)["adv_mse"]
    assert adv_at <= adv_nat


def _gap_to_natural(basis, theta, natural):
    return np.max(np.abs(_curve(basis, theta) - _curve(basis, natural)))


def test_trades_beta_to_zero_approaches_natural(pb, basis, natural):
    """The solution moves by O(beta) from Natural's as beta -> 0 (the strongly convex Natural
    objective plus a Lipschitz term); the weak penalty makes the constant about 100."""
    gaps = [_gap_to_natural(basis, st.solve_trades(pb, b), natural) for b in (1e-4, 1e-5, 1e-6)]
    assert gaps[0] > gaps[1] * 5 > gaps[2] * 25
    assert gaps[2] < 1e-3


def test_rst_lambda_to_zero_approaches_natural(pb, basis, natural):
    gaps = [_gap_to_natural(basis, st.solve_rst(pb, lam), natural) for lam in (1e-4, 1e-5, 1e-6)]
    assert gaps[0] > gaps[1] * 5 > gaps[2] * 25
    assert gaps[2] < 1e-3


# ----------------------------------------------------------------------------- metrics


def test_metrics_of_a_constant_function(basis, data):
    """B-splines sum to one, so theta = c gives f = c: every metric has a closed form."""
    c = 2.5
    m = st.staircase_metrics(basis, np.full(basis.n_coef, c), data, EPS)
    assert m["mse"] == pytest.approx(np.mean((c - data.y) ** 2))
    assert m["adv_mse"] == pytest.approx(m["mse"])
    assert m["lipschitz"] == pytest.approx(np.mean(np.abs(c - data.y)) / EPS)
    assert m["local_lipschitz"] == pytest.approx(0.0, abs=1e-12)


def test_metrics_of_the_identity_function(basis, data):
    """Coefficients at the Greville abscissae reproduce f(x) = x, whose slope is exactly 1."""
    k = basis.degree
    greville = np.array([basis.knots[j + 1 : j + k + 1].mean() for j in range(basis.n_coef)])
    m = st.staircase_metrics(basis, greville, data, EPS)
    x, y = data.x, data.y
    assert m["mse"] == pytest.approx(np.mean((x - y) ** 2))
    worst = np.maximum.reduce([(x + d - y) ** 2 for d in (-EPS, 0.0, EPS)])
    assert m["adv_mse"] == pytest.approx(np.mean(worst))
    assert m["lipschitz"] == pytest.approx(np.mean(np.abs(x - y) + EPS) / EPS)
    assert m["local_lipschitz"] == pytest.approx(1.0)


# ----------------------------------------------------------------------------- methods


@pytest.mark.parametrize(
    ("name", "loss", "params", "label"),
    [
        ("natural", "natural", {}, "Natural"),
        ("trades6", "trades", {"beta": 6.0}, "TRADES(6)"),
        ("rst0.5", "rst", {"lam": 0.5}, "RST(0.5)"),
        ("llr", "llr", {"lam": 4.0, "mu": 3.0}, "LLR(4,3)"),  # `llr: {loss: llr}`: the defaults
        ("gr", "gr", {"beta": 1.0}, "GR(1)"),
        ("at", "at", {}, "AT"),
    ],
)
def test_methods_take_names_and_hyperparameters_from_the_main_grid(name, loss, params, label):
    entries = st.staircase_entries([name], CONFIG_METHODS)
    (method,) = st.resolve_methods(entries)
    assert (method.name, method.loss, dict(method.params), method.label) == (
        name,
        loss,
        params,
        label,
    )


def test_a_method_is_its_entry_whatever_its_name():
    entries = st.staircase_entries(["mine"], {"mine": {"loss": "trades", "beta": 2.5}})
    (method,) = st.resolve_methods(entries)
    assert (method.name, method.label) == ("mine", "TRADES(2.5)")


@pytest.mark.parametrize("loss", list(st.FITS))
def test_missing_hyperparameters_are_the_method_class_defaults(loss):
    (method,) = st.resolve_methods(st.staircase_entries(["m"], {"m": {"loss": loss}}))
    defaults = method_class(loss)()
    assert dict(method.params) == {k: getattr(defaults, k) for k in st.FITS[loss].hyperparameters}


@pytest.mark.parametrize("loss", list(st.FITS))
def test_solver_and_objective_defaults_are_the_method_class_defaults(loss):
    """The solvers' and objectives' keyword defaults cannot drift from the paper's defaults,
    which live in the method classes."""
    fit, defaults = st.FITS[loss], method_class(loss)()
    for function in (getattr(st, fit.solver), getattr(st, fit.objective)):
        signature = inspect.signature(function).parameters
        for key in fit.hyperparameters:
            assert signature[key].default == getattr(defaults, key), (function.__name__, key)


def test_the_staircase_fits_only_losses_of_the_main_grid():
    assert set(st.FITS) <= set(LOSSES)


def test_entries_keep_only_what_a_fit_depends_on():
    """GR's finite-difference step and the searches' settings have no staircase counterpart,
    so a change of them refits nothing."""
    methods = {
        "gr": {"loss": "gr", "beta": 2.0, "h": 0.5, "detach_direction": False},
        "at": {"loss": "at", "steps": 20, "step_size": 0.1, "attack_mode": "eval"},
        "llr": {"loss": "llr", "mu": 1.0, "steps": 5},
    }
    assert st.staircase_entries(["gr", "at", "llr"], methods) == {
        "gr": {"loss": "gr", "beta": 2.0},
        "at": {"loss": "at"},
        "llr": {"loss": "llr", "mu": 1.0},
    }


@pytest.mark.parametrize(
    ("names", "methods", "message"),
    [
        (
            ["natural", "trade6"],
            CONFIG_METHODS,
            "staircase.methods: unknown method 'trade6' (known: natural, gr, llr, at, rst0.5,",
        ),
        (["llr4,3"], CONFIG_METHODS, "unknown method 'llr4,3'"),  # the old grammar is gone
        (
            ["mart1"],
            {"mart1": {"loss": "mart", "beta": 6.0}},
            "staircase.methods: method 'mart1' has loss 'mart', which the staircase cannot fit "
            "(it fits: natural, gr, llr, at, rst, trades)",
        ),
        (["at", "at"], CONFIG_METHODS, "staircase.methods: method 'at' is listed twice"),
    ],
)
def test_bad_method_names_are_errors_naming_them(names, methods, message):
    with pytest.raises(ValueError) as err:
        st.staircase_entries(names, methods)
    assert message in str(err.value)


def test_a_bad_hyperparameter_is_an_error_naming_method_and_key():
    with pytest.raises(ValueError, match=r"method 'neg'.*beta must be a number >= 0, got -1"):
        st.resolve_methods({"neg": {"loss": "trades", "beta": -1}})


# ----------------------------------------------------------------------------- experiment


def test_run_staircase_tabulates_every_method_reproducibly(tmp_path):
    methods = {name: CONFIG_METHODS[name] for name in ["natural", "at", "trades3", "gr", "llr"]}
    first = st.run_staircase(40, 500, seed=1, methods=methods)
    second = st.run_staircase(40, 500, seed=1, methods=methods)
    assert list(first.table.columns) == st.TABLE_COLUMNS
    assert list(first.table["method"]) == list(methods)
    pd.testing.assert_frame_equal(first.table, second.table)
    row = first.table.set_index("method").loc["natural"]
    assert row["gap"] == pytest.approx(row["test_mse"] - row["train_mse"])
    out = tmp_path / "fig.png"
    st.plot_staircase(first, out, title="test")
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_run_staircase_rejects_a_bad_method_before_fitting(monkeypatch):
    def no_fit(*args, **kwargs):
        raise AssertionError("fitted before checking every method")

    monkeypatch.setattr(st.StaircaseMethod, "fit", no_fit)
    methods = {"natural": {"loss": "natural"}, "mart1": {"loss": "mart"}}
    with pytest.raises(ValueError, match="method 'mart1' has loss 'mart'"):
        st.run_staircase(40, 50, seed=0, methods=methods)


# ----------------------------------------------------------------------------- the rule


@pytest.mark.slow
def test_fit_staircase_rule_writes_table_figure_and_report(tmp_path):
    """Run rules/staircase.smk on a tiny config, then build the report with its captions."""
    snakefile = tmp_path / "Snakefile"
    snakefile.write_text(
        textwrap.dedent(
            f"""
            config["staircase"] = {{
                "small": {{"n_train": 30, "n_test": 200, "seed": 1}},
                "large": {{"n_train": 300, "n_test": 200, "seed": 1}},
                "eps": 0.3333333,
                "lambda": 0.01,
                "methods": ["natural", "at", "trades6"],
            }}
            config["methods"] = {{
                "natural": {{"loss": "natural"}},
                "at": {{"loss": "at"}},
                "trades6": {{"loss": "trades", "beta": 6.0}},
            }}

            include: "{ROOT / "rules" / "staircase.smk"}"
            """
        )
    )
    targets = ["results/staircase/small.csv", "results/staircase/small.png"]
    snakemake(tmp_path, "--cores", "1", *targets)
    table = pd.read_csv(tmp_path / "results/staircase/small.csv")
    assert list(table["method"]) == ["natural", "at", "trades6"]
    assert (tmp_path / "results/staircase/small.png").read_bytes()[:4] == b"\x89PNG"
    assert "staircase" in (tmp_path / "logs/staircase/small.log").read_text()

    report = snakemake(tmp_path, "--cores", "1", "--report", "report.zip", *targets)
    assert "(ERROR" not in report.stderr  # docutils reports caption markup errors this way
    with zipfile.ZipFile(tmp_path / "report.zip") as archive:
        html = archive.read("report/report.html").decode()
    assert "small training set" in html  # the figure caption, with its wildcard filled in
    assert "test_local_lipschitz" in html  # the table caption


def test_a_staircase_method_not_in_the_main_grid_stops_the_workflow_at_load(tmp_path):
    wf = copy_workflow(tmp_path / "wf")
    edit_config(wf / "config/config.yaml", lambda c: c["staircase"]["methods"].append("trade6"))
    proc = snakemake(wf, "-n", check=False)
    assert proc.returncode != 0
    assert "config error: staircase.methods: unknown method 'trade6'" in proc.stdout + proc.stderr
    assert not (wf / "results").exists()
