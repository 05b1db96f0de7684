"""What the members page shows of each member's sign-in (``orgsecurity.directory``): the newest tracked session."""

from __future__ import annotations

from typing import Any

from django.db.models import OuterRef, Subquery

from orgsecurity.models import Organization
from sessions_policy.models import AuthMethod, UserSession

METHOD_LABELS = dict(AuthMethod.choices)


def member_annotations(organization: Organization) -> dict[str, Any]:
    """``last_signed_in_at`` and ``last_auth_method`` (an ``AuthMethod`` code) of each membership's person: their
    newest tracked session (``UserSession``, written by every ``orgsecurity.auth.sign_in``; the index
    ``usersession_user_active`` starts with the user), whichever organization it was for."""
    sessions = UserSession.objects.filter(user=OuterRef("user")).order_by("-authenticated_at")
    return {
        "last_signed_in_at": Subquery(sessions.values("authenticated_at")[:1]),
        "last_auth_method": Subquery(sessions.values("auth_method")[:1]),
    }
