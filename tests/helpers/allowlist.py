"""Allowlist test helpers: the office and home addresses used in tests and ``enable`` for an organization's list."""

from __future__ import annotations

from allowlist import actions
from orgsecurity.models import Organization, User

OFFICE = "198.51.100.0/24"


OFFICE_IP = "198.51.100.7"


HOME_IP = "203.0.113.9"


def enable(org: Organization, owner: User, *entries: str, scope: str = "dashboard") -> None:
    """Put ``entries`` on the list of ``org`` and turn it on for ``scope`` (as ``owner`` from inside the list)."""
    if entries:
        actions.add_entries(org, "\n".join(entries), actor=owner)
    inside = entries[0].split("/")[0] if entries else None
    actions.update_settings(org, actor=owner, actor_ip=inside, enabled=True, scope=scope)


def seen_from(user: User, ip: str, *, days_ago: float = 1) -> None:
    """Record a tracked session of ``user`` signed in and last seen from ``ip``, ``days_ago`` days ago (where the
    allowlist's previews and its owners guard look for the addresses people connect from)."""
    from datetime import timedelta

    from django.utils import timezone

    from sessions_policy.models import UserSession

    when = timezone.now() - timedelta(days=days_ago)
    UserSession.objects.create(
        user=user,
        session_key=f"seen-{user.pk}-{ip}-{days_ago}-{UserSession.objects.count()}",
        auth_method="password",
        authenticated_at=when,
        last_seen_at=when,
        ip=ip,
        last_ip=ip,
    )
