"""One throttle for every form that checks a secret of the account holder: password sign-in, recovery sign-in,
re-authentication, password change (and any later second factor), built on django-axes' counters.

Every such form checks its secret through ``verify(request, form=..., email=..., signing_in=..., check=...)``:

- **One key.** Failures count per (account email, client network): the client's IPv4 address, or its IPv6 network
  of ``IPV6_CLIENT_PREFIX`` bits (a /64 by default: one IPv6 customer or LAN holds a whole /64, so counting single
  addresses would give an attacker 2^64 fresh tries; ``orgsecurity.ratelimit.network_of``). Every form uses the
  same key, so failures in one add up with the others and a lockout reached in one holds in all.
- **Two limits** (django-axes plus ``LoginAttemptHandler``):

  1. per (email, client network) pair: ``LOGIN_FAILURE_LIMIT`` failures lock that pair for
     ``LOGIN_COOLOFF_MINUTES`` (a cool-off, not a permanent lock); the same email from another network, and other
     emails from this network, still sign in.
  2. per account, across every network: at most ``LOGIN_ACCOUNT_FAILURE_CEILING`` (≤ 100, OWASP ASVS 2.2.1)
     failures in a rolling hour. Each network counts for at most ``LOGIN_FAILURE_LIMIT`` of them, so one attacker
     alone can never reach the ceiling (it takes many networks), and networks this account signed in from
     successfully in the last 30 days are exempt, so a distributed attack does not lock the owner out either.
     The ceiling lifts by itself as the hour rolls on.

- **No oracle.** While a lockout holds, the secret is not checked at all and ``LockedOut`` is raised: the answer
  (``lockout_response``, HTTP 429) is the same whether the secret was right or wrong.
- **One audited failure path.** Each failure is sent as Django's ``user_login_failed`` signal with the form's
  name (``record_failure``): django-axes counts it, and ``_audit_failure`` records it in each of the person's
  organizations (flood-limited while locked out, and for emails no account has): ``auth.sign_in_failed`` for a
  sign-in form, ``auth.identity_check_failed`` for a form of a signed-in person. A stray
  ``django.contrib.auth.authenticate()`` failure takes the same path, as a sign-in.

A new form (e.g. a second factor) plugs in with one call in its ``clean`` method::

    code_ok = throttle.verify(
        request, form="TOTP code", email=user.email, signing_in=True, check=lambda: totp_matches(user, code)
    )

and its view turns ``LockedOut`` into ``lockout_response(request, exc=exc)``.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any, TypeVar

from axes.handlers.database import AxesDatabaseHandler
from axes.handlers.proxy import AxesProxyHandler
from axes.models import AccessFailureLog, AccessLog
from axes.signals import user_locked_out
from django.conf import settings
from django.contrib.auth import get_user_model, user_login_failed
from django.contrib.auth.backends import ModelBackend
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db.models import Count
from django.dispatch import receiver
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone

from audit.recorder import Actor
from orgsecurity.auth import record_for_user_orgs
from orgsecurity.client_ip import client_ip
from orgsecurity.models import User, normalize_email
from orgsecurity.ratelimit import client_network, network_of

T = TypeVar("T")

KNOWN_NETWORK_WINDOW = timedelta(days=30)


class LockedOut(Exception):
    """A lockout holds for this (account, client network): the secret was not checked, or this failure reached
    the limit. ``kind`` is ``"pair"`` (this network) or ``"account"`` (the per-account ceiling)."""

    def __init__(self, *, kind: str, form: str, email: str) -> None:
        super().__init__(f"{form}: {kind} lockout for {email}")
        self.kind = kind
        self.form = form
        self.email = email


# --- the key ---------------------------------------------------------------------------------------------------


def lockout_address(request: HttpRequest) -> str | None:
    """What django-axes stores and counts as the client (``AXES_CLIENT_IP_CALLABLE``): the first address of the
    request's client network (``orgsecurity.ratelimit.network_of``), e.g. ``2001:db8:1:2::`` for any address of
    2001:db8:1:2::/64. An address, so it fits axes' IP address columns on PostgreSQL (inet) and SQLite alike."""
    network = network_of(client_ip(request))
    return str(network.network_address) if network is not None else None


def axes_username(request: HttpRequest | None, credentials: dict[str, Any] | None) -> str:
    """The account django-axes counts failures under (``AXES_USERNAME_CALLABLE``): the email, trimmed and
    lower-cased, taken from the credentials (``username``, or the user model's ``email`` key that
    ``axes.helpers.get_credentials`` uses), and only without credentials from the posted ``username``. The
    re-authentication form posts no ``username``: reading it there counted its failures under another key."""
    credentials = credentials or {}
    raw = credentials.get("username")
    if raw is None:
        raw = credentials.get(get_user_model().USERNAME_FIELD)
    if raw is None and not credentials and request is not None:
        raw = request.POST.get("username", "")
    return normalize_email(str(raw or ""))[:255]


