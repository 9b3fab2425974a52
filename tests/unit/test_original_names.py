"""Model names of the original code: the paper's runs resolve to our methods, archs and settings."""

from __future__ import annotations

import pytest
import yaml

from lolip.archs import ARCHS
from lolip.methods import build_method, describe
from lolip.original_names import OriginalNameError, parse_original
from lolip.training.settings import TrainSettings
from tests.helpers.workflow import ROOT

CONFIG = ROOT / "config" / "config.yaml"
CIFAR_AUG = {"crop": 32, "padding": 4, "flip": True}

# Every loss spelling the original's scripts and params.py use for the paper's tables.
PAPER_NAMES = [
    ("ce-tor-CNN001", "natural", {"loss": "natural"}, "CNN001", {}),
    ("tulipce-tor-CNN002", "gr", {"loss": "gr", "beta": 1.0, "h": 1.0}, "CNN002", {}),
    ("sllrce-tor-CNN001", "llr", {"loss": "llr", "lam": 4.0, "mu": 3.0}, "CNN001", {}),
    ("advce-tor-CNN001", "at", {"loss": "at"}, "CNN001", {}),
    ("advbeta.5ce-tor-CNN002", "rst0.5", {"loss": "rst", "lam": 0.5}, "CNN002", {}),
    ("advbetace-tor-WRN_40_10", "rst1", {"loss": "rst", "lam": 1.0}, "WRN_40_10", {}),
    (
        "advbeta2ce-tor-WRN_40_10_drop50",
        "rst2",
        {"loss": "rst", "lam": 2.0},
        "WRN_40_10_drop50",
        {},
    ),
    ("stradesce-tor-CNN001", "trades1", {"loss": "trades", "beta": 1.0}, "CNN001", {}),
    ("strades3ce-tor-WRN_40_10", "trades3", {"loss": "trades", "beta": 3.0}, "WRN_40_10", {}),
    ("strades6ce-tor-CNN001", "trades6", {"loss": "trades", "beta": 6.0}, "CNN001", {}),
    (
        "advce-tor-ResNet50-adambs128",
        "at",
        {"loss": "at"},
        "ResNet50",
        {"optimizer": "adam", "batch_size": 128},
    ),
    (
        "aug01-advce-tor-WRN_40_10_drop20-lrem2",
        "at",
        {"loss": "at"},
        "WRN_40_10_drop20",
        {"augment": CIFAR_AUG, "lr": 1e-2},
    ),
    (
        "sllr36ce-tor-ResNet50-adambs128",
        "llr_lam3_mu6",
        {"loss": "llr", "lam": 3.0, "mu": 6.0},
        "ResNet50",
        {"optimizer": "adam", "batch_size": 128},
    ),
]


@pytest.mark.parametrize(("name", "method", "spec", "arch", "training"), PAPER_NAMES)
def test_paper_names_resolve_to_method_arch_and_settings(
    name: str, method: str, spec: dict, arch: str, training: dict
) -> None:
    assert parse_original(name) == {
        "original": name,
        "method": method,
        "method_spec": spec,
        "arch": arch,
        "training": training,
    }


def test_paper_names_build_the_same_methods_as_the_config_entries() -> None:
    methods = yaml.safe_load(CONFIG.read_text())["methods"]
    for name, method, *_ in PAPER_NAMES:
        if method not in methods:  # variants beyond the paper's tables
            continue
        parsed = parse_original(name)["method_spec"]
        assert describe(build_method(parsed)) == describe(build_method(methods[method])), name


def test_variants_map_to_their_hyperparameters() -> None:
    assert parse_original("strades6K20ce-tor-CNN001")["method_spec"] == {
        "loss": "trades",
        "beta": 6.0,
        "steps": 20,
        "step_size": 0.1,
    }
    gr = parse_original("tulipem1ssem2ce-tor-CNN001")
    assert gr["method"] == "gr_beta0.1_h0.01"
    assert gr["method_spec"] == {"loss": "gr", "beta": 0.1, "h": 0.01}
    assert parse_original("sllr65ce-tor-CNN001")["method_spec"] == {
        "loss": "llr",
        "lam": 6.0,
        "mu": 5.0,
    }
    assert parse_original("advbeta8ce-tor-CNN001")["method"] == "rst8"
    aug02 = parse_original("aug02-ce-tor-ResNet50")["training"]["augment"]
    assert aug02 == {"crop": 64, "padding": 8, "flip": True}


