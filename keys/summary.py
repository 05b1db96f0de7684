"""One-line status of this security theme for the organization dashboard."""

from django.db.models import Count, Q
from django.utils import timezone

from keys.models import APIKey, KeyPolicy
from orgsecurity.accessors import OrgContext


def status(org: OrgContext) -> str:
    """What the dashboard says about API keys for ``org``, e.g. "3 active keys · 1 flagged for review · expiry
    required (max 90 days)". One query for the counts, one for the policy."""
    now = timezone.now()
    live = Q(revoked_at=None) & (Q(expires_at=None) | Q(expires_at__gt=now))
    counts = APIKey.objects.filter(organization=org.organization).aggregate(
        active=Count("pk", filter=live), flagged=Count("pk", filter=live & Q(flagged_at__isnull=False))
    )
    policy = KeyPolicy.for_organization(org.organization)
    parts = [
        f"{counts['active']} active key{'' if counts['active'] == 1 else 's'}" if counts["active"] else "No active keys"
    ]
    if counts["flagged"]:
        parts.append(f"{counts['flagged']} flagged for review")
    if policy.max_lifetime_days:
        parts.append(f"expiry required (max {policy.max_lifetime_days} days)")
    elif policy.require_expiry:
        parts.append("expiry required")
    if not policy.allow_unrestricted:
        parts.append("restrictions required")
    return " · ".join(parts)
