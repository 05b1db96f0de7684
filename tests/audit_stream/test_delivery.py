"""Streaming an organization's audit trail to real receivers, through outages, with nothing lost or reordered."""

from __future__ import annotations

import datetime as dt
import random

import pytest
from django.core import mail
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from audit.models import AuditEvent
from audit_stream import actions, delivery
from audit_stream.models import DeliveredHour, Destination, Status
from tests.audit.helpers import record_event

pytestmark = pytest.mark.django_db

BATCH = 10


def add_webhook(org, owner, receiver, pki, path="/hook", batch_size=BATCH) -> Destination:
    created = actions.create_destination(
        org, actor=owner, kind="webhook", url=receiver.url(path), ca_pem=pki.ca_pem, batch_size=batch_size
    )
    assert created.signing_secret.startswith("whsec_")
    receiver.state.secrets[path] = created.signing_secret
    return created.destination


def add_hec(org, owner, receiver, pki, path="/services/collector/event") -> Destination:
    receiver.state.tokens[path] = "hec-token-1234"
    return actions.create_destination(
        org,
        actor=owner,
        kind="hec",
        url=receiver.url(path),
        token="hec-token-1234",
        ca_pem=pki.ca_pem,
        batch_size=BATCH,
    ).destination


def record_many(org, count: int) -> None:
    for number in range(count):
        record_event(org, "billing.updated", details={"n": number})


def org_sequences(org) -> list[int]:
    return list(AuditEvent.objects.filter(organization=org).order_by("seq").values_list("seq", flat=True))


def drain(destination, *, clock=None, rounds: int = 60) -> list[delivery.BatchResult]:
    """Run delivery steps (ignoring the backoff schedule, as time passing would) until the destination is idle."""
    results = []
    for _ in range(rounds):
        result = delivery.deliver_next_batch(destination.pk, now=clock, ignore_schedule=True)
        results.append(result)
        if result.outcome == delivery.IDLE:
            return results
    raise AssertionError(f"not caught up after {rounds} steps: {results[-3:]}")


def first_arrivals(events) -> list[int]:
    seen, order = set(), []
    for event in events:
        if event["id"] not in seen:
            seen.add(event["id"])
            order.append(event["sequence"])
    return order


def test_a_signed_webhook_receives_every_event_in_order(org, owner, receiver, pki):
    destination = add_webhook(org, owner, receiver, pki)
    record_many(org, 25)

    results = delivery.deliver_pending(destination, max_seconds=30)

    assert receiver.state.errors == []  # every signature verified with standardwebhooks
    events = receiver.state.events("/hook")
    assert [event["sequence"] for event in events] == org_sequences(org)
    assert [result.outcome for result in results][-1] == delivery.IDLE
    first = events[0]
    assert {"id", "sequence", "action", "occurred_at", "chain_hash", "prev_hash"} <= set(first)
    stored = AuditEvent.objects.get(organization=org, seq=first["sequence"])
    assert (first["id"], first["chain_hash"], first["action"]) == (stored.pk, stored.hash, stored.action)
    # Batches carry a stable webhook-id naming their sequences, so a retried batch is recognisable.
    assert receiver.state.requests[0].message_id == f"msg_audit_{destination.pk}_1_{BATCH}"
    destination.refresh_from_db()
    assert destination.cursor_seq == org_sequences(org)[-1]
    assert sum(DeliveredHour.objects.filter(destination=destination).values_list("events", flat=True)) == len(events)


def test_a_wrong_secret_is_refused_by_the_receiver_and_nothing_advances(org, owner, receiver, pki):
    destination = add_webhook(org, owner, receiver, pki)
    receiver.state.secrets["/hook"] = actions.new_webhook_secret()  # the receiver knows another secret

    result = delivery.deliver_next_batch(destination)

    assert result.outcome == delivery.FAILED
    assert "HTTP 400" in result.message
    assert "No matching signature" in receiver.state.errors[0]
    destination.refresh_from_db()
    assert destination.cursor_seq == 0
    assert destination.consecutive_failures == 1


def test_an_hec_receiver_gets_the_splunk_shape(org, owner, receiver, pki):
    destination = add_hec(org, owner, receiver, pki)
    record_many(org, 12)

    drain(destination)

    assert receiver.state.errors == []
    events = receiver.state.events("/services/collector/event")
    assert [event["sequence"] for event in events] == org_sequences(org)


