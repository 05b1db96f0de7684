"""What the IdP asserted, how it maps to a profile, and what it means for the person: sign in, link, test, or
re-authenticate.

Identity is linked on (connection, issuer, subject format, subject) — the SAML NameID or the OIDC ``sub`` — and
never on email alone (SAML Core §2.2.2, OIDC Core §5.7: only ``iss`` + ``sub`` identify an end user).
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.db import IntegrityError, transaction
from django.http import HttpRequest
from django.utils import timezone

from audit.locking import audited
from audit.recorder import Actor
from orgsecurity import actions as org_actions
from orgsecurity.auth import sign_in
from orgsecurity.models import Membership, User, normalize_email
from orgsecurity.roles import Capability, Role, has_capability, roles_assignable_by
from orgsecurity.text import end_sentence, without_unsafe_characters
from sessions_policy.reauth import mark_reauthenticated
from sso.domains.verification import org_verified_email
from sso.models import SSOConnection, SSOIdentity, SSOPendingLink, SSOPendingLogin, SSOTestRun
from sso.rollout import enforcement, readiness
from sso.signin import linking

logger = logging.getLogger(__name__)

PROFILE_FIELDS = ("email", "first_name", "last_name", "display_name", "groups")
# How long before the re-authentication request an IdP login may have happened and still count as fresh.
REAUTH_CLOCK_SKEW = timedelta(seconds=120)


@dataclass(frozen=True)
class AssertedIdentity:
    """A validated answer from the IdP, protocol-neutral.

    ``issuer``: the IdP entity ID (SAML) or ``iss`` (OIDC). ``subject``/``subject_format``: NameID value and format
    (SAML) or ``sub`` and "oidc". ``attributes``: every attribute or claim received, name → list of string values.
    ``email_verified``: whether the IdP vouches for the email (OIDC ``email_verified``; SAML IdPs assert emails
    they manage). ``authenticated_at``: when the person authenticated at the IdP (SAML AuthnInstant, OIDC
    ``auth_time``), UTC, used to prove a fresh login for re-authentication. ``groups_not_sent``: a sentence saying
    how the IdP told us it left the person's groups out (Microsoft Entra ID's group overage: the SAML attribute
    ``http://schemas.microsoft.com/claims/groups.link``, or the OIDC ``_claim_names``/``hasgroups`` claims), ""
    when it did not; the groups are then unknown, not empty.
    """

    issuer: str
    subject: str
    subject_format: str
    attributes: dict[str, list[str]] = field(default_factory=dict)
    email_verified: bool = False
    authenticated_at: datetime | None = None
    session_index: str = ""
    groups_not_sent: str = ""

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready form (``authenticated_at`` as ISO 8601) that ``from_dict`` reads back."""
        stored = asdict(self)
        stored["authenticated_at"] = self.authenticated_at.isoformat() if self.authenticated_at else None
        return stored

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> AssertedIdentity:
        moment = data.get("authenticated_at")
        return cls(
            issuer=data["issuer"],
            subject=data["subject"],
            subject_format=data["subject_format"],
            attributes={str(k): [str(v) for v in values] for k, values in (data.get("attributes") or {}).items()},
            email_verified=bool(data.get("email_verified")),
            authenticated_at=datetime.fromisoformat(moment) if moment else None,
            session_index=data.get("session_index") or "",
            groups_not_sent=str(data.get("groups_not_sent") or ""),
        )


@dataclass(frozen=True)
class MappedProfile:
    """Profile fields taken from the asserted attributes, and which attribute fed each (for the test page).

    ``groups`` is None when the IdP said it left the groups out (``AssertedIdentity.groups_not_sent``): the
    person's groups are unknown, and whatever depends on groups must keep its current state rather than read an
    empty membership. () means the IdP sent no groups (or none are mapped).
    """

    email: str = ""
    first_name: str = ""
    last_name: str = ""
    display_name: str = ""
    groups: tuple[str, ...] | None = ()
    sources: dict[str, str] = field(default_factory=dict)

    @property
    def name(self) -> str:
        """The person's name for a new account: plain text (``orgsecurity.text.without_unsafe_characters``), since
        an IdP's value cannot be refused the way a typed name is."""
        name = self.display_name or " ".join(part for part in (self.first_name, self.last_name) if part)
        return without_unsafe_characters(name)


