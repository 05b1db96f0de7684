"""audit.recorder.record_many: several events of one action in one bulk insert, the hash chain intact."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from audit.chain import verify_chain
from audit.locking import LockOrderError, audited
from audit.models import AuditEvent
from audit.recorder import record, record_many
from orgsecurity.actors import ProgramActor
from orgsecurity.roles import Role

TOKEN = ProgramActor(type="scim_token", id="9", label="scim_9f8e7d", role=Role.ADMIN, provisioning=True)


@audited("organization")
def _write(organization, count: int):
    record("billing.updated", organization=organization, actor=None)
    return record_many(
        "billing.updated",
        organization=organization,
        actor=TOKEN,
        items=[{"details": {"n": n}, "changes": {"tax_id": [None, f"T{n}"]}} for n in range(count)],
    )


def _queries(organization, count: int) -> int:
    with CaptureQueriesContext(connection) as captured:
        _write(organization, count)
    return len(captured.captured_queries)


def test_events_follow_each_other_in_the_chain(org):
    events = _write(org, 3)
    stored = list(AuditEvent.objects.filter(organization=org).order_by("seq"))
    assert [event.details.get("n") for event in stored[-3:]] == [0, 1, 2]
    assert [event.seq for event in stored] == list(range(1, len(stored) + 1))
    assert {(event.actor_type, event.actor_label) for event in events} == {("scim_token", "scim_9f8e7d")}
    assert verify_chain(org).ok
    # And the next single event links to the last of them.
    _write(org, 0)
    assert verify_chain(org).ok


def test_the_cost_does_not_grow_with_the_number_of_events(org):
    _write(org, 1)  # the chain head exists from here on
    assert _queries(org, 2) == _queries(org, 40)


def test_the_lock_order_is_checked(org):
    with pytest.raises(LockOrderError):
        record_many("billing.updated", organization=org, actor=None, items=[{}])
