"""Shared fixtures: an organization with one person per role, an outsider, and signed-in clients.

Personas follow healthchecks' test style: every view is tried as owner, plain member and outsider."""

from __future__ import annotations

import os
from collections.abc import Callable

import pytest
from django.core.cache import cache
from django.test import Client

from orgsecurity import ratelimit
from orgsecurity.models import Organization, User
from orgsecurity.roles import Role
from tests.helpers.core import add_member, make_org, make_user, sign_in_client


@pytest.fixture
def org(db) -> Organization:
    """The organization ``acme``, made by its first owner (the ``owner`` fixture)."""
    return make_org("acme", make_user("owner@acme.test", name="Olivia Owner"), "Acme Inc.")


@pytest.fixture
def owner(org) -> User:
    return User.objects.get(email="owner@acme.test")


@pytest.fixture
def admin(org) -> User:
    user = make_user("admin@acme.test", name="Adam Admin")
    add_member(org, user, Role.ADMIN)
    return user


@pytest.fixture
def member(org) -> User:
    user = make_user("member@acme.test", name="Mia Member")
    add_member(org, user, Role.MEMBER)
    return user


@pytest.fixture
def billing_user(org) -> User:
    user = make_user("billing@acme.test", name="Bill Billing")
    add_member(org, user, Role.BILLING)
    return user


@pytest.fixture
def auditor(org) -> User:
    user = make_user("auditor@acme.test", name="Aud Auditor")
    add_member(org, user, Role.AUDITOR)
    return user


@pytest.fixture
def other_org(db) -> Organization:
    return make_org("globex", make_user("owner@globex.test"), "Globex Corp.")


@pytest.fixture
def outsider(other_org) -> User:
    """Someone with an account and an organization of their own, but not in acme."""
    return other_org.memberships.get().user


@pytest.fixture(autouse=True)
def _fresh_audit_throttles(monkeypatch):
    """Audit throttle windows live in the shared cache (Redis in CI, kept between runs): start each test with none.
    Rate limits count in fixed windows of the clock: pin it 34.5 s into a minute (and into 5-minute and hourly
    windows), so a test's requests never straddle a window's end (a test making 23 requests saw the count reset)."""
    cache.clear()
    monkeypatch.setattr(ratelimit, "clock", lambda: 1_796_601_600 + 1234.5)


@pytest.fixture
def client_for() -> Callable[..., Client]:
    """``client_for(user, method="password")``: a test client signed in as ``user`` (anonymous for None),
    with a tracked session, as after a real sign-in."""

    def build(user: User | None, *, method: str = "password") -> Client:
        client = Client()
        if user is not None:
            sign_in_client(client, user, method=method)
        return client

    return build


def pytest_runtest_setup(item: pytest.Item) -> None:
    """Tests marked ``postgres`` (row locks across connections, a second process, the append-only trigger) need
    PostgreSQL. On SQLite they are skipped, or fail under CI=true: CI runs them in its PostgreSQL pass and
    deselects them (``-m "not postgres"``) in the SQLite pass, so nothing is ever skipped there."""
    from django.db import connection

    if item.get_closest_marker("postgres") is None or connection.vendor == "postgresql":
        return
    reason = f"needs PostgreSQL, and this run uses {connection.vendor} (set DATABASE_URL)"
    if os.environ.get("CI", "").lower() in {"1", "true", "yes"}:
        pytest.fail(f"CI=true: {reason}; deselect it with -m 'not postgres'", pytrace=False)
    pytest.skip(reason)
