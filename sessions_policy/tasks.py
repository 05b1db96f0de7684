"""Session policies' periodic jobs on the worker (``orgsecurity.jobs``).

- ``sessions_policy.purge_expired`` (every 10 minutes): stashed re-authentication POSTs (``SuspendedRequest``,
  encrypted form data) past their expiry.
"""

from __future__ import annotations

from datetime import datetime

from orgsecurity.jobs import crontab, periodic
from sessions_policy.models import SuspendedRequest


@periodic("sessions_policy.purge_expired", crontab(minute="*/10"), every="every 10 minutes")
def purge_expired(now: datetime) -> str:
    """Delete stashed re-authentication POSTs past their expiry."""
    deleted, _ = SuspendedRequest.objects.filter(expires_at__lte=now).delete()
    return f"{deleted} stashed requests deleted"
