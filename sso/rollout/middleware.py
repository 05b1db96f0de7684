"""The middleware step that lets scheduled SSO enforcement take effect: ``DueEnforcementMiddleware`` calls
``sso.rollout.scheduling.apply_due_enforcements`` on the first request of each minute in this process, before the
organization pipeline (``orgsecurity.middleware.OrgPolicyMiddleware``) runs, so the pipeline's SSO check only reads
stored state. It is listed just before ``OrgPolicyMiddleware`` in ``settings.MIDDLEWARE``.

Minutes are wall-clock minutes (UTC): scheduled enforcement times are whole minutes, so a due enforcement takes
effect with the first request at or after its time, whichever page that request is for (a sign-in page too).
A scheduled worker (issue 17) takes the call over; until then this is the one place it is made.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

from sso.rollout.scheduling import apply_due_enforcements


class OncePerMinute:
    """A per-process gate that opens at most once per wall-clock minute: ``claim()`` is True for the first caller
    of each minute of ``clock`` (seconds since the epoch, ``time.time`` by default; tests pass their own) and False
    for everyone else, across threads."""

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self.clock = clock
        self._claimed_minute: int | None = None
        self._lock = threading.Lock()

    def claim(self) -> bool:
        """True when this minute's turn is free, and take it."""
        minute = int(self.clock() // 60)
        with self._lock:
            if self._claimed_minute == minute:
                return False
            self._claimed_minute = minute
            return True

    def release(self) -> None:
        """Give the current turn back, so the next caller of this minute claims it (after a failed run)."""
        with self._lock:
            self._claimed_minute = None


DUE_ENFORCEMENT_GATE = OncePerMinute()
"""This process's gate of ``DueEnforcementMiddleware`` (module-level: Django builds a middleware instance per
handler, and the test client builds a handler per client)."""


class DueEnforcementMiddleware:
    """Before the request pipeline, at most once a minute per process (``DUE_ENFORCEMENT_GATE``): decide every
    scheduled enforcement that is due (``apply_due_enforcements``). A run that raises gives the minute back, so the
    next request tries again, and the error propagates as any error of the request would."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if DUE_ENFORCEMENT_GATE.claim():
            try:
                apply_due_enforcements()
            except Exception:
                DUE_ENFORCEMENT_GATE.release()
                raise
        return self.get_response(request)