# --- the limits ------------------------------------------------------------------------------------------------


def account_ceiling_reached(username: str, addresses: set[str | None], *, now: Any = None) -> bool:
    """True when ``username`` has had the per-account maximum of failures in the last hour, each network counting
    at most LOGIN_FAILURE_LIMIT, unless the request comes from a known-good network: one of ``addresses`` (its
    ``lockout_address``, and its exact address as sign-ins were stored before networks) signed in successfully
    in the last 30 days."""
    if not username:
        return False
    now = now or timezone.now()
    known = {address for address in addresses if address}
    if (
        known
        and AccessLog.objects.filter(
            username=username, ip_address__in=known, attempt_time__gte=now - KNOWN_NETWORK_WINDOW
        ).exists()
    ):
        return False
    per_network = (
        AccessFailureLog.objects.filter(
            username=username, attempt_time__gte=now - settings.LOGIN_ACCOUNT_CEILING_WINDOW
        )
        .values("ip_address")
        .annotate(failures=Count("id"))
        .values_list("failures", flat=True)
    )
    capped = sum(min(count, settings.AXES_FAILURE_LIMIT) for count in per_network)
    return capped >= settings.LOGIN_ACCOUNT_FAILURE_CEILING


class LoginAttemptHandler(AxesDatabaseHandler):
    """django-axes' database handler plus the per-account ceiling described in the module docstring."""

    def is_locked(self, request: HttpRequest, credentials: dict[str, Any] | None = None) -> bool:
        if super().is_locked(request, credentials):
            request.orgsecurity_lockout = "pair"
            return True
        addresses = {request.axes_ip_address, client_ip(request)}
        if account_ceiling_reached(axes_username(request, credentials), addresses):
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
                "axes",
                request=request,
                username=axes_username(request, credentials),
                ip_address=request.axes_ip_address,
            )


# --- the one entry point ---------------------------------------------------------------------------------------


def _credentials(email: str, form: str, signing_in: bool) -> dict[str, Any]:
    return {"username": normalize_email(email), "form": form, "signing_in": signing_in}


def verify(request: HttpRequest, *, form: str, email: str, signing_in: bool, check: Callable[[], T]) -> T | None:
    """Run ``check()`` (which tests the secret a person typed for the account ``email``) under the lockout.

    ``form`` names the form in the audit log: a sign-in form by its sign-in method as ``auth.signed_in`` names it
    (``password``, ``recovery``), any other as people call it (``re-authentication``, ``password change``), since it
    lands in the event's sentence. ``signing_in`` says
    whether it signs a person in (its failures are ``auth.sign_in_failed``) or checks a signed-in person again
    (``auth.identity_check_failed``). Returns what ``check`` returned when that is truthy (e.g. the user); a falsy
    result is a failure, counted and audited (``record_failure``), and None is returned. Raises ``LockedOut``
    without calling ``check`` while a lockout holds for (email, client network), and after the failure that
    reaches a limit: the caller answers ``lockout_response(request, exc=exc)`` whatever the secret was. A right
    secret clears the (email, network) pair's count, as a successful sign-in does.
    """
    credentials = _credentials(email, form, signing_in)
    if not AxesProxyHandler.is_allowed(request, credentials):
        request.axes_locked_out = True  # axes then records no new attempt (the cool-off does not grow)
        record_failure(request, form=form, email=email, signing_in=signing_in)
        raise LockedOut(kind=getattr(request, "orgsecurity_lockout", "pair"), form=form, email=credentials["username"])
    result = check()
    if result:
        AxesProxyHandler.get_implementation().reset_user_attempts(request, credentials)
        return result
    record_failure(request, form=form, email=email, signing_in=signing_in)
    if getattr(request, "axes_locked_out", False):
        raise LockedOut(kind=getattr(request, "orgsecurity_lockout", "pair"), form=form, email=credentials["username"])
    return None


def record_failure(request: HttpRequest, *, form: str, email: str, signing_in: bool) -> None:
    """Count and audit one failed check of ``form`` for ``email``: Django's ``user_login_failed`` signal, which
    django-axes counts and ``_audit_failure`` records."""
    user_login_failed.send(sender=__name__, credentials=_credentials(email, form, signing_in), request=request)


