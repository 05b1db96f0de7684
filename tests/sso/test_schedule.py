"""Scheduled enforcement: members are told the date and the support path, a banner shows it, it takes effect by
itself (decided once, by the worker's every-minute job, as the system) when the guards still hold, and is postponed
with the reasons when not. Until the worker decides, the stored status applies and the banner says it is pending."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from django.core import mail
from django.db import connection as db_connection
from django.test import Client
from django.utils import timezone

from audit.models import AuditEvent
from orgsecurity.jobs import run_job
from sso.connections import actions
from sso.models import SSOConnection, SSOIdentity, SSOTestRun
from sso.rollout import scheduling as rollout

BASE = "/orgs/acme/settings/security/sso/"


def in_days(days: float):
    return timezone.now() + timedelta(days=days)


def schedule_payload(days: float = 3, contact: str = "it-help@acme.test") -> dict:
    return {"enforce_at": in_days(days).strftime("%Y-%m-%dT%H:%M"), "support_contact": contact, "confirm_slug": "acme"}


def time_passes(connection: SSOConnection) -> None:
    """The scheduled moment arrives (the date was set in the future; we move it to just past). Nothing happens
    until the worker runs its every-minute job (``the_worker_runs``)."""
    SSOConnection.objects.filter(pk=connection.pk).update(enforce_at=timezone.now() - timedelta(seconds=1))


def the_worker_runs() -> None:
    """The worker's every-minute job runs (sso.tasks), as the consumer would run it."""
    run_job("sso.apply_due_enforcements")


def test_it_checks_access_to_scheduling(client_for, ready, member, outsider):
    url = f"{BASE}{ready.connection.pk}/rollout/schedule/"
    assert client_for(member).post(url, schedule_payload()).status_code == 403
    assert client_for(outsider).post(url, schedule_payload()).status_code == 404
    assert SSOConnection.objects.get(pk=ready.connection.pk).enforce_at is None


