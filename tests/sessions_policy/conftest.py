"""Fixtures of the session-policy tests: an injectable clock, so time moves without sleeping."""

from __future__ import annotations

import pytest
from django.utils import timezone

from sessions_policy import clock as session_clock
from tests.helpers.sessions import FakeClock


@pytest.fixture
def clock():
    fake = FakeClock(timezone.now().replace(microsecond=0))
    with session_clock.use(fake):
        yield fake
