"""Expired pending logins are purged: by one function (the purge_pending_logins command and a later worker call it)
and, a bounded batch at most once a minute, by sign-in starts."""

from __future__ import annotations

from datetime import timedelta
from io import StringIO

from django.core.management import call_command
from django.test import Client
from django.utils import timezone

from sso.models import SSOPendingLogin
from sso.signin import flow
from sso.signin.flow import FINISH_TTL, purge_expired_pending_logins


def pending(connection, key: str, *, expired_for: timedelta) -> SSOPendingLogin:
    """A pending login of ``connection`` whose expiry was ``expired_for`` ago (negative: still ahead)."""
    return SSOPendingLogin.objects.create(
        connection=connection,
        key=key,
        purpose=SSOPendingLogin.Purpose.LOGIN,
        browser_binding="0" * 64,
        expires_at=timezone.now() - expired_for,
    )


def keys() -> set[str]:
    return set(SSOPendingLogin.objects.values_list("key", flat=True))


def test_only_pending_logins_that_can_no_longer_be_used_are_deleted(connection):
    pending(connection, "live", expired_for=-timedelta(minutes=5))
    pending(connection, "finishable", expired_for=FINISH_TTL - timedelta(minutes=1))  # answered ones still finish
    pending(connection, "dead", expired_for=FINISH_TTL + timedelta(minutes=1))
    pending(connection, "long-dead", expired_for=timedelta(days=3))
    assert purge_expired_pending_logins() == 2
    assert keys() == {"live", "finishable"}
    assert purge_expired_pending_logins() == 0  # idempotent
    assert purge_expired_pending_logins(now=timezone.now() + timedelta(hours=1)) == 2
    assert keys() == set()


def test_a_limit_deletes_the_oldest_first(connection):
    for days in range(1, 6):
        pending(connection, f"dead-{days}", expired_for=timedelta(days=days))
    assert purge_expired_pending_logins(limit=2) == 2
    assert keys() == {"dead-1", "dead-2", "dead-3"}


def test_an_answered_sign_in_still_finishes_after_a_purge(idp, connection, member):
    from tests.helpers.sso import link_identity

    link_identity(connection, member, "mia-123")
    browser = Client()
    assert browser.get("/sso/acme/login/").status_code == 302
    finish_url = idp.answer("mia-123")
    purge_expired_pending_logins()
    assert browser.get(finish_url).status_code == 302
    assert browser.get("/orgs/acme/").status_code == 200


def test_the_command_purges_and_says_how_many(connection):
    pending(connection, "dead", expired_for=timedelta(days=1))
    pending(connection, "live", expired_for=-timedelta(minutes=5))
    out = StringIO()
    call_command("purge_pending_logins", stdout=out)
    assert out.getvalue().strip() == "Deleted 1 expired pending login."
    assert keys() == {"live"}


def test_sign_in_starts_purge_a_bounded_batch_at_most_once_a_minute(idp, connection, monkeypatch):
    monkeypatch.setattr(flow, "PURGE_BATCH", 2)
    for n in range(3):
        pending(connection, f"dead-{n}", expired_for=timedelta(days=n + 1))
    assert Client().get("/sso/acme/login/").status_code == 302
    assert keys() & {"dead-0", "dead-1", "dead-2"} == {"dead-0"}  # the two oldest went
    assert Client().get("/sso/acme/login/").status_code == 302
    assert "dead-0" in keys()  # not again within the minute
