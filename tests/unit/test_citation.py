"""What a published tool carries: CITATION.cff and LICENSE agree with pyproject.toml."""

from __future__ import annotations

import tomllib

import pytest
import yaml

from tests.helpers.workflow import ROOT

ARXIV_ID = "2003.02460"
# SPDX identifier -> the line that opens its licence text
LICENSE_HEADINGS = {"MIT": "MIT License"}


@pytest.fixture(scope="module")
def project() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]


@pytest.fixture(scope="module")
def citation() -> dict:
    return yaml.safe_load((ROOT / "CITATION.cff").read_text())


def _license(project: dict) -> str:
    """pyproject's licence: a PEP 639 SPDX string, or the older ``{text = ...}`` table."""
    license = project["license"]
    return license if isinstance(license, str) else license["text"]


def test_citation_has_the_required_fields(citation):
    assert citation["cff-version"] == "1.2.0"
    for key in ("message", "title", "authors", "version", "license", "preferred-citation"):
        assert citation.get(key), key
    paper = citation["preferred-citation"]
    assert paper["type"] == "conference-paper"
    assert paper["year"] == 2020
    assert all(a.get("given-names") and a.get("family-names") for a in paper["authors"])
    assert [a["family-names"] for a in paper["authors"]] == [
        "Yang",
        "Rashtchian",
        "Zhang",
        "Salakhutdinov",
        "Chaudhuri",
    ]
    assert any(ARXIV_ID in str(i["value"]) for i in paper["identifiers"]), paper["identifiers"]


def test_citation_version_is_pyprojects(citation, project):
    assert str(citation["version"]) == project["version"]


def test_citation_license_is_pyprojects(citation, project):
    assert citation["license"] == _license(project)


def test_license_file_names_pyprojects_license(project):
    text = (ROOT / "LICENSE").read_text()
    license = _license(project)
    assert license in LICENSE_HEADINGS, f"no known licence text for {license}"
    assert text.splitlines()[0].strip() == LICENSE_HEADINGS[license]
    assert "the lolip developers" in text
