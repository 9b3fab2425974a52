"""The staircase unit tests' shared case (tests/helpers/staircase_case.py) as fixtures."""

from __future__ import annotations

import pytest

from lolip import staircase as st
from tests.helpers import staircase_case as case


@pytest.fixture(scope="module")
def basis() -> st.SplineBasis:
    return case.basis()


@pytest.fixture(scope="module")
def data() -> st.StaircaseData:
    return case.training_set()


@pytest.fixture(scope="module")
def pb() -> st.Problem:
    return case.problem()
