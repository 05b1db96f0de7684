"""Password sign-in plumbing: sign-in/out with audit events, and brute-force limits on top of django-axes.

Two limits apply to password sign-in:

1. per (email, client IP) pair: ``LOGIN_FAILURE_LIMIT`` failures lock that pair for ``LOGIN_COOLOFF_MINUTES``
   (a cool-off, not a permanent lock); the same email from another network, and other emails from
   this network, still sign in.
2. per account, across every IP: at most ``LOGIN_ACCOUNT_FAILURE_CEILING`` (≤ 100, OWASP ASVS 2.2.1)
   failures in a rolling hour. Each client IP counts for at most ``LOGIN_FAILURE_LIMIT`` of them, so
   one attacker alone can never reach the ceiling (it takes many networks), and networks this account
   signed in from successfully in the last 30 days are exempt, so a distributed attack does not lock
   the owner out either. The ceiling lifts by itself as the hour rolls on.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from axes.handlers.database import AxesDatabaseHandler
from axes.models import AccessFailureLog, AccessLog
from axes.signals import user_locked_out
from django.conf import settings
from django.contrib.auth import login, logout, user_login_failed
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import transaction
from django.db.models import Count
from django.dispatch import receiver
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone

import audit
from audit.locking import audited
from audit.recorder import Actor, record_throttled
from orgsecurity.client_ip import client_ip
from orgsecurity.models import Organization, User, normalize_email
from sessions_policy.actions import start_session
from sessions_policy.reauth import mark_reauthenticated

KNOWN_NETWORK_WINDOW = timedelta(days=30)


def axes_username(request: HttpRequest, credentials: dict[str, Any] | None) -> str:
    """The username django-axes counts failures under: the email, trimmed and lower-cased."""
    raw = (credentials or {}).get("username")
    if raw is None and request is not None:
        raw = request.POST.get("username", "")
    return normalize_email(str(raw or ""))[:255]


def account_ceiling_reached(username: str, ip: str | None, *, now: Any = None) -> bool:
    """True when ``username`` has had the per-account maximum of failures in the last hour from
    networks other than ``ip``'s known-good ones (each IP counting at most LOGIN_FAILURE_LIMIT)."""
    if not username:
        return False
    now = now or timezone.now()
    if (
        ip
        and AccessLog.objects.filter(
            username=username, ip_address=ip, attempt_time__gte=now - KNOWN_NETWORK_WINDOW
        ).exists()
    ):
        return False
    per_ip = (
        AccessFailureLog.objects.filter(
            username=username, attempt_time__gte=now - settings.LOGIN_ACCOUNT_CEILING_WINDOW
        )
        .values("ip_address")
        .annotate(failures=Count("id"))
        .values_list("failures", flat=True)
    )
    capped = sum(min(count, settings.AXES_FAILURE_LIMIT) for count in per_ip)
    return capped >= settings.LOGIN_ACCOUNT_FAILURE_CEILING


class LoginAttemptHandler(AxesDatabaseHandler):
    """django-axes' database handler plus the per-account ceiling described in the module docstring."""

    def is_locked(self, request: HttpRequest, credentials: dict[str, Any] | None = None) -> bool:
        if super().is_locked(request, credentials):
            request.orgsecurity_lockout = "pair"
            return True
        if account_ceiling_reached(axes_username(request, credentials), client_ip(request)):
            request.orgsecurity_lockout = "account"
            return True
        return False

    def user_login_failed(self, sender: Any, credentials: dict, request: HttpRequest | None = None, **kwargs: Any):
        super().user_login_failed(sender, credentials, request=request, **kwargs)
        # axes decides its own lockout from the pair count alone; the account ceiling must lock too.
        account_locked = request is not None and getattr(request, "orgsecurity_lockout", None) == "account"
        if account_locked and not getattr(request, "axes_locked_out", False):
            request.axes_locked_out = True
            request.axes_credentials = credentials
            user_locked_out.send(
                "axes", request=request, username=axes_username(request, credentials), ip_address=client_ip(request)
            )


def _cooloff_seconds() -> int:
    return int(settings.AXES_COOLOFF_TIME.total_seconds())


def lockout_response(request: HttpRequest, original_response: Any = None, credentials: Any = None) -> HttpResponse:
    """The page shown instead of the sign-in form while a lockout holds (HTTP 429)."""
    minutes = _cooloff_seconds() // 60
    context = {
        "kind": getattr(request, "orgsecurity_lockout", "pair"),
        "cooloff_minutes": minutes,
        "ip": client_ip(request),
        "email": axes_username(request, credentials),
    }
    return render(request, "registration/locked_out.html", context, status=429)


