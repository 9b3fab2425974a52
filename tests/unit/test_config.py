"""The experiment grid: merging, original model names, duplicates."""

from __future__ import annotations

import pytest
import yaml

from lolip.config import ConfigError, expand
from tests.helpers.workflow import ROOT

TRAINING = {"epochs": 1, "lr": 0.0001, "batch_size": 64}


def _paper():
    return yaml.safe_load((ROOT / "config/paper.yaml").read_text())


def test_original_model_strings_resolve_like_our_names():
    config = _paper()
    ours = {e.key: e for e in expand(config)}
    config["experiments"] = [
        {
            "dataset": "mnist",
            "models": ["strades6ce-tor-CNN001"],
            "training": config["experiments"][0]["training"],
        },
        {
            "dataset": "svhn",
            "models": ["advbeta2ce-tor-WRN_40_10_drop50"],
            "training": config["experiments"][-1]["training"],
            "training_by_method": {"rst2": {"lr": 0.001}},
        },
    ]
    theirs = {e.key: e for e in expand(config)}
    assert set(theirs) == {"mnist/CNN001/trades6/seed0", "svhn/WRN_40_10_drop50/rst2/seed0"}
    for key, exp in theirs.items():
        assert exp.method_spec == ours[key].method_spec
        assert exp.training == ours[key].training


def test_original_string_carries_its_training_settings():
    config = _paper()
    training = {"epochs": 70, "lr": 0.01, "batch_size": 64}
    config["experiments"] = [
        {"dataset": "resimagenet", "models": ["advce-tor-ResNet50-adambs128"], "training": training}
    ]
    (exp,) = expand(config)
    assert (exp.arch, exp.method) == ("ResNet50", "at")
    assert exp.training["optimizer"] == "adam" and exp.training["batch_size"] == 128
    assert exp.training["augment"] == {"crop": 64, "padding": 8}  # from the dataset entry


def test_unparseable_original_string_names_the_bad_part():
    config = _paper()
    config["experiments"] = [{"dataset": "mnist", "models": ["strades6ce-tor-CNN999"]}]
    with pytest.raises(ConfigError, match="CNN999"):
        expand(config)


def test_missing_training_settings_are_named():
    config = _paper()
    config["experiments"] = [{"dataset": "mnist", "models": ["advce-tor-CNN001"]}]
    with pytest.raises(ConfigError, match="missing keys epochs, batch_size, lr"):
        expand(config)


def test_duplicate_experiment_is_an_error():
    config = _paper()
    config["experiments"].append(config["experiments"][0])
    with pytest.raises(ConfigError, match="listed twice"):
        expand(config)


def test_training_settings_merge_dataset_group_method():
    exps = {e.key: e for e in expand(_paper())}
    svhn_at = exps["svhn/WRN_40_10/at/seed0"]
    assert svhn_at.training["lr"] == 0.001 and exps["svhn/WRN_40_10/natural/seed0"].training[
        "lr"
    ] == pytest.approx(0.01)
    cifar = exps["cifar10/WRN_40_10/natural/seed0"]
    assert cifar.training["augment"] == {"crop": 32, "padding": 4, "flip": True}
    assert exps["resimagenet/ResNet50/llr/seed0"].method_spec == {
        "loss": "llr",
        "lam": 3.0,
        "mu": 6.0,
    }
