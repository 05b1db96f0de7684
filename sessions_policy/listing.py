"""What the session lists show beside each tracked session: whether its browser session still exists (a superseded
one, whose session was replaced or flushed without its record being ended, is left out) and whether it is an SSO
test session (``orgsecurity.signin_state.sso_test_session``), with when that ends. Read-only."""

from __future__ import annotations

import time
from collections.abc import Iterable
from datetime import UTC, datetime
from importlib import import_module
from typing import Any

from django.conf import settings

from orgsecurity.signin_state import SSO_TEST_SESSION_KEY
from sessions_policy.models import UserSession

# Engines whose sessions can be read by key on the server (a signed-cookie session lives in its browser only).
_SERVER_SIDE = not settings.SESSION_ENGINE.endswith("signed_cookies")


def session_states(sessions: Iterable[UserSession]) -> list[tuple[UserSession, datetime | None]]:
    """``sessions`` whose browser session still exists, each with the end of its SSO test session (UTC) or None.
    One session-store read per session (lists hold a person's or an organization's live sessions)."""
    if not _SERVER_SIDE:
        return [(session, None) for session in sessions]
    store_class = import_module(settings.SESSION_ENGINE).SessionStore
    now = time.time()
    kept = []
    for session in sessions:
        store = store_class(session_key=session.session_key)
        data: dict[str, Any] = store.load()
        if store.session_key is None:  # gone from the store: superseded
            continue
        test = data.get(SSO_TEST_SESSION_KEY)
        deadline = test.get("deadline") if isinstance(test, dict) else None
        ends = datetime.fromtimestamp(deadline, UTC) if isinstance(deadline, int | float) and deadline > now else None
        kept.append((session, ends))
    return kept
