"""Audit storage: append-only events in one hash chain per organization (plus one platform chain).

Each event's ``hash`` is SHA-256 over its canonical content, which includes ``prev_hash`` (the hash of
the event before it in the same chain) and ``seq`` (its position). Editing, deleting, inserting or
reordering rows therefore breaks the chain at a findable place (see ``audit.chain.verify_chain``).

The hash input is one canonical form of every value, so an event read back from PostgreSQL or SQLite hashes exactly
as it did when it was written (``canonical_content``): integers as JSON numbers; text as the exact code points stored
(neither database normalises Unicode, so none is applied: NFC-normalising here would change the hash of every stored
event with decomposed text); ``occurred_at`` in UTC, ISO 8601 with microseconds; ``changes``/``details`` as JSON
with sorted keys and compact separators (jsonb reorders keys, SQLite keeps them), their values already reduced to
what both databases store unchanged by ``audit.recorder.redact`` (strings, integers, booleans, null; floats,
decimals and datetimes as their text); the IP address as ``hashed_ip_text`` gives it, whatever text form the
database returns. Every one of these equals what version 1 hashed for every value that was hashed then, so no
stored event needs rewriting.

Retention (later): a pruned prefix is replaced by the chain's anchor — ``anchor_seq``/``anchor_hash``
on AuditChain, the position and hash of the last pruned event — so verification of what remains
starts from the anchor instead of the genesis hash.
"""

from __future__ import annotations

import hashlib
import ipaddress
import json
from datetime import UTC
from typing import Any

from django.db import models
from django.db.models import Q
from django.utils import timezone

from orgsecurity.models import Organization

GENESIS_HASH = "0" * 64
PLATFORM_SCOPE = "platform"
# The sign-in outcomes the security overview counts (orgsecurity.overview), covered by audit_org_signin_idx.
SIGN_IN_ACTIONS = ("auth.signed_in", "auth.sign_in_failed", "sso.sign_in_refused", "sso.password_sign_in_refused")


def hashed_ip_text(value: str | None) -> str | None:
    """The text of an IP address as the chain hashes it, whatever form a database gave back; None for no address.

    IPv4 is dotted decimal; IPv6 is RFC 5952 §4 text (lower-case hexadecimal, the longest run of two or more zero
    groups as ``::``, the first on a tie) and never §5's mixed notation, so ``::1.2.3.4`` (how PostgreSQL writes it)
    and ``::102:304`` (how Python wrote it when the event was hashed) are one text, as are ``::ffff:1.2.3.4`` and
    ``::ffff:102:304``. That is the text ``str(ipaddress.ip_address(...))`` gave on the Python every chain was
    written with, so every event hashed before keeps its hash; it is computed here rather than taken from ``str``,
    whose IPv4-mapped form changed in Python 3.13. Text that is not an address is returned unchanged.
    """
    if value is None or value == "":
        return None  # GenericIPAddressField stores "" as NULL
    try:
        address = ipaddress.ip_address(str(value).split("%", 1)[0])
    except ValueError:
        return value
    if address.version == 4:
        return str(address)
    number = int(address)
    groups = [(number >> (112 - 16 * index)) & 0xFFFF for index in range(8)]
    best_start, best_length, start = -1, 1, None
    for index, group in enumerate([*groups, 1]):  # the sentinel closes a trailing run of zeros
        if group == 0:
            start = index if start is None else start
        elif start is not None:
            if index - start > best_length:
                best_start, best_length = start, index - start
            start = None
    parts = [f"{group:x}" for group in groups]
    if best_start >= 0:
        parts[best_start : best_start + best_length] = [""]
        if best_start == 0:
            parts.insert(0, "")
        if best_start + best_length == len(groups):
            parts.append("")
    return ":".join(parts)


class AppendOnlyError(RuntimeError):
    """Raised on any attempt to change or delete a recorded audit event through the ORM."""


class AuditChain(models.Model):
    """The head of one hash chain: one row per organization and one for the platform.

    Writers lock this row (SELECT … FOR UPDATE) to append, so concurrent writers in one organization
    cannot fork the chain; the unique (organization, seq) constraint on events is the second guard.
    """

    scope = models.CharField(max_length=40, unique=True)
    organization = models.OneToOneField(
        Organization, null=True, blank=True, on_delete=models.PROTECT, related_name="audit_chain"
    )
    last_seq = models.BigIntegerField(default=0)
    last_hash = models.CharField(max_length=64, default=GENESIS_HASH)
    anchor_seq = models.BigIntegerField(default=0)
    anchor_hash = models.CharField(max_length=64, default=GENESIS_HASH)

    def __str__(self) -> str:
        return self.scope

    @staticmethod
    def scope_for(organization: Organization | None) -> str:
        return f"org:{organization.pk}" if organization is not None else PLATFORM_SCOPE


class AuditEventQuerySet(models.QuerySet):
    def update(self, **kwargs: Any) -> int:
        raise AppendOnlyError("Audit events are append-only: they cannot be updated.")

    def delete(self) -> tuple[int, dict[str, int]]:
        raise AppendOnlyError("Audit events are append-only: they cannot be deleted.")

    def for_organization(self, organization: Organization) -> AuditEventQuerySet:
        return self.filter(organization=organization)


class ActorType(models.TextChoices):
    USER = "user", "User"
    API_KEY = "api_key", "API key"
    SYSTEM = "system", "System"
    SUPPORT = "support", "Platform support"
    SCIM_TOKEN = "scim_token", "SCIM token"


