"""Audit retention: old events are pruned in bounded batches behind a verifiable anchor, never past what a stream
destination still has to deliver, and the append-only trigger allows exactly that deletion."""

from __future__ import annotations

import datetime as dt
import threading

import pytest
from django.db import DatabaseError, connection, connections, transaction
from django.utils import timezone

from audit import retention
from audit.chain import verify_chain
from audit.models import AuditChain, AuditEvent
from audit_stream import actions as stream_actions
from orgsecurity.actions import ActionRefused
from tests.audit.helpers import record_event
from tests.audit.test_chain import raw_cursor

# "Now" for pruning: 250 days after the organization was made (its first events), so the log has an old prefix.
NOW = timezone.now() + dt.timedelta(days=250)


@pytest.fixture
def aged_log(org):
    """Events 200, 150, 120, 100 (twice), 80 and 10 days old, then today's."""
    for days in (200, 150, 120, 100, 100, 80, 10):
        record_event(org, "billing.updated", at=NOW - dt.timedelta(days=days), details={"age": days})
    return list(AuditEvent.objects.filter(organization=org).order_by("seq"))


def seqs(org) -> list[int]:
    return list(AuditEvent.objects.filter(organization=org).order_by("seq").values_list("seq", flat=True))


@pytest.mark.django_db
def test_the_default_keeps_everything(org, aged_log):
    assert retention.prune_all(now=NOW) == 0
    assert len(seqs(org)) == len(aged_log)


@pytest.mark.django_db
def test_retention_shorter_than_the_platform_minimum_is_refused(org, owner, settings):
    settings.AUDIT_RETENTION_MIN_DAYS = 90
    with pytest.raises(ActionRefused) as refused:
        retention.set_retention(org, actor=owner, days=30)
    assert "at least 90 days" in refused.value.message
    retention.set_retention(org, actor=owner, days=90)
    assert AuditChain.objects.get(organization=org).retention_days == 90
    assert AuditEvent.objects.filter(organization=org, action="audit.retention_changed").count() == 1


@pytest.mark.django_db
def test_the_preview_says_how_many_go_and_the_oldest_that_stays(org, owner, aged_log):
    planned = retention.plan(org, 110, NOW)
    old = [event for event in aged_log if event.occurred_at < NOW - dt.timedelta(days=110)]
    # Everything recorded before the first event younger than 110 days goes (a prefix of the chain).
    assert planned.count == old[-1].seq
    assert planned.oldest_kept.details == {"age": 100}
    assert retention.plan(org, None, NOW).count == 0


@pytest.mark.django_db
def test_pruning_moves_the_anchor_in_bounded_batches_and_the_chain_still_verifies(org, owner, aged_log):
    with transaction.atomic():
        retention.set_retention(org, actor=owner, days=90)
    expected_gone = retention.plan(org, 90, NOW).through_seq

    first = retention.prune_batch(org, now=NOW, batch_size=2)

    assert first == 2
    chain = AuditChain.objects.get(organization=org)
    assert chain.anchor_seq == 2 and chain.anchor_hash == aged_log[1].hash
    assert verify_chain(org).ok
    assert retention.prune_organization(org, now=NOW, batch_size=2) == expected_gone - 2
    remaining = seqs(org)
    assert remaining[0] == expected_gone + 1
    assert verify_chain(org).ok
    pruned = [event.details for event in AuditEvent.objects.filter(organization=org, action="audit.pruned")]
    assert all(item["deleted"] <= 2 for item in pruned)
    assert pruned[-1]["through_seq"] == expected_gone


