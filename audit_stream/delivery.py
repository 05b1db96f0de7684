"""Delivering an organization's audit trail to its destinations: at least once, in sequence order, from a cursor.

The audit table is the outbox. ``deliver_next_batch`` runs one step for one destination:

1. in one transaction, lock the destination row (``SELECT … FOR UPDATE SKIP LOCKED`` on PostgreSQL: a second
   consumer finds it locked and moves on, so one consumer delivers per destination at a time);
2. read up to ``batch_size`` events of its organization with ``seq > cursor_seq`` in ``seq`` order (committed
   events of a chain are always a prefix of it: writers hold the chain head until they commit);
3. send them (``audit_stream.senders``); on success advance ``cursor_seq`` to the batch's last sequence and add the
   batch to the hour's count; on failure keep the cursor, count the failure and schedule the next attempt with
   exponential backoff and jitter (``backoff_seconds``).

A consumer killed mid-batch rolls its transaction back, so the cursor stays before that batch: the next run sends
it again (at most that batch twice). A destination failing for ``PAUSE_AFTER`` (3 days) is paused and its owners
emailed (``audit_stream.actions.pause_failing``); resuming continues from the cursor. Times are UTC.
"""

from __future__ import annotations

import datetime as dt
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC
from json.encoder import encode_basestring

from django.db import transaction
from django.db.models import F, Q, TextField
from django.db.models.functions import Cast
from django.utils import timezone

from audit.models import AuditChain, AuditEvent
from audit_stream.models import DeliveredHour, Destination, Status
from audit_stream.senders import DeliveryFailed, OutgoingEvent, Sender, open_sender

PAUSE_AFTER = dt.timedelta(days=3)
BACKOFF_BASE_SECONDS = 5.0
BACKOFF_CAP_SECONDS = 15 * 60.0
MAX_BATCH_SIZE = 5000

# Outcomes of one step.
DELIVERED, IDLE, BUSY, WAITING, FAILED, PAUSED = "delivered", "idle", "busy", "waiting", "failed", "paused"


@dataclass(frozen=True)
class BatchResult:
    """What one step did: ``outcome`` (delivered, idle, busy, waiting, failed, paused), the number of events
    delivered, the first and last sequence of the batch, and the receiver's answer or the error."""

    outcome: str
    delivered: int = 0
    first_seq: int | None = None
    last_seq: int | None = None
    message: str = ""


# The stored fields a delivered event carries; ``changes`` and ``details`` are read as their JSON text and spliced
# into the event's JSON as they are (no decoding and encoding again: the largest cost of a batch otherwise).
PAYLOAD_FIELDS = (
    "pk",
    "seq",
    "action",
    "category",
    "occurred_at",
    "actor_type",
    "actor_id",
    "actor_label",
    "target_type",
    "target_id",
    "target_label",
    "ip",
    "user_agent",
    "request_id",
    "prev_hash",
    "hash",
    "changes_json",
    "details_json",
)


def _text(value: str | None) -> str:
    """A JSON string (or null), escaped by the json module's C encoder; non-ASCII stays UTF-8."""
    return "null" if value is None else encode_basestring(str(value))