def password_user(request: HttpRequest, email: str, password: str) -> User | None:
    """The active account ``email`` whose password is ``password``, or None. Django's ModelBackend (which spends
    the same hashing time on an unknown email), called directly rather than through ``authenticate()``, whose own
    failure signal would count the attempt a second time: ``verify`` counts it."""
    user = ModelBackend().authenticate(request, username=normalize_email(email), password=password)
    if user is not None:
        user.backend = "django.contrib.auth.backends.ModelBackend"
    return user


def _cooloff_seconds() -> int:
    return int(settings.AXES_COOLOFF_TIME.total_seconds())


def lockout_response(
    request: HttpRequest, original_response: Any = None, credentials: Any = None, *, exc: LockedOut | None = None
) -> HttpResponse:
    """The page shown instead of any throttled form while a lockout holds (HTTP 429); also django-axes'
    ``AXES_LOCKOUT_CALLABLE``. It says the same whether the secret typed was right or wrong."""
    email = exc.email if exc is not None else axes_username(request, credentials)
    context = {
        "kind": exc.kind if exc is not None else getattr(request, "orgsecurity_lockout", "pair"),
        "cooloff_minutes": _cooloff_seconds() // 60,
        "ip": client_ip(request),
        "network": client_network(client_ip(request)),
        "email": email,
        "signed_in": bool(getattr(request, "user", None) and request.user.is_authenticated),
    }
    return render(request, "registration/locked_out.html", context, status=429)


# --- the audit trail -------------------------------------------------------------------------------------------


def _anonymous_actor(typed: str) -> Actor:
    """The actor of a failure for an email no account has: the text typed, only when it is an email address.
    Anything else may be the password, an API key or a recovery code typed in the wrong field (scripts can send
    any text there), and the audit log never stores secrets."""
    if not typed:
        return Actor.anonymous("(no email)")
    try:
        validate_email(typed)
    except ValidationError:
        return Actor.anonymous("(not an email address)")
    return Actor.anonymous(typed)


FAILURE_REASONS: dict[str, str] = {}
"""What a failed check of a form is called in the audit log and the security overview, by form name; "wrong
password" for forms not registered (``register_failure_reason``)."""


def register_failure_reason(form: str, reason: str) -> None:
    """Name the failure of ``form`` (e.g. ``"two-factor"`` → ``"wrong second factor"``) in the audit events of
    ``record_failure``. Call it from ``AppConfig.ready()``."""
    FAILURE_REASONS[form] = reason


@receiver(user_login_failed, dispatch_uid="orgsecurity_sign_in_failed")
def _audit_failure(sender: Any, credentials: dict[str, Any], request: HttpRequest | None = None, **_: Any) -> None:
    """The one audit of a failed check, for every form (``record_failure``) and any ``authenticate()`` call."""
    email = axes_username(request, credentials) if request is not None else ""
    user = User.objects.filter(email=email).first() if email else None
    actor = Actor.user(user) if user else _anonymous_actor(email)
    credentials = credentials or {}
    form = str(credentials.get("form") or credentials.get("method") or "password")[:40]
    locked = request is not None and getattr(request, "axes_locked_out", False)
    reason = "locked out" if locked else FAILURE_REASONS.get(form, "wrong password")
    network = lockout_address(request) if request is not None else None
    # Unthrottled only while the lockout bounds them: a few failures per (account, network). Attempts refused
    # while locked out, and made-up emails (a new pair each time, never locked), are repeated at will.
    if user is None:
        throttle_key, window = f"unknown:{network}", 60
    elif reason == "locked out":
        throttle_key, window = f"locked:{email}:{network}", _cooloff_seconds()
    else:
        throttle_key, window = None, 60
    if credentials.get("signing_in", True):
        action, details = "auth.sign_in_failed", {"method": form, "reason": reason}
    else:
        action, details = "auth.identity_check_failed", {"form": form, "reason": reason}
    record_for_user_orgs(action, user, actor=actor, details=details, throttle_key=throttle_key, window_seconds=window)


@receiver(user_locked_out, dispatch_uid="orgsecurity_locked_out")
def _audit_lockout(sender: Any, request: HttpRequest, username: str, ip_address: str, **_: Any) -> None:
    email = normalize_email(username or "")
    user = User.objects.filter(email=email).first()
    actor = Actor.user(user) if user else _anonymous_actor(email)
    kind = getattr(request, "orgsecurity_lockout", "pair")
    credentials = getattr(request, "axes_credentials", None) or {}
    form = str(credentials.get("form") or credentials.get("method") or "password")[:40]
    # django-axes signals a lockout again on every attempt refused while it holds: one event per cool-off.
    record_for_user_orgs(
        "auth.locked_out",
        user,
        actor=actor,
        details={"method": form, "scope": kind, "ip": client_network(ip_address)},
        throttle_key=f"{kind}:{email}:{ip_address}",
        window_seconds=_cooloff_seconds(),
    )
