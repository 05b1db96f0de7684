"""Fixtures for the audit tests: platform support staff."""

from __future__ import annotations

import pytest

from orgsecurity.models import User
from tests.helpers.core import make_user


@pytest.fixture
def staff(db) -> User:
    """A platform support engineer (is_staff), member of no organization."""
    return make_user("ops@platform.test", name="Pat Platform", is_staff=True)