def encode_event(row: tuple, organization_slug: str) -> OutgoingEvent:
    """The JSON object a receiver gets for one event (a row of ``PAYLOAD_FIELDS`` values): ``id`` (the event's id,
    for de-duplication), ``sequence`` (its position in the organization's chain), ``organization``, ``action``,
    ``category``, ``occurred_at`` (ISO 8601, UTC, microseconds), ``actor`` and ``target`` (type, id, label),
    ``ip``, ``user_agent``, ``request_id``, ``prev_hash`` and ``chain_hash`` (to verify the chain), then
    ``changes`` and ``details`` as stored. Written directly (every string escaped as JSON): a batch's largest cost
    was encoding it."""
    (pk, seq, action, category, occurred_at, actor_type, actor_id, actor_label, target_type, target_id,
     target_label, ip, user_agent, request_id, prev_hash, chain_hash, changes, details) = row  # fmt: skip
    occurred = occurred_at.astimezone(UTC)
    text = (
        f'{{"id":{int(pk)},"sequence":{int(seq)},"organization":{_text(organization_slug)},'
        f'"action":{_text(action)},"category":{_text(category)},'
        f'"occurred_at":"{occurred.isoformat(timespec="microseconds")}",'
        f'"actor":{{"type":{_text(actor_type)},"id":{_text(actor_id)},"label":{_text(actor_label)}}},'
        f'"target":{{"type":{_text(target_type)},"id":{_text(target_id)},"label":{_text(target_label)}}},'
        f'"ip":{_text(ip)},"user_agent":{_text(user_agent)},"request_id":{_text(request_id)},'
        f'"prev_hash":{_text(prev_hash)},"chain_hash":{_text(chain_hash)},'
        f'"changes":{changes or "{}"},"details":{details or "{}"}}}'
    )
    return OutgoingEvent(seq, action, occurred, organization_slug, text)


def backoff_seconds(failures: int, rng: random.Random | None = None) -> float:
    """Seconds to wait after the ``failures``-th consecutive failure: exponential (5 s, 10 s, 20 s… capped at
    15 minutes) with "equal jitter" (a random point in the upper half), so retries of many destinations spread."""
    ceiling = min(BACKOFF_CAP_SECONDS, BACKOFF_BASE_SECONDS * 2 ** max(failures - 1, 0))
    return ceiling / 2 + (rng or random).uniform(0, ceiling / 2)


def _hour(moment: dt.datetime) -> dt.datetime:
    return moment.astimezone(UTC).replace(minute=0, second=0, microsecond=0)


def _count_delivered(destination_id: int, moment: dt.datetime, events: int) -> None:
    hour = _hour(moment)
    if not DeliveredHour.objects.filter(destination_id=destination_id, hour=hour).update(events=F("events") + events):
        DeliveredHour.objects.create(destination_id=destination_id, hour=hour, events=events)


def deliver_next_batch(
    destination: Destination | int,
    *,
    now: dt.datetime | None = None,
    sender: Sender | None = None,
    rng: random.Random | None = None,
    ignore_schedule: bool = False,
) -> BatchResult:
    """Send the next batch of ``destination`` (a Destination or its id) and advance its cursor (module docstring).

    ``now`` (UTC, default the current time) is the clock; ``sender`` an open sender to reuse between batches
    (default: one opened and closed here); ``ignore_schedule`` sends even before ``next_attempt_at`` (resume, tests).
    Never raises for a receiver's failure: the result says what happened. A destination paused here (failing for
    ``PAUSE_AFTER``) has its owners emailed once the transaction committed.
    """
    destination_id = destination.pk if isinstance(destination, Destination) else destination
    now = now or timezone.now()
    own_sender = sender is None
    pause = False
    try:
        with transaction.atomic():
            locked = (
                Destination.objects.select_for_update(skip_locked=True)
                .select_related("organization")
                .filter(pk=destination_id)
                .first()
            )
            if locked is None:
                still_there = Destination.objects.filter(pk=destination_id).exists()
                return BatchResult(BUSY if still_there else IDLE, message="another consumer is delivering")
            if locked.status != Status.ACTIVE:
                return BatchResult(PAUSED, message=locked.last_error)
            if not ignore_schedule and locked.next_attempt_at is not None and locked.next_attempt_at > now:
                return BatchResult(WAITING, message=locked.last_error)
            batch = list(
                AuditEvent.objects.filter(organization_id=locked.organization_id, seq__gt=locked.cursor_seq)
                .annotate(changes_json=Cast("changes", TextField()), details_json=Cast("details", TextField()))
                .order_by("seq")
                .values_list(*PAYLOAD_FIELDS)[: max(1, min(locked.batch_size, MAX_BATCH_SIZE))]
            )
            if not batch:
                return BatchResult(IDLE)
            slug = locked.organization.slug
            payload = [encode_event(row, slug) for row in batch]
            first, last = payload[0].sequence, payload[-1].sequence
            try:
                if sender is None:
                    sender = open_sender(locked)
                answer = sender.send(payload)
            except DeliveryFailed as exc:
                failures = locked.consecutive_failures + 1
                failing_since = locked.failing_since or now
                Destination.objects.filter(pk=locked.pk).update(
                    consecutive_failures=failures,
                    failing_since=failing_since,
                    last_error=exc.message,
                    next_attempt_at=now + dt.timedelta(seconds=backoff_seconds(failures, rng)),
                )
                pause = now - failing_since >= PAUSE_AFTER
                if own_sender and sender is not None:
                    sender.close()
                    sender = None
                result = BatchResult(FAILED, first_seq=first, last_seq=last, message=exc.message)
            else:
                Destination.objects.filter(pk=locked.pk).update(
                    cursor_seq=last,
                    cursor_at=now,
                    consecutive_failures=0,
                    failing_since=None,
                    last_error="",
                    next_attempt_at=None,
                )
                _count_delivered(locked.pk, now, len(batch))
                result = BatchResult(DELIVERED, len(batch), first, last, answer.summary)
    finally:
        if own_sender and sender is not None:
            sender.close()
    if pause:
        from audit_stream.actions import pause_failing

        pause_failing(destination_id, now=now)
        return BatchResult(PAUSED, first_seq=result.first_seq, last_seq=result.last_seq, message=result.message)
    return result


