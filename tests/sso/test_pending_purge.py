"""Expired pending logins are purged: by one function, which the worker's sso.purge_expired job (with the other
expired SSO rows) and the purge_pending_logins command call; never by a request."""

from __future__ import annotations

from datetime import timedelta
from io import StringIO

from django.core.management import call_command
from django.test import Client
from django.utils import timezone

from sso.models import SSOPendingLogin
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


def test_sign_in_starts_purge_nothing(idp, connection):
    pending(connection, "dead", expired_for=timedelta(days=1))
    assert Client().get("/sso/acme/login/").status_code == 302
    assert "dead" in keys(), "requests never purge: the worker does"


def test_the_worker_purges_expired_sign_in_state(connection, member):
    from orgsecurity.jobs import run_job
    from sso.models import SAMLConsumedAssertion, SSOPendingLink

    now = timezone.now()
    pending(connection, "dead", expired_for=timedelta(days=1))
    pending(connection, "live", expired_for=-timedelta(minutes=5))
    SAMLConsumedAssertion.objects.create(connection=connection, assertion_id="old", expires_at=now - timedelta(1))
    SAMLConsumedAssertion.objects.create(connection=connection, assertion_id="new", expires_at=now + timedelta(1))
    for name, expired in (("old", timedelta(days=2)), ("recent", timedelta(hours=1))):
        SSOPendingLink.objects.create(
            connection=connection, user=member, identity={"subject": name}, expires_at=now - expired
        )
    summary = run_job("sso.purge_expired", now=now)
    assert summary == "1 pending logins, 1 held links, 1 replay records deleted"
    assert keys() == {"live"}
    assert list(SAMLConsumedAssertion.objects.values_list("assertion_id", flat=True)) == ["new"]
    assert [link.identity["subject"] for link in SSOPendingLink.objects.all()] == ["recent"]
    assert run_job("sso.purge_expired", now=now) == "0 pending logins, 0 held links, 0 replay records deleted"
