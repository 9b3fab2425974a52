"""config/schema.yaml is generated from the settings classes and agrees with them; the
config check names the place, the value and what was expected."""

from __future__ import annotations

import copy

import pytest
import yaml

from lolip import schema
from lolip.bounds import setting
from lolip.methods import method_class
from tests.helpers.workflow import ROOT

CONFIG = yaml.safe_load((ROOT / "config/config.yaml").read_text())
SCHEMA = yaml.safe_load((ROOT / "config/schema.yaml").read_text())


def test_the_committed_schema_is_the_generated_one():
    assert (ROOT / "config/schema.yaml").read_text() == schema.schema_text(), (
        "config/schema.yaml is stale: run `python -m lolip.schema > config/schema.yaml`"
    )


def test_a_bound_changed_in_code_changes_the_schema(monkeypatch):
    trades = method_class("trades")
    field = trades.__dataclass_fields__["beta"]
    monkeypatch.setattr(
        field, "metadata", {"bound": setting(0.0, type="number", minimum=1).metadata["bound"]}
    )
    assert schema.schema_text() != (ROOT / "config/schema.yaml").read_text()


@pytest.mark.parametrize(
    "config",
    [
        yaml.safe_load((ROOT / f"config/{name}.yaml").read_text())
        for name in ("config", "paper", "mnist")
    ],
)
def test_shipped_configs_are_valid(config):
    full = copy.deepcopy(CONFIG)
    full.update(config)
    schema.validate(full, SCHEMA)


def _bad(edit):
    config = copy.deepcopy(CONFIG)
    edit(config)
    with pytest.raises(ValueError) as err:
        schema.validate(config, SCHEMA)
    return str(err.value)


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (
            lambda c: c["datasets"]["digits"]["training"].update(lr="1e-3"),
            "datasets.digits.training.lr: got '1e-3' (a string: YAML 1.1 reads 1e-3 as text;"
            " write 1.0e-3 or 0.001 for a number); expected a number > 0",
        ),
        (
            lambda c: c["datasets"]["digits"].update(test_fracton=0.3),
            "datasets.digits: unknown key 'test_fracton' (known: source, training, eps, "
            "drop_smallest, test_fraction, split_seed)",
        ),
        (
            lambda c: c["evaluation"].update(batchsize=5),
            "evaluation: unknown key 'batchsize'",
        ),
        (
            lambda c: c["evaluation"]["attacks"]["pgd"].update(steps=-1),
            "evaluation.attacks.pgd.steps: got -1; expected an integer >= 0",
        ),
        (lambda c: c["methods"]["trades6"].update(betta=6), "methods.trades6: unknown key 'betta'"),
        (
            lambda c: c["datasets"]["digits"].update(eps=1.5),
            "datasets.digits.eps: got 1.5; expected a number > 0 and <= 1",
        ),
        (
            lambda c: c["datasets"]["digits"]["training"].update(precision="fp16"),
            "precision: got 'fp16'; expected one of 'fp32', 'bf16'",
        ),
        (
            lambda c: c["sweep"].update(factors=[0, -1]),
            "sweep.factors.1: got -1; expected a number >= 0",
        ),
        (lambda c: c["sweep"].update(radii=[1]), "sweep: unknown key 'radii'"),
        (
            lambda c: c["figures"].update(dpi=5),
            "figures.dpi: got 5; expected an integer >= 30 and <= 1200",
        ),
    ],
)
def test_bad_values_are_named_with_what_was_expected(edit, message):
    assert message in _bad(edit)


def _keys(fragment, out):
    """Every key name a schema fragment defines (properties, at any depth)."""
    if isinstance(fragment, dict):
        for name, sub in fragment.get("properties", {}).items():
            out.add(name)
            _keys(sub, out)
        for key in ("additionalProperties", "items", "then"):
            _keys(fragment.get(key), out)
        for case in fragment.get("allOf", []):
            _keys(case, out)
        for sub in fragment.get("$defs", {}).values():
            _keys(sub, out)
    return out


def test_config_readme_describes_every_key():
    readme = (ROOT / "config/README.md").read_text()
    missing = sorted(k for k in _keys(SCHEMA, set()) if f"`{k}`" not in readme)
    assert not missing, f"config/README.md does not describe {missing}"
