"""The Huey tasks: the minute's schedule delivers every due destination, and the daily prune applies retention."""

from __future__ import annotations

import pytest

from audit.models import AuditEvent
from audit_stream import actions, tasks
from tests.audit.helpers import record_event

pytestmark = pytest.mark.django_db


def test_the_schedule_delivers_each_due_destination(org, owner, receiver, pki, monkeypatch):
    monkeypatch.setattr(tasks, "DELIVERY_ROUND_SECONDS", 0.3)
    monkeypatch.setattr(tasks, "POLL_SECONDS", 0.1)
    created = actions.create_destination(org, actor=owner, kind="webhook", url=receiver.url("/t"), ca_pem=pki.ca_pem)
    receiver.state.secrets["/t"] = created.signing_secret
    for number in range(5):
        record_event(org, details={"n": number})

    assert tasks.schedule_deliveries.call_local() == 1

    sent = [event["sequence"] for event in receiver.state.events("/t")]
    assert sent == list(AuditEvent.objects.filter(organization=org).order_by("seq").values_list("seq", flat=True))


def test_the_daily_prune_runs_retention(org):
    assert tasks.prune_audit_logs.call_local() == 0
