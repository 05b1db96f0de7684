"""Completing an SSO sign-in: the linked person, or the account ``provision`` links by verified email or creates
(JIT), is signed in when the connection is open to them."""

from __future__ import annotations

from django.db import IntegrityError, transaction
from django.http import HttpRequest
from django.utils import timezone

from audit.locking import audited
from audit.recorder import Actor
from orgsecurity import actions as org_actions
from orgsecurity import signin_state
from orgsecurity.auth import sign_in
from orgsecurity.models import Membership, User
from orgsecurity.roles import Capability, Role, has_capability, roles_assignable_by
from orgsecurity.text import end_sentence
from sso.assertion import AssertedIdentity, MappedProfile
from sso.connections import actions
from sso.domains.verification import org_verified_email
from sso.models import SSOConnection, SSOIdentity, SSOPendingLogin
from sso.rollout import enforcement, readiness
from sso.signin.answer import Outcome, find_identity, organizations_signed_in, refuse


@audited(organizations_signed_in, attempts=1)
def complete_login(
    request: HttpRequest, pending: SSOPendingLogin, identity: AssertedIdentity, profile: MappedProfile
) -> Outcome:
    """Sign the person the identity is linked to (or ``provision`` links or creates) in, when the connection is
    open to them and they are an active member; raises ``SSOSignInRefused`` otherwise."""
    connection = pending.connection
    organization = connection.organization
    if not readiness.sign_in_allowed(connection):
        raise refuse(
            f"Single sign-on is turned off for {end_sentence(organization.name)} "
            "Sign in with your password, or ask an admin.",
            "sso_off",
        )
    timed_out = signin_state.take_sso_test_timed_out(request)
    with transaction.atomic():
        linked = find_identity(connection, identity)
        user = linked.user if linked else provision(connection, identity, profile)
        if not user.is_active:
            raise refuse("This account is deactivated. Ask an admin of your organization.", "inactive")
        if not Membership.objects.filter(organization=organization, user=user).exists():
            raise refuse(
                f"Your IdP account is not a member of {organization.name} here. Ask an admin for an invitation.",
                "not_member",
            )
        retesting = enforcement.is_tester_after_timeout(connection, user, timed_out)
        if not readiness.sign_in_allowed(connection, user) and not retesting:
            raise refuse(
                f"{organization.name} is testing single sign-on with a small group, and you are not in it yet. "
                "Sign in with your password for now.",
                "not_in_test_group",
            )
        now = timezone.now()
        SSOIdentity.objects.filter(connection=connection, user=user).update(
            last_login_at=now, asserted_email=profile.email, asserted_email_at=now
        )
        sign_in(request, user, method=connection.protocol)
        enforcement.remember_sso_sign_in(request, connection)
        signin_state.set_sso_session_index(request, identity.session_index)
        enforcement.note_sign_in_after_timeout(request, connection, user, timed_out)
    return Outcome("signed_in", pending.next_url or f"/orgs/{organization.slug}/", user=user)


# Roles whose accounts an SSO answer may link by verified email alone. Whoever configures a connection (owners and
# admins) controls what its IdP asserts, so an answer must not hand them an account that they could not already
# act for: never an owner (only owners grant owner), and never a fellow SSO manager. Those link themselves while
# signed in ("Link SSO" or the connection test), proving who they are first.
EMAIL_LINKABLE_ROLES = frozenset(
    role for role in roles_assignable_by(Role.ADMIN) if not has_capability(role, Capability.MANAGE_SECURITY)
)


def provision(connection: SSOConnection, identity: AssertedIdentity, profile: MappedProfile) -> User:
    """Find or create the account for an identity nobody is linked to yet, and link it; or refuse.

    An existing account is linked on this first SSO sign-in only when it is a member here in one of
    ``EMAIL_LINKABLE_ROLES`` (not an owner or admin), the IdP vouches for the asserted email, that email equals the
    account's, and its domain is verified by this organization (otherwise the person links it by signing in first
    and choosing "Link SSO"). JIT provisioning creates a new account and
    membership (default role) only when the connection allows it, the status is not testing, and the email is one
    the IdP vouches for in a domain this organization verified.
    """
    organization = connection.organization
    email = profile.email
    verified_here = bool(email) and identity.email_verified and org_verified_email(organization, email)
    existing = User.objects.filter(email=email).first() if email else None
    if existing is not None:
        membership = Membership.objects.filter(organization=organization, user=existing)
        role = membership.values_list("role", flat=True).first()
        if verified_here and role in EMAIL_LINKABLE_ROLES:
            actions.link_identity(connection, existing, identity, actor=existing, via="verified domain")
            return existing
        if role in {Role.OWNER, Role.ADMIN}:
            how = (
                "ask an owner to list you as a password exception in the fallback login policy (or, as a recovery "
                "account, use your recovery code), sign in"
                if connection.status == SSOConnection.Status.ENFORCED
                else "sign in with your password"
            )
            raise refuse(
                f"An account for {email} exists but is not linked to this IdP identity yet. Owners and admins link "
                f"their own SSO identity: {how}, then choose “Link SSO” on your organization's SSO page.",
                "not_linked_privileged",
            )
        if connection.status == SSOConnection.Status.ENFORCED:
            raise refuse(
                f"An account for {email} exists but is not linked to this IdP identity yet, and {organization.name} "
                "requires single sign-on. Ask an admin of your organization to help you link it.",
                "not_linked",
            )
        raise refuse(
            f"An account for {email} exists but is not linked to this IdP identity yet. Sign in with your password, "
            "then choose “Link SSO” on your organization's SSO page.",
            "not_linked",
        )
    if not connection.allow_jit:
        raise refuse(
            "Your IdP account is not linked to an account here, and this organization does not create accounts on "
            "first sign-in. Ask an admin for an invitation.",
            "no_jit",
        )
    if not email or not identity.email_verified:
        raise refuse("The IdP did not send a verified email address, so no account can be created for you.", "no_email")
    if not verified_here:
        raise refuse(
            f"{organization.name} creates accounts on first sign-in only for email addresses in its verified "
            "domains, and yours is not one of them. Ask an admin for an invitation.",
            "no_jit_domain",
        )
    if connection.status == SSOConnection.Status.TESTING:
        raise refuse(
            f"{organization.name} is testing single sign-on with a small group and does not create accounts yet. "
            "Ask an admin for an invitation.",
            "no_jit_testing",
        )
    try:
        with transaction.atomic():
            user = User.objects.create_user(email, None, name=profile.name[:150])
            org_actions.add_member(
                organization,
                actor=Actor.system(f"{connection.get_protocol_display()} JIT provisioning"),
                user=user,
                role=connection.jit_default_role,
                via=f"{connection.protocol} jit",
            )
            actions.link_identity(connection, user, identity, actor=user, via="jit")
    except IntegrityError:
        raise refuse("Your account was just created by another sign-in. Try again.", "race", status=409) from None
    return user