class AuditEvent(models.Model):
    """One recorded action. Never updated or deleted (ORM guards here, a trigger on PostgreSQL).

    ``actor_*`` and ``target_*`` are snapshots (type, id, label) rather than foreign keys, so an event
    still says who did what to whom after that user, key or object is deleted. ``changes`` maps a field
    name to ``[old, new]``; ``details`` holds context that is not a field change (sign-in method, filter
    of an export). Secrets are redacted before either is stored.
    """

    organization = models.ForeignKey(
        Organization, null=True, blank=True, on_delete=models.PROTECT, related_name="audit_events"
    )
    seq = models.BigIntegerField()
    occurred_at = models.DateTimeField(default=timezone.now)
    actor_type = models.CharField(max_length=10, choices=ActorType.choices)
    actor_id = models.CharField(max_length=64, blank=True)
    actor_label = models.CharField(max_length=255, blank=True)
    action = models.CharField(max_length=100)
    category = models.CharField(max_length=20)
    target_type = models.CharField(max_length=100, blank=True)
    target_id = models.CharField(max_length=64, blank=True)
    target_label = models.CharField(max_length=255, blank=True)
    changes = models.JSONField(default=dict, blank=True)
    details = models.JSONField(default=dict, blank=True)
    ip = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.CharField(max_length=512, blank=True)
    request_id = models.CharField(max_length=64, blank=True)
    prev_hash = models.CharField(max_length=64)
    hash = models.CharField(max_length=64)
    # What the viewer's search reads (audit.search.search_text), written once with the event. Not hashed: it is
    # derived from hashed fields, so it adds nothing to prove and can be rebuilt (migration 0004 filled older rows).
    search_text = models.TextField(blank=True, default="", db_default="")

    objects = AuditEventQuerySet.as_manager()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "seq"],
                condition=Q(organization__isnull=False),
                name="audit_org_seq_unique",
            ),
            models.UniqueConstraint(
                fields=["seq"], condition=Q(organization__isnull=True), name="audit_platform_seq_unique"
            ),
        ]
        # The viewer reads newest first by (occurred_at, seq) with keyset pagination; each index below
        # turns one filter (plus the date range and the cursor) into a single index range scan, so a page
        # costs the same at any depth and log size. Other filter combinations scan the most selective one.
        indexes = [
            models.Index(fields=["organization", "occurred_at", "seq"], name="audit_org_time_seq_idx"),
            models.Index(fields=["organization", "actor_label", "occurred_at", "seq"], name="audit_org_actor_idx"),
            models.Index(fields=["organization", "action", "occurred_at", "seq"], name="audit_org_action_idx"),
            models.Index(fields=["organization", "category", "occurred_at", "seq"], name="audit_org_category_idx"),
            models.Index(
                fields=["organization", "actor_label", "action", "occurred_at", "seq"],
                name="audit_org_actor_action_idx",
            ),
            # The support console finds the events of one request by its ID (the reference people quote).
            models.Index(fields=["request_id"], name="audit_request_id_idx", condition=~Q(request_id="")),
            # Target filters match the start of the label (LIKE 'x%'): pattern ops make that an index range
            # on PostgreSQL whatever the database collation (ignored on SQLite).
            models.Index(
                fields=["organization", "target_label", "occurred_at"],
                name="audit_org_target_idx",
                opclasses=["int8_ops", "varchar_pattern_ops", "timestamptz_ops"],
            ),
            # The security overview's sign-ins of the last 30 days: a partial index holding every column its two
            # aggregates read, so PostgreSQL answers them with an index-only scan of that month (the table's
            # pages are not read). Covering indexes are PostgreSQL's; SQLite creates none and scans
            # audit_org_action_idx instead.
            models.Index(
                fields=["organization", "occurred_at"],
                include=["action", "actor_type", "actor_id", "details"],
                condition=Q(action__in=SIGN_IN_ACTIONS),
                name="audit_org_signin_idx",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.action} #{self.seq}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if not self._state.adding:
            raise AppendOnlyError("Audit events are append-only: they cannot be updated.")
        kwargs["force_insert"] = True
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> Any:
        raise AppendOnlyError("Audit events are append-only: they cannot be deleted.")

    # --- hash chain ---------------------------------------------------------------------------------
    def canonical_content(self) -> bytes:
        """The bytes the hash covers: sorted-key compact UTF-8 JSON of every recorded field, prev_hash included, each
        value in the canonical form described in this module's docstring (the same bytes for the event as written
        and as read back from PostgreSQL or SQLite)."""
        content = {
            "v": 1,
            "organization": self.organization_id,
            "seq": self.seq,
            "occurred_at": self.occurred_at.astimezone(UTC).isoformat(timespec="microseconds"),
            "actor": [self.actor_type, self.actor_id, self.actor_label],
            "action": self.action,
            "category": self.category,
            "target": [self.target_type, self.target_id, self.target_label],
            "changes": self.changes,
            "details": self.details,
            "ip": hashed_ip_text(self.ip),
            "user_agent": self.user_agent,
            "request_id": self.request_id,
            "prev_hash": self.prev_hash,
        }
        return json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()

    def compute_hash(self) -> str:
        return hashlib.sha256(self.canonical_content()).hexdigest()

    # --- presentation -------------------------------------------------------------------------------
    @property
    def sentence(self) -> str:
        """The human sentence for this event, from the registry (or the raw name if unregistered)."""
        from audit import events

        return events.sentence_for(
            self.action, actor=self.actor_label, target=self.target_label, changes=self.changes, details=self.details
        )
