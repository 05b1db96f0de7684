"""Action functions of audit streaming: the only code that creates, removes, pauses and resumes destinations.

Each runs under ``@audited`` (the organization locked first, one transaction with its audit event). Delivery
progress (cursor, failures) is written by ``audit_stream.delivery`` and not audited: auditing every delivered
batch would feed the stream with its own events.
"""

from __future__ import annotations

import base64
import datetime as dt
import secrets
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

import audit
from audit.locking import audited
from audit.recorder import Actor, Target
from audit_stream import ssrf
from audit_stream.models import Destination, Kind, Status
from audit_stream.senders import DeliveryFailed, OutgoingEvent, open_sender, tls_context
from orgsecurity.actions import ActionRefused, require_plain_text
from orgsecurity.models import Membership, Organization
from orgsecurity.roles import Role

MAX_DESTINATIONS_PER_ORG = 10
MIN_BATCH_SIZE, MAX_BATCH_SIZE = 1, 5000


def new_webhook_secret() -> str:
    """A Standard Webhooks signing secret: ``whsec_`` and 32 random bytes in base64 (the spec's 24 to 64 bytes)."""
    return "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()


def _target(destination: Destination) -> Target:
    return Target("audit_stream.destination", str(destination.pk), destination.label)


@dataclass(frozen=True)
class Created:
    """A new destination and, for a webhook, its signing secret (to show once; it is stored encrypted)."""

    destination: Destination
    signing_secret: str


@audited("organization")
def create_destination(
    organization: Organization,
    *,
    actor: Any,
    kind: str,
    url: str,
    name: str = "",
    token: str = "",
    ca_pem: str = "",
    batch_size: int | None = None,
) -> Created:
    """Add a destination of ``kind`` (webhook, hec, syslog) at ``url`` for ``organization``.

    A webhook gets a new ``whsec_`` secret (returned once); HEC needs ``token``; ``ca_pem`` (PEM) replaces the
    system roots for this destination. Delivery starts from the first event of the chain still stored. Raises
    ActionRefused for an unknown kind, a refused URL (``ssrf.check_target``: literal addresses only; names are
    resolved and checked at each connection), a missing token, a CA that is not PEM, a batch size outside
    1 to 5000, or more than ``MAX_DESTINATIONS_PER_ORG``."""
    if kind not in Kind.values:
        raise ActionRefused(f"Unknown destination kind {kind!r}: use webhook, hec or syslog.", code="bad_kind")
    require_plain_text(name, what="The destination name")
    try:
        ssrf.check_target(url, kind)
    except ssrf.TargetRefused as exc:
        raise ActionRefused(exc.message, code="target_refused") from None
    if kind == Kind.HEC and not token.strip():
        raise ActionRefused("A Splunk HEC destination needs its token.", code="token_missing")
    if ca_pem.strip():
        try:
            tls_context(ca_pem)
        except DeliveryFailed as exc:
            raise ActionRefused(exc.message, code="bad_ca") from None
    size = batch_size if batch_size is not None else getattr(settings, "AUDIT_STREAM_BATCH_SIZE", 100)
    if not MIN_BATCH_SIZE <= size <= MAX_BATCH_SIZE:
        raise ActionRefused(f"The batch size must be between {MIN_BATCH_SIZE} and {MAX_BATCH_SIZE}.", code="batch")
    if Destination.objects.filter(organization=organization).count() >= MAX_DESTINATIONS_PER_ORG:
        raise ActionRefused(
            f"An organization has at most {MAX_DESTINATIONS_PER_ORG} audit stream destinations.", code="too_many"
        )
    from audit.models import AuditChain

    anchor = AuditChain.objects.filter(organization=organization).values_list("anchor_seq", flat=True).first() or 0
    destination = Destination(
        organization=organization,
        kind=kind,
        name=name.strip(),
        url=url.strip() if "://" in url or kind != Kind.SYSLOG else f"tls://{url.strip()}",
        ca_pem=ca_pem.strip(),
        batch_size=size,
        cursor_seq=anchor,
    )
    secret = new_webhook_secret() if kind == Kind.WEBHOOK else ""
    destination.set_secret(secret or token.strip())
    destination.save()
    audit.record(
        "audit_stream.destination_added",
        organization=organization,
        actor=actor,
        target=_target(destination),
        details={"kind": kind, "url": destination.url, "batch_size": size, "custom_ca": bool(destination.ca_pem)},
    )
    return Created(destination, secret)


@audited("destination.organization")
def remove_destination(destination: Destination, *, actor: Any) -> None:
    """Delete ``destination`` (its cursor and hourly counts go with it); nothing more is sent to it."""
    target = _target(destination)
    organization = destination.organization
    Destination.objects.filter(pk=destination.pk).delete()
    audit.record(
        "audit_stream.destination_removed",
        organization=organization,
        actor=actor,
        target=target,
        details={"kind": destination.kind, "url": destination.url, "delivered_through": destination.cursor_seq},
    )