def _orgs_of(user: User | None) -> list[Organization]:
    if user is None:
        return []
    return list(Organization.objects.filter(memberships__user=user).order_by("pk"))


@audited(lambda action, user, **_: _orgs_of(user))
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
    when there is none (e.g. an unknown email). Opens its own transaction when none is open.

    With ``throttle_key``, at most one event per organization per ``window_seconds`` (``record_throttled``;
    the next one carries how many were suppressed): for what an attacker can repeat at will."""
    with transaction.atomic():
        organizations = _orgs_of(user)
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
# organization's pages only (sso.enforcement), so one organization's IdP cannot act in the person's other ones.
PASSWORD_METHODS = frozenset({"password", "recovery"})
PASSWORD_PROVEN_SESSION_KEY = "password_proven"  # noqa: S105 (a session key name, not a password)


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
    # gives it only the pending login's: sso.flow.begin); the key cycled above keeps the old session's data.
    request.session.set_expiry(None)
    request.session["auth_method"] = method
    if method in PASSWORD_METHODS:
        request.session[PASSWORD_PROVEN_SESSION_KEY] = True
    mark_reauthenticated(request)
    start_session(request, user, method=method, organization=organization, replacing=previous_session_key)
    record_for_user_orgs("auth.signed_in", user, actor=user, details={"method": method})


def sign_out(request: HttpRequest) -> None:
    """Record ``auth.signed_out`` for the current user, then end the session."""
    user = request.user if request.user.is_authenticated else None
    if user is not None:
        record_for_user_orgs(
            "auth.signed_out", user, actor=user, details={"method": request.session.get("auth_method", "")}
        )
    logout(request)


def _anonymous_actor(typed: str) -> Actor:
    """The actor of a sign-in event for an email no account has: the text typed, only when it is an email
    address. Anything else may be the password, an API key or a recovery code typed in the wrong field
    (scripts can send any text there), and the audit log never stores secrets."""
    if not typed:
        return Actor.anonymous("(no email)")
    try:
        validate_email(typed)
    except ValidationError:
        return Actor.anonymous("(not an email address)")
    return Actor.anonymous(typed)


@receiver(user_login_failed, dispatch_uid="orgsecurity_sign_in_failed")
def _on_sign_in_failed(sender: Any, credentials: dict[str, Any], request: HttpRequest | None = None, **_: Any) -> None:
    email = axes_username(request, credentials) if request is not None else ""
    user = User.objects.filter(email=email).first() if email else None
    reason = "locked out" if request is not None and getattr(request, "axes_locked_out", False) else "wrong password"
    actor = Actor.user(user) if user else _anonymous_actor(email)
    method = str((credentials or {}).get("method") or "password")[:20]  # e.g. "recovery" (sso.signin_views)
    ip = client_ip(request) if request is not None else None
    # Unthrottled only while the lockout bounds them: a few wrong passwords per (account, network). Attempts refused
    # while locked out, and made-up emails (a new pair each time, never locked), are repeated at will.
    if user is None:
        throttle_key, window = f"unknown:{ip}", 60
    elif reason == "locked out":
        throttle_key, window = f"locked:{email}:{ip}", _cooloff_seconds()
    else:
        throttle_key, window = None, 60
    record_for_user_orgs(
        "auth.sign_in_failed",
        user,
        actor=actor,
        details={"method": method, "reason": reason},
        throttle_key=throttle_key,
        window_seconds=window,
    )


@receiver(user_locked_out, dispatch_uid="orgsecurity_locked_out")
def _on_locked_out(sender: Any, request: HttpRequest, username: str, ip_address: str, **_: Any) -> None:
    user = User.objects.filter(email=normalize_email(username or "")).first()
    actor = Actor.user(user) if user else _anonymous_actor(normalize_email(username or ""))
    kind = getattr(request, "orgsecurity_lockout", "pair")
    # django-axes signals a lockout again on every attempt refused while it holds: one event per cool-off.
    record_for_user_orgs(
        "auth.locked_out",
        user,
        actor=actor,
        details={"method": "password", "scope": kind, "ip": ip_address},
        throttle_key=f"{kind}:{normalize_email(username or '')}:{ip_address}",
        window_seconds=_cooloff_seconds(),
    )
