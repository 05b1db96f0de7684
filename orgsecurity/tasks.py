"""The core's periodic jobs (``orgsecurity.jobs``): purges of rows that can no longer be used.

- ``orgsecurity.purge_expired``: expired Django sessions, invitations that expired or were revoked more than
  ``INVITATIONS_KEPT`` ago and were never accepted (the audit log keeps their story), and job failures older than
  ``orgsecurity.jobs.FAILURES_KEPT``.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.contrib.sessions.models import Session
from django.db.models import Q

from orgsecurity.jobs import FAILURES_KEPT, crontab, periodic
from orgsecurity.models import Invitation, JobFailure

INVITATIONS_KEPT = timedelta(days=30)


def purge_expired_rows(now: datetime) -> dict[str, int]:
    """Delete what can no longer be used as of ``now`` (UTC); returns how many rows of each kind went. Idempotent."""
    sessions, _ = Session.objects.filter(expire_date__lt=now).delete()
    cutoff = now - INVITATIONS_KEPT
    invitations, _ = (
        Invitation.objects.filter(accepted_at=None).filter(Q(expires_at__lt=cutoff) | Q(revoked_at__lt=cutoff)).delete()
    )
    failures, _ = JobFailure.objects.filter(started_at__lt=now - FAILURES_KEPT).delete()
    return {"sessions": sessions, "invitations": invitations, "job_failures": failures}


@periodic("orgsecurity.purge_expired", crontab(minute="23"), every="hourly, at :23")
def purge_expired(now: datetime) -> str:
    """Delete expired sessions, long-expired unaccepted invitations and old job failures."""
    deleted = purge_expired_rows(now)
    return ", ".join(f"{count} {kind.replace('_', ' ')}" for kind, count in deleted.items()) + " deleted"
