"""SSO enforcement at request time: the pipeline check for organization pages, who may sign in with a password,
where email-first sign-in sends an address, and the short test sessions of the rollout's test plan.

Enforcement is per organization. On an enforcing organization's pages a session passes when it signed in through
that organization's connection, is a recovery sign-in with one of that organization's codes, or belongs to a listed
exception of its confirmed fallback login policy. Any other session is sent to the organization's IdP; it ends when
it is good for none of the person's organizations. Password sign-in itself is refused only when every organization
of the account enforces SSO.

Everything here reads stored state: a scheduled enforcement takes effect in
``sso.rollout.middleware.DueEnforcementMiddleware`` (``sso.rollout.scheduling.apply_due_enforcements``), never as a
side effect of a check.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from django.contrib.auth.signals import user_logged_out
from django.dispatch import receiver
from django.http import HttpRequest
from django.urls import reverse

from audit.recorder import Target, record_throttled
from orgsecurity.accessors import load_org_context
from orgsecurity.auth import sign_out
from orgsecurity.models import Membership, Organization, User
from orgsecurity.refusals import Refusal
from orgsecurity.signin_state import (
    auth_method,
    note_sso_connection,
    note_sso_test_timed_out,
    password_proven,
    set_sso_test_session,
    signed_in_by_recovery_for,
    sso_connection_ids,
    sso_test_session,
)
from sso.domains.verification import verified_domain_for
from sso.models import RecoveryAccount, SSOConnection, SSOTestPlanItem, SSOTestRun
from sso.rollout import readiness
from sso.rollout.readiness import sign_in_allowed
from sso.rollout.scheduling import record_test_plan_item

PROTOCOL_METHODS = frozenset(SSOConnection.Protocol.values)


def enforced_connection(organization: Organization | int) -> SSOConnection | None:
    """The organization's connection whose status is enforced (SSO-only), or None."""
    return (
        SSOConnection.objects.select_related("organization")
        .filter(organization=organization, status=SSOConnection.Status.ENFORCED)
        .first()
    )


def sso_login_url(organization: Organization, next_url: str = "") -> str:
    """/sso/<org>/login/ with ``next`` (a same-origin path): where a person starts sign-in with the org's IdP."""
    url = reverse("sso_public:login", args=[organization.slug])
    return f"{url}?{urlencode({'next': next_url})}" if next_url else url


def remember_sso_sign_in(request: HttpRequest, connection: SSOConnection) -> None:
    """Note in the session that it signed in through ``connection`` (kept across the person's SSO sign-ins to
    several organizations, since the same person's session is kept when they sign in again)."""
    note_sso_connection(request, connection.pk)


def session_satisfies(request: HttpRequest, connection: SSOConnection, membership: Membership) -> bool:
    """True when this session may use the pages of ``connection``'s (enforcing) organization."""
    method = auth_method(request)
    if method in PROTOCOL_METHODS and connection.pk in sso_connection_ids(request):
        return True
    if (
        signed_in_by_recovery_for(request, membership.organization_id)
        and RecoveryAccount.objects.filter(membership=membership).exists()
    ):
        return True
    if readiness.confirmed_exception(connection, membership):
        record_throttled(
            "sso.password_exception_used",
            throttle_key=f"{connection.pk}:{membership.user_id}",
            window_seconds=3600,
            organization=connection.organization,
            actor=membership.user,
            target=connection,
            details={"method": method},
        )
        return True
    return False


def _good_elsewhere(request: HttpRequest, user: User, organization: Organization) -> bool:
    memberships = (
        Membership.objects.active().filter(user=user).exclude(organization=organization).select_related("organization")
    )
    for membership in memberships:
        connection = enforced_connection(membership.organization)
        if connection is None or session_satisfies(request, connection, membership):
            return True
    return False


def _connections_of(organization: Organization) -> list[SSOConnection]:
    # The one query this check costs an ordinary request: the organization's connections (usually one).
    connections = list(SSOConnection.objects.filter(organization=organization))
    for connection in connections:
        connection.organization = organization
    return connections


