"""The clock every session-policy decision reads: ``now()`` in UTC, replaceable in tests (no sleeping).

Idle and absolute timeouts, last-seen writes, re-authentication windows and stashed-request expiry all
ask this module for the time, so a test can move time forward with ``use(source)`` instead of waiting.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime

from django.utils import timezone

Source = Callable[[], datetime]
_source: Source = timezone.now


def now() -> datetime:
    """The current time as an aware datetime in UTC."""
    return _source()


def timestamp() -> int:
    """The current time in whole Unix seconds (UTC)."""
    return int(now().timestamp())


@contextmanager
def use(source: Source) -> Iterator[None]:
    """Read the time from ``source`` (a function returning an aware UTC datetime) inside the block."""
    global _source
    previous, _source = _source, source
    try:
        yield
    finally:
        _source = previous
