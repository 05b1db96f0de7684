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
from orgsecurity.actions import ActionRefused, actor_role, require_plain_text
from orgsecurity.actors import ProgramActor
from orgsecurity.models import Membership, Organization, User
from orgsecurity.roles import Capability, Role, has_capability

MAX_DESTINATIONS_PER_ORG = 10
MIN_BATCH_SIZE, MAX_BATCH_SIZE = 1, 5000


def new_webhook_secret() -> str:
    """A Standard Webhooks signing secret: ``whsec_`` and 32 random bytes in base64 (the spec's 24 to 64 bytes)."""
    return "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()


def require_log_manager(organization: Organization, actor: Any) -> None:
    """Where the audit log streams to is for owners (``Capability.MANAGE_AUDIT_LOG``, as on the streaming page): a
    person or an admin API key (``ProgramActor``, e.g. a service account's key, which acts as an admin) with
    another role, or a program, is refused (``ActionRefused``, 403 ``role_not_allowed``). The system (the
    ``audit_stream`` command, the pause job) may."""
    if not isinstance(actor, (User, ProgramActor)):
        return
    if not has_capability(actor_role(organization, actor), Capability.MANAGE_AUDIT_LOG):
        raise ActionRefused("Only owners manage where the audit log is streamed.", code="role_not_allowed", status=403)


def _target(destination: Destination) -> Target:
    return Target("audit_stream.destination", str(destination.pk), destination.label)


@dataclass(frozen=True)
class Created:
    """A new destination and, for a webhook, its signing secret (to show once; it is stored encrypted)."""

    destination: Destination
    signing_secret: str


def _check_settings(kind: str, *, url: str, name: str, ca_pem: str, batch_size: int) -> None:
    # The checks a destination's settings pass when added or changed (ActionRefused with the page's codes).
    require_plain_text(name, what="The destination name")
    if len(name.strip()) > 100:
        raise ActionRefused("Destination names are at most 100 characters.", code="bad_name")
    if len(url.strip()) > 490:
        raise ActionRefused("A destination URL is at most 490 characters.", code="target_refused")
    try:
        ssrf.check_target(url, kind)
    except ssrf.TargetRefused as exc:
        raise ActionRefused(exc.message, code="target_refused") from None
    if ca_pem.strip():
        try:
            tls_context(ca_pem)
        except DeliveryFailed as exc:
            raise ActionRefused(exc.message, code="bad_ca") from None
    if not MIN_BATCH_SIZE <= batch_size <= MAX_BATCH_SIZE:
        raise ActionRefused(f"The batch size must be between {MIN_BATCH_SIZE} and {MAX_BATCH_SIZE}.", code="batch")


def _stored_url(url: str, kind: str) -> str:
    return url.strip() if "://" in url or kind != Kind.SYSLOG else f"tls://{url.strip()}"


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
    require_log_manager(organization, actor)
    if kind not in Kind.values:
        raise ActionRefused(f"Unknown destination kind {kind!r}: use webhook, hec or syslog.", code="bad_kind")
    if kind == Kind.HEC and not token.strip():
        raise ActionRefused("A Splunk HEC destination needs its token.", code="token_missing")
    size = batch_size if batch_size is not None else getattr(settings, "AUDIT_STREAM_BATCH_SIZE", 100)
    _check_settings(kind, url=url, name=name, ca_pem=ca_pem, batch_size=size)
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
        url=_stored_url(url, kind),
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
    """Delete ``destination`` (its cursor and hourly counts go with it); nothing more is sent to it. Owners only
    (``require_log_manager``)."""
    require_log_manager(destination.organization, actor)
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
    """Resume a paused destination: delivery continues from its cursor at once (nothing was skipped). Owners only
    (``require_log_manager``); 409 ``not_paused`` otherwise."""
    require_log_manager(destination.organization, actor)
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


@audited("destination.organization")
def update_destination(
    destination: Destination,
    *,
    actor: Any,
    name: str | None = None,
    url: str | None = None,
    token: str | None = None,
    ca_pem: str | None = None,
    batch_size: int | None = None,
) -> Destination:
    """Change a destination's settings (each None keeps its value): its name, URL (checked as when added:
    ``ssrf.check_target``), HEC token (HEC only; the webhook's ``whsec_`` secret is never changed here), CA
    (empty: system roots) and batch size. Delivery continues from the cursor (nothing is skipped or sent twice).
    Owners only (``require_log_manager``); ActionRefused with ``create_destination``'s codes, or ``bad_token`` for
    a token on a destination that is not HEC. Returns the saved destination."""
    require_log_manager(destination.organization, actor)
    locked = Destination.objects.select_for_update(of=("self",)).get(pk=destination.pk)
    wanted = {
        "name": locked.name if name is None else name.strip(),
        "url": locked.url if url is None else _stored_url(url, locked.kind),
        "ca_pem": locked.ca_pem if ca_pem is None else ca_pem.strip(),
        "batch_size": locked.batch_size if batch_size is None else batch_size,
    }
    _check_settings(locked.kind, **wanted)
    if token is not None and (locked.kind != Kind.HEC or not token.strip()):
        raise ActionRefused("Only a Splunk HEC destination has a token, and it cannot be empty.", code="bad_token")
    changes = {
        field: [getattr(locked, field), value]
        for field, value in wanted.items()
        if field != "ca_pem" and getattr(locked, field) != value
    }
    ca_changed = locked.ca_pem != wanted["ca_pem"]
    for field, value in wanted.items():
        setattr(locked, field, value)
    if token is not None:
        locked.set_secret(token.strip())
    if not changes and not ca_changed and token is None:
        return locked
    locked.save(update_fields=["name", "url", "ca_pem", "batch_size", "secret_encrypted"])
    audit.record(
        "audit_stream.destination_changed",
        organization=locked.organization,
        actor=actor,
        target=_target(locked),
        changes=changes or None,
        details={"ca_changed": ca_changed, "custom_ca": bool(wanted["ca_pem"]), "hec_rotated": token is not None},
    )
    return locked


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
    error); the network exchange runs before the audited transaction, never inside it. Owners only
    (``require_log_manager``, checked before anything is sent)."""
    require_log_manager(destination.organization, actor)
    now = timezone.now()
    event = {
        "id": f"test_{secrets.token_hex(8)}",
        "sequence": 0,
        "organization": destination.organization.slug,
        "action": "audit_stream.test",
        "category": "audit",
        "occurred_at": now.isoformat(timespec="microseconds"),
        "actor": {
            "type": "user",
            "id": str(getattr(actor, "pk", "")),
            "label": getattr(actor, "email", "") or actor.label,
        },
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
