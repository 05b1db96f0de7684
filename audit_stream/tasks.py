"""Huey tasks of audit streaming: a thin layer over ``audit_stream.delivery`` and ``audit.retention``.

- ``schedule_deliveries`` (every minute) enqueues ``deliver_destination`` for each active destination that is due,
  so each destination is delivered by its own task: one destination's slow or failing receiver never delays
  another's (the worker's pool runs them side by side);
- ``deliver_destination`` delivers batches for up to ``DELIVERY_ROUND_SECONDS``, and while caught up keeps polling
  every ``POLL_SECONDS`` for new events, so events reach the SIEM within seconds; a second task for the same
  destination finds its row locked and returns at once (one consumer per destination);
- ``prune_audit_logs`` (hourly, at :17) applies each organization's retention (``audit.retention``): hourly, so an
  hour the consumer's scheduler misses is made up by the next, and each run deletes only what is already due.

The two periodic ones are jobs of ``orgsecurity.jobs`` (``audit_stream.schedule_deliveries``,
``audit_stream.prune``), so the support console's Jobs page shows their runs.
"""

from __future__ import annotations

import time
from datetime import datetime

from huey.contrib.djhuey import db_task

from audit import retention
from audit_stream import delivery
from orgsecurity.jobs import crontab, periodic

DELIVERY_ROUND_SECONDS = 50.0
POLL_SECONDS = 1.0


@periodic("audit_stream.schedule_deliveries", crontab(minute="*"), every="every minute")
def schedule_deliveries(now: datetime) -> str:
    """Enqueue one ``deliver_destination`` task per destination due at ``now`` (UTC)."""
    due = delivery.due_destinations(now)
    for destination_id in due:
        deliver_destination(destination_id)
    return f"{len(due)} destinations due"


@db_task()
def deliver_destination(destination_id: int, round_seconds: float | None = None) -> int:
    """Deliver ``destination_id`` until ``round_seconds`` (wall clock, default ``DELIVERY_ROUND_SECONDS``) have
    passed, it fails, or another consumer holds it; returns the number of events delivered."""
    deadline = time.monotonic() + (DELIVERY_ROUND_SECONDS if round_seconds is None else round_seconds)
    delivered = 0
    while True:
        results = delivery.deliver_pending(destination_id, max_seconds=max(0.0, deadline - time.monotonic()))
        delivered += sum(result.delivered for result in results)
        last = results[-1].outcome if results else delivery.IDLE
        if not results or last != delivery.IDLE or time.monotonic() + POLL_SECONDS >= deadline:
            return delivered
        time.sleep(POLL_SECONDS)


@periodic("audit_stream.prune", crontab(minute="17"), every="hourly, at :17")
def prune_audit_logs(now: datetime) -> str:
    """Apply every organization's audit retention as of ``now`` (UTC), deleting what has passed its period."""
    return f"{retention.prune_all(now=now)} events deleted"
