"""``manage.py audit_verify [SLUG]``: "ok, N events" on a clean log; the first broken link, with exit
status 1, after each kind of tampering done with raw SQL (as someone with database access could)."""

from __future__ import annotations

import io

import pytest
from django.core.management import CommandError, call_command

from audit.models import AuditEvent
from orgsecurity import actions
from tests.audit.helpers import events_of, raw_cursor, record_event

COLUMNS = (
    "organization_id, seq, occurred_at, actor_type, actor_id, actor_label, action, category, target_type, target_id,"
    " target_label, changes, details, ip, user_agent, request_id, prev_hash, hash"
)


def verify(*args: str) -> tuple[int, str, str]:
    """Run the command as the shell would see it: (exit status, stdout, stderr)."""
    out, err = io.StringIO(), io.StringIO()
    try:
        call_command("audit_verify", *args, stdout=out, stderr=err)
    except CommandError as exc:
        return exc.returncode, out.getvalue(), str(exc)
    return 0, out.getvalue(), err.getvalue()


@pytest.fixture
def log(org, owner):
    """acme's log: org.created, member.joined and six billing changes (eight events)."""
    for plan in ("team", "business", "enterprise", "free", "team", "business"):
        actions.update_billing(org, actor=owner, plan_name=plan)
    return events_of(org)


def test_a_clean_log_verifies(log):
    status, out, _ = verify("acme")
    head = log[-1].hash
    assert (status, out) == (0, f"acme: ok, {len(log)} events (head {head})\n")


def test_without_a_slug_every_chain_and_the_platform_log_are_checked(log, other_org):
    record_event(None, "auth.sign_in_failed", details={"method": "password", "reason": "wrong password"})
    status, out, _ = verify()
    lines = out.splitlines()
    assert status == 0
    assert [line.split(":")[0] for line in lines] == ["acme", "globex", "platform"]
    assert lines[0].startswith(f"acme: ok, {len(log)} events")
    assert lines[1].startswith("globex: ok, 2 events")
    assert lines[2].startswith("platform: ok, 1 event (head")


def test_an_unknown_slug_is_a_usage_error(db):
    status, _, message = verify("nope")
    assert status == 2 and message == "There is no organization with the slug 'nope'."


def test_an_edited_event_is_reported(log):
    with raw_cursor() as cursor:
        cursor.execute("UPDATE audit_auditevent SET actor_label = 'someone else' WHERE id = %s", [log[4].pk])
    status, out, message = verify("acme")
    assert status == 1
    assert (
        out == "acme: BROKEN at event #5 (edited): event #5 was edited after it was written "
        "(its content no longer matches its hash)\n"
    )
    assert message == "1 of 1 audit chain is broken."


def test_an_edit_elsewhere_breaks_only_that_chain(log, other_org):
    globex_first = events_of(other_org)[0]
    with raw_cursor() as cursor:
        cursor.execute("UPDATE audit_auditevent SET changes = '{}' WHERE id = %s", [globex_first.pk])
    status, out, message = verify()
    assert status == 1
    assert out.splitlines()[0].startswith("acme: ok")
    assert out.splitlines()[1] == (
        "globex: BROKEN at event #1 (edited): event #1 was edited after it was written "
        "(its content no longer matches its hash)"
    )
    assert message == "1 of 3 audit chains is broken."
    assert verify("acme")[0] == 0


def test_a_deleted_event_is_reported(log):
    with raw_cursor() as cursor:
        cursor.execute("DELETE FROM audit_auditevent WHERE id = %s", [log[3].pk])
    status, out, _ = verify("acme")
    assert status == 1
    assert out == "acme: BROKEN at event #4 (deleted): event #4 is missing: deleted\n"


def test_deleted_events_with_renumbering_are_reported(log):
    # Delete #4 and close the gap, as a careful intruder would.
    with raw_cursor() as cursor:
        cursor.execute("DELETE FROM audit_auditevent WHERE id = %s", [log[3].pk])
        for event in log[4:]:
            cursor.execute("UPDATE audit_auditevent SET seq = %s WHERE id = %s", [event.seq - 1, event.pk])
    status, out, _ = verify("acme")
    assert status == 1
    assert out.startswith("acme: BROKEN at event #4 (deleted): the event before #4 was deleted or rewritten")


