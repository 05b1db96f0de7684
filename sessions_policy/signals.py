"""Signal receivers: every Django logout ends the tracked session, whichever code path logged out."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.signals import user_logged_out
from django.dispatch import receiver
from django.http import HttpRequest

from sessions_policy.actions import mark_signed_out


@receiver(user_logged_out, dispatch_uid="sessions_policy_end_tracked_session")
def _end_tracked_session(sender: Any, request: HttpRequest | None, **_: Any) -> None:
    if request is not None and hasattr(request, "session"):
        mark_signed_out(request.session.session_key)
