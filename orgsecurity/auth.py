"""Sign-in plumbing: sign-in and sign-out with their audit events, and the audit of what a person's sign-in
does in each of their organizations. Brute-force limits on every form that checks a password or recovery code
live in ``orgsecurity.throttle``.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache
from typing import Any

from django.contrib.auth import login, logout
from django.db import connection as db
from django.http import HttpRequest

import audit
from audit.locking import audited, holds
from audit.recorder import record_throttled
from orgsecurity import signin_state
from orgsecurity.models import Membership, Organization, User
from orgsecurity.rows import ModelColumns, column, table
from sessions_policy.actions import revoke_user_sessions, start_session
from sessions_policy.reauth import mark_reauthenticated


def _orgs_of(user: User | None) -> list[Organization]:
    """The organizations ``user`` belongs to, ordered by id. One query, written as SQL built from the models
    because every sign-in runs it (``orgsecurity.rows``)."""
    if user is None:
        return []
    sql, columns = _orgs_query()
    with db.cursor() as cursor:
        cursor.execute(sql, [user.pk])
        return [columns.instances(row)[0] for row in cursor.fetchall()]


@cache
def _orgs_query() -> tuple[str, ModelColumns]:
    columns = ModelColumns((Organization, "o"))
    pk = column(Organization, "id")
    sql = (
        f"SELECT {columns.sql} FROM {table(Organization)} o "  # noqa: S608 (names from model metadata)
        f"WHERE o.{pk} IN (SELECT m.{column(Membership, 'organization')} FROM {table(Membership)} m "
        f"WHERE m.{column(Membership, 'user')} = %s AND m.{column(Membership, 'suspended_at')} IS NULL) "
        f"ORDER BY o.{pk}"
    )
    return sql, columns


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
    Inside an ``@audited`` call that already locked all of them (an SSO sign-in's), the events go straight into its
    transaction: no savepoint, nothing to lock again.

    With ``throttle_key``, at most one event per organization per ``window_seconds`` (``record_throttled``;
    the next one carries how many were suppressed): for what an attacker can repeat at will."""
    organizations = _orgs_of(user)  # read once: the lock scope and the logs written are the same rows
    record = _record_in.__wrapped__ if holds(organization.pk for organization in organizations) else _record_in
    record(
        organizations,
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
PASSWORD_METHODS = frozenset({signin_state.METHOD_PASSWORD, signin_state.METHOD_RECOVERY, signin_state.METHOD_PASSKEY})


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
    ``method`` (password, saml, oidc, recovery or passkey) in each of their organizations."""
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


@dataclass(frozen=True)
class IdPSignOut:
    """Where to send the browser after signing out here so the IdP session ends too: ``url`` (built from
    ``settings.PUBLIC_BASE_URL`` for its return address), ``idp`` (how people know the IdP, for the page),
    ``protocol`` (how: "SAML single logout", "OpenID Connect logout"), ``session_values``: what the browser's
    fresh, signed-out session must hold when the IdP answers (e.g. the ID of a SAML LogoutRequest, so that only the
    answer to it is accepted), written after the session here ended, and ``confirmed_by_return``: the IdP's answer
    lands on a page of ours that says whether the IdP ended its session (SAML's SLS), so nothing is said before."""

    url: str
    idp: str
    protocol: str = ""
    session_values: dict[str, Any] = field(default_factory=dict)
    confirmed_by_return: bool = False  # the IdP's answer comes back to a page of ours that says the sign-out is done


# handoff(request) -> IdPSignOut | None, asked before the session ends (it reads the sign-in session state); the
# first that answers wins. An answer with no ``url`` says the session signed in through that IdP but signing out here
# leaves the IdP session open. SSO protocols register theirs in their AppConfig.ready() (SAML single logout, OIDC
# RP-initiated logout).
IDP_SIGN_OUT_HANDOFFS: list[Callable[[HttpRequest], IdPSignOut | None]] = []


def register_idp_sign_out(handoff: Callable[[HttpRequest], IdPSignOut | None]) -> None:
    """Register ``handoff``: given a signed-in request, the IdP sign-out to continue with, or None."""
    if handoff not in IDP_SIGN_OUT_HANDOFFS:
        IDP_SIGN_OUT_HANDOFFS.append(handoff)


def signed_in_idp(request: HttpRequest) -> IdPSignOut | None:
    """The IdP the current session signed in through, as the first registered handoff that answers describes it
    (its ``url`` empty when signing out here leaves the IdP session open), or None (not an IdP sign-in).
    Read-only."""
    if not request.user.is_authenticated:
        return None
    for handoff in IDP_SIGN_OUT_HANDOFFS:
        found = handoff(request)
        if found is not None:
            return found
    return None


def idp_sign_out(request: HttpRequest) -> IdPSignOut | None:
    """The IdP sign-out the current session continues with after signing out here (``signed_in_idp`` when it has
    a ``url``), or None. Read-only; call it before ``sign_out``."""
    found = signed_in_idp(request)
    return found if found is not None and found.url else None


def sign_out(request: HttpRequest, *, handoff: IdPSignOut | None = None) -> None:
    """Record ``auth.signed_out`` for the current user, then end the session. With ``handoff`` (what
    ``idp_sign_out`` answered before), the signed-out session is given its ``session_values``."""
    user = request.user if request.user.is_authenticated else None
    if user is not None:
        details: dict[str, Any] = {"method": signin_state.auth_method(request)}
        if handoff is not None:
            details["idp_sign_out"] = handoff.idp
        record_for_user_orgs("auth.signed_out", user, actor=user, details=details)
    logout(request)
    if handoff is not None:
        for name, value in handoff.session_values.items():
            request.session[name] = value


def sign_out_everywhere(request: HttpRequest, *, handoff: IdPSignOut | None = None) -> int:
    """End every session of the signed-in account (every device, this one too: ``sessions_policy``'s
    ``session.revoked_all``), then sign this browser out as ``sign_out`` does. Returns how many sessions ended
    besides this one."""
    user = request.user
    if not user.is_authenticated:
        return 0
    others = revoke_user_sessions(
        user,
        actor=user,
        reason="Ended by its owner: “Sign out everywhere”.",
        keep_session_key=request.session.session_key,
    )
    sign_out(request, handoff=handoff)
    return others


# --- sign-in steps after the first (the twofactor app registers them) ---------------------------------------------

# (request, user, method) -> URL of the page that asks for a further step (a second factor), or None.
SecondStep = Callable[[HttpRequest, User, str], str | None]
# (request, user, method, next_url) -> URL to land on instead of next_url right after signing in (set-up), or None.
AfterSignIn = Callable[[HttpRequest, User, str, str], str | None]
# () -> template name of another way to sign in shown on the sign-in page's first step, or None.
SignInOption = Callable[[], str | None]
_SECOND_STEPS: list[SecondStep] = []
_SIGN_IN_OPTIONS: list[SignInOption] = []
_AFTER_SIGN_IN: list[AfterSignIn] = []
PENDING_SIGN_IN_MAX_AGE_SECONDS = 10 * 60


def register_second_step(step: SecondStep) -> None:
    """Ask for a further step after a correct password or recovery code, before anyone is signed in: ``step``
    returns the URL of its page for accounts that must take it. Call it from ``AppConfig.ready()``."""
    if step not in _SECOND_STEPS:
        _SECOND_STEPS.append(step)


def register_sign_in_option(option: SignInOption) -> None:
    """Offer another first step on the sign-in page: ``option()`` names the template to include (its context is
    the sign-in page's: ``next``), or None when it is unavailable."""
    if option not in _SIGN_IN_OPTIONS:
        _SIGN_IN_OPTIONS.append(option)


def sign_in_options() -> list[str]:
    """The templates of the registered sign-in options that are available now."""
    return [name for name in (option() for option in _SIGN_IN_OPTIONS) if name]


def register_after_sign_in(landing: AfterSignIn) -> None:
    """Send people elsewhere right after a sign-in (e.g. to set up a factor their organization requires)."""
    if landing not in _AFTER_SIGN_IN:
        _AFTER_SIGN_IN.append(landing)


def begin_sign_in(
    request: HttpRequest,
    user: User,
    *,
    method: str,
    backend: str,
    next_url: str,
    recovery_organization_id: int | None = None,
) -> str:
    """The first step (password, recovery code) succeeded for ``user``: sign in now, or, when a registered second
    step applies, keep a half-signed-in state (``signin_state.set_pending_sign_in``) and return that step's URL.
    Returns the URL to redirect to (``next_url``, a registered landing, or the second step's page)."""
    for step in _SECOND_STEPS:
        url = step(request, user, method)
        if url:
            signin_state.set_pending_sign_in(
                request,
                user_id=user.pk,
                method=method,
                backend=backend,
                next_url=next_url,
                recovery_organization_id=recovery_organization_id,
                at=int(time.time()),
            )
            return url
    return _finish(request, user, method=method, backend=backend, next_url=next_url, recovery=recovery_organization_id)


def pending_user(request: HttpRequest, *, now: float | None = None) -> User | None:
    """The active account of this session's half-finished sign-in, or None (none, or older than
    ``PENDING_SIGN_IN_MAX_AGE_SECONDS``, or the account was deactivated meanwhile)."""
    pending = signin_state.pending_sign_in(request)
    if pending is None:
        return None
    age = (now if now is not None else time.time()) - int(pending.get("at") or 0)
    if not 0 <= age < PENDING_SIGN_IN_MAX_AGE_SECONDS:
        signin_state.clear_pending_sign_in(request)
        return None
    return User.objects.filter(pk=pending.get("user"), is_active=True).first()


def complete_pending_sign_in(request: HttpRequest) -> str | None:
    """The further step succeeded: sign the pending account in as its first step said (method, recovery
    organization) and return where to go; None when there is no live pending sign-in."""
    user = pending_user(request)
    pending = signin_state.pending_sign_in(request)
    if user is None or pending is None:
        return None
    signin_state.clear_pending_sign_in(request)
    return _finish(
        request,
        user,
        method=pending["method"],
        backend=pending["backend"],
        next_url=pending["next"],
        recovery=pending.get("recovery"),
    )


def _finish(request: HttpRequest, user: User, *, method: str, backend: str, next_url: str, recovery: int | None) -> str:
    sign_in(request, user, method=method, backend=backend)
    if recovery is not None:
        signin_state.set_recovery_organization(request, recovery)
    for landing in _AFTER_SIGN_IN:
        url = landing(request, user, method, next_url)
        if url:
            return url
    return next_url