@pytest.mark.django_db
@pytest.mark.parametrize("tamper", ["edit", "delete", "insert", "reorder"])
def test_after_a_prune_any_tampering_is_still_found(org, owner, aged_log, tamper):
    retention.set_retention(org, actor=owner, days=90)
    retention.prune_organization(org, now=NOW)
    kept = list(AuditEvent.objects.filter(organization=org).order_by("seq"))
    assert len(kept) >= 4 and verify_chain(org).ok
    with raw_cursor() as cursor:
        if tamper == "edit":
            cursor.execute("UPDATE audit_auditevent SET actor_label = 'x' WHERE id = %s", [kept[1].pk])
        elif tamper == "delete":
            cursor.execute("DELETE FROM audit_auditevent WHERE id = %s", [kept[0].pk])
        elif tamper == "insert":
            cursor.execute(
                "UPDATE audit_auditchain SET anchor_seq = anchor_seq - 1 WHERE organization_id = %s", [org.pk]
            )
        else:
            cursor.execute("UPDATE audit_auditevent SET seq = -1 WHERE id = %s", [kept[1].pk])
            cursor.execute("UPDATE audit_auditevent SET seq = %s WHERE id = %s", [kept[1].seq, kept[2].pk])
            cursor.execute("UPDATE audit_auditevent SET seq = %s WHERE id = %s", [kept[2].seq, kept[1].pk])
    report = verify_chain(org)
    assert not report.ok, tamper


@pytest.mark.django_db
def test_pruning_never_passes_what_a_destination_has_not_delivered(org, owner, aged_log, settings):
    settings.AUDIT_STREAM_ALLOW_PRIVATE_TARGETS = True
    destination = stream_actions.create_destination(
        org, actor=owner, kind="webhook", url="https://127.0.0.1:9/hook"
    ).destination
    type(destination).objects.filter(pk=destination.pk).update(cursor_seq=3)
    retention.set_retention(org, actor=owner, days=90)

    planned = retention.plan(org, 90, NOW)
    assert planned.through_seq == 3
    assert "has delivered only up to event #3" in planned.held_by
    assert retention.prune_organization(org, now=NOW) == 3
    assert seqs(org)[0] == 4
    assert verify_chain(org).ok


@pytest.mark.postgres
@pytest.mark.django_db
def test_the_trigger_allows_deleting_only_the_pruned_prefix(org, owner, aged_log):
    retention.set_retention(org, actor=owner, days=90)
    retention.prune_batch(org, now=NOW, batch_size=2)
    kept = seqs(org)
    for statement, params in [
        ("DELETE FROM audit_auditevent WHERE organization_id = %s AND seq = %s", [org.pk, kept[0]]),
        ("UPDATE audit_auditevent SET actor_label = 'x' WHERE organization_id = %s AND seq = %s", [org.pk, kept[0]]),
    ]:
        with pytest.raises(DatabaseError, match="append-only"), transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(statement, params)
    # Even at or before the anchor, an UPDATE is refused (there is nothing left there to delete).
    with raw_cursor() as cursor:
        cursor.execute(
            "INSERT INTO audit_auditevent (organization_id, seq, occurred_at, actor_type, actor_id, actor_label,"
            " action, category, target_type, target_id, target_label, changes, details, user_agent, request_id,"
            " prev_hash, hash, search_text) VALUES (%s, 1, now(), 'system', '', '', 'x', 'audit', '', '', '', '{}',"
            " '{}', '', '', '', '', '')",
            [org.pk],
        )
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("UPDATE audit_auditevent SET actor_label = 'y' WHERE organization_id = %s AND seq = 1", [org.pk])
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM audit_auditevent WHERE organization_id = %s AND seq = 1", [org.pk])
        assert cursor.rowcount == 1


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_retention_change_racing_a_prune_leaves_a_verifiable_chain(org, owner):
    future = timezone.now() + dt.timedelta(days=500)
    for days in range(400, 100, -3):
        record_event(org, "billing.updated", at=future - dt.timedelta(days=days))
    retention.set_retention(org, actor=owner, days=90)
    errors = []

    def prune() -> None:
        try:
            retention.prune_organization(org, now=future, batch_size=5)
        except Exception as exc:  # pragma: no cover (reported below)
            errors.append(exc)
        finally:
            connections.close_all()

    def change() -> None:
        try:
            for days in (3650, 120, None, 90):
                retention.set_retention(org, actor=owner, days=days)
        except Exception as exc:  # pragma: no cover
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=prune), threading.Thread(target=change)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)

    assert errors == []
    assert verify_chain(org).ok
    retention.prune_organization(org, now=future)
    assert verify_chain(org).ok
    assert AuditChain.objects.get(organization=org).anchor_seq >= 100