def test_syslog_over_tls_reaches_rsyslog_in_order(org, owner, rsyslog, pki):
    destination = actions.create_destination(
        org, actor=owner, kind="syslog", url=rsyslog.url, ca_pem=pki.ca_pem, batch_size=BATCH
    ).destination
    record_many(org, 23)

    drain(destination)

    expected = org_sequences(org)
    messages = rsyslog.messages(wait_for=len(expected))
    assert messages[0].startswith("<109>1 ")  # RFC 5424: facility log audit, severity notice, version 1
    assert f'[orgsecurity@32473 org="acme" seq="{expected[0]}"]' in messages[0]
    assert [event["sequence"] for event in rsyslog.events()] == expected


def test_syslog_refuses_a_receiver_whose_certificate_is_not_trusted(org, owner, rsyslog):
    destination = actions.create_destination(org, actor=owner, kind="syslog", url=rsyslog.url).destination

    result = delivery.deliver_next_batch(destination)

    assert result.outcome == delivery.FAILED
    assert "not trusted" in result.message


@pytest.mark.parametrize(
    "faults", [["500", "500"], ["timeout", "timeout"], ["close", "close"], ["500", "timeout", "close"]]
)
def test_a_receiver_failing_for_a_while_then_recovering_gets_every_event_in_order(org, owner, receiver, pki, faults):
    destination = add_webhook(org, owner, receiver, pki)
    record_many(org, 15)
    delivery.deliver_next_batch(destination)  # the first batch arrives
    receiver.state.faults.extend(faults)
    record_many(org, 20)

    results = drain(destination)

    outcomes = [result.outcome for result in results]
    assert outcomes.count(delivery.FAILED) == len(faults)
    events = receiver.state.events("/hook")
    assert first_arrivals(events) == org_sequences(org)  # none missing, in order
    # Retries resend the same batch only: every repeat is of the failed batch that came right before.
    for request in receiver.state.requests:
        sequences = [event["sequence"] for event in request.events]
        assert sequences == sorted(sequences)
    destination.refresh_from_db()
    assert (destination.consecutive_failures, destination.last_error) == (0, "")


def test_failures_back_off_exponentially_with_jitter(org, owner, receiver, pki):
    destination = add_webhook(org, owner, receiver, pki)
    receiver.state.faults.extend(["500"] * 3)
    now = timezone.now()
    rng = random.Random(7)
    waits = []
    for _ in range(3):
        result = delivery.deliver_next_batch(destination, now=now, rng=rng, ignore_schedule=True)
        assert result.outcome == delivery.FAILED
        destination.refresh_from_db()
        waits.append((destination.next_attempt_at - now).total_seconds())
    assert 2.5 <= waits[0] <= 5 and 5 <= waits[1] <= 10 and 10 <= waits[2] <= 20
    # Before the next attempt is due nothing is sent; once due, the batch goes.
    assert delivery.deliver_next_batch(destination, now=now + dt.timedelta(seconds=1)).outcome == delivery.WAITING
    assert destination.pk not in delivery.due_destinations(now + dt.timedelta(seconds=1))
    later = now + dt.timedelta(seconds=30)
    assert delivery.deliver_next_batch(destination, now=later).outcome == delivery.DELIVERED


def test_one_failing_destination_does_not_hold_back_another(org, owner, receiver, pki):
    failing = add_webhook(org, owner, receiver, pki, path="/down")
    healthy = add_webhook(org, owner, receiver, pki, path="/up")
    receiver.state.secrets.pop("/down")  # answers 404 from now on
    record_many(org, 5)

    assert delivery.deliver_next_batch(failing).outcome == delivery.FAILED
    assert delivery.deliver_next_batch(healthy).outcome == delivery.DELIVERED
    assert delivery.due_destinations() == [healthy.pk]


