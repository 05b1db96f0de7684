"""The stale-credentials report: live keys that deserve a second look after identity changes or disuse.

A key is listed (with every reason that applies) when it is not revoked and not expired and:

- ``owner_left``: its personal owner is no longer a member (normally impossible, since removal revokes their keys,
  so a row here means a membership disappeared some other way) or the owning account was deleted;
- ``owner_deactivated``: its personal owner's account is deactivated (the key is refused already; revoke it);
- ``holder_deactivated``: a service-account key whose current secret was shown to a now deactivated account;
- ``unused``: not used for 90 days; ``never_used``: never used at all;
- ``no_expiry``: it never expires;
- ``before_sso``: it was created before SSO enforcement started (the enforced connection's ``enforced_at``);
- ``flagged``: flagged for review (SSO enforcement started, or an SSO identity was unlinked).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.db.models import Exists, OuterRef, Q
from django.utils import timezone

from keys.models import APIKey
from orgsecurity.models import Membership, Organization
from sso.models import SSOConnection

UNUSED_AFTER = timedelta(days=90)

REASONS = {
    "owner_left": "Owner left the organization",
    "owner_deactivated": "Owner's account deactivated",
    "holder_deactivated": "Secret seen by a deactivated account",
    "unused": "Unused for 90 days",
    "never_used": "Never used",
    "no_expiry": "No expiry",
    "before_sso": "Created before SSO enforcement",
    "flagged": "Flagged for review",
}


@dataclass
class StaleKey:
    """One listed key and why: ``reasons`` are codes of REASONS; ``notes`` the matching sentences."""

    key: APIKey
    reasons: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


@dataclass
class StaleReport:
    rows: list[StaleKey]
    sso_enforced_at: datetime | None
    sso_note: str
    generated_at: datetime

    def count(self, reason: str) -> int:
        return sum(reason in row.reasons for row in self.rows)


def sso_enforced_since(organization: Organization) -> tuple[datetime | None, str]:
    """When SSO enforcement (the current one) started, and a sentence for the report; ``(None, why)`` when SSO is
    not enforced."""
    started = (
        SSOConnection.objects.filter(organization=organization, status=SSOConnection.Status.ENFORCED)
        .exclude(enforced_at=None)
        .order_by("enforced_at")
        .values_list("enforced_at", flat=True)
        .first()
    )
    if started is None:
        return None, "SSO is not enforced, so no key predates enforcement."
    return started, f"SSO enforcement started {started:%Y-%m-%d %H:%M} UTC."


def stale_report(organization: Organization, *, now: datetime | None = None) -> StaleReport:
    """Every live key of ``organization`` with at least one reason, oldest first. Three queries."""
    now = now or timezone.now()
    enforced_at, sso_note = sso_enforced_since(organization)
    owner_is_member = Membership.objects.active().filter(organization=organization, user=OuterRef("owner_user"))
    keys = (
        APIKey.objects.filter(organization=organization, revoked_at=None)
        .filter(Q(expires_at__isnull=True) | Q(expires_at__gt=now))
        .select_related("owner_user", "owner_service_account", "secret_shown_to")
        .annotate(owner_is_member=Exists(owner_is_member))
        .order_by("created_at", "pk")
    )
    rows = []
    for key in keys:
        row = StaleKey(key)
        if key.owner_service_account_id is None and not key.owner_is_member:
            row.reasons.append("owner_left")
            row.notes.append(f"{key.owner_label} is no longer a member.")
        if key.owner_user is not None and not key.owner_user.is_active:
            row.reasons.append("owner_deactivated")
            row.notes.append(f"{key.owner_label}'s account is deactivated; the key is refused. Revoke it.")
        holder = key.secret_shown_to
        if key.owner_service_account_id is not None and holder is not None and not holder.is_active:
            row.reasons.append("holder_deactivated")
            row.notes.append(f"{holder.email}, who saw its secret, is deactivated: rotate it.")
        if key.last_used_at is None:
            row.reasons.append("never_used")
            row.notes.append(f"Never used since it was created on {key.created_at:%Y-%m-%d}.")
        elif now - key.last_used_at >= UNUSED_AFTER:
            row.reasons.append("unused")
            row.notes.append(f"Last used {key.last_used_at:%Y-%m-%d}.")
        if key.expires_at is None:
            row.reasons.append("no_expiry")
            row.notes.append("Never expires.")
        if enforced_at is not None and key.created_at < enforced_at:
            row.reasons.append("before_sso")
            row.notes.append(f"Created {key.created_at:%Y-%m-%d}, before SSO enforcement.")
        if key.flagged_at is not None:
            row.reasons.append("flagged")
            row.notes.append(f"Flagged {key.flagged_at:%Y-%m-%d}: {key.flagged_reason}")
        if row.reasons:
            rows.append(row)
    return StaleReport(rows=rows, sso_enforced_at=enforced_at, sso_note=sso_note, generated_at=now)
