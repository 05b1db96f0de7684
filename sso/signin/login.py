"""Completing an SSO sign-in, one way: gather the ``Situation`` the answer names, ``decide`` (``sso.signin.decision``:
LINK / SIGN_IN / ENROLL / DENY), then act on the decision with one handler each, and sign the person in."""

from __future__ import annotations

from datetime import datetime
from functools import cache

from django.db import IntegrityError, transaction
from django.db import connection as db
from django.http import HttpRequest
from django.utils import timezone

from audit.locking import audited
from audit.recorder import Actor
from orgsecurity import actions as org_actions
from orgsecurity import signin_state
from orgsecurity.auth import sign_in
from orgsecurity.models import Membership, User
from orgsecurity.rows import column, table
from orgsecurity.text import end_sentence
from sso.assertion import AssertedIdentity, MappedProfile
from sso.connections import actions
from sso.domains.verification import org_verified_email
from sso.errors import SSOSignInRefused
from sso.models import SSOConnection, SSOIdentity, SSOPendingLogin
from sso.protocols import SIGN_IN_STATUSES
from sso.rollout import enforcement, readiness
from sso.signin.answer import Outcome, find_identity, organizations_signed_in, refuse
from sso.signin.decision import EMAIL_LINKABLE_ROLES, Action, Decision, Situation, decide
from sso.signin.provisioned import provisioned_account

__all__ = ["EMAIL_LINKABLE_ROLES", "complete_login"]


@audited(organizations_signed_in, attempts=1)
def complete_login(
    request: HttpRequest, pending: SSOPendingLogin, identity: AssertedIdentity, profile: MappedProfile
) -> Outcome:
    """Sign in the person the answer names: the linked account, an account linked now by verified email, or one
    created now (JIT), as ``sso.signin.decision.decide`` says; raises ``SSOSignInRefused`` (nothing changed)
    otherwise."""
    connection = pending.connection
    timed_out = signin_state.sso_test_timed_out(request)
    # One transaction, @audited's: a refusal raised on the way rolls back whatever was written before it.
    situation, user = gather(connection, identity, profile, timed_out)
    decision = decide(situation)
    if decision.reason != "sso_off":  # a sign-in through a switched-off connection leaves the session as it is
        signin_state.take_sso_test_timed_out(request)
    if decision.action is Action.DENY:
        raise refusal(decision, connection, profile.email)
    if decision.action is Action.LINK:
        # A directory match (SCIM externalId) vouches for the identity itself, whatever email the answer carries.
        confirmed = profile.email if decision.reason == "directory" else None
        actions.link_identity(connection, user, identity, actor=user, via=decision.reason, confirmed_email=confirmed)
    elif decision.action is Action.ENROLL:
        user = enroll(connection, identity, profile)
    finish_sign_in(request, connection, user, identity, profile, timed_out)
    return Outcome("signed_in", pending.next_url or f"/orgs/{connection.organization.slug}/", user=user)


def gather(
    connection: SSOConnection, identity: AssertedIdentity, profile: MappedProfile, timed_out: object
) -> tuple[Situation, User | None]:
    """The stored state ``decide`` needs for ``identity`` at ``connection``, and the account it names (the linked
    one, else the one with the asserted email; None when neither). Reads only what the decision can use: no
    account lookup by email once the identity is linked, no test group query unless the connection is testing."""
    email = profile.email
    situation = {
        "status": connection.status,
        "allow_jit": connection.allow_jit,
        "email": email,
        "email_verified": identity.email_verified,
    }
    if connection.status not in SIGN_IN_STATUSES:
        return Situation(**situation, verified_domain=False, linked=False, account=False), None
    linked = find_identity(connection, identity)
    # An account the IdP's directory provisioned (SCIM externalId) is the person's, whatever email this answer says.
    provisioned = provisioned_account(connection, identity) if linked is None else None
    if linked is not None:
        user = linked.user
    elif provisioned is not None:
        user = provisioned
    else:
        user = User.objects.filter(email=email).first() if email else None
    verified = linked is None and bool(
        email and identity.email_verified and org_verified_email(connection.organization, email)
    )
    if user is None:
        return Situation(**situation, verified_domain=verified, linked=False, account=False), None
    if linked is not None:
        role = linked.member_role
    else:
        role = (
            Membership.objects.active()
            .filter(organization=connection.organization_id, user=user)
            .values_list("role", flat=True)
            .first()
        )
    may_sign_in = readiness.sign_in_allowed(connection, user) if role is not None else True
    if role is not None and not may_sign_in:
        may_sign_in = enforcement.is_tester_after_timeout(connection, user, timed_out)
    return Situation(
        **situation,
        verified_domain=verified,
        linked=linked is not None,
        account=True,
        provisioned=provisioned is not None,
        active=user.is_active,
        role=role,
        may_sign_in=may_sign_in,
    ), user