def map_profile(identity: AssertedIdentity, attribute_map: dict[str, str]) -> MappedProfile:
    """Apply ``attribute_map`` (profile field → attribute or claim name, compared exactly, e.g. the
    ``http://schemas.xmlsoap.org/ws/2005/05/identity/claims/emailaddress`` URI) to the asserted attributes.

    ``groups`` takes every non-empty value. The other fields hold one value: email decides which account an answer
    may link or create, so an email attribute with several different values (a SAML Attribute with several
    AttributeValues, SAML Core §2.7.3.1) is refused rather than "first value wins", as OIDC refuses an ``email``
    claim that is not one string (``sso.oidc.tokens.check_claim_types``); repeated equal values count as one.
    Names are descriptive only and take the first non-empty value. Raises ``sso.signin.flow.SSOSignInRefused``
    (code ``several_emails``).
    """
    values: dict[str, Any] = {}
    sources: dict[str, str] = {}
    for profile_field in PROFILE_FIELDS:
        attribute = (attribute_map or {}).get(profile_field)
        received = identity.attributes.get(attribute) if attribute else None
        if profile_field == "groups" and attribute and identity.groups_not_sent:
            values["groups"], sources["groups"] = None, attribute  # group overage: unknown, never "no groups"
            continue
        if not received:
            continue
        sources[profile_field] = attribute
        if profile_field == "groups":
            values["groups"] = tuple(value for value in received if value)
            continue
        given = [value.strip()[:254] for value in received if value.strip()] or [""]
        if profile_field == "email":
            given = list(dict.fromkeys(normalize_email(value) for value in given))
            if len(given) > 1:
                raise _refuse(
                    f"The IdP sent {len(given)} different email addresses in the attribute {attribute!r} "
                    f"({', '.join(given[:5])}). An account has one email address, so the sign-in was refused: "
                    "configure the IdP to send exactly one value.",
                    "several_emails",
                )
        values[profile_field] = given[0]
    return MappedProfile(**values, sources=sources)


@dataclass(frozen=True)
class Outcome:
    """What completing an SSO answer did: ``kind`` is signed_in, linked, link_held (waiting for the person to
    confirm an IdP email that is not theirs), tested or reauthenticated; ``redirect_to`` is where the browser goes
    next."""

    kind: str
    redirect_to: str
    user: User | None = None
    test_run: SSOTestRun | None = None


def complete(request: HttpRequest, pending: SSOPendingLogin, identity: AssertedIdentity) -> Outcome:
    """Act on a validated, browser-bound IdP answer according to the pending login's purpose.

    Raises ``sso.signin.flow.SSOSignInRefused`` (nothing changed) when the answer cannot be used: e.g. the identity
    is not
    linked and cannot be provisioned, is linked to someone else, the person is no longer a member, or a
    re-authentication did not come from the same person with a fresh login.
    """
    connection = pending.connection
    profile = map_profile(identity, connection.attribute_map)
    if identity.groups_not_sent:
        logger.warning("Connection %s: the IdP did not send groups (%s)", connection.pk, identity.groups_not_sent)
    if pending.purpose == SSOPendingLogin.Purpose.TEST:
        return _complete_test(request, pending, identity, profile)
    if pending.purpose == SSOPendingLogin.Purpose.LINK:
        return _complete_link(request, pending, identity)
    if pending.purpose == SSOPendingLogin.Purpose.REAUTH:
        return _complete_reauth(request, pending, identity)
    return _complete_login(request, pending, identity, profile)