def test_events_deleted_from_the_end_are_reported(log):
    with raw_cursor() as cursor:
        cursor.execute("DELETE FROM audit_auditevent WHERE id IN (%s, %s)", [log[-1].pk, log[-2].pk])
    status, out, _ = verify("acme")
    assert status == 1
    assert out == "acme: BROKEN at event #7 (deleted): events #7 to #8 were deleted from the end of the log\n"


def test_an_event_inserted_at_the_end_is_reported(log):
    copied = log[2]
    with raw_cursor() as cursor:
        cursor.execute(
            f"INSERT INTO audit_auditevent ({COLUMNS}) SELECT organization_id, %s, occurred_at, actor_type, actor_id,"  # noqa: S608
            " 'intruder', action, category, target_type, target_id, target_label, changes, details, ip, user_agent,"
            " request_id, prev_hash, hash FROM audit_auditevent WHERE id = %s",
            [log[-1].seq + 1, copied.pk],
        )
    status, out, _ = verify("acme")
    assert status == 1
    assert out == (
        "acme: BROKEN at event #9 (inserted): event #9 was inserted or copied: it claims to follow event #2, not #8\n"
    )


def test_an_event_inserted_in_the_middle_is_reported(log):
    # Make room at #4 by pushing #4..#8 down one, then insert a forged event there that links to #3.
    with raw_cursor() as cursor:
        for event in reversed(log[3:]):
            cursor.execute("UPDATE audit_auditevent SET seq = %s WHERE id = %s", [event.seq + 1, event.pk])
        cursor.execute(
            f"INSERT INTO audit_auditevent ({COLUMNS}) SELECT organization_id, 4, occurred_at, actor_type, actor_id,"  # noqa: S608
            " 'intruder', action, category, target_type, target_id, target_label, changes, details, ip, user_agent,"
            " request_id, %s, hash FROM audit_auditevent WHERE id = %s",
            [log[2].hash, log[3].pk],
        )
    status, out, _ = verify("acme")
    assert status == 1
    assert out == "acme: BROKEN at event #4 (inserted): event #4 was inserted: it and event #5 both follow #3\n"


def test_an_inserted_event_with_a_correct_hash_is_still_found(log):
    # The intruder forges #4 with a valid hash linking to #3; the genuine events pushed down give it away.
    with raw_cursor() as cursor:
        for event in reversed(log[3:]):
            cursor.execute("UPDATE audit_auditevent SET seq = %s WHERE id = %s", [event.seq + 1, event.pk])
    forged = AuditEvent.objects.get(pk=log[3].pk)
    forged.pk, forged.seq, forged.actor_label = None, 4, "intruder"
    forged.prev_hash = log[2].hash
    forged.hash = forged.compute_hash()
    forged._state.adding = True  # a new row, as an INSERT would make
    forged.save()
    status, out, _ = verify("acme")
    assert status == 1
    assert out == "acme: BROKEN at event #4 (inserted): event #4 was inserted: the event now at #5 was written at #4\n"


def test_reordered_events_are_reported(log):
    first, second = log[3], log[4]
    with raw_cursor() as cursor:
        cursor.execute("UPDATE audit_auditevent SET seq = -1 WHERE id = %s", [first.pk])
        cursor.execute("UPDATE audit_auditevent SET seq = %s WHERE id = %s", [first.seq, second.pk])
        cursor.execute("UPDATE audit_auditevent SET seq = %s WHERE id = %s", [second.seq, first.pk])
    status, out, _ = verify("acme")
    assert status == 1
    assert out == "acme: BROKEN at event #4 (reordered): event #4 belongs after event #5: events were reordered\n"


def test_a_row_slipped_in_before_the_start_is_reported(log):
    with raw_cursor() as cursor:
        cursor.execute(
            f"INSERT INTO audit_auditevent ({COLUMNS}) SELECT organization_id, 0, occurred_at, actor_type, actor_id,"  # noqa: S608
            " actor_label, action, category, target_type, target_id, target_label, changes, details, ip, user_agent,"
            " request_id, prev_hash, hash FROM audit_auditevent WHERE id = %s",
            [log[5].pk],
        )
    status, out, _ = verify("acme")
    assert status == 1
    assert out == "acme: BROKEN at event #0 (inserted): event #0 sits before the start of the chain: it was inserted\n"