def test_after_three_days_of_failure_the_destination_is_paused_owners_emailed_and_resume_loses_nothing(
    org, owner, receiver, pki, django_capture_on_commit_callbacks
):
    destination = add_webhook(org, owner, receiver, pki)
    record_many(org, 5)
    start = timezone.now()
    receiver.state.faults.extend(["500"] * 3)
    assert delivery.deliver_next_batch(destination, now=start).outcome == delivery.FAILED
    assert delivery.deliver_next_batch(destination, now=start + dt.timedelta(days=2)).outcome == delivery.FAILED

    with django_capture_on_commit_callbacks(execute=True):
        result = delivery.deliver_next_batch(destination, now=start + dt.timedelta(days=3, minutes=1))

    assert result.outcome == delivery.PAUSED
    destination.refresh_from_db()
    assert destination.status == Status.PAUSED
    assert len(mail.outbox) == 1 and mail.outbox[0].to == [owner.email]
    assert "paused" in mail.outbox[0].subject and "HTTP 500" in mail.outbox[0].body
    assert AuditEvent.objects.filter(organization=org, action="audit_stream.destination_paused").exists()
    assert delivery.deliver_next_batch(destination).outcome == delivery.PAUSED
    assert destination.pk not in delivery.due_destinations()

    actions.resume_destination(destination, actor=owner)
    drain(destination)

    assert first_arrivals(receiver.state.events("/hook")) == org_sequences(org)


def test_a_destination_receives_only_its_own_organizations_events(org, owner, other_org, outsider, receiver, pki):
    destination = add_webhook(org, owner, receiver, pki)
    record_many(other_org, 5)
    record_many(org, 3)

    drain(destination)

    assert {event["organization"] for event in receiver.state.events("/hook")} == {"acme"}
    assert [event["sequence"] for event in receiver.state.events("/hook")] == org_sequences(org)


def test_recording_an_event_writes_nothing_per_destination(org, owner, receiver, pki):
    record_event(org)

    def queries_of_one_event() -> list[str]:
        with CaptureQueriesContext(connection) as captured:
            record_event(org)
        return [query["sql"].split(" ", 1)[0] for query in captured.captured_queries]

    without = queries_of_one_event()
    for path in ("/a", "/b", "/c"):
        add_webhook(org, owner, receiver, pki, path=path)

    assert queries_of_one_event() == without


def test_send_test_event_shows_the_receivers_answer_and_moves_no_cursor(org, owner, receiver, pki):
    destination = add_webhook(org, owner, receiver, pki)

    accepted, answer = actions.send_test_event(destination, actor=owner)

    assert accepted and answer.startswith("HTTP 200")
    assert receiver.state.events("/hook")[0]["action"] == "audit_stream.test"
    receiver.state.faults.append("500")
    accepted, answer = actions.send_test_event(destination, actor=owner)
    assert not accepted and "HTTP 500" in answer
    destination.refresh_from_db()
    assert destination.cursor_seq == 0


def test_redirects_are_not_followed(org, owner, receiver, pki):
    destination = add_webhook(org, owner, receiver, pki)
    receiver.state.faults.append("redirect")

    result = delivery.deliver_next_batch(destination)

    assert result.outcome == delivery.FAILED
    assert "redirects are not followed" in result.message


def test_every_value_arrives_exactly_as_stored(org, owner, receiver, pki):
    destination = add_webhook(org, owner, receiver, pki)
    odd = 'Zoë "quoted" \\ back\u2028line\ttab <b>'
    record_event(
        org,
        "billing.updated",
        changes={"plan": ["free", odd]},
        details={"note": odd, "n": 3, "ok": True, "none": None, "nested": {"ü": [1, "x"]}},
    )

    drain(destination)

    sent = receiver.state.events("/hook")[-1]
    stored = AuditEvent.objects.filter(organization=org).order_by("-seq").first()
    assert (sent["changes"], sent["details"]) == (stored.changes, stored.details)
    assert sent["occurred_at"] == stored.occurred_at.isoformat(timespec="microseconds")
    assert sent["actor"] == {"type": stored.actor_type, "id": stored.actor_id, "label": stored.actor_label}


def test_a_syslog_receiver_down_for_a_while_gets_every_event_in_order_once_back(org, owner, rsyslog, pki):
    destination = actions.create_destination(
        org, actor=owner, kind="syslog", url=rsyslog.url, ca_pem=pki.ca_pem, batch_size=BATCH
    ).destination
    record_many(org, 8)
    drain(destination)
    rsyslog.stop()
    record_many(org, 15)

    failed = delivery.deliver_next_batch(destination)

    assert failed.outcome == delivery.FAILED
    assert "connection refused" in failed.message
    rsyslog.start(pki)
    drain(destination)
    expected = org_sequences(org)
    assert first_arrivals(rsyslog.events(wait_for=len(expected))) == expected
