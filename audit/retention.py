"""Audit retention: keep an organization's audit log forever (the default) or N days, and prune what is older.

Pruning removes a *prefix* of a chain, in bounded batches (``PRUNE_BATCH_SIZE`` events). Each batch is one
transaction under ``@audited`` (the organization row locked first, so a retention change and a prune of one
organization never interleave): it locks the chain head, moves the chain's anchor (``AuditChain.anchor_seq`` /
``anchor_hash``: the position and hash of the last pruned event) and then deletes every event at or before it —
the append-only trigger (PostgreSQL, migration 0008) allows exactly that DELETE and refuses every other — and
records ``audit.pruned``. ``audit.chain.verify_chain`` starts from the anchor, so the rest still verifies, and any
edit, deletion, insertion or reordering after the anchor is still found; it also checks that the latest surviving
``audit.pruned`` ends at the anchor, so an anchor moved by hand (and the events deleted behind it) is reported.

What may be pruned: events older than the retention period (``occurred_at`` before now minus N days, UTC) up to the
first event that is not, and never past what another part of the product still needs: theme apps register a *hold*
with ``register_prune_hold(hold)``, ``hold(organization) -> (seq, reason) | None`` giving the last sequence they allow
to be pruned (audit streaming: the lowest cursor of the organization's active or paused destinations). The core
names no theme app.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import connection
from django.utils import timezone

import audit
from audit.chain import PRUNED_ACTION
from audit.locking import audited
from audit.models import AuditChain, AuditEvent
from audit.recorder import Actor
from orgsecurity.actions import ActionRefused
from orgsecurity.models import Organization

PRUNE_BATCH_SIZE = 5000
MAX_RETENTION_DAYS = 36500

Hold = Callable[[Organization], "tuple[int, str] | None"]
_HOLDS: list[Hold] = []


def register_prune_hold(hold: Hold) -> None:
    """Add a hold: ``hold(organization)`` returns ``(last sequence that may be pruned, why)`` or None (no limit).
    Call it from ``AppConfig.ready()``."""
    if hold not in _HOLDS:
        _HOLDS.append(hold)


def minimum_days() -> int:
    """The shortest retention the platform allows (``AUDIT_RETENTION_MIN_DAYS``, default 90)."""
    return int(getattr(settings, "AUDIT_RETENTION_MIN_DAYS", 90))


@dataclass(frozen=True)
class PrunePlan:
    """What the next prune of one organization would do: delete events ``anchor_seq + 1`` to ``through_seq``
    (``count`` of them); ``oldest_kept`` is the first event that would remain (None: none left); ``held_by`` says
    why fewer are deleted than the retention alone would allow (a destination that has not delivered them)."""

    anchor_seq: int
    through_seq: int
    oldest_kept: AuditEvent | None
    held_by: str = ""
    cutoff: dt.datetime | None = None

    @property
    def count(self) -> int:
        return self.through_seq - self.anchor_seq


def plan(organization: Organization, days: int | None, now: dt.datetime | None = None) -> PrunePlan:
    """The prune that retention ``days`` (None: forever) would do now (read-only; the preview and the prune
    itself use it). ``now`` is UTC."""
    now = now or timezone.now()
    chain = AuditChain.objects.filter(organization=organization).first()
    anchor = chain.anchor_seq if chain else 0
    events = AuditEvent.objects.filter(organization=organization)
    if chain is None or days is None:
        return PrunePlan(anchor, anchor, events.filter(seq__gt=anchor).order_by("seq").first())
    cutoff = now - dt.timedelta(days=days)
    first_recent = (
        events.filter(seq__gt=anchor, occurred_at__gte=cutoff).order_by("seq").values_list("seq", flat=True).first()
    )
    through = chain.last_seq if first_recent is None else first_recent - 1
    held_by = ""
    for hold in _HOLDS:
        limit = hold(organization)
        if limit is not None and limit[0] < through:
            through, held_by = max(limit[0], anchor), limit[1]
    through = max(through, anchor)
    oldest = events.filter(seq__gt=through).order_by("seq").first()
    return PrunePlan(anchor, through, oldest, held_by, cutoff)


def retention_problem(days: int | None) -> str | None:
    """Why ``days`` (None: forever) is not a retention period an organization may choose, as a sentence, or None.
    The one rule the retention form, its preview and ``set_retention`` apply: from ``minimum_days()`` to
    ``MAX_RETENTION_DAYS`` days."""
    if days is not None and not minimum_days() <= days <= MAX_RETENTION_DAYS:
        return f"Audit events must be kept at least {minimum_days()} days (and at most {MAX_RETENTION_DAYS})."
    return None


@audited("organization")
def set_retention(organization: Organization, *, actor: Any, days: int | None) -> None:
    """Keep ``organization``'s audit log forever (``days`` None) or ``days`` days (at least ``minimum_days()``).
    Raises ActionRefused (``retention_problem``) for a shorter or absurd period. The next hourly prune applies it."""
    problem = retention_problem(days)
    if problem is not None:
        raise ActionRefused(problem, code="retention_too_short")
    chain = _lock_chain(organization)
    old = chain.retention_days
    if old == days:
        return
    AuditChain.objects.filter(pk=chain.pk).update(retention_days=days)
    audit.record(
        "audit.retention_changed",
        organization=organization,
        actor=actor,
        changes={"retention_days": [old, days]},
        details={"retention": "forever" if days is None else f"{days} days"},
    )


def _lock_chain(organization: Organization) -> AuditChain:
    chain = AuditChain.objects.select_for_update().filter(organization=organization).first()
    if chain is None:
        AuditChain.objects.create(scope=AuditChain.scope_for(organization), organization=organization)
        chain = AuditChain.objects.select_for_update().get(organization=organization)
    return chain


@audited("organization")
def prune_batch(
    organization: Organization,
    *,
    now: dt.datetime | None = None,
    batch_size: int = PRUNE_BATCH_SIZE,
    up_to_seq: int | None = None,
) -> int:
    """Prune at most ``batch_size`` events of ``organization`` (module docstring), none after ``up_to_seq`` when
    given; returns how many were deleted."""
    now = now or timezone.now()
    chain = AuditChain.objects.select_for_update().filter(organization=organization).first()
    if chain is None or chain.retention_days is None:
        return 0
    step = plan(organization, chain.retention_days, now)
    through = min(step.through_seq, chain.anchor_seq + batch_size)
    if up_to_seq is not None:
        through = min(through, up_to_seq)
    if through <= chain.anchor_seq:
        return 0
    last = AuditEvent.objects.filter(organization=organization, seq=through).values_list("hash", flat=True).first()
    if last is None:
        return 0  # a gap where the last pruned event should be: leave it for audit_verify to report
    AuditChain.objects.filter(pk=chain.pk).update(anchor_seq=through, anchor_hash=last)
    with connection.cursor() as cursor:
        # The append-only trigger allows this DELETE only because the anchor moved first (same transaction).
        cursor.execute(
            "DELETE FROM audit_auditevent WHERE organization_id = %s AND seq <= %s", [organization.pk, through]
        )
        deleted = cursor.rowcount
    audit.record(
        PRUNED_ACTION,  # audit.chain.verify_chain checks the anchor against these details
        organization=organization,
        actor=Actor.system("Audit retention"),
        details={
            "from_seq": chain.anchor_seq + 1,
            "through_seq": through,
            "deleted": deleted,
            "anchor_hash": last,
            "cutoff": step.cutoff.isoformat(timespec="seconds") if step.cutoff else "",
            "retention_days": chain.retention_days,
        },
    )
    return deleted


def prune_organization(
    organization: Organization, *, now: dt.datetime | None = None, batch_size: int = PRUNE_BATCH_SIZE
) -> int:
    """Prune ``organization`` batch by batch until nothing more is due; returns the number of events deleted. Events
    recorded meanwhile (its own ``audit.pruned`` ones included) wait for the next run."""
    head = AuditChain.objects.filter(organization=organization).values_list("last_seq", flat=True).first() or 0
    total = 0
    while True:
        deleted = prune_batch(organization, now=now, batch_size=batch_size, up_to_seq=head)
        if not deleted:
            return total
        total += deleted


def prune_all(*, now: dt.datetime | None = None) -> int:
    """Apply every organization's retention (the hourly job); returns the number of events deleted."""
    total = 0
    ids = AuditChain.objects.filter(retention_days__isnull=False, organization__isnull=False).values_list(
        "organization_id", flat=True
    )
    for organization in Organization.objects.filter(pk__in=list(ids)).order_by("pk"):
        total += prune_organization(organization, now=now)
    return total
