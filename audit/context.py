"""Per-request metadata (client IP, user agent, request ID) that audit events pick up automatically.

RequestContextMiddleware sets it for each request, so action functions need only the acting user.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass


@dataclass(frozen=True)
class RequestMeta:
    ip: str | None = None
    user_agent: str = ""
    request_id: str = ""


_current: ContextVar[RequestMeta | None] = ContextVar("audit_request_meta", default=None)


def current() -> RequestMeta:
    """The metadata of the request being served, or an empty one outside a request (commands, tests)."""
    return _current.get() or RequestMeta()


@contextmanager
def request_meta(meta: RequestMeta) -> Iterator[None]:
    """Make ``meta`` the current request metadata for the duration of the block."""
    token = _current.set(meta)
    try:
        yield
    finally:
        _current.reset(token)