def test_members_are_emailed_the_date_and_the_support_path(
    client_for, ready, owner, member, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = client_for(owner).post(f"{BASE}{ready.connection.pk}/rollout/schedule/", schedule_payload())
    assert response.status_code == 302
    connection = SSOConnection.objects.get(pk=ready.connection.pk)
    assert connection.support_contact == "it-help@acme.test"
    assert sorted(message.to[0] for message in mail.outbox) == sorted([owner.email, member.email])
    when = connection.enforce_at.strftime("%Y-%m-%d %H:%M")
    assert when in mail.outbox[0].subject and when in mail.outbox[0].body
    assert "it-help@acme.test" in mail.outbox[0].body
    assert "/orgs/acme/settings/security/sso/" in mail.outbox[0].body
    event = AuditEvent.objects.get(action="sso.enforcement_scheduled")
    assert event.details["support_contact"] == "it-help@acme.test"


def test_bad_schedules_are_refused_with_a_reason(client_for, ready, owner):
    url = f"{BASE}{ready.connection.pk}/rollout/schedule/"
    client = client_for(owner)
    response = client.post(url, schedule_payload(days=-1))
    assert response.status_code == 400 and b"Choose a date and time in the future" in response.content
    response = client.post(url, schedule_payload(contact="javascript:alert(1)"))
    assert response.status_code == 400 and b"Enter an email address or an https:// URL" in response.content
    response = client.post(url, schedule_payload(days=400))
    assert response.status_code == 400 and b"within the next year" in response.content
    actions.set_status(ready.connection, actor=owner, status="off")
    response = client.post(url, schedule_payload())
    assert response.status_code == 409 and b"while SSO is in testing or on" in response.content
    assert not AuditEvent.objects.filter(action="sso.enforcement_scheduled").exists()


def test_a_banner_shows_the_date_to_members(client_for, ready, owner, member, outsider):
    rollout.schedule_enforcement(
        ready.connection, actor=owner, enforce_at=in_days(2), support_contact="https://help.acme.test/sso"
    )
    page = client_for(member).get("/orgs/acme/").content.decode()
    assert "requires single sign-on" in page and in_days(2).strftime("%Y-%m-%d") in page
    assert 'href="https://help.acme.test/sso"' in page
    assert "requires single sign-on" not in client_for(outsider).get("/orgs/globex/").content.decode()


def test_enforcement_takes_effect_when_the_worker_runs(client_for, ready, owner, member):
    rollout.schedule_enforcement(ready.connection, actor=owner, enforce_at=in_days(1), support_contact="help@acme.test")
    browser = client_for(member)
    assert browser.get("/orgs/acme/").status_code == 200
    time_passes(ready.connection)
    page = browser.get("/orgs/acme/")
    assert page.status_code == 200, "no request decides it: the stored status applies"
    assert "<strong>pending</strong>" in page.content.decode()
    assert SSOConnection.objects.get(pk=ready.connection.pk).status == "on"
    the_worker_runs()
    response = browser.get("/orgs/acme/")
    assert response.status_code == 302 and response["Location"].startswith("/sso/acme/login/")
    connection = SSOConnection.objects.get(pk=ready.connection.pk)
    assert connection.status == "enforced" and connection.enforce_at is None
    event = AuditEvent.objects.get(action="sso.status_changed", details__via="scheduled")
    assert event.actor_type == "system" and event.actor_label == rollout.SCHEDULED_ACTOR_LABEL
    assert len(rollout.apply_due_enforcements()) == 0  # decided once


def test_a_sign_in_follows_the_stored_status_until_the_worker_decides(ready, owner, member):
    rollout.schedule_enforcement(ready.connection, actor=owner, enforce_at=in_days(1), support_contact="help@acme.test")
    time_passes(ready.connection)
    credentials = {"username": member.email, "password": "correct horse battery staple"}
    assert Client().post("/accounts/login/", credentials).status_code == 302
    assert SSOConnection.objects.get(pk=ready.connection.pk).status == "on"
    the_worker_runs()
    response = Client().post("/accounts/login/", credentials)
    assert response.status_code == 403 and b"Password sign-in is turned off" in response.content


def test_an_admins_recent_sso_sign_in_counts_as_a_passing_test(ready, owner):
    SSOTestRun.objects.update(finished_at=timezone.now() - timedelta(days=10))
    rollout.schedule_enforcement(ready.connection, actor=owner, enforce_at=in_days(1), support_contact="help@acme.test")
    from tests.helpers.sso import link_identity

    link_identity(ready.connection, owner, "olivia")  # linking stamps a successful SSO sign-in
    time_passes(ready.connection)
    assert len(rollout.apply_due_enforcements()) == 1
    assert SSOConnection.objects.get(pk=ready.connection.pk).status == "enforced"


def test_it_is_postponed_when_the_guards_no_longer_hold(
    client_for, ready, owner, member, idp, monkeypatch, django_capture_on_commit_callbacks
):
    rollout.schedule_enforcement(ready.connection, actor=owner, enforce_at=in_days(1), support_contact="help@acme.test")
    monkeypatch.setattr(
        idp, "validation_problems", lambda connection: ["The IdP certificate expired yesterday."], raising=False
    )
    time_passes(ready.connection)
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        the_worker_runs()
    assert client_for(member).get("/orgs/acme/").status_code == 200  # password still works
    connection = SSOConnection.objects.get(pk=ready.connection.pk)
    assert connection.status == "on" and connection.enforcement_postponed_at is not None
    assert [message.to for message in mail.outbox] == [[owner.email]]
    assert "postponed" in mail.outbox[0].subject and "The IdP certificate expired yesterday." in mail.outbox[0].body
    page = client_for(member).get("/orgs/acme/").content.decode()
    assert "postponed" in page
    the_worker_runs()
    assert AuditEvent.objects.filter(action="sso.enforcement_postponed").count() == 1  # not re-decided
    event = AuditEvent.objects.get(action="sso.enforcement_postponed")
    assert event.actor_type == "system" and "The IdP certificate expired yesterday." in event.details["reasons"][0]
    # a new date clears the postponement
    monkeypatch.setattr(idp, "validation_problems", lambda connection: [], raising=False)
    rollout.schedule_enforcement(connection, actor=owner, enforce_at=in_days(1), support_contact="help@acme.test")
    assert SSOConnection.objects.get(pk=connection.pk).enforcement_postponed_at is None


def test_cancel_and_rollback_drop_the_date(client_for, ready, owner, member):
    rollout.schedule_enforcement(ready.connection, actor=owner, enforce_at=in_days(1), support_contact="help@acme.test")
    assert client_for(member).post(f"{BASE}{ready.connection.pk}/rollout/unschedule/").status_code == 403
    assert client_for(owner).post(f"{BASE}{ready.connection.pk}/rollout/unschedule/").status_code == 302
    assert SSOConnection.objects.get(pk=ready.connection.pk).enforce_at is None
    rollout.schedule_enforcement(ready.connection, actor=owner, enforce_at=in_days(1), support_contact="help@acme.test")
    actions.rollback(ready.connection, actor=owner, to="testing")
    assert SSOConnection.objects.get(pk=ready.connection.pk).enforce_at is None
    assert "requires single sign-on" not in client_for(member).get("/orgs/acme/").content.decode()


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_requests_decide_once(org, owner, member, idp):
    from tests.helpers.sso import make_ready

    created = actions.create_connection(org, actor=owner, protocol="saml", attribute_map={"email": "mail"})
    actions.set_status(created, actor=owner, status="testing")
    connection = actions.set_status(created, actor=owner, status="on")
    make_ready(connection, idp, owner, member)
    rollout.schedule_enforcement(connection, actor=owner, enforce_at=in_days(1), support_contact="help@acme.test")
    time_passes(connection)
    barrier, decided = threading.Barrier(4), []

    def request_arrives():
        barrier.wait()
        decided.append(len(rollout.apply_due_enforcements()))
        db_connection.close()

    threads = [threading.Thread(target=request_arrives) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(decided) == [0, 0, 0, 1]
    assert AuditEvent.objects.filter(action="sso.status_changed", details__via="scheduled").count() == 1
    assert SSOIdentity.objects.filter(connection=connection).exists()
