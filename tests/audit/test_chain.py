"""The per-organization hash chain finds edited, deleted, inserted and reordered events."""

from __future__ import annotations

from contextlib import contextmanager

import pytest
from django.db import connection, transaction

from audit.chain import verify_chain
from audit.models import AuditEvent
from orgsecurity import actions


@contextmanager
def raw_cursor():
    """A cursor that can tamper with the table, as an attacker with database access could."""
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # Superuser-only: skip triggers for this session, as an attacker with full access could.
            cursor.execute("SET session_replication_role = replica")
        try:
            yield cursor
        finally:
            if connection.vendor == "postgresql":
                cursor.execute("SET session_replication_role = origin")


@pytest.fixture
def log(org, owner):
    for plan in ("team", "business", "enterprise", "free"):
        actions.update_billing(org, actor=owner, plan_name=plan)
    return list(AuditEvent.objects.filter(organization=org).order_by("seq"))


def test_a_clean_chain_verifies(org, log):
    report = verify_chain(org)
    assert report.ok and report.checked == len(log) >= 6


def test_chains_are_per_organization(org, other_org, log):
    assert verify_chain(other_org).ok
    assert [event.seq for event in log] == list(range(1, len(log) + 1))


def test_an_edited_row_is_found(org, log):
    with raw_cursor() as cursor:
        cursor.execute("UPDATE audit_auditevent SET actor_label = 'someone else' WHERE id = %s", [log[3].pk])
    report = verify_chain(org)
    assert not report.ok and report.broken_seq == log[3].seq
    assert "edited" in report.problem


def test_a_deleted_row_is_found(org, log):
    with raw_cursor() as cursor:
        cursor.execute("DELETE FROM audit_auditevent WHERE id = %s", [log[2].pk])
    report = verify_chain(org)
    assert not report.ok and report.broken_seq == log[2].seq


def test_a_deleted_last_row_is_found(org, log):
    with raw_cursor() as cursor:
        cursor.execute("DELETE FROM audit_auditevent WHERE id = %s", [log[-1].pk])
    report = verify_chain(org)
    assert not report.ok and report.broken_seq == log[-1].seq


def test_an_inserted_row_is_found(org, log):
    forged = log[2]
    with raw_cursor() as cursor:
        cursor.execute(
            "INSERT INTO audit_auditevent (organization_id, seq, occurred_at, actor_type, actor_id, actor_label,"
            " action, category, target_type, target_id, target_label, changes, details, ip, user_agent, request_id,"
            " prev_hash, hash) SELECT organization_id, %s, occurred_at, actor_type, actor_id, 'intruder', action,"
            " category, target_type, target_id, target_label, changes, details, ip, user_agent, request_id,"
            " prev_hash, hash FROM audit_auditevent WHERE id = %s",
            [log[-1].seq + 1, forged.pk],
        )
    report = verify_chain(org)
    assert not report.ok and report.broken_seq == log[-1].seq + 1


def test_reordered_rows_are_found(org, log):
    first, second = log[2], log[3]
    with raw_cursor() as cursor:
        cursor.execute("UPDATE audit_auditevent SET seq = -1 WHERE id = %s", [first.pk])
        cursor.execute("UPDATE audit_auditevent SET seq = %s WHERE id = %s", [first.seq, second.pk])
        cursor.execute("UPDATE audit_auditevent SET seq = %s WHERE id = %s", [second.seq, first.pk])
    report = verify_chain(org)
    assert not report.ok and report.broken_seq == first.seq


def test_concurrent_appends_cannot_share_a_position(org, owner):
    actions.update_billing(org, actor=owner, plan_name="team")
    last = AuditEvent.objects.filter(organization=org).order_by("-seq").first()
    duplicate = AuditEvent(
        organization=org,
        seq=last.seq,
        actor_type="system",
        action="billing.updated",
        category="billing",
        prev_hash=last.prev_hash,
        hash="f" * 64,
    )
    with pytest.raises(Exception), transaction.atomic():  # noqa: B017 (IntegrityError on every backend)
        duplicate.save()
