"""Reads do not write: a scheduled enforcement takes effect in one place, the middleware step before the pipeline
(sso.rollout.middleware, at most once a minute per process), never as a side effect of the pipeline's SSO check,
of email-first routing or of the password sign-in check."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.conf import settings
from django.db import connection as db_connection
from django.test import override_settings
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from audit.models import AuditEvent
from sso.models import SSOConnection
from sso.rollout import middleware
from sso.rollout import scheduling as rollout
from sso.rollout.enforcement import check_sso_enforcement, password_refused_by, route_for_email
from sso.rollout.middleware import DUE_ENFORCEMENT_GATE

SSO_CHECK = "sso.rollout.enforcement.check_sso_enforcement"
CAPTURED_CHECK = "tests.sso.test_due_enforcement.captured_sso_check"
captured: list[list[str]] = []


def captured_sso_check(request, org_slug):
    """The pipeline's SSO check, with the SQL it runs kept in ``captured``."""
    with CaptureQueriesContext(db_connection) as queries:
        refusal = check_sso_enforcement(request, org_slug)
    captured.append([query["sql"] for query in queries.captured_queries])
    return refusal


def writes(statements: list[str]) -> list[str]:
    return [sql for sql in statements if sql.lstrip().upper().startswith(("INSERT", "UPDATE", "DELETE"))]


class Clock:
    """The gate's injectable clock: seconds since the epoch, moved by hand."""

    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch) -> Clock:
    fake = Clock(1_800_000_000.0)  # the start of a minute
    monkeypatch.setattr(DUE_ENFORCEMENT_GATE, "clock", fake)
    return fake


@pytest.fixture
def due(ready, owner) -> SSOConnection:
    """A scheduled enforcement of acme's connection whose time has come, not decided yet."""
    rollout.schedule_enforcement(
        ready.connection, actor=owner, enforce_at=timezone.now() + timedelta(days=1), support_contact="help@acme.test"
    )
    SSOConnection.objects.filter(pk=ready.connection.pk).update(enforce_at=timezone.now() - timedelta(seconds=1))
    return ready.connection


def status_of(connection: SSOConnection) -> str:
    return SSOConnection.objects.get(pk=connection.pk).status


def test_the_middleware_step_runs_before_the_pipeline():
    names = list(settings.MIDDLEWARE)
    assert names.index("sso.rollout.middleware.DueEnforcementMiddleware") < names.index(
        "orgsecurity.middleware.OrgPolicyMiddleware"
    )


def test_the_pipeline_check_only_reads_a_due_enforcement(client_for, due, member, clock):
    browser = client_for(member)
    DUE_ENFORCEMENT_GATE.claim()  # the step already ran this minute
    checks = [CAPTURED_CHECK if path == SSO_CHECK else path for path in settings.ORG_PIPELINE_CHECKS]
    captured.clear()
    with override_settings(ORG_PIPELINE_CHECKS=checks):
        assert browser.get("/orgs/acme/").status_code == 200  # the password session passes: nothing enforced yet
    assert len(captured) == 1 and captured[0], "the SSO check ran and read"
    assert writes(captured[0]) == []
    assert status_of(due) == "on"
    assert not AuditEvent.objects.filter(action="sso.status_changed", details__via="scheduled").exists()

    clock.now += 60  # the next minute: the step decides it before the pipeline, which then reads "enforced"
    response = browser.get("/orgs/acme/")
    assert response.status_code == 302 and response["Location"].startswith("/sso/acme/login/")
    assert status_of(due) == "enforced"
    assert AuditEvent.objects.filter(action="sso.status_changed", details__via="scheduled").count() == 1


def test_routing_and_the_password_check_only_read(due, member, acme_domain):
    with CaptureQueriesContext(db_connection) as queries:
        route = route_for_email("mia@acme.test")
        refused = password_refused_by(member)
    assert writes([query["sql"] for query in queries.captured_queries]) == []
    assert not route.required and refused == []  # as stored: SSO is on, not enforced
    assert status_of(due) == "on"


def test_the_step_runs_at_most_once_a_minute_per_process(client_for, member, monkeypatch, clock):
    calls = []
    monkeypatch.setattr(middleware, "apply_due_enforcements", lambda: calls.append(clock.now) or [])
    first, second = client_for(member), client_for(member)
    calls.clear()  # signing the clients in may have run it
    DUE_ENFORCEMENT_GATE.release()
    for browser in (first, second, first):  # one process, however many clients (handlers)
        browser.get("/orgs/acme/")
    assert len(calls) == 1
    clock.now += 59
    first.get("/accounts/login/")
    assert len(calls) == 1
    clock.now += 1  # a new minute
    second.get("/accounts/login/")
    first.get("/orgs/acme/")
    assert len(calls) == 2


def test_a_failed_run_is_tried_again_by_the_next_request(client_for, member, monkeypatch, clock):
    browser = client_for(member)
    outcomes = [RuntimeError("the database went away"), []]

    def flaky():
        outcome = outcomes.pop(0)
        if isinstance(outcome, Exception):
            raise outcome
        return outcome

    monkeypatch.setattr(middleware, "apply_due_enforcements", flaky)
    DUE_ENFORCEMENT_GATE.release()
    with pytest.raises(RuntimeError):
        browser.get("/orgs/acme/")
    assert browser.get("/orgs/acme/").status_code == 200
    assert outcomes == []


def test_apply_due_enforcements_returns_what_it_decided(due):
    (decided,) = rollout.apply_due_enforcements()
    assert decided.pk == due.pk and decided.status == "enforced"
    assert rollout.apply_due_enforcements() == []