# --- the purposes ---------------------------------------------------------------------------------------------


def _refuse(message: str, code: str, status: int = 403):
    from sso.signin.flow import SSOSignInRefused

    return SSOSignInRefused(message, code=code, status=status)


def find_identity(connection: SSOConnection, identity: AssertedIdentity) -> SSOIdentity | None:
    return (
        SSOIdentity.objects.select_related("user")
        .filter(
            connection=connection,
            issuer=identity.issuer,
            subject_format=identity.subject_format,
            subject=identity.subject,
        )
        .first()
    )


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


def _organizations_signed_in(
    request: HttpRequest, pending: SSOPendingLogin, identity: AssertedIdentity, *args: Any
) -> list[int]:
    """The organizations an SSO answer may write to (the ``@audited`` scope of completing it): the connection's, and
    every organization of the person it signs in, whose logs each get ``auth.signed_in``. Completing it changes
    the browser's session too, so it is never run twice (``attempts=1``)."""
    person = pending.user_id if pending.purpose == SSOPendingLogin.Purpose.TEST else None
    if person is None:
        linked = find_identity(pending.connection, identity)
        person = linked.user_id if linked is not None else None
    organizations = [pending.connection.organization_id]
    if person is not None:
        organizations += Membership.objects.filter(user_id=person).values_list("organization_id", flat=True)
    return organizations


@audited(_organizations_signed_in, attempts=1)
def _complete_test(
    request: HttpRequest, pending: SSOPendingLogin, identity: AssertedIdentity, profile: MappedProfile
) -> Outcome:
    """Record what came back. A test that only checks the IdP's answer never links; one with a test session
    links the tester as "Link SSO" does (``_link_or_hold``) and then signs them in through SSO for that long."""
    from sso.connections import actions

    run = pending.test_run
    actor = pending.user
    if run is None or actor is None or not request.user.is_authenticated or request.user.pk != actor.pk:
        raise _refuse("This test was started by someone else. Start it again.", "test_other_user")
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
            start_test_session(request, run)
    if held is not None:
        return Outcome("link_held", linking_url(held), user=actor, test_run=run)
    return Outcome("tested", actions.test_run_url(run), user=actor, test_run=run)


def start_test_session(request: HttpRequest, run: SSOTestRun) -> None:
    """Sign the tester in through SSO for the test run's ``session_seconds``: a real, short SSO session, so the
    admin sees logout and the session timeout as members would."""
    sign_in(request, run.actor, method=run.connection.protocol)
    enforcement.remember_sso_sign_in(request, run.connection)
    enforcement.start_test_session(request, run)


def linking_url(held: SSOPendingLink) -> str:
    """The page where the person confirms or declines a held link."""
    from django.urls import reverse

    return reverse("sso:confirm_link", args=[held.connection.organization.slug, held.pk])


def _complete_link(request: HttpRequest, pending: SSOPendingLogin, identity: AssertedIdentity) -> Outcome:
    """ "Link SSO": link the signed-in person to the identity when the IdP asserted their email; hold it for their
    confirmation when it asserted another (or none); refuse it when it asserted another member's."""
    from sso.connections import actions

    user = pending.user
    if user is None or not request.user.is_authenticated or request.user.pk != user.pk:
        raise _refuse("Sign in first, then link your account again.", "link_other_user")
    connection = pending.connection
    next_url = pending.next_url or f"/orgs/{connection.organization.slug}/"
    unlinked = find_identity(connection, identity) is None
    if unlinked and not SSOIdentity.objects.filter(connection=connection, user=user).exists():
        emails = linking.compare_emails(connection, user, map_profile(identity, connection.attribute_map).email)
        if emails.verdict == linking.DIFFERENT:
            held = linking.hold_link(pending, identity.to_dict(), emails)
            return Outcome("link_held", linking_url(held), user=user)
    # Links when the IdP asserted this person's email; otherwise raises why not (and audits another member's).
    actions.link_identity(connection, user, identity, actor=user, via="confirmed link")
    return Outcome("linked", next_url, user=user)


