"""Fixtures for the evidence tests: a case and users of other roles."""

from __future__ import annotations

import pytest

from tests import factories


@pytest.fixture
def case(org, volunteer):
    return factories.case(org, volunteer)


@pytest.fixture
def lawyer(org):
    return factories.user(org, "lawyer")


@pytest.fixture
def coordinator(org):
    return factories.user(org, "coordinator")