@audited("destination.organization")
def resume_destination(destination: Destination, *, actor: Any) -> None:
    """Resume a paused destination: delivery continues from its cursor at once (nothing was skipped)."""
    locked = Destination.objects.select_for_update().get(pk=destination.pk)
    if locked.status != Status.PAUSED:
        raise ActionRefused("This destination is not paused.", code="not_paused", status=409)
    Destination.objects.filter(pk=locked.pk).update(
        status=Status.ACTIVE, consecutive_failures=0, failing_since=None, next_attempt_at=None
    )
    audit.record(
        "audit_stream.destination_resumed",
        organization=destination.organization,
        actor=actor,
        target=_target(locked),
        details={"from_sequence": locked.cursor_seq + 1},
    )


def pause_failing(destination_id: int, *, now: dt.datetime | None = None) -> bool:
    """Pause a destination that has been failing for ``delivery.PAUSE_AFTER``, record it and email the owners.
    Returns False when it was gone, already paused, or recovered meanwhile."""
    organization = Organization.objects.filter(audit_destinations__pk=destination_id).first()
    if organization is None:
        return False
    return _pause(organization, destination_id, now or timezone.now())


@audited("organization")
def _pause(organization: Organization, destination_id: int, now: dt.datetime) -> bool:
    destination = Destination.objects.select_for_update().filter(pk=destination_id).first()
    if destination is None or destination.status != Status.ACTIVE or destination.failing_since is None:
        return False
    Destination.objects.filter(pk=destination.pk).update(status=Status.PAUSED)
    failing_since = destination.failing_since.isoformat(timespec="seconds")
    audit.record(
        "audit_stream.destination_paused",
        organization=organization,
        actor=Actor.system("Audit streaming"),
        target=_target(destination),
        details={
            "failing_since": failing_since,
            "last_error": destination.last_error,
            "delivered_through": destination.cursor_seq,
        },
    )
    owners = list(
        Membership.objects.active()
        .filter(organization=organization, role=Role.OWNER)
        .order_by("user__email")
        .values_list("user__email", flat=True)
    )
    url = settings.PUBLIC_BASE_URL + reverse("audit_stream:streaming", args=[organization.slug])
    message = (
        f"Audit streaming of {organization.name} to {destination.label} has failed since {failing_since} (UTC) "
        f"and is now paused.\n\nLast error: {destination.last_error}\n\n"
        f"Events up to #{destination.cursor_seq} were delivered; nothing after it is lost. Fix the receiver, then "
        f"resume the destination at {url}: delivery continues from #{destination.cursor_seq + 1}.\n"
    )
    if owners:
        transaction.on_commit(
            lambda: send_mail(
                subject=f"Audit streaming of {organization.name} is paused",
                message=message,
                from_email=None,
                recipient_list=owners,
            )
        )
    return True


def send_test_event(destination: Destination, *, actor: Any) -> tuple[bool, str]:
    """Send one test event (``action`` ``audit_stream.test``, ``sequence`` 0) to ``destination`` outside the
    stream (its cursor does not move) and record that it was sent. Returns (accepted, the receiver's answer or the
    error); the network exchange runs before the audited transaction, never inside it."""
    now = timezone.now()
    event = {
        "id": f"test_{secrets.token_hex(8)}",
        "sequence": 0,
        "organization": destination.organization.slug,
        "action": "audit_stream.test",
        "category": "audit",
        "occurred_at": now.isoformat(timespec="microseconds"),
        "actor": {"type": "user", "id": str(getattr(actor, "pk", "")), "label": getattr(actor, "email", "")},
        "target": {"type": "audit_stream.destination", "id": str(destination.pk), "label": destination.label},
        "changes": {},
        "details": {"test": True},
        "ip": None,
        "user_agent": "",
        "request_id": "",
        "prev_hash": "",
        "chain_hash": "",
    }
    try:
        sender = open_sender(destination)
        try:
            answer = sender.send([OutgoingEvent.from_object(event)]).summary
        finally:
            sender.close()
        accepted = True
    except DeliveryFailed as exc:
        accepted, answer = False, exc.message
    _record_test(destination, actor=actor, accepted=accepted, answer=answer)
    return accepted, answer


@audited("destination.organization")
def _record_test(destination: Destination, *, actor: Any, accepted: bool, answer: str) -> None:
    audit.record(
        "audit_stream.test_sent",
        organization=destination.organization,
        actor=actor,
        target=_target(destination),
        details={"accepted": accepted, "answer": answer[:300]},
    )