def refusal(decision: Decision, connection: SSOConnection, email: str) -> SSOSignInRefused:
    """The ``SSOSignInRefused`` for a ``DENY`` decision: what the person can do about it, in their words."""
    organization = connection.organization
    enforced = connection.status == SSOConnection.Status.ENFORCED
    reason = decision.reason
    if reason == "sso_off":
        message = (
            f"Single sign-on is turned off for {end_sentence(organization.name)} "
            "Sign in with your password, or ask an admin."
        )
    elif reason == "not_linked_privileged":
        how = (
            "ask an owner to list you as a password exception in the fallback login policy (or, as a recovery "
            "account, use your recovery code), sign in"
            if enforced
            else "sign in with your password"
        )
        message = (
            f"An account for {email} exists but is not linked to this IdP identity yet. Owners and admins link "
            f"their own SSO identity: {how}, then choose “Link SSO” on your organization's SSO page."
        )
    elif reason == "not_linked" and enforced:
        message = (
            f"An account for {email} exists but is not linked to this IdP identity yet, and {organization.name} "
            "requires single sign-on. Ask an admin of your organization to help you link it."
        )
    else:
        message = REFUSALS[reason].format(organization=organization.name, email=email)
    return refuse(message, reason)


# The words of the other refusals of ``decide``: they depend only on the organization's name and the asserted email.
REFUSALS = {
    "not_linked": (
        "An account for {email} exists but is not linked to this IdP identity yet. Sign in with your password, "
        "then choose “Link SSO” on your organization's SSO page."
    ),
    "no_jit": (
        "Your IdP account is not linked to an account here, and this organization does not create accounts on "
        "first sign-in. Ask an admin for an invitation."
    ),
    "no_email": "The IdP did not send a verified email address, so no account can be created for you.",
    "no_jit_domain": (
        "{organization} creates accounts on first sign-in only for email addresses in its verified "
        "domains, and yours is not one of them. Ask an admin for an invitation."
    ),
    "no_jit_testing": (
        "{organization} is testing single sign-on with a small group and does not create accounts yet. "
        "Ask an admin for an invitation."
    ),
    "inactive": "This account is deactivated. Ask an admin of your organization.",
    "not_member": "Your IdP account is not a member of {organization} here. Ask an admin for an invitation.",
    "not_in_test_group": (
        "{organization} is testing single sign-on with a small group, and you are not in it yet. "
        "Sign in with your password for now."
    ),
}


def enroll(connection: SSOConnection, identity: AssertedIdentity, profile: MappedProfile) -> User:
    """JIT provisioning: create the account, its membership (the connection's default role) and the link, in one
    transaction. Raises ``SSOSignInRefused`` ("race", 409) when another sign-in created the account meanwhile."""
    try:
        with transaction.atomic():
            user = User.objects.create_user(profile.email, None, name=profile.name[:150])
            org_actions.add_member(
                connection.organization,
                actor=Actor.system(f"{connection.get_protocol_display()} JIT provisioning"),
                user=user,
                role=connection.jit_default_role,
                via=f"{connection.protocol} jit",
            )
            actions.link_identity(connection, user, identity, actor=user, via="jit")
    except IntegrityError:
        raise refuse("Your account was just created by another sign-in. Try again.", "race", status=409) from None
    return user


def note_identity_sign_in(connection: SSOConnection, user: User, asserted_email: str, now: datetime) -> None:
    """Note on ``user``'s link at ``connection`` when they last signed in through it (``now``, UTC) and the email the
    IdP asserted. SQL built from the model, like the sign-in's reads (``sso.signin.answer.find_identity``)."""
    field = SSOIdentity._meta.get_field
    moment = field("last_login_at").get_db_prep_save(now, db)
    with db.cursor() as cursor:
        cursor.execute(_note_sql(), [moment, asserted_email, moment, connection.pk, user.pk])


@cache
def _note_sql() -> str:
    name = {field: column(SSOIdentity, field) for field in ("last_login_at", "asserted_email", "asserted_email_at")}
    return (
        f"UPDATE {table(SSOIdentity)} SET {name['last_login_at']} = %s, "  # noqa: S608 (names from model metadata)
        f"{name['asserted_email']} = %s, {name['asserted_email_at']} = %s "
        f"WHERE {column(SSOIdentity, 'connection')} = %s AND {column(SSOIdentity, 'user')} = %s"
    )


def finish_sign_in(
    request: HttpRequest,
    connection: SSOConnection,
    user: User,
    identity: AssertedIdentity,
    profile: MappedProfile,
    timed_out: object,
) -> None:
    """Sign ``user`` in through ``connection``: note the asserted email on the link, start the session, and keep
    what SSO logout and the test plan need."""
    note_identity_sign_in(connection, user, profile.email, timezone.now())
    sign_in(request, user, method=connection.protocol, organization=connection.organization)
    enforcement.remember_sso_sign_in(request, connection)
    signin_state.set_sso_session_index(request, identity.session_index)
    signin_state.set_oidc_id_token(request, identity.id_token)
    enforcement.note_sign_in_after_timeout(request, connection, user, timed_out)
