"""Where members were recently seen from: the addresses of their tracked sessions (``sessions_policy.UserSession``:
sign-in IP and last seen IP) of the last ``SESSION_LOOKBACK``.

One computation for both readers of "who would be outside": ``allowlist.preview`` (members a change would cut off)
and ``allowlist.actions`` (the guard that refuses a change leaving no owner with a recent address inside the list).
A member not seen within the lookback has no entry: where they connect from is unknown.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from datetime import datetime, timedelta

from django.utils import timezone

from sessions_policy.models import UserSession

SESSION_LOOKBACK = timedelta(days=30)


def recent_addresses(user_ids: Iterable[int], *, now: datetime | None = None) -> dict[int, set[str]]:
    """The addresses (IPv4/IPv6 text) each of ``user_ids`` was seen from in sessions last seen within
    ``SESSION_LOOKBACK`` of ``now`` (default: the current time), by user id; users not seen have no key. One query."""
    since = (now or timezone.now()) - SESSION_LOOKBACK
    sessions = UserSession.objects.filter(user_id__in=list(user_ids), last_seen_at__gte=since).order_by("pk")
    seen: dict[int, set[str]] = defaultdict(set)
    for session in sessions.only("user_id", "ip", "last_ip"):
        addresses = {session.ip, session.last_ip} - {None, ""}
        if addresses:
            seen[session.user_id].update(addresses)
    return dict(seen)