def _complete_reauth(request: HttpRequest, pending: SSOPendingLogin, identity: AssertedIdentity) -> Outcome:
    user = pending.user
    linked = find_identity(pending.connection, identity)
    if user is None or linked is None or linked.user_id != user.pk or request.user.pk != user.pk:
        raise _refuse(
            "The IdP signed in a different person than the one signed in here. Re-authentication was refused.",
            "reauth_other_user",
        )
    fresh_after = pending.created_at - REAUTH_CLOCK_SKEW
    if identity.authenticated_at is None or identity.authenticated_at < fresh_after:
        raise _refuse(
            "The IdP did not ask you to sign in again (it reused an earlier login), so this does not count as "
            "re-authentication. Ask your IdP administrator to honour forced re-authentication.",
            "reauth_not_fresh",
        )
    mark_reauthenticated(request)
    return Outcome("reauthenticated", pending.next_url or "/", user=user)


@audited(_organizations_signed_in, attempts=1)
def _complete_login(
    request: HttpRequest, pending: SSOPendingLogin, identity: AssertedIdentity, profile: MappedProfile
) -> Outcome:
    connection = pending.connection
    organization = connection.organization
    if not readiness.sign_in_allowed(connection):
        raise _refuse(
            f"Single sign-on is turned off for {end_sentence(organization.name)} "
            "Sign in with your password, or ask an admin.",
            "sso_off",
        )
    timed_out = request.session.pop(enforcement.TEST_TIMED_OUT_KEY, None)
    with transaction.atomic():
        linked = find_identity(connection, identity)
        user = linked.user if linked else provision(connection, identity, profile)
        if not user.is_active:
            raise _refuse("This account is deactivated. Ask an admin of your organization.", "inactive")
        if not Membership.objects.filter(organization=organization, user=user).exists():
            raise _refuse(
                f"Your IdP account is not a member of {organization.name} here. Ask an admin for an invitation.",
                "not_member",
            )
        retesting = enforcement.is_tester_after_timeout(connection, user, timed_out)
        if not readiness.sign_in_allowed(connection, user) and not retesting:
            raise _refuse(
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
        request.session["sso_session_index"] = identity.session_index
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
    from sso.connections import actions

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
            raise _refuse(
                f"An account for {email} exists but is not linked to this IdP identity yet. Owners and admins link "
                f"their own SSO identity: {how}, then choose “Link SSO” on your organization's SSO page.",
                "not_linked_privileged",
            )
        if connection.status == SSOConnection.Status.ENFORCED:
            raise _refuse(
                f"An account for {email} exists but is not linked to this IdP identity yet, and {organization.name} "
                "requires single sign-on. Ask an admin of your organization to help you link it.",
                "not_linked",
            )
        raise _refuse(
            f"An account for {email} exists but is not linked to this IdP identity yet. Sign in with your password, "
            "then choose “Link SSO” on your organization's SSO page.",
            "not_linked",
        )
    if not connection.allow_jit:
        raise _refuse(
            "Your IdP account is not linked to an account here, and this organization does not create accounts on "
            "first sign-in. Ask an admin for an invitation.",
            "no_jit",
        )
    if not email or not identity.email_verified:
        raise _refuse(
            "The IdP did not send a verified email address, so no account can be created for you.", "no_email"
        )
    if not verified_here:
        raise _refuse(
            f"{organization.name} creates accounts on first sign-in only for email addresses in its verified "
            "domains, and yours is not one of them. Ask an admin for an invitation.",
            "no_jit_domain",
        )
    if connection.status == SSOConnection.Status.TESTING:
        raise _refuse(
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
        raise _refuse("Your account was just created by another sign-in. Try again.", "race", status=409) from None
    return user
