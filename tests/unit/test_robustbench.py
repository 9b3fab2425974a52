"""The RobustBench export: RobustBench's model-info fields and formats, the paper's values,
and one export job per model of the run."""

from __future__ import annotations

import json
import re

import pytest

from lolip import robustbench
from lolip.archs import ARCHS
from lolip.robustbench import format_eps, model_info
from lolip.tables import load_reported
from tests.helpers.tables import PAPER, paper_specs
from tests.helpers.workflow import ROOT

# RobustBench's own keys, in the order of its model_info files.
ROBUSTBENCH_KEYS = (
    *("link", "name", "authors", "additional_data", "number_forward_passes", "dataset"),
    *("venue", "architecture", "eps", "clean_acc", "reported", "autoattack_acc"),
)
ACC = re.compile(r"\d{1,3}\.\d\d")
PGD = {"type": "pgd", "norm": "linf", "steps": 10, "step_size": 0.2, "restarts": 1}


def fake_metrics(**extra) -> dict:
    """The keys of a metrics.json that the export reads, with plausible values."""
    return {
        "dataset": "cifar10",
        "arch": "WRN_40_10",
        "method": "trades6",
        "seed": 0,
        "method_resolved": {"class": "TRADES", "beta": 6.0},
        "eps": 0.031,
        "test_acc": 84.4567,
        "adv_test_acc": 48.5,
        "n_test": 10000,
        "settings": {"subsets": {"train": None, "test": None}},
        "attacks": {"pgd": {"spec": PGD, "splits": ["train", "test"], "library": None}},
        "checks": {"alarms": [], "masking_suspected": False, "all_passed": True},
        **extra,
    }


def with_autoattack(metrics: dict, acc: float = 45.0) -> dict:
    spec = {"type": "autoattack", "norm": "linf", "version": "standard", "block_size": 500}
    library = {"name": "pyautoattack", "version": "0.2.1"}
    metrics["attacks"]["aa"] = {"spec": spec, "splits": ["test"], "library": library}
    metrics["adv_test_acc_aa"] = acc
    return metrics


def test_record_has_robustbench_fields_in_order_and_format():
    info = model_info(fake_metrics())
    assert tuple(info)[: len(ROBUSTBENCH_KEYS)] == ROBUSTBENCH_KEYS
    assert tuple(info) == robustbench.KEYS
    assert info["link"] == "https://arxiv.org/abs/2003.02460" and info["venue"] == "NeurIPS 2020"
    assert info["name"] == "A Closer Look at Accuracy vs. Robustness"
    assert info["authors"].startswith("Yao-Yuan Yang, Cyrus Rashtchian")
    assert info["additional_data"] is False and info["number_forward_passes"] == 1
    assert info["dataset"] == "cifar10" and info["architecture"] == "WideResNet-40-10"
    assert info["eps"] == "0.031"
    assert info["clean_acc"] == "84.46" and ACC.fullmatch(info["clean_acc"])
    assert info["adv_test_acc"] == "48.50" and info["unreliable"] is False
    assert json.loads(json.dumps(info)) == info  # plain JSON


def test_without_autoattack_its_accuracy_is_null_and_the_footnote_names_the_attack():
    info = model_info(fake_metrics())
    assert info["autoattack_acc"] is None and info["reported"] is None
    assert "AutoAttack was not run (autoattack_acc is null)" in info["footnote"]
    assert (
        "adv_test_acc: PGD (norm=linf, restarts=1, step_size=0.2, steps=10), the paper's attack"
        in info["footnote"]
    )
    assert "trades6 (TRADES), seed 0" in info["footnote"]
    assert "On the 10000 test points." in info["footnote"]


def test_autoattack_accuracy_where_evaluated():
    info = model_info(with_autoattack(fake_metrics(), 45.004))
    assert info["autoattack_acc"] == "45.00"
    assert "autoattack_acc: AutoAttack (block_size=500" in info["footnote"]
    assert "pyautoattack 0.2.1" in info["footnote"]
    assert "not run" not in info["footnote"]


def test_subsets_and_alarms_are_told():
    alarm = "square_vs_pgd on test: attack_acc={'pgd': 60.0, 'square': 40.0}"
    metrics = fake_metrics(
        n_test=500,
        settings={"subsets": {"test": 500}},
        checks={"alarms": [alarm], "masking_suspected": True, "all_passed": True},
    )
    info = model_info(metrics)
    assert info["unreliable"] is True
    assert "On the first 500 test points." in info["footnote"]
    assert f"Gradient masking suspected: {alarm}." in info["footnote"]


@pytest.mark.parametrize(
    "eps, text",
    [(8 / 255, "8/255"), (4 / 255, "4/255"), (0.031, "0.031"), (0.1, "0.1"), (0.2, "0.2")]
    + [(0.005, "0.005"), (1.0, "1.0"), (0.0313725, "0.0313725")],
)
def test_eps_is_a_fraction_of_255_where_exact_else_the_decimal(eps, text):
    assert format_eps(eps) == text


@pytest.mark.parametrize(
    "arch, name",
    [
        ("WRN_40_10", "WideResNet-40-10"),
        ("WRN_40_10_drop20", "WideResNet-40-10 (dropout 0.2)"),
        ("ResNet50", "ResNet-50"),
        ("ResNet50_drop50", "ResNet-50 (dropout 0.5)"),
        ("CNN001", "CNN001"),
        ("DigitsCNN", "DigitsCNN"),
    ],
)
def test_architectures_in_robustbench_spelling(arch, name):
    assert arch in ARCHS and robustbench.architecture(arch) == name


def test_an_l2_evaluation_is_no_linf_record():
    metrics = fake_metrics()
    metrics["attacks"]["pgd"]["spec"] = {**PGD, "norm": "l2"}
    with pytest.raises(ValueError, match="norm 'l2'; the RobustBench export is Linf"):
        model_info(metrics)


@pytest.fixture(scope="module")
def paper():
    """The paper config's tables and the reported values it names."""
    return paper_specs(), load_reported(ROOT / PAPER["reported"])


def test_reported_is_the_papers_pgd_accuracy(paper):
    specs, reported = paper
    values = robustbench.paper_values(reported, specs, "cifar10", "WRN_40_10", "trades6")
    assert values == {"test_acc": 84.46, "adv_test_acc": 48.58, "table": "table3/cifar10_WRN_40_10"}
    info = model_info(fake_metrics(), values)
    assert info["reported"] == "48.58"
    assert "reported: the paper's PGD accuracy (table3/cifar10_WRN_40_10)" in info["footnote"]
    assert "the paper's clean accuracy 84.46" in info["footnote"]
    drop = robustbench.paper_values(reported, specs, "cifar10", "WRN_40_10_drop20", "at")
    assert drop["adv_test_acc"] == 43.07 and drop["table"] == "table4_dropout/cifar10_WRN_40_10"
    assert robustbench.paper_values(reported, specs, "digits", "DigitsCNN", "at") is None


def test_export_writes_the_record_in_robustbench_order(tmp_path):
    (tmp_path / "metrics.json").write_text(json.dumps(with_autoattack(fake_metrics())))
    out = tmp_path / "rb/cifar10/Linf" / f"{robustbench.model_id('WRN_40_10', 'trades6', 0)}.json"
    robustbench.export(tmp_path / "metrics.json", out)
    assert out.name == "Yang2020Closer_WRN_40_10_trades6_seed0.json"
    assert tuple(json.loads(out.read_text())) == robustbench.KEYS


# --------------------------------------------------------------------------- the workflow
