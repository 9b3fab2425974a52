"""Every registered architecture and dataset source has its default job resources, and
every row of the resource tables belongs to a registered name (both directions)."""

from __future__ import annotations

import pytest

from lolip import resources
from lolip.archs import ARCHS
from lolip.datasets import SOURCES

JOB_KEYS = {"threads", "mem_mb", "runtime", "gpu"}


def test_every_architecture_family_has_resources_and_no_row_is_orphaned():
    families = {resources.arch_family(name) for name in ARCHS}
    assert families == set(resources.ARCH_RESOURCES)


@pytest.mark.parametrize("arch", sorted(ARCHS))
def test_each_architecture_gets_training_and_evaluation_resources(arch):
    row = resources.ARCH_RESOURCES[resources.arch_family(arch)]
    for stage in ("train", "evaluate"):
        assert set(row[stage]) == JOB_KEYS, (arch, stage)
        assert row[stage]["threads"] >= 1 and row[stage]["mem_mb"] > 0
        assert row[stage]["runtime"] > 0 and row[stage]["gpu"] in (0, 1)


@pytest.mark.parametrize("table", ["DATA_MB", "SEPARATION_RESOURCES"])
def test_every_source_has_data_and_separation_resources(table):
    assert set(getattr(resources, table)) == set(SOURCES), table


def test_preparation_overrides_name_known_sources():
    assert set(resources.PREPARE_RESOURCES) - {"*"} <= set(SOURCES)


def test_a_dropout_variant_shares_its_base_row():
    assert resources.arch_family("WRN_40_10_drop20") == "WRN_40_10"
    assert resources.arch_family("ResNet50_drop50") == "ResNet50"
    assert resources.arch_family("CNN001") == "CNN001"