def deliver_pending(
    destination: Destination | int,
    *,
    now: Callable[[], dt.datetime] = timezone.now,
    max_seconds: float = 50.0,
    max_batches: int | None = None,
    rng: random.Random | None = None,
) -> list[BatchResult]:
    """Deliver batches of one destination until it is caught up, fails, is busy elsewhere, or ``max_seconds`` (wall
    clock) or ``max_batches`` run out; the HTTP connection is kept alive between batches. Returns each step's
    result."""
    destination_id = destination.pk if isinstance(destination, Destination) else destination
    loaded = Destination.objects.select_related("organization").filter(pk=destination_id).first()
    if loaded is None:
        return []
    try:
        sender: Sender | None = open_sender(loaded)
    except DeliveryFailed:
        sender = None  # deliver_next_batch opens it again and records the failure
    results: list[BatchResult] = []
    deadline = time.monotonic() + max_seconds
    try:
        while time.monotonic() < deadline and (max_batches is None or len(results) < max_batches):
            result = deliver_next_batch(destination_id, now=now(), sender=sender, rng=rng)
            results.append(result)
            if result.outcome != DELIVERED:
                break
    finally:
        if sender is not None:
            sender.close()
    return results


def due_destinations(now: dt.datetime | None = None) -> list[int]:
    """Ids of the active destinations whose next attempt is due (or not scheduled), ascending."""
    now = now or timezone.now()
    return list(
        Destination.objects.filter(status=Status.ACTIVE)
        .filter(Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now))
        .order_by("pk")
        .values_list("pk", flat=True)
    )


@dataclass(frozen=True)
class Lag:
    """How far a destination is behind its organization's chain: ``events`` not yet delivered and ``seconds``
    since the oldest of them was recorded (0 when caught up)."""

    events: int
    seconds: float
    head_seq: int


def lag(destination: Destination, now: dt.datetime | None = None) -> Lag:
    """The destination's lag (two indexed reads: the chain head and the first undelivered event)."""
    now = now or timezone.now()
    head = AuditChain.objects.filter(organization_id=destination.organization_id).values_list("last_seq", flat=True)
    head_seq = head.first() or 0
    oldest = (
        AuditEvent.objects.filter(organization_id=destination.organization_id, seq__gt=destination.cursor_seq)
        .order_by("seq")
        .values_list("occurred_at", flat=True)
        .first()
    )
    seconds = max(0.0, (now - oldest).total_seconds()) if oldest is not None else 0.0
    return Lag(max(0, head_seq - destination.cursor_seq), seconds, head_seq)
