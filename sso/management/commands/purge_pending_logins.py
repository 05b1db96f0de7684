"""purge_pending_logins: delete the SSO pending logins that can no longer be used (run it e.g. every few minutes)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from sso.signin.flow import purge_expired_pending_logins


class Command(BaseCommand):
    help = (
        "Delete SSO pending logins (sign-ins started at an IdP) that expired and can no longer be answered or "
        "finished. The worker does this every 5 minutes (sso.tasks); anonymous sessions they left expire with them "
        "(the worker's orgsecurity.purge_expired job deletes those)."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        deleted = purge_expired_pending_logins()
        self.stdout.write(f"Deleted {deleted} expired pending login{'' if deleted == 1 else 's'}.")
