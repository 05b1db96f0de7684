"""Session policy test helpers: ``FakeClock``, a settable clock for idle and absolute timeouts."""

from __future__ import annotations

from datetime import datetime, timedelta


class FakeClock:
    """A clock that stands still until a test moves it with ``advance(seconds=..., minutes=..., ...)``."""

    def __init__(self, start: datetime) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)
