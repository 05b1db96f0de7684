"""Completing a connection test: record what the IdP sent and how it mapped, and, for a test with a session,
link the tester as "Link SSO" does and sign them in through SSO for that long."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.http import HttpRequest

from audit.locking import audited
from orgsecurity import signin_state
from orgsecurity.auth import sign_in
from sso.assertion import AssertedIdentity, MappedProfile
from sso.connections import actions
from sso.models import SSOIdentity, SSOPendingLogin, SSOTestRun
from sso.rollout import enforcement
from sso.signin import linking
from sso.signin.answer import Outcome, find_identity, organizations_signed_in, refuse
from sso.signin.link import linking_url


def test_details(identity: AssertedIdentity, profile: MappedProfile) -> dict[str, Any]:
    """What a test run shows: the subject and format, every attribute received, and how each field mapped."""
    return {
        "issuer": identity.issuer,
        "subject": identity.subject,
        "subject_format": identity.subject_format,
        "attributes": identity.attributes,
        "email_verified": identity.email_verified,
        "authenticated_at": identity.authenticated_at.isoformat() if identity.authenticated_at else None,
        "mapped": {
            "email": profile.email,
            "first_name": profile.first_name,
            "last_name": profile.last_name,
            "display_name": profile.display_name,
            "groups": None if profile.groups is None else list(profile.groups),
        },
        "sources": profile.sources,
        "groups_not_sent": identity.groups_not_sent,
    }


@audited(organizations_signed_in, attempts=1)
def complete_test(
    request: HttpRequest, pending: SSOPendingLogin, identity: AssertedIdentity, profile: MappedProfile
) -> Outcome:
    """Record what came back. A test that only checks the IdP's answer never links; one with a test session
    links the tester as "Link SSO" does (``sso.signin.link``) and then signs them in through SSO for that long."""
    run = pending.test_run
    actor = pending.user
    if run is None or actor is None or not request.user.is_authenticated or request.user.pk != actor.pk:
        raise refuse("This test was started by someone else. Start it again.", "test_other_user")
    connection = pending.connection
    details = test_details(identity, profile)
    details["account_email"] = actor.email
    existing = find_identity(connection, identity)
    answered_for_actor = existing is not None and existing.user_id == actor.pk
    held = None
    to_link = False
    if existing is not None and not answered_for_actor:
        note = f"This IdP identity is linked to {existing.user.email}, not to you."
    elif answered_for_actor:
        note = ""
    elif SSOIdentity.objects.filter(connection=connection, user=actor).exists():
        note = "Your account is linked to a different IdP identity at this connection."
    elif not run.session_seconds:
        emails = linking.compare_emails(connection, actor, profile.email)
        note = "Nothing was linked: a test that only checks what the IdP sends never links an account."
        if emails.verdict != linking.SAME:
            note += f" The IdP signed in {emails.asserted_label}, not you ({actor.email})."
    else:
        emails = linking.compare_emails(connection, actor, profile.email)
        if emails.verdict == linking.OTHER_MEMBER:
            note = actions.refuse_link(connection, actor, identity, emails, actor=actor, via="test").message
            details["link_refused"] = True
        elif emails.verdict == linking.DIFFERENT:
            held = linking.hold_link(pending, identity.to_dict(), emails)
            note = (
                f"Not linked yet: the IdP signed in {emails.asserted_label}, not you ({actor.email}). "
                "Your account is linked only if you confirm."
            )
        else:
            to_link = True
            note = "Your account is now linked to this IdP identity."
    if run.session_seconds and not (answered_for_actor or to_link or held):
        # A session (and the re-authentication that comes with a sign-in) only for the actor's own identity.
        note += " No test session was started: the IdP did not sign you in."
    details["link"] = note.strip()
    with transaction.atomic():
        if to_link:
            actions.link_identity(connection, actor, identity, actor=actor, via="test")
        actions.finish_test_run(run, actor=actor, success=True, details=details)
        if run.session_seconds and (answered_for_actor or to_link):
            start_test_session(request, run, identity)
    if held is not None:
        return Outcome("link_held", linking_url(held), user=actor, test_run=run)
    return Outcome("tested", actions.test_run_url(run), user=actor, test_run=run)


def start_test_session(request: HttpRequest, run: SSOTestRun, identity: AssertedIdentity | None = None) -> None:
    """Sign the tester in through SSO for the test run's ``session_seconds``: a real, short SSO session, so the
    admin sees logout and the session timeout as members would. ``identity`` (the IdP's answer, when at hand) keeps
    what logout needs as a member's sign-in does: the SAML SessionIndex and the OIDC ID token (id_token_hint)."""
    sign_in(request, run.actor, method=run.connection.protocol)
    enforcement.remember_sso_sign_in(request, run.connection)
    if identity is not None:
        signin_state.set_sso_session_index(request, identity.session_index)
        signin_state.set_oidc_id_token(request, identity.id_token)
    enforcement.start_test_session(request, run)
