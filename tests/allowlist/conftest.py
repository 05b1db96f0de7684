"""Fixtures for the allowlist tests: clients with a chosen client IP and a fresh re-authentication, and a clean
slate of per-process state (compiled matchers, throttle counters) for every test."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from django.core.cache import cache
from django.test import Client

from allowlist.policy import clear_matcher_cache
from orgsecurity.models import User
from orgsecurity.signin_state import REAUTH_AT_SESSION_KEY as SESSION_KEY
from tests.helpers.allowlist import OFFICE_IP
from tests.helpers.core import sign_in_client


@pytest.fixture(autouse=True)
def fresh_process_state():
    # SQLite reuses the ids of rolled-back rows, so one test's (allowlist id, version) can name another
    # test's list; a real database never reuses them. Throttle windows live in the cache.
    clear_matcher_cache()
    cache.clear()
    yield
    clear_matcher_cache()
    cache.clear()


@pytest.fixture
def client_at() -> Callable[..., Client]:
    """``client_at(user, ip, recent_auth=True)``: a client signed in as ``user`` whose requests come from ``ip``
    (REMOTE_ADDR), re-authenticated just now unless ``recent_auth`` is False; anonymous for None."""

    def build(user: User | None, ip: str = OFFICE_IP, *, recent_auth: bool = True) -> Client:
        client = Client(REMOTE_ADDR=ip)
        if user is not None:
            sign_in_client(client, user)  # a tracked session, re-authenticated just now
            if not recent_auth:
                session = client.session
                session[SESSION_KEY] = 0
                session.save()
        return client

    return build
