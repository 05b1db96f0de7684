"""One-line status of the two-factor theme for the organization dashboard."""

from orgsecurity.accessors import OrgContext
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
