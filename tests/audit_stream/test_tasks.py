"""The Huey tasks: the minute's schedule delivers every due destination, and the hourly prune applies retention;
both are jobs that the support console's Jobs page lists."""

from __future__ import annotations

import pytest

from audit.models import AuditEvent
from audit_stream import actions, tasks
from orgsecurity.jobs import run_job
from orgsecurity.models import JobState
from tests.audit.helpers import record_event

pytestmark = pytest.mark.django_db


def test_the_schedule_delivers_each_due_destination(org, owner, receiver, pki, monkeypatch):
    monkeypatch.setattr(tasks, "DELIVERY_ROUND_SECONDS", 0.3)
    monkeypatch.setattr(tasks, "POLL_SECONDS", 0.1)
    created = actions.create_destination(org, actor=owner, kind="webhook", url=receiver.url("/t"), ca_pem=pki.ca_pem)
    receiver.state.secrets["/t"] = created.signing_secret
    for number in range(5):
        record_event(org, details={"n": number})

    assert run_job("audit_stream.schedule_deliveries") == "1 destinations due"

    sent = [event["sequence"] for event in receiver.state.events("/t")]
    assert sent == list(AuditEvent.objects.filter(organization=org).order_by("seq").values_list("seq", flat=True))


def test_the_hourly_prune_runs_retention_as_a_recorded_job(org):
    assert run_job("audit_stream.prune") == "0 events deleted"
    assert JobState.objects.get(name="audit_stream.prune").last_outcome == JobState.Outcome.OK
