"""Sign-in plumbing: sign-in and sign-out with their audit events, and the audit of what a person's sign-in
does in each of their organizations. Brute-force limits on every form that checks a password or recovery code
live in ``orgsecurity.throttle``.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth import login, logout
from django.http import HttpRequest

import audit
from audit.locking import audited
from audit.recorder import record_throttled
from orgsecurity import signin_state
from orgsecurity.models import Organization, User
from sessions_policy.actions import start_session
from sessions_policy.reauth import mark_reauthenticated


def _orgs_of(user: User | None) -> list[Organization]:
    if user is None:
        return []
    return list(
        Organization.objects.filter(memberships__user=user, memberships__suspended_at__isnull=True).order_by("pk")
    )


def record_for_user_orgs(
    action: str,
    user: User | None,
    *,
    actor: Any,
    details: dict[str, Any],
    throttle_key: str | None = None,
    window_seconds: int = 60,
) -> None:
    """Record ``action`` in the log of every organization ``user`` belongs to, or in the platform log
    when there is none (e.g. an unknown email), in one ``@audited`` transaction (its own when none is open).

    With ``throttle_key``, at most one event per organization per ``window_seconds`` (``record_throttled``;
    the next one carries how many were suppressed): for what an attacker can repeat at will."""
    _record_in(
        _orgs_of(user),  # read once: the lock scope and the logs written are the same rows
        action,
        user,
        actor=actor,
        details=details,
        throttle_key=throttle_key,
        window_seconds=window_seconds,
    )


@audited("organizations")
def _record_in(
    organizations: list[Organization],
    action: str,
    user: User | None,
    *,
    actor: Any,
    details: dict[str, Any],
    throttle_key: str | None,
    window_seconds: int,
) -> None:
    for organization in organizations or [None]:
        if throttle_key is None:
            audit.record(action, organization=organization, actor=actor, target=user, details=details)
            continue
        record_throttled(
            action,
            throttle_key=f"{organization.pk if organization else '-'}:{throttle_key}",
            window_seconds=window_seconds,
            organization=organization,
            actor=actor,
            target=user,
            details=details,
        )


# A session that proved the account's own password (password or recovery sign-in, or password re-entry) may open the
# person's organizations that do not enforce SSO; one that only came through an organization's IdP opens that
# organization's pages only (sso.rollout.enforcement), so one organization's IdP cannot act in the person's other ones.
PASSWORD_METHODS = frozenset({signin_state.METHOD_PASSWORD, signin_state.METHOD_RECOVERY})


def sign_in(
    request: HttpRequest,
    user: User,
    *,
    method: str,
    backend: str | None = None,
    organization: Organization | None = None,
) -> None:
    """Log ``user`` in (the session key cycles), track the session (``sessions_policy.UserSession``; the
    optional ``organization`` is the one whose IdP signed them in) and record ``auth.signed_in`` with
    ``method`` (password, saml, oidc or recovery) in each of their organizations."""
    previous_session_key = request.session.session_key
    login(request, user, backend=backend or "django.contrib.auth.backends.ModelBackend")
    if request.session.session_key == previous_session_key:
        request.session.cycle_key()  # login() keeps the key when the same person signs in again; we never do
    # The normal lifetime (SESSION_COOKIE_AGE), also when the anonymous session before had a short one (an SSO start
    # gives it only the pending login's: sso.signin.flow.begin); the key cycled above keeps the old session's data.
    request.session.set_expiry(None)
    signin_state.set_auth_method(request, method)
    if method in PASSWORD_METHODS:
        signin_state.mark_password_proven(request)
    mark_reauthenticated(request)
    start_session(request, user, method=method, organization=organization, replacing=previous_session_key)
    record_for_user_orgs("auth.signed_in", user, actor=user, details={"method": method})


def sign_out(request: HttpRequest) -> None:
    """Record ``auth.signed_out`` for the current user, then end the session."""
    user = request.user if request.user.is_authenticated else None
    if user is not None:
        record_for_user_orgs("auth.signed_out", user, actor=user, details={"method": signin_state.auth_method(request)})
    logout(request)
