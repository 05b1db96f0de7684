"""Fixtures of the two-factor tests: a clock that moves on demand (sessions_policy.clock)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from sessions_policy import clock


class MovableClock:
    def __init__(self) -> None:
        self.now = datetime(2026, 12, 7, 12, 0, 5, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@pytest.fixture
def moving_clock():
    source = MovableClock()
    with clock.use(source):
        yield source
