"""Periodic jobs (orgsecurity.jobs): each run is recorded for the Jobs page, a failure is recorded and re-raised (so
Huey retries it), and the core's and the session policies' purge jobs delete only what can no longer be used."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.sessions.models import Session
from django.utils import timezone

from orgsecurity.jobs import job_reports, periodic, registered_jobs, run_job
from orgsecurity.models import Invitation, JobFailure, JobState
from sessions_policy.models import SuspendedRequest, UserSession
from tests.helpers.core import sign_in_client

outcomes: list[object] = []


@periodic("tests.flaky", lambda moment: False, every="never (tests)")
def flaky(now):
    """A job that fails while ``outcomes`` starts with an exception."""
    outcome = outcomes.pop(0)
    if isinstance(outcome, Exception):
        raise outcome
    return outcome


def test_every_app_declares_its_jobs():
    names = {job.name for job in registered_jobs()}
    assert {
        "orgsecurity.purge_expired",
        "sso.apply_due_enforcements",
        "sso.purge_expired",
        "sessions_policy.purge_expired",
    } <= names
    assert all(job.every and job.description for job in registered_jobs())


def test_runs_and_failures_are_recorded(db):
    now = timezone.now()
    outcomes[:] = [RuntimeError("the IdP timed out"), RuntimeError("again"), "3 things done"]
    for seconds in range(2):
        with pytest.raises(RuntimeError):
            run_job("tests.flaky", now=now + timedelta(seconds=seconds))
    state = JobState.objects.get(name="tests.flaky")
    assert (state.last_outcome, state.consecutive_failures, state.failures) == ("failed", 2, 2)
    assert state.last_error == "RuntimeError: again"
    assert run_job("tests.flaky", now=now + timedelta(minutes=1)) == "3 things done"
    state.refresh_from_db()
    assert (state.last_outcome, state.consecutive_failures, state.runs) == ("ok", 0, 3)
    assert state.last_summary == "3 things done" and state.last_success_at == now + timedelta(minutes=1)
    (report,) = [report for report in job_reports() if report.job.name == "tests.flaky"]
    assert [failure.error for failure in report.failures] == ["RuntimeError: again", "RuntimeError: the IdP timed out"]


def test_the_huey_task_runs_the_job_recorded(db):
    outcomes[:] = ["done"]
    flaky.call_local()
    assert JobState.objects.get(name="tests.flaky").last_summary == "done"


def test_the_core_purge_deletes_only_what_can_no_longer_be_used(org, owner, client_for):
    now = timezone.now()
    client_for(owner)
    Session.objects.create(session_key="old", session_data="", expire_date=now - timedelta(minutes=1))
    for email, expires, accepted in (
        ("gone@x.test", now - timedelta(days=31), None),
        ("recent@x.test", now - timedelta(days=2), None),
        ("kept@x.test", now - timedelta(days=90), now - timedelta(days=91)),
    ):
        Invitation.objects.create(
            organization=org, email=email, token_hash=email, expires_at=expires, accepted_at=accepted
        )
    JobFailure.objects.create(name="x", started_at=now - timedelta(days=31), error="old")
    JobFailure.objects.create(name="x", started_at=now - timedelta(days=1), error="recent")
    assert run_job("orgsecurity.purge_expired", now=now) == "1 sessions, 1 invitations, 1 job failures deleted"
    assert Session.objects.count() == 1  # the owner's live session stays
    assert sorted(Invitation.objects.values_list("email", flat=True)) == ["kept@x.test", "recent@x.test"]
    assert list(JobFailure.objects.values_list("error", flat=True)) == ["recent"]


def test_stashed_requests_past_their_expiry_are_purged(org, owner):
    from django.test import Client

    sign_in_client(Client(), owner)
    session = UserSession.objects.get(user=owner)
    now = timezone.now()
    for token, expires in (("old", now - timedelta(seconds=1)), ("live", now + timedelta(minutes=5))):
        SuspendedRequest.objects.create(
            token_hash=token,
            user_session=session,
            path="/x/",
            form_page="/x/",
            encrypted_post="",
            created_at=now,
            expires_at=expires,
        )
    assert run_job("sessions_policy.purge_expired", now=now) == "1 stashed requests deleted"
    assert list(SuspendedRequest.objects.values_list("token_hash", flat=True)) == ["live"]
