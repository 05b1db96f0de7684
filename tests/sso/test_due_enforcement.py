"""Reads do not write: a scheduled enforcement takes effect in one place, the worker's every-minute job
(``sso.apply_due_enforcements`` in sso.tasks), never in a request: not the pipeline's SSO check, not email-first
routing, not the password sign-in check, not any middleware."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.conf import settings
from django.db import connection as db_connection
from django.test import Client, override_settings
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from audit.models import AuditEvent
from orgsecurity.jobs import run_job
from orgsecurity.models import JobState
from sso.models import SSOConnection
from sso.rollout import scheduling as rollout
from sso.rollout.enforcement import check_sso_enforcement, password_refused_by, route_for_email
from tests.helpers.core import PASSWORD

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


def test_no_middleware_decides_enforcement():
    assert not [name for name in settings.MIDDLEWARE if name.startswith("sso.")]


def test_requests_only_read_a_due_enforcement(client_for, due, member):
    browser = client_for(member)
    checks = [CAPTURED_CHECK if path == SSO_CHECK else path for path in settings.ORG_PIPELINE_CHECKS]
    captured.clear()
    with override_settings(ORG_PIPELINE_CHECKS=checks):
        page = browser.get("/orgs/acme/")
    assert page.status_code == 200  # the password session passes: nothing enforced yet
    assert "is\n  <strong>pending</strong>" in page.content.decode()
    listing = client_for(due.organization.memberships.get(role="owner").user).get("/orgs/acme/settings/security/sso/")
    assert "(enforcement pending since" in listing.content.decode()
    assert len(captured) == 1 and captured[0], "the SSO check ran and read"
    assert writes(captured[0]) == []
    # Sign-in pages and a password sign-in do not decide it either.
    assert Client().get("/accounts/login/").status_code == 200
    assert Client().post("/accounts/login/", {"username": member.email, "password": PASSWORD}).status_code == 302
    assert status_of(due) == "on"
    assert not AuditEvent.objects.filter(action="sso.status_changed", details__via="scheduled").exists()

    run_job("sso.apply_due_enforcements")  # the worker's every-minute job decides it; the pipeline then reads it
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


def test_the_job_decides_with_the_injected_clock(due):
    when = SSOConnection.objects.get(pk=due.pk).enforce_at
    assert run_job("sso.apply_due_enforcements", now=when - timedelta(minutes=5)) == "0 enforced, 0 postponed"
    assert status_of(due) == "on"
    assert run_job("sso.apply_due_enforcements", now=when) == "1 enforced, 0 postponed"
    assert status_of(due) == "enforced"
    state = JobState.objects.get(name="sso.apply_due_enforcements")
    assert state.runs == 2 and state.last_outcome == "ok" and state.last_summary == "1 enforced, 0 postponed"


def test_apply_due_enforcements_returns_what_it_decided(due):
    (decided,) = rollout.apply_due_enforcements()
    assert decided.pk == due.pk and decided.status == "enforced"
    assert rollout.apply_due_enforcements() == []
