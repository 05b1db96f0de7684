"""audit.record: one event per action in the change's transaction, registered names only, secrets redacted."""

from __future__ import annotations

import pytest
from django.db import connection, transaction

import audit
from audit import events
from audit.models import AppendOnlyError, AuditEvent
from audit.recorder import REDACTED, AuditOutsideTransaction, record
from orgsecurity import actions
from orgsecurity.models import Membership
from tests.audit.helpers import record_event


def test_each_action_writes_exactly_one_event(org, owner, member):
    before = AuditEvent.objects.count()
    actions.change_role(Membership.objects.get(user=member), actor=owner, role="auditor")
    assert AuditEvent.objects.count() == before + 1


def test_a_failure_after_the_change_leaves_neither(org, owner, member):
    membership = Membership.objects.get(user=member)
    before = AuditEvent.objects.count()
    with pytest.raises(RuntimeError), transaction.atomic():
        actions.change_role(membership, actor=owner, role="auditor")
        raise RuntimeError("something after the change failed")
    membership.refresh_from_db()
    assert membership.role == "member"
    assert AuditEvent.objects.count() == before


def test_if_the_event_cannot_be_written_the_change_does_not_happen(org, owner, member, monkeypatch):
    membership = Membership.objects.get(user=member)

    def broken_save(self, *args, **kwargs):
        raise RuntimeError("audit storage unavailable")

    monkeypatch.setattr(AuditEvent, "save", broken_save)
    with pytest.raises(RuntimeError, match="audit storage unavailable"):
        actions.change_role(membership, actor=owner, role="auditor")
    membership.refresh_from_db()
    assert membership.role == "member"


def test_unregistered_actions_raise(org):
    with pytest.raises(events.UnknownAuditAction), transaction.atomic():
        audit.record("member.teleported", organization=org, actor=None)


def test_registering_a_name_twice_fails():
    with pytest.raises(events.DuplicateAuditEvent):
        events.register("member.invited", "again", "member")


def test_unknown_category_is_refused():
    with pytest.raises(Exception, match="unknown category"):
        events.register("x.y", "t", "gossip")


@pytest.mark.django_db(transaction=True)
def test_recording_outside_a_transaction_raises(org):
    with pytest.raises(AuditOutsideTransaction):
        record("billing.updated", organization=org, actor=None)


def test_secrets_are_redacted_by_field_name(org):
    event = record_event(
        org,
        changes={"client_secret": ["old", "new"], "plan_name": ["free", "team"]},
        details={"nested": {"private_key": "-----BEGIN", "api_key": "osk_live_x", "label": "ok"}, "password": "p"},
    )
    event.refresh_from_db()
    assert event.changes == {"client_secret": REDACTED, "plan_name": ["free", "team"]}
    assert event.details == {
        "nested": {"private_key": REDACTED, "api_key": REDACTED, "label": "ok"},
        "password": REDACTED,
    }


def test_actor_and_target_labels_survive_deletion(org, owner, member):
    membership = Membership.objects.get(user=member)
    actions.remove_member(membership, actor=owner)
    member.delete()
    event = AuditEvent.objects.get(action="member.removed")
    assert event.target_label.startswith("member@acme.test")
    assert event.sentence == "owner@acme.test removed member@acme.test (Member) (role member)"


def test_events_cannot_be_edited_or_deleted_through_the_orm(org):
    event = AuditEvent.objects.filter(organization=org).first()
    event.action = "forged"
    with pytest.raises(AppendOnlyError):
        event.save()
    with pytest.raises(AppendOnlyError):
        event.delete()
    with pytest.raises(AppendOnlyError):
        AuditEvent.objects.filter(organization=org).update(action="forged")
    with pytest.raises(AppendOnlyError):
        AuditEvent.objects.filter(organization=org).delete()


@pytest.mark.postgres
def test_postgres_refuses_raw_update_and_delete(org):
    event = AuditEvent.objects.filter(organization=org).first()
    for statement in (
        "UPDATE audit_auditevent SET action = 'forged' WHERE id = %s",
        "DELETE FROM audit_auditevent WHERE id = %s",
    ):
        with pytest.raises(Exception, match="append-only"), transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(statement, [event.pk])
    assert AuditEvent.objects.get(pk=event.pk).action == event.action


def test_request_metadata_is_recorded(client_for, owner, member):
    membership = Membership.objects.get(user=member)
    response = client_for(owner).post(
        f"/orgs/acme/members/{membership.pk}/role/",
        {"role": "auditor"},
        REMOTE_ADDR="192.0.2.44",
        HTTP_USER_AGENT="Mozilla/5.0 test",
    )
    event = AuditEvent.objects.get(action="member.role_changed")
    assert (event.ip, event.user_agent) == ("192.0.2.44", "Mozilla/5.0 test")
    assert event.request_id == response["X-Request-ID"]


def test_throttled_events_are_recorded_once_per_window_with_a_count(org, settings):
    from django.core.cache import cache

    from audit.recorder import record_throttled

    cache.clear()
    kwargs = {"organization": org, "actor": None, "throttle_key": "acme:192.0.2.1", "window_seconds": 60}
    assert record_throttled("billing.updated", **kwargs) is not None
    assert record_throttled("billing.updated", **kwargs) is None
    assert record_throttled("billing.updated", **kwargs) is None
    cache.delete("audit-throttle:billing.updated:acme:192.0.2.1")  # the window ends
    event = record_throttled("billing.updated", **kwargs)
    assert event.details == {"suppressed_since_last": 2}