@pytest.mark.django_db
def test_audit_verify_says_it_verified_from_the_anchor(org, owner, aged_log):
    from io import StringIO

    from django.core.management import call_command

    retention.set_retention(org, actor=owner, days=90)
    retention.prune_organization(org, now=NOW)
    anchor = AuditChain.objects.get(organization=org).anchor_seq
    out = StringIO()

    call_command("audit_verify", "acme", stdout=out)

    assert "acme: ok, " in out.getvalue() and f"after the retention anchor #{anchor} " in out.getvalue()


def move_anchor_and_delete(org, through: int) -> None:
    """What someone with write access to the database (no superuser) could do: move the anchor forward to event
    ``through`` with its real hash, then delete everything up to it (the PostgreSQL trigger allows that DELETE)."""
    last = AuditEvent.objects.get(organization=org, seq=through).hash
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            "UPDATE audit_auditchain SET anchor_seq = %s, anchor_hash = %s WHERE organization_id = %s",
            [through, last, org.pk],
        )
        cursor.execute("DELETE FROM audit_auditevent WHERE organization_id = %s AND seq <= %s", [org.pk, through])


def verify_command(slug: str) -> tuple[int, str]:
    from io import StringIO

    from django.core.management import CommandError, call_command

    out = StringIO()
    try:
        call_command("audit_verify", slug, stdout=out)
    except CommandError as exc:
        return exc.returncode, out.getvalue()
    return 0, out.getvalue()


@pytest.mark.django_db
def test_an_anchor_moved_past_the_last_prune_is_reported_as_tampering(org, owner, aged_log):
    retention.set_retention(org, actor=owner, days=90)
    retention.prune_organization(org, now=NOW)
    through = AuditChain.objects.get(organization=org).anchor_seq
    last_prune = AuditEvent.objects.filter(organization=org, action="audit.pruned").order_by("seq").last()
    assert verify_chain(org).ok
    # The surviving events still link up from the new anchor: only the prunes' record can tell.
    move_anchor_and_delete(org, through + 2)

    report = verify_chain(org)

    assert not report.ok and report.kind == "anchor moved"
    assert f"the last recorded prune (event #{last_prune.seq}) ended at #{through}" in report.problem
    status, out = verify_command("acme")
    assert status == 1
    assert f"acme: BROKEN at event #{through + 2} (anchor moved)" in out
    assert f"events #{through + 1} to #{through + 2} were deleted" in out


@pytest.mark.django_db
def test_an_anchor_moved_before_any_prune_is_reported(org, aged_log):
    move_anchor_and_delete(org, 3)

    report = verify_chain(org)

    assert not report.ok and report.kind == "anchor moved"
    assert "no recorded prune (audit.pruned) accounts for it" in report.problem


@pytest.mark.django_db
def test_an_anchor_moved_between_two_prunes_is_reported(org, owner, aged_log):
    retention.set_retention(org, actor=owner, days=90)
    retention.prune_batch(org, now=NOW, batch_size=1)  # deletes #1, records audit.pruned #1..#1
    move_anchor_and_delete(org, 2)  # #2 goes without a prune
    retention.prune_batch(org, now=NOW, batch_size=1)  # the next real prune: #3..#3, agrees with the anchor
    assert AuditChain.objects.get(organization=org).anchor_seq == 3

    report = verify_chain(org)

    assert not report.ok and report.kind == "anchor moved"
    assert "starts at #3, but the one at event" in report.problem and "ended at #1" in report.problem


@pytest.mark.django_db
def test_prunes_over_several_runs_still_verify(org, owner, aged_log):
    # The records of earlier prunes are themselves pruned later; the ones that survive still account for the anchor.
    retention.set_retention(org, actor=owner, days=90)
    for batch in (1, 2, 1):
        retention.prune_batch(org, now=NOW, batch_size=batch)
        assert verify_chain(org).ok
    later = NOW + dt.timedelta(days=200)
    retention.prune_organization(org, now=later, batch_size=3)
    assert AuditChain.objects.get(organization=org).anchor_seq > len(aged_log)
    assert verify_chain(org).ok
    assert verify_command("acme")[0] == 0