def check_sso_enforcement(request: HttpRequest, org_slug: str) -> Refusal | None:
    """Pipeline check (last in ORG_PIPELINE_CHECKS): on an organization that enforces SSO, refuse sessions that did
    not sign in through its IdP (recovery sign-ins and confirmed exceptions pass) and send them to its IdP with
    ``next``; also ends expired test sessions. It only reads the stored status: a scheduled enforcement takes
    effect in ``sso.rollout.middleware.DueEnforcementMiddleware``, before the pipeline."""
    context = load_org_context(request, org_slug)
    if context is None:
        return None  # the membership check answers non-members
    organization = context.organization
    connections = _connections_of(organization)
    expired = _end_expired_test_session(request)
    if expired is not None:
        return expired
    connection = next((c for c in connections if c.status == SSOConnection.Status.ENFORCED), None)
    if connection is None:
        return _check_sso_session_scope(request, organization, connections)
    if session_satisfies(request, connection, context.membership):
        return None
    user = request.user
    record_throttled(
        "sso.password_session_refused",
        throttle_key=f"{organization.pk}:{user.pk}",
        organization=organization,
        actor=user,
        target=Target("sso.ssoconnection", str(connection.pk), str(connection)),
        details={"method": auth_method(request), "path": request.path[:200]},
    )
    next_url = request.get_full_path()
    if not _good_elsewhere(request, user, organization):
        sign_out(request)  # the password session is good for none of their organizations: it ends now
    return Refusal(
        "sso_required",
        f"{organization.name} requires single sign-on. Sign in through your identity provider to continue.",
        status=401,
        redirect_to=sso_login_url(organization, next_url),
    )


def _check_sso_session_scope(
    request: HttpRequest, organization: Organization, own: list[SSOConnection]
) -> Refusal | None:
    """A session that signed in only through other organizations' IdPs (it never proved the account's password)
    may not open this organization's pages: otherwise whoever runs one organization's IdP could act as the same
    person in every other organization of theirs. Offer this organization's own SSO, or a password sign-in."""
    if auth_method(request) not in PROTOCOL_METHODS or password_proven(request):
        return None
    verified = set(sso_connection_ids(request))
    if any(connection.pk in verified for connection in own):
        return None
    record_throttled(
        "sso.foreign_sso_session_refused",
        throttle_key=f"{organization.pk}:{request.user.pk}",
        organization=organization,
        actor=request.user,
        details={"method": auth_method(request), "path": request.path[:200]},
    )
    next_url = request.get_full_path()
    sso_available = any(sign_in_allowed(connection, request.user) for connection in own)
    return Refusal(
        "sign_in_required",
        f"You signed in through another organization's identity provider. To open {organization.name}, sign in "
        f"to {organization.name}: through its single sign-on, or with your password.",
        status=403,
        template="sso/sign_in_to_organization.html",
        context={
            "organization": organization,
            "sso_url": sso_login_url(organization, next_url) if sso_available else "",
            "password_url": f"{reverse('reauthenticate')}?{urlencode({'next': next_url, 'method': 'password'})}",
        },
    )


# --- password sign-in and email-first routing --------------------------------------------------------------------


def password_refused_by(user: User) -> list[Organization]:
    """The organizations that refuse ``user``'s password sign-in: all of theirs when every one enforces SSO and
    none lists them as an exception of its confirmed fallback policy; otherwise [] (password sign-in allowed)."""
    memberships = list(Membership.objects.active().filter(user=user).select_related("organization").order_by("pk"))
    if not memberships:
        return []
    refusing = []
    for membership in memberships:
        connection = enforced_connection(membership.organization)
        if connection is None or readiness.confirmed_exception(connection, membership):
            return []
        refusing.append(membership.organization)
    return refusing


@dataclass(frozen=True)
class EmailRoute:
    """Where email-first sign-in sends an address: ``required`` routes straight to ``connection``'s IdP; otherwise
    the password field is shown, with a "Sign in with SSO" button when ``connection`` is set."""

    connection: SSOConnection | None = None
    required: bool = False


