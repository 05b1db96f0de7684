"""The two-factor section of the support console (registered in ``twofactor.apps``): the organization's policy and
each member's status, read-only."""

from __future__ import annotations

from orgsecurity.models import Membership, Organization
from twofactor import factors
from twofactor.directory import label_expression

SHOWN_MEMBERS = 100


def settings_rows(organization: Organization) -> list[tuple[str, str]]:
    """The policy (required, grace period's end), then each member's second factor by email (at most
    ``SHOWN_MEMBERS``)."""
    policy = factors.policy_of(organization)
    if policy is None or not policy.required:
        rows = [("Two-factor authentication", "not required")]
    else:
        grace = f"grace period until {policy.grace_ends_at:%Y-%m-%d %H:%M} UTC" if policy.grace_ends_at else "no grace"
        rows = [("Two-factor authentication", f"required for password sign-ins ({grace})")]
    memberships = (
        # includes suspended: support staff see every membership row, read-only
        Membership.objects.filter(organization=organization)
        .select_related("user")
        .annotate(two_factor_label=label_expression())
        .order_by("user__email")[: SHOWN_MEMBERS + 1]
    )
    for membership in list(memberships)[:SHOWN_MEMBERS]:
        rows.append((membership.user.email, membership.two_factor_label))
    if len(memberships) > SHOWN_MEMBERS:
        rows.append(("…", f"only the first {SHOWN_MEMBERS} members are shown"))
    return rows
