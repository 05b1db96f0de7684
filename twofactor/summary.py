"""What other pages read about two-factor authentication: the dashboard's status line and the security overview's
pending state (members an enforced or coming requirement will stop)."""

import datetime as dt

from django.urls import reverse

from orgsecurity.accessors import OrgContext
from orgsecurity.overview import OverviewRow
from orgsecurity.roles import Capability
from sessions_policy import clock
from twofactor import factors


def status(org: OrgContext) -> str:
    """E.g. "Required for password sign-ins (grace period until 2026-12-14); 3 members without a factor"."""
    policy = factors.policy_of(org.organization)
    missing = len(factors.members_without_factor(org.organization))
    if policy is None or not policy.required:
        text = "Not required"
    elif policy.in_grace(clock.now()):
        text = f"Required for password sign-ins (grace period until {policy.grace_ends_at:%Y-%m-%d %H:%M} UTC)"
    else:
        text = "Required for password sign-ins"
    return f"{text}; {missing} member{'s' if missing != 1 else ''} without a factor"


def members_without_factor_row(org: OrgContext, now: dt.datetime) -> list[OverviewRow]:
    """The security overview's pending state while the organization requires two-factor authentication and some
    members have no factor yet: one warning row naming how many, and when the grace period ends (``now`` UTC)
    or that their pages are closed. No row when nothing is required or everyone has a factor."""
    policy = factors.policy_of(org.organization)
    if policy is None or not policy.required:
        return []
    missing = factors.members_without_factor(org.organization)
    if not missing:
        return []
    names = ", ".join(user.email for user in missing[:3]) + (
        f" and {len(missing) - 3} more" if len(missing) > 3 else ""
    )
    if policy.in_grace(now):
        value = f"{names}: the grace period ends {policy.grace_ends_at:%Y-%m-%d %H:%M} UTC"
    else:
        value = f"{names}: this organization's pages stay closed to them until they set one up"
    count = len(missing)
    return [
        OverviewRow(
            f"{count} member{'s' if count != 1 else ''} without a second factor",
            value,
            warning=True,
            url=reverse("twofactor_org:members", args=[org.organization.slug]) + "?status=none",
            opens_with=Capability.MANAGE_MEMBERS,
        )
    ]