@pytest.mark.parametrize(
    ("suffix", "settings"),
    [
        ("ep2", {"epochs": 2}),
        ("ep20", {"epochs": 20}),
        ("ep70lrem4", {"epochs": 70, "lr": 1e-4}),
        ("mo0wd.9", {"momentum": 0.0, "weight_decay": 0.9}),
        (
            "adammo.9bs256lrem1",
            {"optimizer": "adam", "momentum": 0.9, "batch_size": 256, "lr": 0.1},
        ),
        ("bs16", {"batch_size": 16}),
    ],
)
def test_hyperparameter_suffix_tokens(suffix: str, settings: dict) -> None:
    assert parse_original(f"ce-tor-CNN001-{suffix}")["training"] == settings


def test_training_overrides_are_valid_train_settings() -> None:
    base = {"epochs": 1, "batch_size": 64, "lr": 1e-4}
    for name in (
        "aug01-advce-tor-WRN_40_10_drop20-lrem2",
        "advce-tor-ResNet50-adambs128",
        "ce-tor-CNN001-mo0wd.9ep30",
    ):
        settings = TrainSettings.from_dict({**base, **parse_original(name)["training"]})
        assert settings.epochs >= 1


def test_every_architecture_name_is_accepted() -> None:
    for arch in ARCHS:
        assert parse_original(f"ce-tor-{arch}")["arch"] == arch


@pytest.mark.parametrize(
    ("name", "fragment"),
    [
        ("strades6ce-CNN001", "no '-tor-'"),
        ("ce-tor-CNN001-tor-CNN002", "more than once"),
        ("aug03-ce-tor-CNN001", "unknown augmentation prefix 'aug03'"),
        ("trade6ce-tor-CNN001", "unknown loss 'trade6ce'"),
        ("advbeta3ce-tor-CNN001", "lambda spelled '3'"),
        ("advbeta0.5ce-tor-CNN001", "lambda spelled '0.5'"),
        ("strades5ce-tor-CNN001", "beta spelled '5'"),
        ("tulipem3ce-tor-CNN001", "beta spelled 'em3'"),
        ("sllr12ce-tor-CNN001", r"\(lambda, mu\) spelled '12'"),
        ("strades6mse-tor-CNN001", "unknown loss 'strades6mse'"),
        ("strades6ce-tor-ResNet5-adambs128", "unknown architecture 'ResNet5'.*'ResNet50'"),
        ("strades6ce-tor-CNN001-bs64", "unknown hyperparameter 'bs64'"),
        ("strades6ce-tor-CNN001-adamxyz", "unknown hyperparameter 'xyz' in suffix 'adamxyz'"),
        ("strades6ce-tor-CNN001-nadam", "Nadam"),
        ("strades6ce-tor-CNN001-bs128bs32", "sets batch_size twice"),
        ("strades6ce-tor-CNN001-", "empty hyperparameter suffix"),
    ],
)
def test_unparseable_name_error_names_the_wrong_part(name: str, fragment: str) -> None:
    with pytest.raises(OriginalNameError, match=fragment):
        parse_original(name)


@pytest.mark.parametrize("name", ["strades6ce-tor-CNN001", "sllrce-tor-CNN001"])
def test_unscaled_original_variants_point_to_the_paper_ones(name: str) -> None:
    with pytest.raises(OriginalNameError, match=f"use '{name.split('-')[0]}'"):
        parse_original(name[1:])


def test_non_string_name_is_rejected() -> None:
    with pytest.raises(OriginalNameError, match="must be a string"):
        parse_original(None)  # type: ignore[arg-type]
