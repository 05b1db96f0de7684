"""The keys app's periodic jobs on the worker (``orgsecurity.jobs``; the emails are ``keys.notices``).

- ``keys.expiry_notices`` (hourly): keys expiring within 7 days are announced to their owner, once per expiry date.
- ``keys.stale_digest`` (hourly on Mondays, UTC; each owner once a week): the stale-credentials report to each owner
  who opted in. Hourly, so an hour the consumer's scheduler misses is made up by the next.
"""

from __future__ import annotations

from datetime import datetime

from keys.notices import send_expiry_notices, send_stale_digests
from orgsecurity.jobs import crontab, periodic


@periodic("keys.expiry_notices", crontab(minute="17"), every="hourly, at :17")
def expiry_notices(now: datetime) -> str:
    """Email the owner of each API key expiring within 7 days (once per expiry date)."""
    return f"{send_expiry_notices(now)} keys announced"


@periodic("keys.stale_digest", crontab(minute="3", day_of_week="1"), every="Mondays, hourly at :03; once a week each")
def stale_digest(now: datetime) -> str:
    """Email the weekly stale-credentials digest to each owner who opted in."""
    return f"{send_stale_digests(now)} digests sent"
