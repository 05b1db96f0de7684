"""Fixtures of the session-policy tests: an injectable clock, so time moves without sleeping."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from django.utils import timezone

from sessions_policy import clock as session_clock


class FakeClock:
    """A clock that stands still until a test moves it with ``advance(seconds=..., minutes=..., ...)``."""

    def __init__(self, start: datetime) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


@pytest.fixture
def clock():
    fake = FakeClock(timezone.now().replace(microsecond=0))
    with session_clock.use(fake):
        yield fake
