"""The staircase's methods are the main grid's entries: names, hyperparameters, errors
(lolip.staircase.methods)."""

from __future__ import annotations

import inspect

import pytest

from lolip import staircase as st
from lolip.methods import LOSSES, method_class
from tests.helpers import staircase_case as case


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
    entries = st.staircase_entries([name], case.CONFIG_METHODS)
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
            case.CONFIG_METHODS,
            "staircase.methods: unknown method 'trade6' (known: natural, gr, llr, at, rst0.5,",
        ),
        (["llr4,3"], case.CONFIG_METHODS, "unknown method 'llr4,3'"),  # the old grammar is gone
        (
            ["mart1"],
            {"mart1": {"loss": "mart", "beta": 6.0}},
            "staircase.methods: method 'mart1' has loss 'mart', which the staircase cannot fit "
            "(it fits: natural, gr, llr, at, rst, trades)",
        ),
        (["at", "at"], case.CONFIG_METHODS, "staircase.methods: method 'at' is listed twice"),
    ],
)
def test_bad_method_names_are_errors_naming_them(names, methods, message):
    with pytest.raises(ValueError) as err:
        st.staircase_entries(names, methods)
    assert message in str(err.value)


def test_a_bad_hyperparameter_is_an_error_naming_method_and_key():
    with pytest.raises(ValueError, match=r"method 'neg'.*beta must be a number >= 0, got -1"):
        st.resolve_methods({"neg": {"loss": "trades", "beta": -1}})
