"""The audit trail: append-only, hash-chained records of every member, key, billing and policy change.

``audit.record(...)`` is the one way to write an event; see ``audit.recorder.record``.
"""

from __future__ import annotations

from typing import Any


def record(action: str, **kwargs: Any) -> Any:
    """Record one audit event; see ``audit.recorder.record`` for the arguments and errors."""
    from audit.recorder import record as _record

    return _record(action, **kwargs)