def route_for_email(email: str) -> EmailRoute:
    """Email-first routing (home-realm discovery by verified domain): the IdP when the domain's organization
    enforces SSO, or tests it and the person is in the test group; a button when SSO is on. Depends only on the
    domain, except for test-group members, so it does not reveal which emails have accounts."""
    domain = verified_domain_for(email)
    if domain is None:
        return EmailRoute()
    organization = domain.organization
    connections = list(
        SSOConnection.objects.select_related("organization")
        .filter(organization=organization)
        .exclude(status=SSOConnection.Status.OFF)
    )
    by_status = {connection.status: connection for connection in reversed(connections)}
    if SSOConnection.Status.ENFORCED in by_status:
        return EmailRoute(by_status[SSOConnection.Status.ENFORCED], required=True)
    testing = by_status.get(SSOConnection.Status.TESTING)
    if testing is not None:
        user = User.objects.filter(email=email).first()
        if user is not None and readiness.in_test_group(testing, user):
            return EmailRoute(testing, required=True)
    return EmailRoute(by_status.get(SSOConnection.Status.ON))


# --- test sessions (the rollout's test plan: logout and session timeout) ----------------------------------------


def start_test_session(request: HttpRequest, run: SSOTestRun) -> None:
    """Mark the session just signed in through a test run as a test session of ``run.session_seconds``."""
    set_sso_test_session(
        request, run_id=run.pk, connection_id=run.connection_id, deadline=int(time.time()) + run.session_seconds
    )


def _end_expired_test_session(request: HttpRequest) -> Refusal | None:
    test = sso_test_session(request)
    if test is None or time.time() < test.get("deadline", 0):
        return None
    connection = SSOConnection.objects.select_related("organization").filter(pk=test.get("connection")).first()
    sign_out(request)
    if connection is None:
        return Refusal("session_expired", "Your session ended. Sign in again.", status=401, redirect_to="/")
    note_sso_test_timed_out(request, run_id=test.get("run"), connection_id=connection.pk)
    return Refusal(
        "session_expired",
        "Your test session ended: this is the session timeout members see. Sign in through SSO again.",
        status=401,
        redirect_to=sso_login_url(connection.organization, request.get_full_path()),
    )


def is_tester_after_timeout(connection: SSOConnection, user: User, timed_out: Any) -> bool:
    """Whether ``user`` is signing in through ``connection`` again right after their own test session of it timed
    out (``timed_out``: what ``orgsecurity.signin_state.take_sso_test_timed_out`` took from the session). The test
    plan's session timeout step needs this sign-in, also from a tester outside the test group."""
    if not isinstance(timed_out, dict) or timed_out.get("connection") != connection.pk:
        return False
    return SSOTestRun.objects.filter(pk=timed_out.get("run"), connection=connection, actor=user).exists()


def note_sign_in_after_timeout(request: HttpRequest, connection: SSOConnection, user: User, timed_out: Any) -> None:
    """After a test session timed out and the person signed in through the same connection again, the test plan's
    session timeout step has been seen end to end."""
    if not isinstance(timed_out, dict) or timed_out.get("connection") != connection.pk:
        return
    run = SSOTestRun.objects.filter(pk=timed_out.get("run"), connection=connection).first()
    record_test_plan_item(
        connection,
        SSOTestPlanItem.Item.SESSION_TIMEOUT,
        actor=user,
        via=SSOTestPlanItem.Via.TEST_RUN,
        note="The test session timed out and the person signed in through SSO again.",
        test_run=run,
    )


@receiver(user_logged_out, dispatch_uid="sso_test_session_logout")
def _record_test_logout(sender: Any, request: HttpRequest | None = None, user: Any = None, **_: Any) -> None:
    test = sso_test_session(request) if request is not None else None
    if test is None or time.time() >= test.get("deadline", 0) or user is None:
        return
    connection = SSOConnection.objects.select_related("organization").filter(pk=test.get("connection")).first()
    if connection is None:
        return
    record_test_plan_item(
        connection,
        SSOTestPlanItem.Item.LOGOUT,
        actor=user,
        via=SSOTestPlanItem.Via.TEST_RUN,
        note="Signed out of a test SSO session.",
        test_run=SSOTestRun.objects.filter(pk=test.get("run")).first(),
    )
